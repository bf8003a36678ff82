//! [`MeteringClient`] and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::http::error::{Error, Result};
use crate::http::retry::RetryPolicy;

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
    /// One attempt's end-to-end timeout.
    pub(crate) timeout: Duration,
    /// The largest answer read for a call about one object, and for a list.
    pub(crate) max_single_bytes: u64,
    pub(crate) max_list_bytes: u64,
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
            .base_url("http://127.0.0.1:1")
            .build()
            .unwrap();
        let b = a.clone();
        assert!(
            Arc::ptr_eq(&a.inner, &b.inner),
            "clones share their configuration"
        );
    }
}
