//! Exit codes and the one-line error message: every exit code the binary returns is decided
//! here (and the README's exit-code table says the same).
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (an already-recorded report is success) |
//! | 1 | any other failure |
//! | 2 | usage or invalid input: nothing was sent |
//! | 3 | authentication or permission (401, 403) |
//! | 4 | outcome unknown: the request may have been applied; the error line says what is safe (a report with an id: re-run; a batch or a change such as `metrics create`, `groups delete/retry`: check first); `reconcile`: Suger could not be reached |
//! | 5 | usage that will not be billed (`reconcile`, `trace`): failed, invalid, missing, mismatch or dead; `report --file --outbox`: a correction below what Suger already forwarded (a negative difference, not sent) |

use std::process::ExitCode;

use suger_metering::Error;

use crate::stderr;

/// Exit code: any other failure.
const OTHER: u8 = 1;
/// Exit code: usage or invalid input.
const USAGE: u8 = 2;
/// Exit code: authentication or permission.
const AUTH: u8 = 3;
/// Exit code: outcome unknown.
const UNKNOWN: u8 = 4;
/// Exit code: usage that will not be billed.
const NOT_BILLED: u8 = 5;

/// A failed command: its exit code and one line for stderr.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    message: String,
    next: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>, next: impl Into<String>) -> Failure {
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

    /// Exit 5: usage that will not be billed (`reconcile`, `trace`), or a correction that
    /// cannot be (a negative difference after the usage was forwarded).
    pub(crate) fn not_billed(message: impl Into<String>, next: impl Into<String>) -> Failure {
        Failure::new(NOT_BILLED, message, next)
    }

    /// Exit 4 for `reconcile`/`trace`: Suger could not be reached (nothing was changed).
    pub(crate) fn unreachable(message: impl Into<String>, next: impl Into<String>) -> Failure {
        Failure::new(UNKNOWN, message, next)
    }

    /// Exit 4 for reports kept in an outbox whose outcome is not settled yet (still pending):
    /// they are sent, once, by a later flush.
    pub(crate) fn still_pending(message: impl Into<String>, next: impl Into<String>) -> Failure {
        Failure::new(UNKNOWN, message, next)
    }

    /// Whether the outcome is unknown (exit 4).
    pub(crate) fn is_unknown(&self) -> bool {
        self.code == UNKNOWN
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

    /// For a failure after `sent` earlier items were sent: never claims that nothing was sent.
    /// A usage error (this item refused before sending) stays exit 2, but says what was sent.
    pub(crate) fn after_sent(mut self, sent: usize) -> Failure {
        if sent > 0 && self.next.contains("nothing was sent") {
            self.next = format!(
                "this one was not sent, but the {sent} before it were; fix it and run again (what was recorded is answered \"already recorded\")"
            );
        }
        self
    }

    /// The more telling of two failures of one command (an unknown outcome first: it needs
    /// checking; then authentication, then any other, then usage) decides the exit code; the
    /// other one's line is printed now, so that both are shown.
    pub(crate) fn worse(self, other: Failure) -> Failure {
        let rank = |f: &Failure| match f.code {
            UNKNOWN => 4,
            AUTH => 3,
            OTHER => 2,
            _ => 1,
        };
        let (kept, shown) = if rank(&other) > rank(&self) {
            (other, self)
        } else {
            (self, other)
        };
        shown.print();
        kept
    }

    /// Prints the error line and returns the exit code.
    pub(crate) fn print_and_exit_code(&self) -> ExitCode {
        stderr::error(format!("{}; {}", self.message, self.next));
        ExitCode::from(self.code)
    }

    /// Prints the error line of a failure that another one outranks.
    fn print(&self) {
        stderr::error(format!("{}; {}", self.message, self.next));
    }
}

/// A command line clap refused (exit 2, through the one error line), or `--help`/`--version`
/// (printed by clap, exit 0).
pub(crate) fn from_clap(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::from(if e.use_stderr() { USAGE } else { 0 });
    }
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    let message = first.strip_prefix("error: ").unwrap_or(first);
    Failure::usage(message, "see --help; nothing was sent").print_and_exit_code()
}

/// What the failed call was: it decides the advice after an unknown outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `reportUsageRecordGroup` (the group carries an id: a re-run is deduplicated).
    Report,
    /// A batch report (items carry no id).
    Batch,
    /// A read (list, get, validate): re-running is safe.
    Read,
    /// A change that is not deduplicated (`metrics create`/`update`, `groups delete`/`retry`,
    /// `config set`): check its effect, with the command named, before running it again.
    Change(&'static str),
}

/// The one place that maps a library error to an exit code and what to do next. For reports,
/// check `is_already_reported()` first (exit 0).
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
        Error::BatchOutcomeUnknown { .. } => return Failure::new(UNKNOWN, message, BATCH_NEXT),
        Error::Timeout(_) | Error::Transport(_) if e.request_may_have_been_sent() => {
            return Failure::new(UNKNOWN, message, unknown_next(op));
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
        // A 5xx to a change may have been applied: say so (the exit code stays 1).
        Some(s) if s >= 500 && matches!(op, Op::Change(_)) => {
            Failure::other(message, unknown_next(op))
        }
        Some(s) if s >= 500 => Failure::other(message, "Suger failed: run again later"),
        _ => Failure::other(message, "see the message; run with a valid request again"),
    }
}

const BATCH_NEXT: &str = "a batch carries no ids: check `suger-metering groups list` before sending it again, or use `report --file` (deduplicated)";

/// What to do after a request that may have been applied.
fn unknown_next(op: Op) -> String {
    match op {
        Op::Report => "re-run the same command with the same id: Suger records it once".into(),
        Op::Batch => BATCH_NEXT.into(),
        Op::Read => "it only reads: safe to re-run the same command".into(),
        Op::Change(check) => format!(
            "the change may have been applied: check with `{check}` before running it again (running it again is not deduplicated)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_after_sending_never_says_nothing_was_sent() {
        let f = Failure::usage(
            "line 9: bad",
            "fix the file and run again; nothing was sent",
        );
        assert_eq!(f.next, "fix the file and run again; nothing was sent");
        let f = f.after_sent(3);
        assert!(!f.next.contains("nothing was sent"), "{}", f.next);
        assert!(f.next.contains("the 3 before it"), "{}", f.next);
        assert_eq!(f.code, USAGE);
        let untouched = Failure::usage("x", "nothing was sent").after_sent(0);
        assert_eq!(untouched.next, "nothing was sent");
    }

    #[test]
    fn the_worse_failure_decides_the_exit_code() {
        let refused = || Failure::other("HTTP 400", "fix it");
        let unknown = || Failure::new(UNKNOWN, "lost", "check");
        assert_eq!(refused().worse(unknown()).code, UNKNOWN);
        assert_eq!(unknown().worse(refused()).code, UNKNOWN);
        assert_eq!(Failure::usage("a", "b").worse(refused()).code, OTHER);
        assert_eq!(Failure::new(AUTH, "401", "key").worse(refused()).code, AUTH);
    }

    #[test]
    fn only_reads_and_reports_are_called_safe_to_re_run() {
        for op in [Op::Batch, Op::Change("suger-metering metrics list")] {
            assert!(
                !unknown_next(op).contains("safe"),
                "{op:?}: {}",
                unknown_next(op)
            );
        }
        assert!(unknown_next(Op::Change("suger-metering groups list")).contains("groups list"));
        assert!(unknown_next(Op::Read).contains("safe to re-run"));
        assert!(unknown_next(Op::Report).contains("same id"));
    }
}
