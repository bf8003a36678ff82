//! `suger-metering`: every Suger Metering operation from the shell, usage files reported
//! safely, and an embedded fake Suger server (`suger-metering fake`) for tests in any language.
//!
//! Exit codes: 0 success (an already-recorded report counts as success), 2 usage or invalid
//! input (nothing sent), 3 authentication or permission, 4 outcome unknown (safe to re-run),
//! 5 usage that will not be billed (`reconcile`, `trace`), 1 any other failure. See `exit.rs`.

mod cli;
mod commands;
mod exit;
mod ids;
mod input;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, Format, OutboxCommand};
use crate::commands::{
    batch_report, config, fake, groups, metrics, outbox, reconcile, report, reports, trace,
    validate,
};
use crate::output::Printer;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Command::Fake(args) => fake::run(&args),
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
