//! The crate's one error type.

use std::time::Duration;

use crate::usage_record_group::NewUsageRecordGroup;

/// Everything that can go wrong when calling the Suger Metering API.
///
/// The variants tell apart *where* a call failed, which decides what a caller may safely do next:
///
/// | variant | was the request sent? | what it means |
/// |---|---|---|
/// | [`Error::Config`] | no | the client could not be built |
/// | [`Error::InvalidRequest`] | **no** | the arguments break a rule of the API; nothing was sent |
/// | [`Error::Api`] | yes, and answered | Suger (or a proxy in front of it) answered with a non-2xx status |
/// | [`Error::Timeout`], [`Error::Transport`] | **maybe** | no usable answer arrived; see [`Error::request_may_have_been_sent`] |
/// | [`Error::Decode`] | yes, and answered | a 2xx answer whose body is not what the API promises |
/// | [`Error::AlreadyReported`] | yes, **recorded** | a retried usage report was already recorded by an earlier attempt |
/// | [`Error::ReportOutcomeUnknown`] | yes | a usage report may or may not have been recorded; resend it with the same id |
/// | [`Error::OutcomeUnknown`] | yes | a batch report may or may not have been recorded; the batch is handed back |
///
/// No variant ever contains the API key or request headers. Bodies are kept only as short
/// excerpts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client configuration is invalid (missing API key or org id, a base URL that is not
    /// `https://`, ...).
    #[error("invalid client configuration: {0}")]
    Config(String),

    /// The request was refused before sending because it breaks a rule of the API.
    /// **No request was sent.**
    #[error("invalid request (not sent): {field}: {reason}")]
    InvalidRequest {
        /// The argument or field at fault, e.g. `"records"` or `"limit"`.
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },

    /// Suger answered with a non-2xx status.
    #[error("Suger API answered HTTP {status}: {message}")]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The server's message: the JSON-string error body with its quotes removed, or a short
        /// excerpt of a plain-text/HTML body, or `(empty body)`.
        message: String,
        /// The `Retry-After` header, when the server sent one (seconds or an HTTP date).
        retry_after: Option<Duration>,
    },

    /// No complete answer arrived in time (connect, or the whole request with its response).
    /// The request **may have been applied** by the server.
    #[error("request to Suger timed out: {0}")]
    Timeout(#[source] ureq::Error),

    /// The request never got a usable answer: connection refused or reset, DNS, TLS, I/O, or a
    /// response cut short. Whether it reached the server is told by
    /// [`Error::request_may_have_been_sent`].
    #[error("request to Suger failed: {0}")]
    Transport(#[source] ureq::Error),

    /// A 2xx answer whose body could not be decoded into the expected type.
    #[error(
        "could not decode the HTTP {status} response from Suger: {source}; body starts: {excerpt:?}"
    )]
    Decode {
        /// The HTTP status code of the answer.
        status: u16,
        /// The first few hundred bytes of the body (lossy UTF-8).
        excerpt: String,
        /// What serde_json found wrong.
        #[source]
        source: serde_json::Error,
    },

    /// A usage report was retried and the server answered 409 to the retry: an earlier attempt
    /// of **this same request** was recorded (its answer was lost on the way back).
    ///
    /// The usage is recorded exactly once. Treat this as success and **do not report the usage
    /// again** under another id. [`Error::status`] is 409 and [`Error::is_conflict`] is `true`.
    #[error(
        "usage record group {id} was already recorded by an earlier attempt of this request (HTTP 409 on retry: {message}); do not report it again"
    )]
    AlreadyReported {
        /// The id of the usage record group, as sent.
        id: String,
        /// The server's message.
        message: String,
    },

    /// A usage report failed in a way that leaves its outcome unknown: it was sent (and maybe
    /// retried) but no definite answer came back (timeout, connection dropped, 5xx, or an
    /// unreadable 2xx body). It may or may not have been recorded.
    ///
    /// Reporting it again **with the same `id`** is safe: Suger deduplicates on the id, and
    /// answers 409 if the earlier attempt was recorded. `id` is the one that was sent, also when
    /// the client generated it. [`Error::is_retryable`] is `true`.
    #[error(
        "the outcome of the report of usage record group {id} is unknown; report it again with the same id to be sure (a repeat is deduplicated): {source}"
    )]
    ReportOutcomeUnknown {
        /// The id of the usage record group, as sent.
        id: String,
        /// What went wrong on the last attempt.
        #[source]
        source: Box<Error>,
    },

    /// A batch report failed in a way that leaves its outcome unknown: the request was sent, but
    /// no definite answer came back (timeout, connection dropped, 5xx from Suger or a proxy, or
    /// an unreadable 2xx body). Batch items carry no id, so Suger cannot deduplicate a resend:
    /// sending the same batch again may bill it twice. Check what was recorded (list the usage
    /// record groups) before reporting these groups again, or report them one by one with ids.
    #[error(
        "the outcome of a batch report of {} usage record groups is unknown, do not resend it blindly: {source}",
        groups.len()
    )]
    OutcomeUnknown {
        /// The batch, handed back to the caller.
        groups: Vec<NewUsageRecordGroup>,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
}

