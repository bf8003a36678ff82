//! Shared helpers for the contract tests: a mockito server and a client pointed at it.
#![allow(dead_code)]

pub mod expected;
pub mod fake;
pub mod raw_http;

use mockito::{Matcher, Mock, Server, ServerGuard};
use suger_metering::{MeteringClient, MeteringClientBuilder, RetryPolicy};

pub const API_KEY: &str = "test-key-s3cr3t";
pub const ORG: &str = "org-1";
/// The `Authorization` header every request must carry.
pub const AUTHORIZATION: &str = "Key test-key-s3cr3t";
/// The `User-Agent` every request must carry.
pub const USER_AGENT: &str = concat!("suger-metering-rust/", env!("CARGO_PKG_VERSION"));

/// A mockito server that fails the test when a request reached none of the test's mocks.
///
/// Catch-alls for every method (HTTP 599, which the client does not retry, with a body naming
/// the mistake) are registered the first time a client is pointed at the server (`url`,
/// [`client`], [`builder`], [`client_without_retries`]), so after the mocks the test set up
/// first. mockito 1.7 answers with the first matching mock that still misses hits, else the
/// *last* matching one: a catch-all (`expect(0)`) created after a mock therefore also takes a
/// request beyond what that mock expects. On drop, the guard asserts that no catch-all was hit
/// (unless the test is already panicking, so that the first failure is the one reported).
pub struct MockServer {
    server: ServerGuard,
    catch_all: Vec<Mock>,
}

impl MockServer {
    /// The server's base URL; registers the catch-alls on the first call.
    pub fn url(&mut self) -> String {
        if self.catch_all.is_empty() {
            self.catch_all = ["GET", "POST", "PATCH", "DELETE", "PUT"]
                .iter()
                .map(|method| {
                    self.server
                        .mock(method, Matcher::Any)
                        .with_status(599)
                        .with_body(
                            "\"no mock matched this request: check method, path, query and body\"",
                        )
                        .expect(0)
                        .create()
                })
                .collect();
        }
        self.server.url()
    }
}

impl std::ops::Deref for MockServer {
    type Target = ServerGuard;
    fn deref(&self) -> &ServerGuard {
        &self.server
    }
}

impl std::ops::DerefMut for MockServer {
    fn deref_mut(&mut self) -> &mut ServerGuard {
        &mut self.server
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        for m in &self.catch_all {
            m.assert();
        }
    }
}

/// A fresh mock server guard: see [`MockServer`].
pub fn server() -> MockServer {
    MockServer {
        server: Server::new(),
        catch_all: Vec::new(),
    }
}

/// A client for `server`, with the proxy disabled so CI proxy variables cannot reroute loopback.
pub fn client(server: &mut MockServer) -> MeteringClient {
    builder(server).build().expect("client builds")
}

/// Reads a fixture from tests/fixtures.
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A builder for a client of `server`: test key, org `org-1`, no proxy. Retries are left at the
/// crate's default.
pub fn builder(server: &mut MockServer) -> MeteringClientBuilder {
    MeteringClient::builder()
        .api_key(API_KEY)
        .org_id(ORG)
        .base_url(server.url())
        .no_proxy()
}

/// A client for `server` that sends every request exactly once.
pub fn client_without_retries(server: &mut MockServer) -> MeteringClient {
    builder(server)
        .retry(RetryPolicy::disabled())
        .build()
        .expect("client builds")
}

/// A mock for a request that carries no body (GET, DELETE, POST .../retry): exact method and
/// path (a path without `match_query` only matches a request without a query), the API key,
/// `Accept: application/json`, the crate's `User-Agent`, no `Content-Type` and an empty body.
pub fn expect_no_body(server: &mut MockServer, method: &str, path: &str) -> Mock {
    server
        .mock(method, path)
        .match_header("authorization", AUTHORIZATION)
        .match_header("accept", "application/json")
        .match_header("user-agent", USER_AGENT)
        .match_header("content-type", Matcher::Missing)
        .match_body(Matcher::Exact(String::new()))
}

/// Serves `body` (HTTP 200) once to a bodiless `method path` request (see [`expect_no_body`])
/// whose query is exactly `query` (no query when empty); runs `call` with a client of that
/// server, asserts the mock was hit, and returns what `call` returned.
pub fn answered<T>(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: &str,
    call: impl FnOnce(&MeteringClient) -> T,
) -> T {
    let mut s = server();
    let mut mock = expect_no_body(&mut s, method, path).with_body(body);
    if !query.is_empty() {
        mock = mock.match_query(exact_query(query));
    }
    let m = mock.create();
    let got = call(&client(&mut s));
    m.assert();
    got
}

/// Serves `body` (HTTP 200) once to a `method path` request whose JSON body equals `sent` (see
/// [`expect_json`]); runs `call` with a client of that server, asserts the mock was hit, and
/// returns what `call` returned.
pub fn answered_json<T>(
    method: &str,
    path: &str,
    sent: serde_json::Value,
    body: &str,
    call: impl FnOnce(&MeteringClient) -> T,
) -> T {
    let mut s = server();
    let m = expect_json(&mut s, method, path, sent)
        .with_body(body)
        .create();
    let got = call(&client(&mut s));
    m.assert();
    got
}

/// A mock for a request with a JSON body: exact method and path, the API key,
/// `Accept: application/json`, `Content-Type: application/json`, the crate's `User-Agent`, and a
/// body equal (as JSON, not a subset) to `body`.
pub fn expect_json(
    server: &mut MockServer,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> Mock {
    server
        .mock(method, path)
        .match_header("authorization", AUTHORIZATION)
        .match_header("accept", "application/json")
        .match_header("user-agent", USER_AGENT)
        .match_header("content-type", Matcher::Regex("^application/json".into()))
        .match_body(Matcher::Json(body))
}

/// Matches a query made of exactly these pairs (decoded), in any order: each pair must be
/// present, and the query must have exactly `pairs.len()` parameters.
pub fn exact_query(pairs: &[(&str, &str)]) -> Matcher {
    assert!(
        !pairs.is_empty(),
        "use a mock without match_query for no query"
    );
    let mut all: Vec<Matcher> = pairs
        .iter()
        .map(|(k, v)| Matcher::UrlEncoded(k.to_string(), v.to_string()))
        .collect();
    all.push(Matcher::Regex(format!(
        "^[^&]+(&[^&]+){{{}}}$",
        pairs.len() - 1
    )));
    Matcher::AllOf(all)
}

/// The `InvalidRequest` field and reason of `result`, panicking on anything else.
pub fn invalid<T: std::fmt::Debug>(result: suger_metering::Result<T>) -> (&'static str, String) {
    match result {
        Err(suger_metering::Error::InvalidRequest { field, reason, .. }) => (field, reason),
        other => panic!("expected Error::InvalidRequest, got {other:?}"),
    }
}

/// List filters naming more than one of partner, buyer and entitlement: refused before sending.
pub fn conflicting_id_filters() -> [suger_metering::ListUsageRecordGroups; 4] {
    use suger_metering::{ListUsageRecordGroups, Partner};
    [
        ListUsageRecordGroups::new()
            .partner(Partner::Aws)
            .buyer_id("b"),
        ListUsageRecordGroups::new()
            .partner(Partner::Aws)
            .entitlement_id("e"),
        ListUsageRecordGroups::new()
            .buyer_id("b")
            .entitlement_id("e"),
        ListUsageRecordGroups::new()
            .partner(Partner::Gcp)
            .buyer_id("b")
            .entitlement_id("e"),
    ]
}
