//! [`MeteringClientBuilder`]: every setting of a [`MeteringClient`], checked once at `build()`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::http::base_url::{check_base_url, redact_userinfo};
use crate::http::client::{
    DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Inner, MeteringClient,
};
use crate::http::encode::encode_segment;
use crate::http::error::{Error, Result};
use crate::http::retry::RetryPolicy;

/// The largest answer to a call about one object (a group, a metric, the config, a verdict).
const MAX_SINGLE_BYTES: u64 = 1024 * 1024;
/// The largest answer that is a list: a page of at most 1000 items or a batch's created groups.
/// A page of 1000 v1 groups is about 0.7 MB; this leaves room for v2 records and metaInfo.
const MAX_LIST_BYTES: u64 = 16 * 1024 * 1024;

/// Default number of idle connections kept open to the API, for reuse by later calls.
pub const DEFAULT_MAX_IDLE_CONNECTIONS: usize = 16;

/// Builder for [`MeteringClient`]; see [`MeteringClient::builder`].
#[derive(Default)]
#[must_use = "a builder does nothing until .build() is called"]
pub struct MeteringClientBuilder {
    api_key: Option<String>,
    org_id: Option<String>,
    base_url: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    proxy: Option<Option<String>>,
    retry: Option<RetryPolicy>,
    root_certificates: Vec<Vec<u8>>,
    max_idle_connections: Option<usize>,
    max_response_bytes: Option<u64>,
}

impl fmt::Debug for MeteringClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteringClientBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("org_id", &self.org_id)
            .field("base_url", &self.base_url.as_deref().map(redact_userinfo))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field(
                "proxy",
                &self
                    .proxy
                    .as_ref()
                    .map(|p| p.as_deref().map(redact_userinfo)),
            )
            .field("retry", &self.retry)
            .field("root_certificates", &self.root_certificates.len())
            .field("max_idle_connections", &self.max_idle_connections)
            .field("max_response_bytes", &self.max_response_bytes)
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
}

impl MeteringClientBuilder {
    /// The Suger API key (sent as `Authorization: Key <api key>`). Required: printable ASCII,
    /// without surrounding white space. It is never shown by `Debug`, `Display` or any error.
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
    /// response. Defaults to 30 s ([`DEFAULT_TIMEOUT`]). The whole call, retries included, is
    /// bounded by [`RetryPolicy::deadline`].
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

    /// Sends requests through this proxy: `http://host:port`, `socks5://host:port`, with
    /// optional `user:password@`. Defaults to the environment (`HTTPS_PROXY`, `HTTP_PROXY`,
    /// `ALL_PROXY` and `NO_PROXY`, upper or lower case). A loopback base URL never uses a proxy.
    pub fn proxy(mut self, proxy_url: impl Into<String>) -> Self {
        self.proxy = Some(Some(proxy_url.into()));
        self
    }

