//! Exit codes and the one-line error messages on stderr.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (an already-recorded report is success) |
//! | 1 | any other failure |
//! | 2 | usage or invalid input: nothing was sent |
//! | 3 | authentication or permission (401, 403) |
//! | 4 | outcome unknown: the request may have been applied; safe to re-run (`reconcile`: Suger could not be reached) |
//! | 5 | usage that will not be billed (`reconcile`, `trace`): failed, invalid, missing, mismatch or dead |

use std::process::ExitCode;

use suger_metering::Error;

/// Exit code: any other failure.
pub(crate) const OTHER: u8 = 1;
/// Exit code: usage or invalid input.
pub(crate) const USAGE: u8 = 2;
/// Exit code: authentication or permission.
pub(crate) const AUTH: u8 = 3;
/// Exit code: outcome unknown.
pub(crate) const UNKNOWN: u8 = 4;
/// Exit code: usage that will not be billed.
pub(crate) const NOT_BILLED: u8 = 5;

/// A failed command: its exit code and one line for stderr.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    message: String,
    next: String,
}

impl Failure {
    pub(crate) fn new(code: u8, message: impl Into<String>, next: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            next: next.into(),
        }
    }

    /// Exit 2: bad flags or input; nothing was sent.
    pub(crate) fn usage(message: impl Into<String>, next: impl Into<String>) -> Failure {
        Failure::new(USAGE, message, next)
    }

    /// Exit 1.
    pub(crate) fn other(message: impl Into<String>, next: impl Into<String>) -> Failure {
        Failure::new(OTHER, message, next)
    }

    /// Prefixes the message with where it happened (e.g. "group g1 (line 3)").
    pub(crate) fn context(mut self, what: impl std::fmt::Display) -> Failure {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// Replaces what to do next.
    pub(crate) fn next(mut self, next: impl Into<String>) -> Failure {
        self.next = next.into();
        self
    }

    /// Prints `suger-metering: error: MESSAGE; NEXT` on one line and returns the exit code.
    pub(crate) fn print_and_exit_code(&self) -> ExitCode {
        let line = format!("suger-metering: error: {}; {}", self.message, self.next);
        eprintln!("{}", one_line(&line));
        ExitCode::from(self.code)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What the failed call was, for the advice after an unknown outcome (a report carries an id; a batch does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `reportUsageRecordGroup` (the group carries an id).
    Report,
    /// A batch report (items carry no id).
    Batch,
    /// Anything else.
    Other,
}

/// The one place that maps a library error to an exit code and what to do next. (Error
/// variant names may change: adapt only here.) For reports, check `is_already_reported()` first (exit 0).
pub(crate) fn classify(e: &Error, op: Op) -> Failure {
    let message = e.to_string();
    let status = e.status();
    if matches!(status, Some(401 | 403)) {
        return Failure::new(
            AUTH,
            message,
            "check the API key (SUGER_API_KEY or --api-key-file) and that it belongs to the organization in SUGER_ORG_ID/--org-id",
        );
    }
    match e {
        Error::InvalidRequest { .. } => {
            return Failure::usage(message, "fix the input and run again; nothing was sent");
        }
        Error::Config(_) => {
            return Failure::usage(
                message,
                "check SUGER_API_KEY/--api-key-file, SUGER_ORG_ID/--org-id and SUGER_API_BASE_URL/--base-url; nothing was sent",
            );
        }
        Error::ReportOutcomeUnknown { id, .. } => {
            return Failure::new(
                UNKNOWN,
                message,
                format!(
                    "re-run the same command: the report carries id {id}, so Suger records it once"
                ),
            );
        }
        Error::BatchOutcomeUnknown { .. } => {
            return Failure::new(
                UNKNOWN,
                message,
                "a batch carries no ids: check `suger-metering groups list` before sending it again, or use `report --file` (deduplicated)",
            );
        }
        Error::Timeout(_) | Error::Transport(_) if e.request_may_have_been_sent() => {
            let next = match op {
                Op::Batch => {
                    "a batch carries no ids: check `suger-metering groups list` before sending it again"
                }
                _ => "safe to re-run the same command",
            };
            return Failure::new(UNKNOWN, message, next);
        }
        Error::Timeout(_) | Error::Transport(_) => {
            return Failure::other(
                message,
                "could not reach Suger (check the network and --base-url); nothing was sent, safe to re-run",
            );
        }
        _ => {}
    }
    match status {
        // Sent and refused: not "nothing sent" (exit 2), and not recorded.
        Some(400 | 422) => Failure::other(
            message,
            "Suger refused the input as invalid (not recorded): fix it and run again",
        ),
        Some(404) => Failure::other(message, "check the id (and --date, if given)"),
        Some(429) => Failure::other(message, "rate limited: run again later"),
        Some(s) if s >= 500 => Failure::other(message, "Suger failed: run again later"),
        _ => Failure::other(message, "see the message; run with a valid request again"),
    }
}