/// Shorthand for `Result<T, suger_metering::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidRequest {
            field,
            reason: reason.into(),
        }
    }

    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::Decode { status, .. } => Some(*status),
            Error::AlreadyReported { .. } => Some(409),
            Error::OutcomeUnknown { source, .. } | Error::ReportOutcomeUnknown { source, .. } => {
                source.status()
            }
            _ => None,
        }
    }

    /// `true` for [`Error::AlreadyReported`]: the usage is recorded; do not report it again.
    pub fn is_already_reported(&self) -> bool {
        matches!(self, Error::AlreadyReported { .. })
    }

    /// The server's message for an [`Error::Api`].
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. } | Error::AlreadyReported { message, .. } => Some(message),
            Error::OutcomeUnknown { source, .. } | Error::ReportOutcomeUnknown { source, .. } => {
                source.message()
            }
            _ => None,
        }
    }

    /// The `Retry-After` the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// `true` for HTTP 404 (unknown billable metric or usage record group).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// `true` for HTTP 409: a usage record group with this `id` was already reported
    /// (including [`Error::AlreadyReported`]).
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// `true` for a failure that may pass if the *same* request is sent again later:
    /// timeouts, transport failures (I/O, DNS, connect; not a response over the size limit or a
    /// TLS certificate error), HTTP 408, 429, 500, 502, 503, 504, and
    /// [`Error::ReportOutcomeUnknown`] (resend with the same id).
    ///
    /// Retrying is only safe when repeating the request cannot double-bill: see
    /// [`RetryPolicy`](crate::RetryPolicy). Never retryable: invalid requests, 4xx answers other
    /// than 408/429, decode errors, [`Error::AlreadyReported`] and [`Error::OutcomeUnknown`].
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            Error::Timeout(_) | Error::ReportOutcomeUnknown { .. } => true,
            Error::Transport(e) => transient(e),
            _ => false,
        }
    }

    /// `false` only when the request provably never reached the server: invalid or refused before
    /// sending, a configuration error, or a connection that could not be opened (DNS failure,
    /// connection refused, connect timeout, TLS handshake failure). `true` for everything else,
    /// including timeouts and connections dropped after the request was written: such a request
    /// **may have been applied**.
    pub fn request_may_have_been_sent(&self) -> bool {
        match self {
            Error::Config(_) | Error::InvalidRequest { .. } => false,
            Error::Timeout(e) | Error::Transport(e) => !never_sent(e),
            _ => true,
        }
    }

    /// Whether a request that failed so may nevertheless have been applied by the server:
    /// sent without a definite answer (timeout, dropped connection), a 5xx (other than a 503
    /// with `Retry-After`, where the server says it did not process it), or an unreadable 2xx.
    pub(crate) fn outcome_unknown(&self) -> bool {
        match self {
            Error::Timeout(_) | Error::Transport(_) => self.request_may_have_been_sent(),
            Error::Api {
                status,
                retry_after,
                ..
            } => *status >= 500 && !(*status == 503 && retry_after.is_some()),
            Error::Decode { .. } => true,
            _ => false,
        }
    }
}

