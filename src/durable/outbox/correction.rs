//! The arithmetic of corrections: what the ledger says was recorded for one usage identity,
//! and the difference a corrected report asks for.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::api::usage_record_group::{CreateUsageRecordGroupParams, MeteringUsageRecord};
use crate::durable::ledger::{self, LedgerLine};
use crate::http::error::Error;

/// What the ledger says about one usage identity.
#[derive(Clone, Debug, Default)]
pub(super) struct History {
    /// The reports recorded and not deleted, first line per id.
    pub(super) lines: Vec<LedgerLine>,
    /// The highest revision ever recorded (deleted ones included: their ids are never reused).
    pub(super) max_revision: u32,
}

/// The ledger read into histories per (entitlement, identity id), kept while the ledger's
/// files are unchanged (their names and sizes).
#[derive(Debug, Default)]
pub(super) struct Index {
    pub(super) fingerprint: Vec<(String, u64)>,
    pub(super) histories: HashMap<(String, String), History>,
}

pub(super) fn fingerprint(dir: &Path) -> Vec<(String, u64)> {
    ledger::day_files(dir)
        .into_iter()
        .map(|(_, name)| {
            let len = fs::metadata(dir.join(&name)).map_or(0, |m| m.len());
            (name, len)
        })
        .collect()
}

pub(super) fn read_index(dir: &Path) -> HashMap<(String, String), History> {
    let mut out: HashMap<(String, String), History> = HashMap::new();
    let mut seen = HashSet::new();
    for (_, name) in ledger::day_files(dir) {
        let path = dir.join(&name);
        // Only regular files: never block on something else put there.
        if !path.is_file() {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        for raw in BufReader::new(file).split(b'\n') {
            let Ok(raw) = raw else { break };
            let Ok(line) = serde_json::from_slice::<LedgerLine>(&raw) else {
                continue; // damaged: counted by the reconcile's reader
            };
            if line.id.is_empty() || line.entitlement_id.is_empty() {
                continue;
            }
            let identity = line.identity.clone().unwrap_or_else(|| line.id.clone());
            let h = out
                .entry((line.entitlement_id.clone(), identity))
                .or_default();
            if line.deleted {
                h.lines.retain(|l| l.id != line.id);
            } else if seen.insert(line.id.clone()) {
                h.max_revision = h.max_revision.max(line.revision.unwrap_or(1));
                h.lines.push(line);
            }
        }
    }
    out
}

/// Quantities per dimension (v1) or billable metric key (v2).
pub(super) type Usage = BTreeMap<String, f64>;

pub(super) fn usage_of(params: &CreateUsageRecordGroupParams) -> Usage {
    let mut u = params.records.clone();
    for r in &params.billable_records {
        *u.entry(r.key.clone()).or_insert(0.0) += r.quantity;
    }
    u
}

pub(super) fn billed(lines: &[LedgerLine]) -> Usage {
    let mut u = Usage::new();
    for l in lines {
        for (k, q) in l.records.iter().chain(&l.billable) {
            *u.entry(k.clone()).or_insert(0.0) += q;
        }
    }
    u
}

/// Equal up to the rounding of sums of `f64`.
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// `wanted - billed` per dimension: `Err((dimension, recorded, requested))` for the first
/// negative one, else the positive differences (empty: the same usage).
pub(super) fn difference(wanted: &Usage, billed: &Usage) -> Result<Usage, (String, f64, f64)> {
    let mut diff = Usage::new();
    let dims: BTreeSet<&String> = wanted.keys().chain(billed.keys()).collect();
    for dim in dims {
        let w = wanted.get(dim).copied().unwrap_or(0.0);
        let b = billed.get(dim).copied().unwrap_or(0.0);
        if same(w, b) {
            continue;
        }
        if w < b {
            return Err((dim.clone(), b, w));
        }
        diff.insert(dim.clone(), w - b);
    }
    Ok(diff)
}

/// The report of a difference: the same usage (timestamp, entitlement) with only `diff`; v2
/// records take the properties of the key's records, which must agree.
pub(super) fn difference_params(
    params: &CreateUsageRecordGroupParams,
    diff: &Usage,
) -> Result<CreateUsageRecordGroupParams, Error> {
    let mut out = params.clone();
    if params.billable_records.is_empty() {
        out.records = diff.clone();
        return Ok(out);
    }
    out.billable_records = Vec::new();
    for (key, qty) in diff {
        let mut of_key = params.billable_records.iter().filter(|r| &r.key == key);
        let first = of_key
            .next()
            .cloned()
            .unwrap_or_else(|| MeteringUsageRecord {
                key: key.clone(),
                ..Default::default()
            });
        if of_key.any(|r| r.properties != first.properties) {
            return Err(Error::invalid(
                "billable_records",
                format!(
                    "the correction of {key:?} cannot be split between records with different properties; report the difference yourself under a new id"
                ),
            ));
        }
        out.billable_records.push(MeteringUsageRecord {
            quantity: *qty,
            ..first
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(items: &[(&str, f64)]) -> Usage {
        items.iter().map(|(k, q)| (k.to_string(), *q)).collect()
    }

    #[test]
    fn the_difference_is_per_dimension_and_refuses_any_decrease() {
        let billed = usage(&[("calls", 2653.0), ("storage", 0.1 + 0.2)]);
        assert_eq!(
            difference(&usage(&[("calls", 2654.0), ("storage", 0.3)]), &billed),
            Ok(usage(&[("calls", 1.0)]))
        );
        assert_eq!(
            difference(&usage(&[("calls", 2653.0), ("storage", 0.3)]), &billed),
            Ok(Usage::new())
        );
        // A dimension left out of the correction is a decrease to zero.
        assert_eq!(
            difference(&usage(&[("calls", 2700.0)]), &billed),
            Err(("storage".to_string(), 0.1 + 0.2, 0.0))
        );
        assert_eq!(
            difference(
                &usage(&[("calls", 2653.0), ("storage", 0.3), ("new", 2.0)]),
                &billed
            ),
            Ok(usage(&[("new", 2.0)]))
        );
    }
}
