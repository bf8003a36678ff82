//! `fake`: the embedded fake Suger server, until interrupted.

use std::io::Write;

use suger_metering::fake::FakeSuger;

use crate::cli::{FakeArgs, Global};
use crate::exit::Failure;
use crate::input::read_text;
use crate::stderr;

/// Starts the fake, prints the `SUGER_*` lines as soon as it listens, then serves forever
/// (until SIGINT/SIGTERM ends the process). `--org-id` (or `SUGER_ORG_ID`) is the org the fake
/// serves; the other global flags (`given` on the command line) mean nothing to it: refused.
pub(crate) fn run(global: &Global, given: &[&str], args: &FakeArgs) -> Result<(), Failure> {
    if let Some(flag) = given.first() {
        return Err(Failure::usage(
            format!("--{} does not apply to `fake`", flag.replace('_', "-")),
            "drop it: the fake prints the SUGER_* settings to use; only --org-id (the org it serves) and -v apply",
        ));
    }
    let mut builder = FakeSuger::builder()
        .host(args.host.as_str())
        .port(args.port)
        .max_requests(args.max_requests)
        .max_request_bytes(args.max_request_bytes)
        .max_connections(args.max_connections)
        .read_timeout(args.read_timeout);
    if let Some(org) = global.org_id.as_deref().filter(|o| !o.trim().is_empty()) {
        builder = builder.org_id(org);
    }
    if let Some(path) = &args.seed {
        let text = read_text(path)?;
        let seed = serde_json::from_str(&text).map_err(|e| {
            Failure::usage(
                format!("seed {}: invalid JSON: {e}", path.display()),
                "give a JSON object with billableMetrics, usageRecordGroups, usageMeteringConfigInfo",
            )
        })?;
        builder = builder.seed(seed);
    }
    let fake = builder.start().map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
            Failure::usage(e.to_string(), "fix --host or --seed and run again")
        }
        _ => Failure::other(
            format!("cannot listen on {}:{}: {e}", args.host, args.port),
            "pick another --port (0 picks a free one)",
        ),
    })?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "SUGER_API_BASE_URL={}", fake.base_url());
    let _ = writeln!(out, "SUGER_API_KEY={}", fake.api_key());
    let _ = writeln!(out, "SUGER_ORG_ID={}", fake.org_id());
    let _ = out.flush();
    drop(out);
    stderr::note(format!(
        "fake Suger listening on {} (Ctrl-C to stop); admin routes: POST {0}/_fake/report-cycle, POST {0}/_fake/faults, GET {0}/_fake/requests, GET {0}/_fake/state",
        fake.base_url()
    ));
    loop {
        std::thread::park();
    }
}
