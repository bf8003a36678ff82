//! Fault rules: what [`FakeSuger::inject`](super::FakeSuger::inject) queues, built in Rust or
//! from the JSON of the `POST /_fake/faults` admin route.

use std::time::Duration;

use serde_json::Value;

use super::operation::Operation;

/// What a fault does.
#[derive(Clone, Debug)]
pub(crate) enum FaultKind {
    Status {
        status: u16,
        retry_after: Option<String>,
        body: Option<String>,
    },
    Delay(Duration),
    DropAfterApply,
    TruncateBody,
}

/// A fault rule for [`FakeSuger::inject`](super::FakeSuger::inject), built in builder style:
/// `Fault::status(429).retry_after("2").times(2).only(Operation::ListUsageRecordGroups)`.
#[derive(Clone, Debug)]
pub struct Fault {
    pub(crate) kind: FaultKind,
    pub(crate) times: usize,
    pub(crate) only: Option<Operation>,
    /// Only requests whose path names this entitlement (`.../entitlement/<id>/...`).
    pub(crate) entitlement: Option<String>,
}

impl Fault {
    fn new(kind: FaultKind) -> Fault {
        Fault {
            kind,
            times: 1,
            only: None,
            entitlement: None,
        }
    }

    /// Answers `status` with a JSON-string body such as `"injected 503"`; the request is NOT
    /// applied to the state (and neither authenticated nor routed).
    #[must_use]
    pub fn status(status: u16) -> Fault {
        Fault::new(FaultKind::Status {
            status,
            retry_after: None,
            body: None,
        })
    }

    /// Adds a `Retry-After: value` header to a status fault. No effect on other faults.
    #[must_use]
    pub fn retry_after(mut self, value: &str) -> Fault {
        if let FaultKind::Status { retry_after, .. } = &mut self.kind {
            *retry_after = Some(value.to_string());
        }
        self
    }

    /// Replaces the body of a status fault with `raw` (e.g. an HTML page or `""`). Its
    /// Content-Type is `text/html` when it starts with `<`, `application/json` when it parses as
    /// JSON, `text/plain` otherwise. No effect on other faults.
    #[must_use]
    pub fn body(mut self, raw: &str) -> Fault {
        if let FaultKind::Status { body, .. } = &mut self.kind {
            *body = Some(raw.to_string());
        }
        self
    }

    /// Sleeps `d`, then handles the request normally (applied and answered). If the fake is
    /// dropped during the sleep, the connection is closed at once, without applying the request.
    #[must_use]
    pub fn delay(d: Duration) -> Fault {
        Fault::new(FaultKind::Delay(d))
    }

    /// Applies the request to the state, then closes the connection without writing a single
    /// response byte.
    #[must_use]
    pub fn drop_after_apply() -> Fault {
        Fault::new(FaultKind::DropAfterApply)
    }

    /// Applies the request, sends the status line and headers with the full `Content-Length`
    /// but only the first half of the body, then closes the connection.
    #[must_use]
    pub fn truncate_body() -> Fault {
        Fault::new(FaultKind::TruncateBody)
    }

    /// How many matching requests this fault affects. Defaults to 1; 0 makes it a no-op.
    #[must_use]
    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
        self
    }

    /// Restricts the fault to requests of operation `op`. Defaults to any request, including
    /// ones that route nowhere.
    #[must_use]
    pub fn only(mut self, op: Operation) -> Fault {
        self.only = Some(op);
        self
    }

    /// Restricts the fault to requests whose path names entitlement `id` (a report of its
    /// usage, `POST .../entitlement/{id}/usageRecordGroup`): one entitlement failing while the
    /// others pass. Defaults to any entitlement.
    ///
    /// ```
    /// use suger_metering::fake::{Fault, FakeSuger};
    /// let fake = FakeSuger::start()?;
    /// fake.inject(Fault::status(500).times(usize::MAX).for_entitlement("ent-broken"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn for_entitlement(mut self, id: &str) -> Fault {
        self.entitlement = Some(id.to_string());
        self
    }

    /// Whether this fault applies to a request of `operation` at `raw_path`.
    pub(crate) fn matches(&self, operation: Option<Operation>, raw_path: &str) -> bool {
        let entitlement_ok = self.entitlement.as_deref().is_none_or(|id| {
            let segment = crate::http::encode::encode_segment(id);
            let mut parts = raw_path.split('/');
            parts.any(|p| p == "entitlement") && parts.next() == Some(segment.as_str())
        });
        (self.only.is_none() || self.only == operation) && entitlement_ok
    }
}

/// Longest delay a JSON fault may ask for.
const MAX_JSON_DELAY: Duration = Duration::from_secs(600);

