//! The crate's one error type.

use std::time::Duration;

use crate::http::transport_error::{TransportError, TransportErrorKind};
use crate::http::usage_record::NewUsageRecordGroup;

/// Everything that can go wrong when calling the Suger Metering API.
///
/// The variants tell apart *where* a call failed, which decides what a caller may safely do next:
///
/// | variant | was the request sent? | what it means |
/// |---|---|---|
/// | [`Error::Config`] | no | the client could not be built |
/// | [`Error::InvalidRequest`] | **no** | the arguments break a rule of the API; nothing was sent |
/// | [`Error::Api`] | yes, and answered | Suger (or a proxy in front of it) answered with a non-2xx status |
/// | [`Error::Timeout`], [`Error::Transport`] | **maybe**: [`Error::request_may_have_been_sent`] tells (no for DNS, connect, TLS, proxy) | no usable answer arrived |
/// | [`Error::Decode`] | yes, and answered | a 2xx answer whose body is not what the API promises |
/// | [`Error::AlreadyReported`] | yes, **recorded** | a usage report's id is already recorded (409): done, do not report again |
/// | [`Error::ReportOutcomeUnknown`] | yes | a usage report may or may not have been recorded; resend it with the same id |
/// | [`Error::BatchOutcomeUnknown`] | yes | a batch report may or may not have been recorded; the batch is handed back |
///
/// No variant ever contains the API key or request headers. Bodies are kept only as short
/// excerpts.
///
/// New variants may come in minor versions, and the variants with named fields are
/// `#[non_exhaustive]` (they may gain fields): match them with `..`, and keep a `_` arm.
/// Only this crate builds them:
///
/// ```compile_fail
/// let e = suger_metering::Error::Api { status: 503, message: String::new(), retry_after: None };
/// ```
///
/// ```
/// # fn handle(e: suger_metering::Error) {
/// use suger_metering::Error;
/// match e {
///     Error::Api { status, .. } if status >= 500 => { /* Suger had a problem */ }
///     Error::AlreadyReported { id, .. } => println!("{id} was recorded before"),
///     e if e.is_timeout() => { /* no answer in time */ }
///     _ => {}
/// }
/// # }
/// ```
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
    #[non_exhaustive]
    InvalidRequest {
        /// The argument or field at fault, e.g. `"records"` or `"limit"`.
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },

    /// Suger answered with a non-2xx status.
    #[error("Suger API answered HTTP {status}: {message}")]
    #[non_exhaustive]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The server's message: the JSON-string error body with its quotes removed, or a short
        /// excerpt of a plain-text/HTML body, or `(empty body)`.
        message: String,
        /// The `Retry-After` header, when the server sent one (seconds or an HTTP date).
        retry_after: Option<Duration>,
    },

    /// No complete answer arrived in time. Whether the request may have reached Suger is told
    /// by [`Error::request_may_have_been_sent`] (a connect timeout: no; any later timeout: it
    /// **may have been applied**).
    #[error(transparent)]
    Timeout(TransportError),

    /// No usable answer arrived: DNS, connection refused, TLS, proxy, a connection dropped, a
    /// response cut short or over the size limit. [`TransportError::kind`] tells what happened,
    /// and [`Error::request_may_have_been_sent`] whether the request may have reached Suger.
    #[error(transparent)]
    Transport(TransportError),

    /// A 2xx answer whose body does not match the API's schema. The request was applied.
    #[error(
        "the HTTP {status} answer from Suger does not match the API's schema (body starts: {excerpt:?})"
    )]
    #[non_exhaustive]
    Decode {
        /// The HTTP status code of the answer.
        status: u16,
        /// The first few hundred bytes of the body (lossy UTF-8).
        excerpt: String,
        /// What serde_json found wrong.
        #[source]
        source: serde_json::Error,
    },

    /// A usage report that carries an id was answered 409: a usage record group with this id is
    /// **already recorded** at Suger. Suger's ids are unique per organization, so this is the
    /// answer to "is this usage recorded?": yes, once. Treat it as success and do not report the
    /// usage again under another id.
    ///
    /// `retried` tells the two ways here apart: `true` when an earlier attempt of *this call*
    /// was recorded and its answer lost; `false` when the id was recorded before this call (a
    /// re-run of your job, a replayed spool). [`Error::is_already_reported`] is `true`,
    /// [`Error::status`] is 409.
    #[error("usage record group {id} is already recorded at Suger (HTTP 409: {message})")]
    #[non_exhaustive]
    AlreadyReported {
        /// The id of the usage record group, as sent.
        id: String,
        /// The server's message.
        message: String,
        /// Whether the 409 answered a retry of this call, after an attempt without an answer.
        retried: bool,
    },

    /// A usage report was sent (and maybe retried) but no definite answer came back (timeout,
    /// connection dropped, 5xx, or an unreadable 2xx body): it may or may not be recorded.
    ///
    /// Report it again **with this `id`** to settle it: Suger deduplicates on the id and answers
    /// 409 ([`Error::AlreadyReported`]) if it was recorded. When you passed no id, the client
    /// generated this one (`id_generated`): sending the same params again would get a *new* id
    /// and could bill twice, so [`Error::is_retryable`] is `false` then; set `params.id` to this
    /// id before resending.
    #[error(
        "the outcome of the report of usage record group {id} is unknown (resend it with the same id); last attempt: {source}"
    )]
    #[non_exhaustive]
    ReportOutcomeUnknown {
        /// The id of the usage record group, as sent.
        id: String,
        /// `true` when the client generated `id` because the params had none.
        id_generated: bool,
        /// What went wrong on the last attempt.
        #[source]
        source: Box<Error>,
    },

    /// A batch report was sent but no definite answer came back (timeout, connection dropped,
    /// 5xx, or an unreadable 2xx body). Batch items carry no id, so Suger cannot deduplicate a
    /// resend: sending the same batch again may bill it twice. Check what was recorded (list the
    /// usage record groups) before reporting these groups again, or report them one by one
    /// with ids (or through an [`Outbox`](crate::Outbox)).
    #[error("the outcome of a batch report of {} usage record groups is unknown (do not resend it blindly); last attempt: {source}", groups.len())]
    #[non_exhaustive]
    BatchOutcomeUnknown {
        /// The batch, handed back to the caller.
        groups: Vec<NewUsageRecordGroup>,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
}

