//! The one place where a request is built, sent, read and decoded, and where answers become
//! errors. Resource modules only describe requests: method, path segments, query, body.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use ureq::http::{self, Method};

use crate::http::client::MeteringClient;
use crate::http::encode::{encode_into, encode_segment};
use crate::http::error::{Error, Result};
use crate::http::retry::{Decision, Idempotency};
use crate::http::text::{error_message, excerpt, parse_retry_after};

/// `application/json`, for `Accept` and `Content-Type` (a static value: no parse per request).
static JSON: http::HeaderValue = http::HeaderValue::from_static("application/json");

/// One API request, described by a resource method.
pub(crate) struct Request {
    pub(crate) method: Method,
    /// The path after `/org/{orgId}`, every segment already percent-encoded.
    path: String,
    /// Query pairs as sent, names camelCase, values not yet encoded.
    query: Vec<(&'static str, String)>,
    /// The JSON body, serialized once (retries resend the same bytes).
    body: Option<Vec<u8>>,
    /// Whether a failed attempt may be sent again.
    idempotency: Idempotency,
    /// Whether the answer is a list (a page or a batch): it may be larger.
    list: bool,
}

impl Request {
    /// A request to `/org/{orgId}/` + the given segments, each percent-encoded.
    /// GET and PATCH are [`Idempotency::Safe`], other methods [`Idempotency::Unsafe`]
    /// until marked otherwise.
    fn new(method: Method, segments: &[&str]) -> Self {
        let mut path = String::new();
        for s in segments {
            path.push('/');
            path.push_str(&encode_segment(s));
        }
        let idempotency = if method == Method::GET || method == Method::PATCH {
            Idempotency::Safe
        } else {
            Idempotency::Unsafe
        };
        Request {
            method,
            path,
            query: Vec::new(),
            body: None,
            idempotency,
            list: false,
        }
    }

    /// `GET` of the given path segments.
    pub(crate) fn get(segments: &[&str]) -> Self {
        Self::new(Method::GET, segments)
    }

    /// `POST` to the given path segments.
    pub(crate) fn post(segments: &[&str]) -> Self {
        Self::new(Method::POST, segments)
    }

    /// `PATCH` of the given path segments.
    pub(crate) fn patch(segments: &[&str]) -> Self {
        Self::new(Method::PATCH, segments)
    }

    /// `DELETE` of the given path segments.
    pub(crate) fn delete(segments: &[&str]) -> Self {
        Self::new(Method::DELETE, segments)
    }

    /// Marks a POST as safe to repeat (a report carrying an id, a validation).
    pub(crate) fn idempotent(mut self) -> Self {
        self.idempotency = Idempotency::Safe;
        self
    }

    /// Marks a request whose answer is a list (a page, or the groups of a batch).
    pub(crate) fn list(mut self) -> Self {
        self.list = true;
        self
    }

    pub(crate) fn query(mut self, query: Vec<(&'static str, String)>) -> Self {
        self.query = query;
        self
    }

    pub(crate) fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::invalid("body", e.to_string()))?;
        self.body = Some(bytes);
        Ok(self)
    }
}

/// A 2xx answer.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|source| self.decode_error(source))
    }

    /// Decodes a top-level list (or `null`) of at most `max` items.
    pub(crate) fn decode_list<T: DeserializeOwned>(&self, max: usize) -> Result<Vec<T>> {
        use serde::de::DeserializeSeed;
        let mut de = serde_json::Deserializer::from_slice(&self.body);
        crate::http::bounded::Bounded::new(max)
            .deserialize(&mut de)
            .and_then(|list| de.end().map(|()| list))
            .map_err(|source| self.decode_error(source))
    }

    fn decode_error(&self, source: serde_json::Error) -> Error {
        Error::decode(self.status, excerpt(&self.body), source)
    }
}

/// The outcome of [`MeteringClient::fetch_tracked`].
pub(crate) struct Fetched {
    /// The last attempt's answer or error.
    pub(crate) result: Result<Answer>,
    /// Whether an earlier, failed attempt may have been applied by the server (it was sent and
    /// got no definite answer).
    pub(crate) earlier_attempt_may_have_applied: bool,
}

impl MeteringClient {
    /// Sends `req` and decodes a 2xx body into `T`.
    pub(crate) fn call<T: DeserializeOwned>(&self, req: Request) -> Result<T> {
        self.fetch(&req)?.decode()
    }

    /// Sends `req`, retrying as the client's [`RetryPolicy`](crate::RetryPolicy) allows;
    /// a 2xx answer is `Ok`, any other status is [`Error::Api`].
    pub(crate) fn fetch(&self, req: &Request) -> Result<Answer> {
        self.fetch_tracked(req).result
    }

