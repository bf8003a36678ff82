//! The one place where a request is built, sent, read and decoded, and where answers become
//! errors. Resource modules only describe requests: method, path segments, query, body.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use ureq::http::{self, Method};

use crate::client::MeteringClient;
use crate::error::{Error, Result, error_message, excerpt, parse_retry_after};
use crate::retry::{Decision, Idempotency};

/// `application/json`, for `Accept` and `Content-Type` (a static value: no parse per request).
static JSON: http::HeaderValue = http::HeaderValue::from_static("application/json");

/// Responses larger than this are refused (a 1000-group page is about 1 MB).
const MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;

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
        serde_json::from_slice(&self.body).map_err(|source| Error::Decode {
            status: self.status,
            excerpt: excerpt(&self.body),
            source,
        })
    }
}

impl MeteringClient {
    /// Sends `req` and decodes a 2xx body into `T`.
    pub(crate) fn call<T: DeserializeOwned>(&self, req: Request) -> Result<T> {
        self.fetch(&req)?.decode()
    }

    /// Sends `req`, retrying as the client's [`RetryPolicy`](crate::RetryPolicy) allows;
    /// a 2xx answer is `Ok`, any other status is [`Error::Api`].
    pub(crate) fn fetch(&self, req: &Request) -> Result<Answer> {
        self.fetch_tracked(req).0
    }

    /// [`fetch`](Self::fetch), also telling whether an earlier, failed attempt may have been
    /// applied by the server (it was sent and got no definite answer).
    pub(crate) fn fetch_tracked(&self, req: &Request) -> (Result<Answer>, bool) {
        let policy = &self.inner.retry;
        let mut attempt = 1;
        let mut earlier_may_have_applied = false;
        loop {
            let error = match self.fetch_once(req) {
                Ok(answer) => {
                    log::debug!(
                        "{} {} -> {} (attempt {attempt})",
                        req.method,
                        req.path,
                        answer.status
                    );
                    return (Ok(answer), earlier_may_have_applied);
                }
                Err(e) => e,
            };
            match policy.decide(req.idempotency, attempt, &error) {
                Decision::Stop => {
                    log::debug!(
                        "{} {} failed (attempt {attempt}): {error}",
                        req.method,
                        req.path
                    );
                    return (Err(error), earlier_may_have_applied);
                }
                Decision::Retry(wait) => {
                    log::info!(
                        "{} {} failed (attempt {attempt}), retrying in {wait:?}: {error}",
                        req.method,
                        req.path
                    );
                    earlier_may_have_applied |= error.outcome_unknown();
                    policy.sleep(wait);
                    attempt += 1;
                }
            }
        }
    }

    /// One attempt.
    fn fetch_once(&self, req: &Request) -> Result<Answer> {
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
                .map(|r| self.agent.run(r)),
            // A POST without a body (retry) sends `Content-Length: 0`: with `()` ureq would
            // announce a chunked body.
            None if req.method == Method::POST => builder.body(&[][..]).map(|r| self.agent.run(r)),
            None => builder.body(()).map(|r| self.agent.run(r)),
        };
        let mut resp = sent
            .map_err(|e| Error::invalid("request", e.to_string()))?
            .map_err(Error::from)?;

        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, time::OffsetDateTime::now_utc()));
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .map_err(Error::from)?;

        if (200..300).contains(&status) {
            Ok(Answer { status, body })
        } else {
            Err(api_error(status, &body, retry_after))
        }
    }
}

fn api_error(status: u16, body: &[u8], retry_after: Option<Duration>) -> Error {
    Error::Api {
        status,
        message: error_message(body),
        retry_after,
    }
}

/// Percent-encodes one path segment: everything but RFC 3986 unreserved characters, and the
/// dots of `.`/`..` too, so that an id can never add, remove or climb a path segment.
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    encode_into(&mut out, segment, segment == "." || segment == "..");
    out
}

fn encode_into(out: &mut String, s: &str, encode_dots: bool) {
    for &b in s.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'~')
            || (b == b'.' && !encode_dots);
        if keep {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_change_the_path() {
        assert_eq!(encode_segment("a/b"), "a%2Fb");
        assert_eq!(encode_segment(".."), "%2E%2E");
        assert_eq!(encode_segment("."), "%2E");
        assert_eq!(encode_segment("v1.2"), "v1.2");
        assert_eq!(encode_segment("?x=1#f"), "%3Fx%3D1%23f");
        assert_eq!(encode_segment("a b"), "a%20b");
        assert_eq!(encode_segment("é"), "%C3%A9");
        assert_eq!(encode_segment("A-z_0~9"), "A-z_0~9");
    }

    #[test]
    fn request_paths_are_built_from_encoded_segments() {
        let r = Request::new(Method::GET, &["billableMetric", "a/../b"]);
        assert_eq!(r.path, "/billableMetric/a%2F..%2Fb");
    }
}
