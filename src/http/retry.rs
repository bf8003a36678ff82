//! Automatic retries: which failures are retried for which kind of request, and how long to wait.
//!
//! The decision is a pure function ([`RetryPolicy::decide`]) so it is tested without a server;
//! the loop around it lives in the transport.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::http::error::Error;

/// Default overall deadline of one call, all attempts and waits included.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);

/// How safe it is to send a request again after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Repeating it cannot change the outcome: reads, validation, PATCH updates, and a usage
    /// report that carries an `id` (the server answers a repeat with 409).
    Safe,
    /// Repeating it could apply it twice (batch report, create billable metric) or report a
    /// misleading failure after a success (delete, retry): resent only when the request provably
    /// never reached the server.
    Unsafe,
}

/// What to do after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Return this result to the caller.
    Stop,
    /// Sleep this long, then send the same request again.
    Retry(Duration),
}

/// When and how often failed requests are sent again.
///
/// The default makes up to 3 attempts within a deadline of 2 minutes for the whole call. Between
/// attempts it waits an exponential backoff with full jitter (a random delay between zero and
/// 250 ms, 500 ms, 1 s, ... capped at 8 s), or exactly what the server's `Retry-After` asks on
/// 429 and 503, if that is at most 30 s and leaves time before the deadline (otherwise the
/// error is returned at once, with [`Error::retry_after`] set).
///
/// What is retried depends on whether repeating the request is safe:
///
/// * **Reads, batch validation, billable metric and config updates (PATCH), and usage reports**
///   (which always carry an id, see [`MeteringClient::report_usage_record_group`]): timeouts,
///   transport failures that can pass (see [`TransportError::is_transient`]), and HTTP 408,
///   429, 500, 502, 503 and 504. 500 is included because Suger documents it as a generic
///   internal error and repeating these requests cannot change what is recorded.
/// * **Batch reports and billable metric creation** (the server cannot deduplicate them), and
///   **delete / retry of a usage record group** (a repeat after a lost success would answer a
///   misleading 400): only when the request provably never reached the server (DNS failure,
///   connection refused, connect timeout, a proxy failing for a reason other than
///   authentication), or on 429/503 *with* `Retry-After`, where the server says it did not
///   process the request.
/// * Never: an untrusted certificate or failed TLS handshake, a proxy asking for credentials, an
///   answer over the size limit, HTTP 400, 401, 403, 404, 409 and other statuses, decode errors
///   and invalid requests.
///
/// [`MeteringClient::report_usage_record_group`]: crate::MeteringClient::report_usage_record_group
/// [`TransportError::is_transient`]: crate::TransportError::is_transient
#[derive(Clone)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
    deadline: Duration,
    sleep: Arc<dyn Fn(Duration) + Send + Sync>,
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_retry_after", &self.max_retry_after)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
            deadline: DEFAULT_DEADLINE,
            sleep: Arc::new(std::thread::sleep),
        }
    }
}

impl RetryPolicy {
    /// The default policy (3 attempts; see the type's docs).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// No retries: every request is sent once. Use this when your program retries on its own.
    #[must_use]
    pub fn disabled() -> Self {
        Self::default().max_attempts(1)
    }

    /// Total attempts, the first included (1 disables retries). Defaults to 3.
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Backoff before the first retry, doubled for each further one, capped at `max`; each wait
    /// is a random duration between zero and that bound (full jitter).
    /// Defaults to 250 ms and 8 s.
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The longest `Retry-After` the client waits for; a longer one ends the retries.
    /// Defaults to 30 s.
    #[must_use]
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The most one call may take, all attempts and waits included. An attempt is given at most
    /// what is left of it (its own timeout permitting), and a wait (backoff or `Retry-After`)
    /// that would reach it ends the retries with the last error. Defaults to 2 minutes
    /// ([`DEFAULT_DEADLINE`]).
    ///
    /// Time is counted as the attempts' own duration plus the waits asked of the sleep function,
    /// so a [`sleep_fn`](Self::sleep_fn) that does not really sleep (in tests) still spends it.
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    pub(crate) fn deadline_duration(&self) -> Duration {
        self.deadline
    }

    /// Replaces `std::thread::sleep` between attempts, e.g. to record the delays in tests
    /// instead of waiting.
    #[must_use]
    pub fn sleep_fn(mut self, sleep: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        self.sleep = Arc::new(sleep);
        self
    }

    pub(crate) fn sleep(&self, d: Duration) {
        (self.sleep)(d)
    }

    /// What to do after attempt number `attempt` (1-based) of a request failed with `error`,
    /// with `left` of the call's deadline still to spend.
    pub(crate) fn decide(
        &self,
        kind: Idempotency,
        attempt: u32,
        error: &Error,
        left: Duration,
    ) -> Decision {
        if attempt >= self.max_attempts {
            return Decision::Stop;
        }
        let retry_after = error.retry_after();
        let asked_to_wait = error.server_asked_to_wait();
        let retryable = match kind {
            Idempotency::Safe => error.is_retryable(),
            Idempotency::Unsafe => {
                asked_to_wait || (!error.request_may_have_been_sent() && error.is_retryable())
            }
        };
        if !retryable || matches!(error, Error::InvalidRequest { .. } | Error::Config(_)) {
            return Decision::Stop;
        }
        let wait = match retry_after {
            Some(wait) if asked_to_wait => {
                if wait > self.max_retry_after {
                    return Decision::Stop;
                }
                wait
            }
            _ => self.backoff_for(attempt),
        };
        // A wait that uses up the deadline would leave no time for the next attempt.
        if wait >= left {
            return Decision::Stop;
        }
        Decision::Retry(wait)
    }