impl Fault {
    /// Builds a fault from its JSON description (the `POST /_fake/faults` body):
    /// exactly one of `"status": 503` (with optional `"retryAfter": "2"` and `"body": "..."`),
    /// `"delayMs": 500`, `"dropAfterApply": true` or `"truncateBody": true`; plus optional
    /// `"times": n` (default 1), `"operation": "ReportUsageRecordGroup"` (an operationId of
    /// the spec) and `"entitlementId": "ent-1"` (only that entitlement's requests).
    pub(crate) fn from_json(v: &Value) -> Result<Fault, String> {
        let obj = v.as_object().ok_or("a fault must be a JSON object")?;
        let known = [
            "status",
            "retryAfter",
            "body",
            "delayMs",
            "dropAfterApply",
            "truncateBody",
            "times",
            "operation",
            "entitlementId",
        ];
        if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!(
                "unknown fault field {k:?}; known: {}",
                known.join(", ")
            ));
        }
        let str_field = |k: &str| match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("{k} must be a string")),
        };
        let flag = |k: &str| obj.get(k).and_then(Value::as_bool) == Some(true);
        let mut kinds = Vec::new();
        if let Some(status) = obj.get("status") {
            let status = status
                .as_u64()
                .filter(|s| (100..=599).contains(s))
                .ok_or("status must be an HTTP status code (100 to 599)")?;
            let mut f = Fault::status(status as u16);
            if let Some(ra) = str_field("retryAfter")? {
                f = f.retry_after(ra);
            }
            if let Some(body) = str_field("body")? {
                f = f.body(body);
            }
            kinds.push(f);
        }
        if let Some(ms) = obj.get("delayMs") {
            let ms = ms
                .as_u64()
                .ok_or("delayMs must be a whole number of milliseconds")?;
            let d = Duration::from_millis(ms);
            if d > MAX_JSON_DELAY {
                return Err(format!(
                    "delayMs must be at most {}",
                    MAX_JSON_DELAY.as_millis()
                ));
            }
            kinds.push(Fault::delay(d));
        }
        if flag("dropAfterApply") {
            kinds.push(Fault::drop_after_apply());
        }
        if flag("truncateBody") {
            kinds.push(Fault::truncate_body());
        }
        let mut fault = match kinds.len() {
            1 => kinds.remove(0),
            _ => {
                return Err(
                    "give exactly one of status, delayMs, dropAfterApply: true, truncateBody: true"
                        .to_string(),
                );
            }
        };
        if let Some(t) = obj.get("times") {
            let t = t.as_u64().ok_or("times must be a whole number")?;
            fault = fault.times(usize::try_from(t).unwrap_or(usize::MAX));
        }
        if let Some(op) = str_field("operation")? {
            let op = Operation::from_operation_id(op)
                .ok_or_else(|| format!("unknown operation {op:?}: use an operationId of the spec, e.g. ReportUsageRecordGroup"))?;
            fault = fault.only(op);
        }
        if let Some(ent) = str_field("entitlementId")? {
            fault = fault.for_entitlement(ent);
        }
        Ok(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_faults() {
        let f = Fault::from_json(&json!({"status": 429, "retryAfter": "2", "times": 3, "operation": "ListUsageRecordGroups"})).unwrap();
        assert!(
            matches!(f.kind, FaultKind::Status { status: 429, retry_after: Some(ref r), body: None } if r == "2")
        );
        assert_eq!(
            (f.times, f.only),
            (3, Some(Operation::ListUsageRecordGroups))
        );
        let f = Fault::from_json(&json!({"status": 500, "entitlementId": "e/1"})).unwrap();
        assert!(f.matches(None, "/org/o/entitlement/e%2F1/usageRecordGroup"));
        assert!(!f.matches(None, "/org/o/entitlement/e2/usageRecordGroup"));
        assert!(!f.matches(None, "/org/o/usageRecordGroup"));
        let f = Fault::from_json(&json!({"delayMs": 20})).unwrap();
        assert!(matches!(f.kind, FaultKind::Delay(d) if d == Duration::from_millis(20)));
        assert!(matches!(
            Fault::from_json(&json!({"dropAfterApply": true}))
                .unwrap()
                .kind,
            FaultKind::DropAfterApply
        ));
        assert!(matches!(
            Fault::from_json(&json!({"truncateBody": true}))
                .unwrap()
                .kind,
            FaultKind::TruncateBody
        ));
        for bad in [
            json!({}),
            json!({"status": 503, "delayMs": 1}),
            json!({"status": 99}),
            json!({"status": 503, "operation": "Nope"}),
            json!({"stauts": 503}),
            json!([1]),
        ] {
            assert!(Fault::from_json(&bad).is_err(), "{bad}");
        }
    }
}
