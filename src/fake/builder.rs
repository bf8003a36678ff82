//! [`FakeSugerBuilder`]: where the fake listens and how much it keeps.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use super::server;
use super::shared::{Conns, Shared};
use super::state::State;
use super::{API_KEY, FakeSuger, ORG_ID};

/// Default of [`FakeSugerBuilder::max_requests`].
pub const DEFAULT_MAX_REQUESTS: usize = 10_000;
/// Default of [`FakeSugerBuilder::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default of [`FakeSugerBuilder::read_timeout`].
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Configures and starts a [`FakeSuger`]; see [`FakeSuger::builder`].
#[derive(Clone, Debug)]
pub struct FakeSugerBuilder {
    host: String,
    port: u16,
    max_requests: usize,
    max_connections: usize,
    read_timeout: Duration,
    seed: Option<Value>,
}

impl Default for FakeSugerBuilder {
    fn default() -> Self {
        FakeSugerBuilder {
            host: "127.0.0.1".to_string(),
            port: 0,
            max_requests: DEFAULT_MAX_REQUESTS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            read_timeout: DEFAULT_READ_TIMEOUT,
            seed: None,
        }
    }
}

impl FakeSugerBuilder {
    /// The address to listen on: a loopback address (`127.0.0.1`, any `127.x.y.z`, `::1`) or
    /// `localhost`. Anything else is refused by [`start`](Self::start): the fake accepts a
    /// well-known key and must never be reachable from another machine. Defaults to `127.0.0.1`.
    #[must_use]
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The port; `0` picks a free one (see [`FakeSuger::base_url`]). Defaults to `0`.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// How many requests [`FakeSuger::requests`] remembers; older ones are forgotten first, so
    /// a long-running fake does not grow without bound. `0` remembers none. Defaults to
    /// [`DEFAULT_MAX_REQUESTS`] (10 000).
    #[must_use]
    pub fn max_requests(mut self, n: usize) -> Self {
        self.max_requests = n;
        self
    }

    /// How many connections are served at once (each has a thread); a connection beyond that
    /// is closed as soon as it is accepted. Defaults to [`DEFAULT_MAX_CONNECTIONS`] (256); `0`
    /// is taken as 1.
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long a connection may stay idle, or take to send one whole request, before the fake
    /// closes it (so an idle or half-sent connection cannot hold a thread forever); also the
    /// longest a write of an answer may block on a peer that does not read it. Defaults to
    /// [`DEFAULT_READ_TIMEOUT`] (30 s); a zero duration is taken as 1 ms.
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// State to preload, as JSON (what `suger-metering fake --seed FILE` reads):
    ///
    /// ```json
    /// {
    ///   "billableMetrics": [{"id": "m1", "name": "API calls", "aggregationType": "SUM"}],
    ///   "entitlements": [{"id": "ent-2", "partner": "AZURE"}],
    ///   "usageRecordGroups": [
    ///     {"id": "g1", "entitlementID": "ent-1", "records": {"api_calls": 3},
    ///      "timestamp": "2026-03-01T10:00:00Z", "status": "REPORT_FAILED"}
    ///   ],
    ///   "usageMeteringConfigInfo": {"partnerUsageMeteringConfigs": [{"partner": "AWS"}]}
    /// }
    /// ```
    ///
    /// Every key is optional. `entitlements` choose an entitlement's partner (`AWS`, the
    /// default, `AZURE` or `GCP`; see [`FakeSuger::set_entitlement_partner`]). Metrics take the body of `createBillableMetric`, groups the body
    /// of `reportUsageRecordGroup` plus `entitlementID` and an optional `status` (default
    /// `CREATED`), the config the body of `updateUsageMeteringConfigInfo`; they are checked by
    /// the same rules as requests, and [`start`](Self::start) fails on the first one broken.
    #[must_use]
    pub fn seed(mut self, seed: Value) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Binds and starts serving on background threads.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a host that is not loopback, `InvalidData` for a seed that breaks a
    /// rule (the message names the item), and the errors of binding the socket or spawning the
    /// accept thread.
    pub fn start(self) -> io::Result<FakeSuger> {
        let ip = loopback_ip(&self.host)?;
        let mut state = State::new(ORG_ID);
        if let Some(seed) = &self.seed {
            state
                .load_seed(seed)
                .map_err(|m| io::Error::new(io::ErrorKind::InvalidData, format!("seed: {m}")))?;
        }
        let listener = TcpListener::bind(SocketAddr::new(ip, self.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            api_key: API_KEY.to_string(),
            org_id: ORG_ID.to_string(),
            state: Mutex::new(state),
            faults: Mutex::new(VecDeque::new()),
            requests: Mutex::new(VecDeque::new()),
            max_requests: self.max_requests,
            max_connections: self.max_connections,
            read_timeout: self.read_timeout,
            stop: AtomicBool::new(false),
            conns: Mutex::new(Conns::default()),
        });
        let sh = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name("fake-suger-accept".to_string())
            .spawn(move || server::accept_loop(listener, sh))?;
        Ok(FakeSuger::from_parts(
            format!("http://{addr}"),
            shared,
            accept_thread,
        ))
    }
}

/// The loopback address `host` names, or `InvalidInput`.
fn loopback_ip(host: &str) -> io::Result<IpAddr> {
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if trimmed.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        trimmed.parse::<IpAddr>().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("host {host:?} is not a loopback IP address or localhost: the fake listens on loopback only"),
            )
        })?
    };
    if !ip.is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("host {host:?} is not a loopback address: the fake listens on loopback only"),
        ));
    }
    Ok(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts() {
        assert_eq!(
            loopback_ip("localhost").unwrap(),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert!(loopback_ip("127.0.0.2").unwrap().is_loopback());
        assert!(loopback_ip("[::1]").unwrap().is_loopback());
        for bad in ["0.0.0.0", "::", "192.168.1.1", "example.com", ""] {
            let e = loopback_ip(bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
    }
}