    /// Full-jitter exponential backoff after attempt `attempt`.
    fn backoff_for(&self, attempt: u32) -> Duration {
        let factor = 1u32 << (attempt - 1).min(20);
        let bound = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(random_u64() % (nanos + 1))
    }
}

/// 64 random bits (from the OS, through `uuid`'s v4 generator) for jitter.
fn random_u64() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TransportError, TransportErrorKind};

    fn api(status: u16, retry_after: Option<u64>) -> Error {
        Error::Api {
            status,
            message: String::new(),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    fn transport(kind: TransportErrorKind) -> Error {
        Error::Transport(TransportError::of_kind(kind))
    }

    fn refused() -> Error {
        transport(TransportErrorKind::Connect)
    }

    fn reset() -> Error {
        transport(TransportErrorKind::ConnectionLost)
    }

    fn timeout() -> Error {
        Error::Timeout(TransportError::of_kind(TransportErrorKind::Timeout))
    }

    const FOREVER: Duration = Duration::from_secs(3600);

    fn retries(p: &RetryPolicy, kind: Idempotency, e: &Error) -> bool {
        matches!(p.decide(kind, 1, e, FOREVER), Decision::Retry(_))
    }

    #[test]
    fn safe_requests_retry_transient_failures_only() {
        let p = RetryPolicy::default();
        for e in [
            api(429, None),
            api(500, None),
            api(502, None),
            api(503, None),
            api(504, None),
            timeout(),
            reset(),
            refused(),
        ] {
            assert!(retries(&p, Idempotency::Safe, &e), "{e}");
        }
        for e in [
            api(400, None),
            api(401, None),
            api(403, None),
            api(404, None),
            api(409, None),
            api(501, None),
            Error::invalid("x", "y"),
        ] {
            assert!(!retries(&p, Idempotency::Safe, &e), "{e}");
        }
    }

    #[test]
    fn unsafe_requests_retry_only_what_never_reached_the_server() {
        let p = RetryPolicy::default();
        assert!(retries(&p, Idempotency::Unsafe, &refused()));
        assert!(retries(&p, Idempotency::Unsafe, &api(429, Some(1))));
        assert!(retries(&p, Idempotency::Unsafe, &api(503, Some(0))));
        for e in [
            api(429, None),
            api(503, None),
            api(500, None),
            api(502, None),
            timeout(),
            reset(),
            // Never sent, but would fail the same way again.
            transport(TransportErrorKind::UntrustedCertificate),
        ] {
            assert!(!retries(&p, Idempotency::Unsafe, &e), "{e}");
        }
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        let p = RetryPolicy::default().max_retry_after(Duration::from_secs(10));
        assert_eq!(
            p.decide(Idempotency::Safe, 1, &api(503, Some(7)), FOREVER),
            Decision::Retry(Duration::from_secs(7))
        );
        assert_eq!(
            p.decide(Idempotency::Safe, 1, &api(429, Some(11)), FOREVER),
            Decision::Stop
        );
    }

    #[test]
    fn attempts_are_bounded_and_backoff_is_capped() {
        let p = RetryPolicy::default()
            .max_attempts(4)
            .backoff(Duration::from_millis(100), Duration::from_millis(300));
        for attempt in 1..4 {
            match p.decide(Idempotency::Safe, attempt, &api(502, None), FOREVER) {
                Decision::Retry(d) => {
                    let bound = Duration::from_millis(100 * (1 << (attempt - 1)))
                        .min(Duration::from_millis(300));
                    assert!(d <= bound, "attempt {attempt}: {d:?} > {bound:?}");
                }
                Decision::Stop => panic!("attempt {attempt} should retry"),
            }
        }
        assert_eq!(
            p.decide(Idempotency::Safe, 4, &api(502, None), FOREVER),
            Decision::Stop
        );
        assert_eq!(
            RetryPolicy::disabled().decide(Idempotency::Safe, 1, &api(502, None), FOREVER),
            Decision::Stop
        );
    }
}

#[cfg(test)]
mod deadline_tests {
    use super::*;

    #[test]
    fn a_wait_that_reaches_the_deadline_ends_the_retries() {
        let p = RetryPolicy::default();
        let busy = Error::Api {
            status: 503,
            message: String::new(),
            retry_after: Some(Duration::from_secs(20)),
        };
        assert_eq!(
            p.decide(Idempotency::Safe, 1, &busy, Duration::from_secs(21)),
            Decision::Retry(Duration::from_secs(20))
        );
        assert_eq!(
            p.decide(Idempotency::Safe, 1, &busy, Duration::from_secs(20)),
            Decision::Stop
        );
        assert_eq!(p.deadline_duration(), DEFAULT_DEADLINE);
    }
}
