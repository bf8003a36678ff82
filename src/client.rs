//! [`MeteringClient`] and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::transport::encode_segment;

/// The default base URL of the Suger API.
pub const DEFAULT_BASE_URL: &str = "https://api.suger.cloud";
/// Default end-to-end timeout of one HTTP attempt (connect, send, and read the whole response).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default timeout for opening a connection (DNS, TCP and TLS handshake).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A blocking client for the Suger Metering API.
///
/// Build one with [`MeteringClient::builder`] or [`MeteringClient::from_env`], then call one
/// method per API operation. Cloning is cheap: clones share one connection pool and
/// configuration, so build one client and clone it into threads (`MeteringClient` is
/// `Send + Sync`).
///
/// `Debug` shows the base URL and org id, never the API key.
#[derive(Clone)]
pub struct MeteringClient {
    pub(crate) agent: ureq::Agent,
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// `{base_url}/org/{org_id}`, with the org id percent-encoded: every request URL starts so.
    pub(crate) org_url: String,
    pub(crate) base_url: String,
    pub(crate) org_id: String,
    /// `Key <api key>`, marked sensitive so that ureq's own logging redacts it.
    pub(crate) authorization: ureq::http::HeaderValue,
    pub(crate) retry: RetryPolicy,
}

impl fmt::Debug for MeteringClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteringClient")
            .field("base_url", &self.inner.base_url)
            .field("org_id", &self.inner.org_id)
            .field("api_key", &"[redacted]")
            .finish()
    }
}

impl MeteringClient {
    /// Starts building a client. `api_key` and `org_id` are required.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let client = suger_metering::MeteringClient::builder()
    ///     .api_key("my-api-key")
    ///     .org_id("my-org-id")
    ///     .timeout(Duration::from_secs(20))
    ///     .build()?;
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    pub fn builder() -> MeteringClientBuilder {
        MeteringClientBuilder::default()
    }

    /// Builds a client from the environment: `SUGER_API_KEY` and `SUGER_ORG_ID` (required) and
    /// `SUGER_API_BASE_URL` (optional, defaults to [`DEFAULT_BASE_URL`]).
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable that is missing or empty, or a bad base URL.
    pub fn from_env() -> Result<Self> {
        fn var(name: &str) -> Option<String> {
            std::env::var(name).ok().filter(|v| !v.trim().is_empty())
        }
        let key = var("SUGER_API_KEY")
            .ok_or_else(|| Error::Config("environment variable SUGER_API_KEY is not set".into()))?;
        let org = var("SUGER_ORG_ID")
            .ok_or_else(|| Error::Config("environment variable SUGER_ORG_ID is not set".into()))?;
        let mut b = Self::builder().api_key(key).org_id(org);
        if let Some(url) = var("SUGER_API_BASE_URL") {
            b = b.base_url(url);
        }
        b.build()
    }

    /// The organization this client acts for.
    pub fn org_id(&self) -> &str {
        &self.inner.org_id
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }
}

/// Builder for [`MeteringClient`]; see [`MeteringClient::builder`].
#[derive(Default)]
pub struct MeteringClientBuilder {
    api_key: Option<String>,
    org_id: Option<String>,
    base_url: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    proxy: Option<Option<ureq::Proxy>>,
    retry: Option<RetryPolicy>,
}