    /// [`fetch`](Self::fetch), also telling whether an earlier attempt may have been applied.
    ///
    /// Time is spent by attempts (measured) and waits (as asked of the sleep function); the
    /// policy's deadline bounds their sum.
    pub(crate) fn fetch_tracked(&self, req: &Request) -> Fetched {
        let policy = &self.inner.retry;
        let deadline = policy.deadline_duration();
        let mut spent = Duration::ZERO;
        let mut attempt = 1;
        let mut earlier_attempt_may_have_applied = false;
        loop {
            let started = std::time::Instant::now();
            let outcome = self.fetch_once(req, deadline.saturating_sub(spent));
            spent += started.elapsed();
            let error = match outcome {
                Ok(answer) => {
                    log::debug!(
                        "{} {} -> {} (attempt {attempt})",
                        req.method,
                        req.path,
                        answer.status
                    );
                    return Fetched {
                        result: Ok(answer),
                        earlier_attempt_may_have_applied,
                    };
                }
                Err(e) => e,
            };
            let left = deadline.saturating_sub(spent);
            match policy.decide(req.idempotency, attempt, &error, left) {
                Decision::Stop => {
                    log::debug!(
                        "{} {} failed (attempt {attempt}): {error}",
                        req.method,
                        req.path
                    );
                    return Fetched {
                        result: Err(error),
                        earlier_attempt_may_have_applied,
                    };
                }
                Decision::Retry(wait) => {
                    log::info!(
                        "{} {} failed (attempt {attempt}), retrying in {wait:?}: {error}",
                        req.method,
                        req.path
                    );
                    earlier_attempt_may_have_applied |= error.outcome_unknown();
                    policy.sleep(wait);
                    spent += wait;
                    attempt += 1;
                }
            }
        }
    }

    /// One attempt, given at most `left` (its own timeout permitting).
    fn fetch_once(&self, req: &Request, left: Duration) -> Result<Answer> {
        let mut url = String::with_capacity(self.inner.org_url.len() + req.path.len() + 64);
        url.push_str(&self.inner.org_url);
        url.push_str(&req.path);
        for (i, (name, value)) in req.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(name);
            url.push('=');
            encode_into(&mut url, value, false);
        }

        let builder = http::Request::builder()
            .method(req.method.clone())
            .uri(url)
            .header(
                http::header::AUTHORIZATION,
                self.inner.authorization.clone(),
            )
            .header(http::header::ACCEPT, JSON.clone());
        let sent = match &req.body {
            Some(body) => builder
                .header(http::header::CONTENT_TYPE, JSON.clone())
                .body(body.as_slice())
                .map(|r| self.run(r, left)),
            // A POST without a body (retry) sends `Content-Length: 0`: with `()` ureq would
            // announce a chunked body.
            None if req.method == Method::POST => builder.body(&[][..]).map(|r| self.run(r, left)),
            None => builder.body(()).map(|r| self.run(r, left)),
        };
        let mut resp = sent
            .map_err(|e| Error::invalid("request", e.to_string()))?
            .map_err(Error::from_ureq)?;

        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, time::OffsetDateTime::now_utc()));
        let limit = if req.list {
            self.inner.max_list_bytes
        } else {
            self.inner.max_single_bytes
        };
        // An answer may echo what was sent (a report's answer carries every record): it may
        // be larger than the request, whatever the limit.
        let limit = limit.max(req.body.as_ref().map_or(0, |b| echo_limit(b.len())));
        let body = resp
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(Error::from_ureq)?;

        if (200..300).contains(&status) {
            Ok(Answer { status, body })
        } else {
            Err(api_error(status, &body, retry_after))
        }
    }

    /// Runs one HTTP exchange on the shared agent. Only when the deadline leaves less than the
    /// attempt's own timeout does the request get a configuration of its own (a copy).
    fn run<B: ureq::AsSendBody>(
        &self,
        request: http::Request<B>,
        left: Duration,
    ) -> std::result::Result<http::Response<ureq::Body>, ureq::Error> {
        if left >= self.inner.timeout {
            return self.agent.run(request);
        }
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(Some(left.max(Duration::from_millis(1))))
            .build();
        self.agent.run(request)
    }
}

/// The answer size allowed for a request body of `len` bytes: three times it (records, their
/// originals, billable records) and 64 KiB for the rest of the answer.
fn echo_limit(len: usize) -> u64 {
    (len as u64).saturating_mul(3).saturating_add(64 * 1024)
}

fn api_error(status: u16, body: &[u8], retry_after: Option<Duration>) -> Error {
    Error::api(
        status,
        error_message(body),
        retry_after,
        matches!(
            serde_json::from_slice::<serde_json::Value>(body),
            Ok(serde_json::Value::String(_))
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_may_be_three_times_its_request() {
        assert_eq!(echo_limit(0), 64 * 1024);
        assert_eq!(echo_limit(1 << 20), 3 * (1 << 20) + 64 * 1024);
        assert_eq!(echo_limit(usize::MAX), u64::MAX);
    }

    #[test]
    fn request_paths_are_built_from_encoded_segments() {
        let r = Request::new(Method::GET, &["billableMetric", "a/../b"]);
        assert_eq!(r.path, "/billableMetric/a%2F..%2Fb");
    }
}
