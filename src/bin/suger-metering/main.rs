//! `suger-metering`: every Suger Metering operation from the shell, usage files reported
//! safely, and an embedded fake Suger server (`suger-metering fake`) for tests in any language.
//!
//! Exit codes (decided in `exit.rs` only): 0 success (an already-recorded report counts as
//! success), 2 usage or invalid input (nothing sent), 3 authentication or permission, 4 outcome
//! unknown (the request may have been applied: the error line says whether re-running is
//! safe), 5 usage that will not be billed (`reconcile`, `trace`), 1 any other failure.

mod cli;
mod commands;
mod exit;
mod flags;
mod input;
mod output;
mod stderr;
mod usage_file;

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command, Format, OutboxCommand};
use crate::commands::{
    batch_report, config, fake, groups, id, metrics, outbox, reconcile, report, reports, trace,
    validate,
};
use crate::output::Printer;

fn main() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (m, cli)));
    let (matches, cli) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return exit::from_clap(e),
    };
    stderr::init_logging(cli.global.verbose);
    let prometheus_ok = matches!(cli.command, Command::Outbox(OutboxCommand::Status { .. }));
    if cli.global.output == Some(Format::Prometheus) && !prometheus_ok {
        return exit::Failure::usage(
            "--output prometheus is only for `outbox status`",
            "use --output table, json or ndjson",
        )
        .print_and_exit_code();
    }
    let printer = Printer::new(cli.global.output);
    let result = match cli.command {
        Command::Fake(args) => {
            // Global flags given on the command line that the fake cannot honour.
            let given: Vec<&str> = [
                "api_key_file",
                "base_url",
                "output",
                "max_attempts",
                "timeout",
            ]
            .into_iter()
            .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
            .collect();
            fake::run(&cli.global, &given, &args)
        }
        Command::Id { entitlement, key } => id::run(&entitlement, &key),
        Command::Report(args) => report::run(&cli.global, &printer, &args),
        Command::BatchReport(args) => batch_report::run(&cli.global, &printer, &args),
        Command::Validate(args) => validate::run(&cli.global, &printer, &args),
        Command::Groups(cmd) => groups::run(&cli.global, &printer, cmd),
        Command::Reports(cmd) => reports::run(&cli.global, &printer, cmd),
        Command::Metrics(cmd) => metrics::run(&cli.global, &printer, cmd),
        Command::Config(cmd) => config::run(&cli.global, &printer, cmd),
        Command::Outbox(cmd) => outbox::run(&cli.global, &printer, &cmd),
        Command::Reconcile(args) => reconcile::run(&cli.global, &printer, &args),
        Command::Trace(args) => trace::run(&cli.global, &printer, &args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.print_and_exit_code(),
    }
}