    /// Never uses a proxy, whatever the environment says.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = Some(None);
        self
    }

    /// When failed requests are sent again, and the deadline of a whole call;
    /// [`RetryPolicy::disabled`] turns retries off. Defaults to [`RetryPolicy::default`]: up to
    /// 3 attempts, only where repeating the request cannot bill twice, within 2 minutes.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Trusts the root certificates in `pem` (one or more `-----BEGIN CERTIFICATE-----`
    /// blocks) **in addition to** the default roots: a private CA in front of the API, or the CA
    /// of a TLS-inspecting corporate proxy. May be called more than once.
    ///
    /// With extra roots, the default roots are Mozilla's (the `webpki-root-certs` bundle), also
    /// with the `platform-verifier` feature or native-tls, whose own root stores cannot be
    /// extended through the HTTP library.
    ///
    /// ```no_run
    /// let pem = std::fs::read("/etc/ssl/corp-root-ca.pem").expect("CA file");
    /// let client = suger_metering::MeteringClient::builder()
    ///     .api_key("my-api-key")
    ///     .org_id("my-org-id")
    ///     .add_root_certificates(pem)
    ///     .build()?;
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    pub fn add_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// How many idle connections the client keeps open for reuse. Size it to the number of
    /// threads that share the client: a thread that finds no idle connection opens a new one
    /// (a TLS handshake). Defaults to 16 ([`DEFAULT_MAX_IDLE_CONNECTIONS`]).
    pub fn max_idle_connections(mut self, n: usize) -> Self {
        self.max_idle_connections = Some(n);
        self
    }

    /// The largest answer the client reads, in bytes; a larger one is an
    /// [`Error::Transport`] of kind
    /// [`ResponseTooLarge`](crate::TransportErrorKind::ResponseTooLarge), never an out-of-memory
    /// abort. Defaults to 1 MiB for calls about one object and 16 MiB for lists and batches
    /// (a page of 1000 groups is about 0.7 MB); setting it sets both.
    pub fn max_response_bytes(mut self, bytes: u64) -> Self {
        self.max_response_bytes = Some(bytes);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] when the API key or org id is missing or empty, the key is not
    /// printable ASCII or has surrounding white space, the base URL is not `https://` (plain
    /// `http://` is accepted only to a loopback host) or is malformed, the proxy URL or a root
    /// certificate cannot be parsed, or the base URL is `https://` and the crate was built
    /// without a TLS feature.
    pub fn build(self) -> Result<MeteringClient> {
        let api_key = self
            .api_key
            .filter(|k| !k.is_empty())
            .ok_or_else(|| Error::Config("an API key is required".into()))?;
        if api_key.trim() != api_key || !api_key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::Config(
                "the API key must be printable ASCII without spaces (check for a stray newline \
                 or quote)"
                    .into(),
            ));
        }
        let org_id = self
            .org_id
            .filter(|o| !o.trim().is_empty())
            .ok_or_else(|| Error::Config("an org id is required".into()))?;
        let base = check_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        if base.https && !cfg!(any(feature = "rustls", feature = "native-tls")) {
            return Err(Error::Config(
                "an https:// base URL needs TLS: enable the crate feature `rustls` (the \
                 default) or `native-tls`"
                    .into(),
            ));
        }

        let mut authorization = ureq::http::HeaderValue::from_str(&format!("Key {api_key}"))
            .map_err(|_| Error::Config("the API key is not a valid header value".into()))?;
        authorization.set_sensitive(true);

        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let idle = self
            .max_idle_connections
            .unwrap_or(DEFAULT_MAX_IDLE_CONNECTIONS);
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A redirect could replay a report or carry the key elsewhere: the API has none.
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(
                self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            ))
            .max_idle_connections(idle)
            .max_idle_connections_per_host(idle)
            .user_agent(concat!("suger-metering-rust/", env!("CARGO_PKG_VERSION")));
        config = crate::http::tls::configure(config, &self.root_certificates)?;
        // A loopback API (a test server, the fake) never goes through a proxy: the key would
        // leave the machine.
        let proxy = if base.loopback {
            Some(None)
        } else {
            self.proxy
        };
        if let Some(proxy) = proxy {
            let proxy = proxy
                .map(|url| {
                    ureq::Proxy::new(&url).map_err(|_| {
                        Error::Config(format!(
                            "proxy URL {:?} is not valid",
                            redact_userinfo(&url)
                        ))
                    })
                })
                .transpose()?;
            config = config.proxy(proxy);
        }

        let org_url = format!("{}/org/{}", base.url, encode_segment(&org_id));
        let (max_single_bytes, max_list_bytes) = match self.max_response_bytes {
            Some(n) => (n, n),
            None => (MAX_SINGLE_BYTES, MAX_LIST_BYTES),
        };
        Ok(MeteringClient {
            agent: config.build().new_agent(),
            inner: Arc::new(Inner {
                org_url,
                base_url: base.url,
                org_id,
                authorization,
                retry: self.retry.unwrap_or_default(),
                timeout,
                max_single_bytes,
                max_list_bytes,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_key(key: &str) -> Result<MeteringClient> {
        MeteringClient::builder()
            .api_key(key)
            .org_id("org-1")
            .base_url("http://127.0.0.1:1")
            .build()
    }

    #[test]
    fn keys_that_cannot_be_sent_are_refused_at_build() {
        for bad in [
            "",
            "s3cr3t-clé",
            "s3cr3t\n",
            " s3cr3t",
            "s3cr3t ",
            "s3\u{7f}cr3t",
            "s3cr3t x",
        ] {
            let e = with_key(bad).unwrap_err();
            assert!(matches!(e, Error::Config(_)), "{bad:?}: {e:?}");
            assert!(
                !format!("{e} {e:?}").contains("s3cr3t"),
                "the key is not echoed: {e}"
            );
        }
        assert!(with_key("Ab0-_.~+/=:").is_ok());
    }

    #[test]
    fn https_needs_a_tls_feature() {
        let built = MeteringClient::builder()
            .api_key("k")
            .org_id("o")
            .base_url("https://api.suger.cloud")
            .build();
        if cfg!(any(feature = "rustls", feature = "native-tls")) {
            assert!(built.is_ok());
        } else {
            let e = built.unwrap_err();
            assert!(matches!(e, Error::Config(_)), "{e:?}");
            assert!(e.to_string().contains("`rustls`"), "{e}");
        }
    }

    #[test]
    fn the_debug_of_a_builder_hides_key_and_proxy_credentials() {
        let b = MeteringClient::builder()
            .api_key("s3cr3t-key")
            .proxy("http://user:hunter2@proxy.corp:3128");
        let text = format!("{b:?}");
        assert!(
            !text.contains("s3cr3t-key") && !text.contains("hunter2"),
            "{text}"
        );
    }
}
