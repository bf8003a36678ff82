//! Preloading the fake's state from a JSON seed (see
//! [`FakeSugerBuilder::seed`](super::FakeSugerBuilder::seed)).

use serde_json::Value;

use super::parse::{MAX_ID_CHARS, optional_string, parse_new_group};
use super::routing::Reply;
use super::state::State;
use super::util::new_uuid;

/// The message of an error reply.
fn message(r: Reply) -> String {
    match r.body {
        Value::String(m) => m,
        other => other.to_string(),
    }
}

fn list<'a>(seed: &'a serde_json::Map<String, Value>, key: &str) -> Result<&'a [Value], String> {
    match seed.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!("{key} must be an array")),
    }
}

impl State {
    /// Loads a seed; the error names the item at fault.
    pub(crate) fn load_seed(&mut self, seed: &Value) -> Result<(), String> {
        let seed = seed.as_object().ok_or("the seed must be a JSON object")?;
        let known = [
            "billableMetrics",
            "entitlements",
            "usageRecordGroups",
            "usageMeteringConfigInfo",
        ];
        if let Some(k) = seed.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!("unknown key {k:?}; known: {}", known.join(", ")));
        }
        for (i, m) in list(seed, "billableMetrics")?.iter().enumerate() {
            let body = serde_json::to_vec(m).unwrap_or_default();
            self.create_metric(&body)
                .map_err(|r| format!("billableMetrics[{i}]: {}", message(r)))?;
        }
        for (i, e) in list(seed, "entitlements")?.iter().enumerate() {
            self.seed_entitlement(e)
                .map_err(|m| format!("entitlements[{i}]: {m}"))?;
        }
        for (i, g) in list(seed, "usageRecordGroups")?.iter().enumerate() {
            self.seed_group(g)
                .map_err(|m| format!("usageRecordGroups[{i}]: {m}"))?;
        }
        if let Some(config) = seed.get("usageMeteringConfigInfo") {
            let body = serde_json::to_vec(config).unwrap_or_default();
            self.update_config(&body)
                .map_err(|r| format!("usageMeteringConfigInfo: {}", message(r)))?;
        }
        self.seed = Some(Value::Object(seed.clone()));
        Ok(())
    }

    /// `{"id": "ent-1", "partner": "AZURE"}`: the entitlement's marketplace.
    fn seed_entitlement(&mut self, e: &Value) -> Result<(), String> {
        let obj = e.as_object().ok_or("must be an object")?;
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or("id (a non-empty string) is required")?;
        match obj.get("partner") {
            None | Some(Value::Null) => Ok(()),
            Some(Value::String(p)) => self.set_partner(id, p),
            Some(_) => Err("partner must be a string".to_string()),
        }
    }

    fn seed_group(&mut self, g: &Value) -> Result<(), String> {
        let mut obj = g.as_object().ok_or("must be an object")?.clone();
        let status = match obj.remove("status") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err("status must be a string".to_string()),
        };
        let id = match optional_string(&obj, "id").map_err(message)? {
            Some(id) if id.chars().count() > MAX_ID_CHARS => {
                return Err(format!("id must be at most {MAX_ID_CHARS} characters"));
            }
            Some(id) if self.groups.iter().any(|x| x.id == id) => {
                return Err(format!("duplicate id {id:?}"));
            }
            Some(id) => id.to_string(),
            None => new_uuid(),
        };
        let new = parse_new_group(&obj).map_err(message)?;
        self.store_group(id.clone(), new);
        if let Some(s) = status {
            self.set_group_status(&id, &s);
        }
        Ok(())
    }

    /// The usage metering config, as `GET usageMeteringConfigInfo` answers it.
    pub(crate) fn config_json(&self) -> Value {
        self.config.clone()
    }
}
