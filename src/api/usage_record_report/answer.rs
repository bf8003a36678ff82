//! Reading marketplace answers: JSON lookups that ignore the key's case, `_` and `-`, and
//! [`classify_text`], which names the verdict a free text (an AWS exception, an Azure code,
//! Suger's `info.message`) stands for.

use serde_json::Value;

use super::verdict::{MarketplaceRecordVerdict, MarketplaceVerdict};

/// A key without case, `_` or `-`.
fn norm(k: &str) -> String {
    k.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The value of the first key named `name` (normalized), `null` included.
fn key<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| norm(k) == name)
        .map(|(_, v)| v)
}

/// The non-null value of the first of `names` present.
pub(super) fn get<'a>(v: &'a Value, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|n| key(v, n).filter(|x| !x.is_null()))
}

pub(super) fn has(v: &Value, names: &[&str]) -> bool {
    names.iter().any(|n| key(v, n).is_some())
}

pub(super) fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|q| q.is_finite()),
        _ => None,
    }
}

/// A list, or a single object as a list of one.
pub(super) fn list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    }
}

pub(super) fn record(verdict: MarketplaceVerdict) -> MarketplaceRecordVerdict {
    MarketplaceRecordVerdict {
        dimension: None,
        quantity: None,
        customer: None,
        timestamp: None,
        verdict,
    }
}

pub(super) fn joined(parts: &[Option<String>]) -> String {
    parts
        .iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(": ")
}

/// What a free text names (an AWS exception, an Azure code, Suger's `info.message`): never
/// `Accepted`; `None` when it names nothing known.
pub(super) fn classify_text(text: &str) -> Option<MarketplaceVerdict> {
    let lower = text.to_lowercase();
    let compact = norm(text);
    let has = |words: &[&str]| {
        words
            .iter()
            .any(|w| lower.contains(w) || compact.contains(&norm(w)))
    };
    let message = text.trim().to_string();
    if message.is_empty() {
        return None;
    }
    Some(
        // An expired credential of Suger's is not late usage: it may pass once renewed.
        if has(&["expiredtoken", "token is expired", "token has expired"]) {
            MarketplaceVerdict::Retryable { message }
        } else if has(&[
            "timestampoutofbounds",
            "expired",
            "too old",
            "too late",
            "out of bounds",
            "older than",
        ]) {
            MarketplaceVerdict::TooLate { message }
        } else if has(&[
            "customernotsubscribed",
            "customernotentitled",
            "not subscribed",
            "not entitled",
            "resourcenotfound",
            "resourcenotauthorized",
            "resourcenotactive",
            "invalidcustomeridentifier",
        ]) {
            MarketplaceVerdict::NotEntitled { message }
        } else if has(&["duplicate", "already exist"]) {
            MarketplaceVerdict::Duplicate {
                quantity_accepted_before: None,
            }
        } else if has(&[
            "throttl",
            "unprocessed",
            "internalserviceerror",
            "internal error",
            "service unavailable",
            "timed out",
            "timeout",
            "rate exceeded",
            "too many requests",
            "try again",
        ]) {
            MarketplaceVerdict::Retryable { message }
        } else if has(&["invalid", "badargument", "validation"]) {
            MarketplaceVerdict::Invalid { reason: message }
        } else {
            return None;
        },
    )
}