/// `true` for transport failures that another attempt may not meet: I/O, DNS, connect, a
/// protocol error or stall. `false` for ones that would fail the same way again (a response over
/// the size limit, a bad URI or proxy, TLS configuration or certificate problems).
fn transient(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_)
            | ureq::Error::BodyStalled
            | ureq::Error::ConnectProxyFailed(_)
    )
}

/// `true` when the ureq error proves the request never left this machine.
fn never_sent(e: &ureq::Error) -> bool {
    use ureq::Timeout as T;
    match e {
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::BadUri(_)
        | ureq::Error::Http(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::Tls(_) => true,
        ureq::Error::Timeout(t) => matches!(t, T::Resolve | T::Connect),
        ureq::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::AddrNotAvailable
                | std::io::ErrorKind::NotFound
        ),
        _ => false,
    }
}

/// Turns a ureq failure into the crate's error.
impl From<ureq::Error> for Error {
    fn from(e: ureq::Error) -> Self {
        match e {
            ureq::Error::Timeout(_) => Error::Timeout(e),
            ureq::Error::Io(ref io) if io.kind() == std::io::ErrorKind::TimedOut => {
                Error::Timeout(e)
            }
            e => Error::Transport(e),
        }
    }
}

/// At most this many bytes of a body are kept in an error.
const EXCERPT_BYTES: usize = 300;

/// A short, printable excerpt of a body: lossy UTF-8, cut at a character boundary.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let cut = &body[..body.len().min(EXCERPT_BYTES)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if body.len() > EXCERPT_BYTES {
        // A multi-byte character cut in two shows as U+FFFD; drop it.
        if s.ends_with('\u{FFFD}') {
            s.pop();
        }
        s.push('…');
    }
    s
}

/// The server's message in an error body: a JSON string unquoted (what Suger's Go server sends),
/// the `message`/`error` field of a JSON object, else a trimmed excerpt of the raw text.
pub(crate) fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::String(s)) if s.trim().is_empty() => {
            return "(empty message)".to_owned();
        }
        Ok(serde_json::Value::String(s)) => return clip(s),
        Ok(serde_json::Value::Object(map)) => {
            for key in ["message", "error"] {
                if let Some(serde_json::Value::String(s)) = map.get(key) {
                    return clip(s.clone());
                }
            }
        }
        _ => {}
    }
    let text = excerpt(body);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_owned()
    } else {
        text.to_owned()
    }
}

fn clip(s: String) -> String {
    if s.len() <= 1000 {
        return s;
    }
    let mut end = 1000;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (IMF-fixdate). A date in the past is zero.
pub(crate) fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, fmt)
        .ok()?
        .assume_utc();
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn messages_from_every_kind_of_error_body() {
        assert_eq!(
            error_message(br#""all the quantity of usage records are zero""#),
            "all the quantity of usage records are zero"
        );
        assert_eq!(error_message(br#"{"message":"nope"}"#), "nope");
        assert_eq!(
            error_message(b"<html>502 Bad Gateway</html>\n"),
            "<html>502 Bad Gateway</html>"
        );
        assert_eq!(error_message(b""), "(empty body)");
        assert_eq!(error_message(br#""""#), "(empty message)");
        let long = "x".repeat(5000);
        let m = error_message(long.as_bytes());
        assert_eq!(m.chars().count(), EXCERPT_BYTES + 1);
        assert!(m.ends_with('…'));
    }

    #[test]
    fn excerpt_never_splits_a_character() {
        let body = "é".repeat(400);
        let e = excerpt(body.as_bytes());
        assert!(e.ends_with('…'));
        assert!(!e.contains('\u{FFFD}'));
    }

    #[test]
    fn only_transient_transport_failures_are_retryable() {
        let io = Error::from(ureq::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert!(io.is_retryable());
        assert!(Error::from(ureq::Error::HostNotFound).is_retryable());
        assert!(!Error::from(ureq::Error::BodyExceedsLimit(10)).is_retryable());
        assert!(!Error::from(ureq::Error::BadUri("x".into())).is_retryable());
    }

    #[test]
    fn retry_after_seconds_and_http_dates() {
        let now = datetime!(2026-11-26 12:00:00 UTC);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Thu, 26 Nov 2026 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Thu, 26 Nov 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
