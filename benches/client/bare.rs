//! The baseline: a bare `ureq::Agent` doing the same HTTP exchange as the client.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};

use suger_metering::{
    BillableMetric, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, ListUsageRecordGroupsResponse,
    MeteringUsageRecordGroup, NewUsageRecordGroup,
};
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::fixtures::*;

// ---------------------------------------------------------------- bare ureq

pub(crate) fn bare_config() -> Config {
    // Same settings as the crate's client: status codes as responses, no redirects, the
    // same timeouts, no proxy.
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(DEFAULT_TIMEOUT))
        .timeout_connect(Some(DEFAULT_CONNECT_TIMEOUT))
        .user_agent("bare-ureq-bench")
        .proxy(None)
        .build()
}

/// Resolves IP-literal hosts without DNS (and without ureq's resolver thread); anything
/// else goes to ureq's default resolver. Only used to show what that thread costs.
#[derive(Debug, Default)]
pub(crate) struct IpLiteralResolver(DefaultResolver);

impl Resolver for IpLiteralResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        if let (Some(authority), Some(port)) = (uri.authority(), uri.port_u16()) {
            let host = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            if let Ok(ip) = host.parse::<IpAddr>() {
                let mut addrs = self.empty();
                addrs.push(SocketAddr::new(ip, port));
                return Ok(addrs);
            }
        }
        self.0.resolve(uri, config, timeout)
    }
}

pub(crate) struct Bare {
    pub(crate) agent: ureq::Agent,
    pub(crate) authorization: String,
    pub(crate) metric_url: String,
    pub(crate) list_url: String,
    pub(crate) batch_url: String,
}

impl Bare {
    pub(crate) fn new(base: &str, agent: ureq::Agent) -> Self {
        Bare {
            agent,
            authorization: format!("Key {API_KEY}"),
            metric_url: format!("{base}/org/{ORG}/billableMetric/{METRIC_ID}"),
            list_url: format!("{base}/org/{ORG}/usageRecordGroup?limit={PAGE}"),
            batch_url: format!("{base}/org/{ORG}/batchCreateUsageRecordGroups"),
        }
    }

    pub(crate) fn read(mut resp: ureq::http::Response<ureq::Body>) -> Vec<u8> {
        assert!(resp.status().is_success(), "status {}", resp.status());
        resp.body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_vec()
            .expect("read body")
    }

    /// Like `read`, but sizes the buffer from Content-Length first.
    pub(crate) fn read_presized(mut resp: ureq::http::Response<ureq::Body>) -> Vec<u8> {
        assert!(resp.status().is_success(), "status {}", resp.status());
        let len = resp.body().content_length().unwrap_or(0).min(BODY_LIMIT);
        let mut v = Vec::with_capacity(len as usize);
        resp.body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .reader()
            .read_to_end(&mut v)
            .expect("read body");
        v
    }

    pub(crate) fn get(&self, url: &str) -> ureq::http::Response<ureq::Body> {
        self.agent
            .get(url)
            .header("authorization", self.authorization.as_str())
            .header("accept", "application/json")
            .call()
            .expect("bare GET")
    }

    pub(crate) fn metric(&self) -> BillableMetric {
        let body = Self::read(self.get(&self.metric_url));
        serde_json::from_slice(&body).expect("decode metric")
    }

    pub(crate) fn list(&self) -> ListUsageRecordGroupsResponse {
        let body = Self::read(self.get(&self.list_url));
        serde_json::from_slice(&body).expect("decode page")
    }

    pub(crate) fn list_presized(&self) -> ListUsageRecordGroupsResponse {
        let body = Self::read_presized(self.get(&self.list_url));
        serde_json::from_slice(&body).expect("decode page")
    }

    pub(crate) fn post_batch(&self, json: &[u8]) -> Vec<MeteringUsageRecordGroup> {
        let resp = self
            .agent
            .post(&self.batch_url)
            .header("authorization", self.authorization.as_str())
            .header("accept", "application/json")
            .header("content-type", "application/json")
            .send(json)
            .expect("bare POST");
        serde_json::from_slice(&Self::read(resp)).expect("decode batch")
    }

    /// What a bare client does with typed input: serialize, send, read, decode.
    pub(crate) fn batch(&self, groups: &[NewUsageRecordGroup]) -> Vec<MeteringUsageRecordGroup> {
        let json = serde_json::to_vec(groups).expect("serialize");
        self.post_batch(&json)
    }
}