/// Shorthand for `Result<T, suger_metering::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The crate-internal constructors of the `#[non_exhaustive]` variants: the one place each is
/// built, so adding a field is a change here and at the callers that know its value.
impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidRequest {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn api(status: u16, message: String, retry_after: Option<Duration>) -> Self {
        Error::Api {
            status,
            message,
            retry_after,
        }
    }

    pub(crate) fn decode(status: u16, excerpt: String, source: serde_json::Error) -> Self {
        Error::Decode {
            status,
            excerpt,
            source,
        }
    }

    pub(crate) fn already_reported(id: String, message: String, retried: bool) -> Self {
        Error::AlreadyReported {
            id,
            message,
            retried,
        }
    }

    pub(crate) fn report_outcome_unknown(id: String, id_generated: bool, source: Error) -> Self {
        Error::ReportOutcomeUnknown {
            id,
            id_generated,
            source: Box::new(source),
        }
    }

    pub(crate) fn batch_outcome_unknown(groups: Vec<NewUsageRecordGroup>, source: Error) -> Self {
        Error::BatchOutcomeUnknown {
            groups,
            source: Box::new(source),
        }
    }
}

impl Error {
    /// The crate's error for a ureq failure: a timeout after the connection was open is
    /// [`Error::Timeout`], a connect timeout too (never sent), anything else [`Error::Transport`].
    pub(crate) fn from_ureq(e: ureq::Error) -> Self {
        let e = TransportError::from_ureq(e);
        match e.kind() {
            TransportErrorKind::Timeout | TransportErrorKind::ConnectTimeout => Error::Timeout(e),
            _ => Error::Transport(e),
        }
    }

    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::Decode { status, .. } => Some(*status),
            Error::AlreadyReported { .. } => Some(409),
            Error::BatchOutcomeUnknown { source, .. }
            | Error::ReportOutcomeUnknown { source, .. } => source.status(),
            _ => None,
        }
    }

    /// `true` when the usage of a report is **recorded at Suger**, exactly once, although the
    /// call returned an error: [`Error::AlreadyReported`], the 409 that Suger answers to a report
    /// whose id it has recorded (a retry of this call, or a re-run with your own id).
    ///
    /// Together with `Ok`, this is the one test for "done, do not report again":
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// # let params = suger_metering::CreateUsageRecordGroupParams::default();
    /// match client.report_usage_record_group("entitlement-1", &params) {
    ///     Ok(_) => {}                                  // recorded now
    ///     Err(e) if e.is_already_reported() => {}      // recorded before
    ///     Err(e) => return Err(e),                     // not recorded, or unknown
    /// }
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    pub fn is_already_reported(&self) -> bool {
        matches!(self, Error::AlreadyReported { .. })
    }

    /// The server's message for an [`Error::Api`] or [`Error::AlreadyReported`].
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. } | Error::AlreadyReported { message, .. } => Some(message),
            Error::BatchOutcomeUnknown { source, .. }
            | Error::ReportOutcomeUnknown { source, .. } => source.message(),
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

    /// What went wrong on the way, for [`Error::Timeout`] and [`Error::Transport`] (also behind
    /// an outcome-unknown error).
    pub fn transport_error(&self) -> Option<&TransportError> {
        match self {
            Error::Timeout(e) | Error::Transport(e) => Some(e),
            Error::BatchOutcomeUnknown { source, .. }
            | Error::ReportOutcomeUnknown { source, .. } => source.transport_error(),
            _ => None,
        }
    }

    /// `true` when no complete answer arrived in time: [`Error::Timeout`], also behind an
    /// outcome-unknown error whose last attempt timed out. Whether the request may have been
    /// applied is [`Error::request_may_have_been_sent`]'s answer (a connect timeout: never sent).
    ///
    /// ```
    /// # fn f(client: &suger_metering::MeteringClient) {
    /// match client.get_usage_metering_config_info() {
    ///     Err(e) if e.is_timeout() => eprintln!("Suger did not answer in time: {e}"),
    ///     _ => {}
    /// }
    /// # }
    /// ```
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout(_) => true,
            Error::BatchOutcomeUnknown { source, .. }
            | Error::ReportOutcomeUnknown { source, .. } => source.is_timeout(),
            _ => false,
        }
    }

    /// `true` for HTTP 404 (unknown billable metric or usage record group).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// `true` for HTTP 409 (including [`Error::AlreadyReported`]).
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// `true` when **sending the same arguments again later is safe and may succeed**:
    /// timeouts and transport failures that can pass (not an untrusted certificate, a failed TLS
    /// handshake, a proxy asking for credentials or an answer over the size limit), HTTP 408,
    /// 429, 500, 502, 503 and 504, and [`Error::ReportOutcomeUnknown`] when the id was yours (a
    /// resend carries it and is deduplicated).
    ///
    /// `false` for [`Error::ReportOutcomeUnknown`] with a client-generated id (the same params
    /// would get a new id: resend with `id: Some(id)` instead), [`Error::BatchOutcomeUnknown`]
    /// (a batch cannot be deduplicated), invalid requests, other 4xx answers, decode errors and
    /// [`Error::AlreadyReported`].
    ///
    /// This is about the caller's own retries. The client's automatic retries follow
    /// [`RetryPolicy`](crate::RetryPolicy), which also knows which operations are safe to repeat.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            Error::Timeout(e) | Error::Transport(e) => e.is_transient(),
            Error::ReportOutcomeUnknown { id_generated, .. } => !id_generated,
            _ => false,
        }
    }

    /// `false` only when the request provably never reached Suger: refused before sending
    /// ([`Error::InvalidRequest`], [`Error::Config`]) or a connection that could not be opened
    /// (DNS failure, connection refused, connect timeout, untrusted TLS certificate or failed
    /// TLS handshake, proxy `CONNECT` refused). `true` for everything else, including timeouts
    /// and connections dropped after the request was written: such a request **may have been
    /// applied**.
    pub fn request_may_have_been_sent(&self) -> bool {
        match self {
            Error::Config(_) | Error::InvalidRequest { .. } => false,
            Error::Timeout(e) | Error::Transport(e) => e.request_may_have_been_sent(),
            _ => true,
        }
    }

    /// The one rule for "the server said it did not process this request; come back later":
    /// a 429, or a 503 **with** `Retry-After`. Such an answer is a definite outcome (not
    /// applied): it is retried even for requests that are not idempotent, and when the attempts
    /// run out it is a plain [`Error::Api`]. Any other 5xx (a 503 without `Retry-After` may come
    /// from a proxy that forwarded the request) leaves the outcome unknown.
    pub(crate) fn server_asked_to_wait(&self) -> bool {
        matches!(
            self,
            Error::Api {
                status: 429 | 503,
                retry_after: Some(_),
                ..
            }
        )
    }

    /// Whether a request that failed so may nevertheless have been applied by the server:
    /// sent without a definite answer (timeout, dropped connection), a 5xx unless the server
    /// asked to wait ([`Error::server_asked_to_wait`]), or an unreadable 2xx.
    pub(crate) fn outcome_unknown(&self) -> bool {
        match self {
            Error::Timeout(e) | Error::Transport(e) => e.request_may_have_been_sent(),
            Error::Api { status, .. } => *status >= 500 && !self.server_asked_to_wait(),
            Error::Decode { .. } => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (variant is Timeout, may have been sent, retryable) for a ureq error.
    fn classified(e: ureq::Error) -> (bool, bool, bool) {
        let e = Error::from_ureq(e);
        (
            matches!(e, Error::Timeout(_)),
            e.request_may_have_been_sent(),
            e.is_retryable(),
        )
    }

    #[test]
    fn transport_failures_are_classified_by_what_happened() {
        use std::io::{Error as Io, ErrorKind};
        // Never sent, and another attempt may pass.
        assert_eq!(classified(ureq::Error::HostNotFound), (false, false, true));
        assert_eq!(
            classified(ureq::Error::ConnectionFailed),
            (false, false, true)
        );
        let refused = ureq::Error::Io(Io::from(ErrorKind::ConnectionRefused));
        assert_eq!(classified(refused), (false, false, true));
        let connect = ureq::Error::Timeout(ureq::Timeout::Connect);
        assert_eq!(classified(connect), (true, false, true));
        // Never sent, and would fail the same way again.
        let proxy = ureq::Error::ConnectProxyFailed("proxy server responded 407/407".into());
        assert_eq!(classified(proxy), (false, false, false));
        // May have been sent.
        let reset = ureq::Error::Io(Io::from(ErrorKind::ConnectionReset));
        assert_eq!(classified(reset), (false, true, true));
        let global = ureq::Error::Timeout(ureq::Timeout::Global);
        assert_eq!(classified(global), (true, true, true));
        assert_eq!(
            classified(ureq::Error::BodyExceedsLimit(10)),
            (false, true, false)
        );
    }

    #[cfg(feature = "rustls")]
    #[test]
    fn rustls_certificate_errors_wrapped_in_io_are_never_sent() {
        // What ureq 3.5 really returns for an untrusted certificate.
        let cert = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let e = Error::from_ureq(ureq::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            cert,
        )));
        let t = e.transport_error().unwrap();
        assert_eq!(t.kind(), TransportErrorKind::UntrustedCertificate);
        assert!(!e.request_may_have_been_sent());
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("not trusted"), "{e}");
        assert!(e.to_string().contains("add_root_certificates"), "{e}");
        // A record-layer error after the handshake may follow a written request.
        let late = Error::from_ureq(ureq::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::DecryptError,
        )));
        assert!(late.request_may_have_been_sent());
    }

    #[test]
    fn display_never_repeats_the_source_except_the_last_attempt_of_an_unknown_outcome() {
        use std::error::Error as _;
        let e = Error::from_ureq(ureq::Error::Timeout(ureq::Timeout::Global));
        let mut chain = vec![e.to_string()];
        let mut cur = e.source();
        while let Some(s) = cur {
            chain.push(s.to_string());
            cur = s.source();
        }
        for (i, a) in chain.iter().enumerate() {
            for b in &chain[i + 1..] {
                assert!(!a.contains(b.as_str()), "{a:?} repeats {b:?}");
            }
        }
        let wrapped = Error::ReportOutcomeUnknown {
            id: "g-1".into(),
            id_generated: false,
            source: Box::new(e),
        };
        // An unknown outcome names its last attempt (issue 16.9: "outcome unknown" alone
        // does not say why); the source is still there for code, and the one-line chain
        // does not repeat it.
        let source = wrapped.source().unwrap().to_string();
        assert!(
            wrapped
                .to_string()
                .ends_with(&format!("; last attempt: {source}")),
            "{wrapped}"
        );
        let chain = crate::http::text::error_chain(&wrapped);
        assert_eq!(chain.matches(&source).count(), 1, "{chain}");
        assert!(chain.ends_with(": timeout: global"), "{chain}");
    }
}
