//! One module per top-level command (as `cli.rs` defines them), each with a `run`; and the
//! client every command that talks to Suger builds from the global flags.

pub(crate) mod batch_report;
pub(crate) mod config;
pub(crate) mod fake;
pub(crate) mod groups;
pub(crate) mod id;
pub(crate) mod metrics;
pub(crate) mod outbox;
pub(crate) mod reconcile;
pub(crate) mod report;
pub(crate) mod reports;
pub(crate) mod trace;
pub(crate) mod validate;

use std::path::Path;

use suger_metering::{MeteringClient, RetryPolicy};

use crate::cli::Global;
use crate::exit::{self, Failure};

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
    if let Some(timeout) = global.timeout {
        builder = builder.timeout(timeout);
    }
    builder
        .build()
        .map_err(|e| exit::classify(&e, exit::Op::Read))
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
