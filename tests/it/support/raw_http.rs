//! Shared helpers for driving the fake over real HTTP with ureq 3.

#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;
use suger_metering::fake::FakeSuger;
use ureq::Agent;
use ureq::http::Request;

/// A response fully read into memory.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An agent as the cheat-sheet prescribes for tests.
pub fn agent() -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A client bound to one fake.
pub struct Client {
    pub agent: Agent,
    pub base: String,
    pub auth: Option<String>,
    pub org: String,
}

impl Client {
    pub fn new(fake: &FakeSuger) -> Client {
        Client {
            agent: agent(),
            base: fake.base_url().to_string(),
            auth: Some(format!("Key {}", fake.api_key())),
            org: fake.org_id().to_string(),
        }
    }

    /// `path` is relative to `/org/{org}` and already encoded (may carry a query string).
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Resp, ureq::Error> {
        let url = format!("{}/org/{}{}", self.base, enc(&self.org), path);
        let mut b = Request::builder()
            .method(method)
            .uri(&url)
            .header("Accept", "application/json");
        if let Some(a) = &self.auth {
            b = b.header("Authorization", a);
        }
        let mut resp = match body {
            Some(v) => {
                let bytes = serde_json::to_vec(v).expect("serialize");
                let req = b
                    .header("Content-Type", "application/json")
                    .body(bytes)
                    .expect("request");
                self.agent.run(req)?
            }
            None => self.agent.run(b.body(()).expect("request"))?,
        };
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let body = resp.body_mut().read_to_vec()?;
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.call("POST", path, Some(body))
    }

    /// Reports one v1 group for `ent` and asserts 200.
    pub fn report(&self, ent: &str, id: Option<&str>, records: Value) -> Value {
        let mut body = serde_json::json!({
            "entitlementID": ent,
            "organizationID": self.org,
            "records": records,
        });
        if let Some(id) = id {
            body["id"] = Value::from(id);
        }
        let r = self.post(
            &format!("/entitlement/{}/usageRecordGroup", enc(ent)),
            &body,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }
}

/// Asserts an error answer: status, JSON content type, JSON-string body containing `needle`.
pub fn assert_error(r: &Resp, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    let msg = r.json();
    let msg = msg
        .as_str()
        .unwrap_or_else(|| panic!("not a JSON string: {msg}"));
    assert!(msg.contains(needle), "{msg:?} does not contain {needle:?}");
}
