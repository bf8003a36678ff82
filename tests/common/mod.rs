//! Shared helpers for the contract tests: a mockito server and a client pointed at it.
#![allow(dead_code)]

use mockito::{Mock, Server, ServerGuard};
use suger_metering::MeteringClient;

pub const API_KEY: &str = "test-key-s3cr3t";
pub const ORG: &str = "org-1";

/// A fresh mock server with a catch-all that answers unmatched routes loudly (HTTP 599 is not
/// retryable, so a wrong path fails fast with a message naming it).
pub fn server() -> ServerGuard {
    Server::new()
}

/// Registers catch-alls for every method; create them *after* the specific mocks (mockito
/// prefers earlier mocks). They expect no hit: `assert_catch_all` fails if one was hit.
pub fn catch_all(server: &mut ServerGuard) -> Vec<Mock> {
    ["GET", "POST", "PATCH", "DELETE", "PUT"]
        .iter()
        .map(|method| {
            server
                .mock(method, mockito::Matcher::Any)
                .with_status(599)
                .with_body("\"no mock matched this request: check method, path, query and body\"")
                .expect(0)
                .create()
        })
        .collect()
}

/// Asserts that no request fell through to the catch-alls.
pub fn assert_catch_all(mocks: &[Mock]) {
    for m in mocks {
        m.assert();
    }
}

/// A client for `server`, with the proxy disabled so CI proxy variables cannot reroute loopback.
pub fn client(server: &ServerGuard) -> MeteringClient {
    MeteringClient::builder()
        .api_key(API_KEY)
        .org_id(ORG)
        .base_url(server.url())
        .proxy(None)
        .build()
        .expect("client builds")
}

/// Reads a fixture from tests/fixtures.
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}