impl fmt::Debug for MeteringClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteringClientBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("org_id", &self.org_id)
            .field("base_url", &self.base_url.as_deref().map(redact_userinfo))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl MeteringClientBuilder {
    /// The Suger API key (sent as `Authorization: Key <api key>`). Required.
    /// It is never shown by `Debug`, `Display` or any error.
    pub fn api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(api_key.into());
        self
    }

    /// The organization id the API key belongs to. Required.
    pub fn org_id(mut self, org_id: impl Into<String>) -> Self {
        self.org_id = Some(org_id.into());
        self
    }

    /// The API's base URL. Must be `https://`, or plain `http://` to a loopback host
    /// (`localhost`, `127.0.0.0/8`, `[::1]`) for tests. Defaults to [`DEFAULT_BASE_URL`].
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// End-to-end timeout of one HTTP attempt: connecting, sending, and reading the whole
    /// response. Defaults to 30 s ([`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Timeout for opening a connection (DNS, TCP and TLS handshake).
    /// Defaults to 10 s ([`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The HTTP proxy; `None` disables proxying. Defaults to the environment
    /// (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`, upper or lower case).
    pub fn proxy(mut self, proxy: Option<ureq::Proxy>) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// When failed requests are sent again; [`RetryPolicy::disabled`] turns retries off.
    /// Defaults to [`RetryPolicy::default`]: up to 3 attempts, and only where repeating the
    /// request cannot bill twice.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] when the API key or org id is missing or empty, or the base URL is not
    /// `https://` (plain `http://` is accepted only to a loopback host).
    pub fn build(self) -> Result<MeteringClient> {
        let api_key = self
            .api_key
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| Error::Config("an API key is required".into()))?;
        let org_id = self
            .org_id
            .filter(|o| !o.trim().is_empty())
            .ok_or_else(|| Error::Config("an org id is required".into()))?;
        let base_url = check_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;

        let mut authorization = ureq::http::HeaderValue::from_str(&format!("Key {api_key}"))
            .map_err(|_| {
                Error::Config("the API key contains characters not allowed in a header".into())
            })?;
        authorization.set_sensitive(true);

        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A redirect could replay a report or carry the key elsewhere: the API has none.
            .max_redirects(0)
            .timeout_global(Some(self.timeout.unwrap_or(DEFAULT_TIMEOUT)))
            .timeout_connect(Some(
                self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            ))
            .user_agent(concat!("suger-metering-rust/", env!("CARGO_PKG_VERSION")));
        if let Some(proxy) = self.proxy {
            config = config.proxy(proxy);
        }

        let org_url = format!("{base_url}/org/{}", encode_segment(&org_id));
        Ok(MeteringClient {
            agent: config.build().new_agent(),
            inner: Arc::new(Inner {
                org_url,
                base_url,
                org_id,
                authorization,
                retry: self.retry.unwrap_or_default(),
            }),
        })
    }
}

/// Checks a base URL and returns it without a trailing slash.
fn check_base_url(url: &str) -> Result<String> {
    let bad = |why: &str| Error::Config(format!("base URL {:?} {why}", redact_userinfo(url)));
    let url = url.trim().trim_end_matches('/');
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(bad("must start with https://"));
    };
    if url.contains(['?', '#']) {
        return Err(bad("must not have a query or fragment"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad("must not contain credentials"));
    }
    let host = host_of(authority);
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    if !https && !is_loopback(host) {
        return Err(bad(
            "must be https:// (plain http:// is allowed only to localhost, 127.0.0.0/8 or [::1])",
        ));
    }
    let port = authority
        .rsplit_once(']')
        .map_or(authority, |(_, after)| after)
        .split_once(':')
        .map(|(_, port)| port);
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return Err(bad("has an invalid port"));
    }
    if ureq::http::Uri::try_from(url).is_err() {
        return Err(bad("is not a valid URI"));
    }
    Ok(url.to_owned())
}

/// The URL with any `user:password@` replaced, for messages.
fn redact_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://[redacted]@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// The host of an authority (`host`, `host:port`, `[v6]:port`).
fn host_of(authority: &str) -> &str {
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_is_cheap_to_share_across_threads() {
        fn assert_traits<T: Clone + Send + Sync + 'static>() {}
        assert_traits::<MeteringClient>();
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
        let a = MeteringClient::builder()
            .api_key("k")
            .org_id("o")
            .build()
            .unwrap();
        let b = a.clone();
        assert!(
            Arc::ptr_eq(&a.inner, &b.inner),
            "clones share their configuration"
        );
    }

    #[test]
    fn userinfo_is_redacted_from_messages() {
        assert_eq!(
            redact_userinfo("https://u:hunter2@api.suger.cloud/x@y"),
            "https://[redacted]@api.suger.cloud/x@y"
        );
        let e = check_base_url("https://u:hunter2@api.suger.cloud").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn base_url_rules() {
        for ok in [
            "https://api.suger.cloud",
            "https://api.suger.cloud/",
            "https://proxy.example.com:8443/suger",
            "http://127.0.0.1:1234",
            "http://127.5.6.7",
            "http://localhost:8080/",
            "http://[::1]:9000",
        ] {
            assert!(check_base_url(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            check_base_url("https://api.suger.cloud/").unwrap(),
            "https://api.suger.cloud"
        );
        for bad in [
            "api.suger.cloud",
            "http://api.suger.cloud",
            "http://https://api.suger.cloud",
            "http://10.0.0.1",
            "http://127.0.0.1.evil.com",
            "http://localhost.evil.com",
            "https://user:pass@api.suger.cloud",
            "https://api.suger.cloud?x=1",
            "https://",
            "ftp://api.suger.cloud",
            "https://api.suger.cloud:99999",
            "https://api.suger.cloud:x",
            "https://api.suger.cloud/a b",
            "https://[::1",
        ] {
            assert!(
                matches!(check_base_url(bad), Err(Error::Config(_))),
                "{bad}"
            );
        }
    }
}
