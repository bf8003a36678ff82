//! `suger-metering`: every Suger Metering operation from the shell, usage files reported
//! safely, and an embedded fake Suger server (`suger-metering fake`) for tests in any language.
//!
//! Exit codes: 0 success (an already-recorded report counts as success), 2 usage or invalid
//! input (nothing sent), 3 authentication or permission, 4 outcome unknown (safe to re-run),
//! 1 any other failure. See `exit.rs`.

mod cli;
mod commands;
mod exit;
mod ids;
mod input;
mod output;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use suger_metering::{MeteringClient, RetryPolicy};

use crate::cli::{Cli, Command, Global};
use crate::commands::{fake, groups, metrics, outbox, report};
use crate::exit::Failure;
use crate::output::Printer;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::new(cli.global.output);
    let result = match cli.command {
        Command::Fake(args) => fake::run(&args),
        Command::Report(args) => report::report(&cli.global, &printer, &args),
        Command::BatchReport(args) => report::batch_report(&cli.global, &printer, &args),
        Command::Validate(args) => report::validate(&cli.global, &printer, &args),
        Command::Groups(cmd) => groups::groups(&cli.global, &printer, cmd),
        Command::Reports(cmd) => groups::reports(&cli.global, &printer, cmd),
        Command::Metrics(cmd) => metrics::metrics(&cli.global, &printer, cmd),
        Command::Config(cmd) => metrics::config(&cli.global, &printer, cmd),
        Command::Outbox(cmd) => outbox::outbox(&cli.global, &printer, &cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.print_and_exit_code(),
    }
}

/// Builds the client: key from `--api-key-file` or `SUGER_API_KEY`, org id and base URL from
/// the flags or their environment variables.
pub(crate) fn connect(global: &Global) -> Result<MeteringClient, Failure> {
    let key = match &global.api_key_file {
        Some(path) => read_key_file(path)?,
        None => std::env::var("SUGER_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                Failure::usage(
                    "no API key",
                    "set SUGER_API_KEY or pass --api-key-file FILE (the key is never taken as a flag value)",
                )
            })?,
    };
    let org = global
        .org_id
        .clone()
        .filter(|o| !o.trim().is_empty())
        .ok_or_else(|| {
            Failure::usage("no organization id", "set SUGER_ORG_ID or pass --org-id ID")
        })?;
    let mut builder = MeteringClient::builder()
        .api_key(key)
        .org_id(org)
        .retry(RetryPolicy::new().max_attempts(global.max_attempts.max(1)));
    if let Some(url) = &global.base_url {
        builder = builder.base_url(url.as_str());
    }
    if let Some(secs) = global.timeout {
        builder = builder.timeout(Duration::from_secs_f64(secs.max(0.001)));
    }
    builder
        .build()
        .map_err(|e| exit::classify(&e, exit::Op::Other))
}

fn read_key_file(path: &Path) -> Result<String, Failure> {
    let raw = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(
            format!("cannot read the API key file {}: {e}", path.display()),
            "pass a readable file holding only the key",
        )
    })?;
    let key = raw.trim().to_string();
    if key.is_empty() {
        return Err(Failure::usage(
            format!("the API key file {} is empty", path.display()),
            "write the key into it, or set SUGER_API_KEY",
        ));
    }
    Ok(key)
}
