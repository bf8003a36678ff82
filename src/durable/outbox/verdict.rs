//! What an answer to a report means for its outbox entry ([`Verdict`]), and how long a report
//! that failed waits before it is sent again ([`backoff`]). [`Outbox::flush`](super::Outbox::flush)
//! acts on them.

use time::Duration;

use crate::http::error::Error;

/// The first wait of an entry after a failure about it; it doubles with each failure.
pub(crate) const FIRST_BACKOFF: std::time::Duration = std::time::Duration::from_secs(60);
/// The longest wait of an entry between two sends.
pub(crate) const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// What an answer means for an entry.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    /// Recorded by an earlier attempt (409): remove.
    AlreadyRecorded,
    /// A bad API key: stop, keep everything, return the error.
    Stop,
    /// Suger as a whole cannot take reports now (rate limited, or no connection could be
    /// opened): keep this entry and stop the flush; the next flush starts again.
    Halt,
    /// Will never pass: dead letter.
    Dead,
    /// Refused for good, but with no Suger error body (not a JSON string): maybe a wrong base
    /// URL or a gateway refusing everything. A dead letter unless the next ones are refused the
    /// same way.
    Suspect(u16),
    /// A failure about this entry (5xx, timeout, unknown outcome, an answer too large): keep it
    /// with its own backoff, and go on with the others.
    Keep,
}

/// Classifies a failed report through the error's predicates and status (not its variants,
/// except `InvalidRequest` and the form of `Api`'s body).
pub(crate) fn verdict(e: &Error) -> Verdict {
    if e.is_already_reported() || e.status() == Some(409) {
        return Verdict::AlreadyRecorded;
    }
    // Nothing reached Suger (DNS, refused connection, TLS, proxy), also when it is the last
    // cause behind an unknown outcome: the connection is at fault, not this report.
    let unreachable = e
        .transport_error()
        .is_some_and(|t| !t.request_may_have_been_sent());
    match e.status() {
        Some(401 | 403) => Verdict::Stop,
        Some(429) => Verdict::Halt,
        _ if unreachable => Verdict::Halt,
        _ if e.is_retryable() => Verdict::Keep,
        Some(status @ 400..=499) => match e {
            Error::Api {
                json_string_body: false,
                ..
            } => Verdict::Suspect(status),
            _ => Verdict::Dead,
        },
        _ if matches!(e, Error::InvalidRequest { .. }) => Verdict::Dead,
        _ => Verdict::Keep,
    }
}

/// The wait before the next send of an entry that failed `attempts` times: `first`, doubling,
/// at most `max` (by default 1 minute up to 30, well inside AWS's 6 hours).
pub(crate) fn backoff(
    attempts: u32,
    first: std::time::Duration,
    max: std::time::Duration,
) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    let wait = first.saturating_mul(2_u32.pow(doublings)).min(max);
    Duration::try_from(wait).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> Error {
        Error::Api {
            status,
            message: "m".into(),
            retry_after: None,
            json_string_body: true,
        }
    }

    #[test]
    fn verdicts_follow_the_status() {
        assert_eq!(verdict(&api(409)), Verdict::AlreadyRecorded);
        assert_eq!(verdict(&api(401)), Verdict::Stop);
        assert_eq!(verdict(&api(403)), Verdict::Stop);
        assert_eq!(verdict(&api(400)), Verdict::Dead);
        assert_eq!(verdict(&api(404)), Verdict::Dead);
        let gateway = Error::Api {
            status: 404,
            message: "404 page not found".into(),
            retry_after: None,
            json_string_body: false,
        };
        assert_eq!(verdict(&gateway), Verdict::Suspect(404));
        assert_eq!(verdict(&Error::invalid("records", "x")), Verdict::Dead);
        assert_eq!(verdict(&api(429)), Verdict::Halt);
        for keep in [408, 500, 502, 503, 504] {
            assert_eq!(verdict(&api(keep)), Verdict::Keep, "{keep}");
        }
    }

    #[test]
    fn backoff_doubles_from_a_minute_up_to_half_an_hour() {
        let waits: Vec<i64> = (1..=8)
            .map(|n| backoff(n, FIRST_BACKOFF, MAX_BACKOFF).whole_minutes())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(
            backoff(u32::MAX, FIRST_BACKOFF, MAX_BACKOFF),
            Duration::minutes(30)
        );
        let zero = std::time::Duration::ZERO;
        assert_eq!(backoff(3, zero, zero), Duration::ZERO);
    }

    #[test]
    fn no_connection_halts_the_flush_even_behind_an_unknown_outcome() {
        use crate::http::transport_error::{TransportError, TransportErrorKind};
        let refused = || Error::Transport(TransportError::of_kind(TransportErrorKind::Connect));
        assert_eq!(verdict(&refused()), Verdict::Halt);
        let unknown = Error::ReportOutcomeUnknown {
            id: "r".into(),
            id_generated: false,
            source: Box::new(refused()),
        };
        assert_eq!(verdict(&unknown), Verdict::Halt);
        let lost = Error::Transport(TransportError::of_kind(TransportErrorKind::ConnectionLost));
        assert_eq!(verdict(&lost), Verdict::Keep);
    }
}
