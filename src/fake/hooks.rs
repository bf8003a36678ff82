//! Test hooks on the state: what [`FakeSuger`](super::FakeSuger)'s control methods and the
//! `/_fake/` admin routes change (report outcomes, lost or altered groups, partners, page
//! sizes, reset).

use serde_json::Value;

use super::state::State;
use super::stored::{EntitlementFailure, PARTNER};
use super::util::{go_number, now_nanos};

/// The partners whose marketplace exchange the fake can play.
pub(crate) const PARTNERS: [&str; 3] = ["AWS", "AZURE", "GCP"];

impl State {
    /// Marks a group id so that it fails at the next report cycle that processes it.
    pub(crate) fn mark_failure(&mut self, id: &str) {
        self.fail_marks.push(id.to_string());
    }

    /// Makes the next report of `entitlement` fail with `message` (and, when given, the
    /// marketplace's own per-record status).
    pub(crate) fn fail_entitlement(
        &mut self,
        entitlement: &str,
        message: &str,
        marketplace_status: Option<&str>,
    ) {
        self.entitlement_failures.push(EntitlementFailure {
            entitlement: entitlement.to_string(),
            message: message.to_string(),
            marketplace_status: marketplace_status.map(str::to_string),
        });
    }

    /// Sets a group's status (test hook). Returns false when there is no such group.
    pub(crate) fn set_group_status(&mut self, id: &str, status: &str) -> bool {
        match self.groups.iter_mut().find(|g| g.id == id) {
            Some(g) => {
                g.status = status.to_string();
                g.last_update = now_nanos();
                true
            }
            None => false,
        }
    }

    /// The partner of `entitlement`: chosen with `set_partner` (or a seed), else AWS.
    pub(crate) fn partner_of(&self, entitlement: &str) -> &str {
        self.partners
            .iter()
            .find(|(e, _)| e == entitlement)
            .map_or(PARTNER, |(_, p)| p.as_str())
    }

    /// Chooses the partner of `entitlement` (`AWS`, `AZURE` or `GCP`, any case), for its
    /// groups stored from now on and those already stored.
    pub(crate) fn set_partner(&mut self, entitlement: &str, partner: &str) -> Result<(), String> {
        let upper = partner.to_ascii_uppercase();
        let Some(p) = PARTNERS.iter().find(|p| **p == upper) else {
            return Err(format!(
                "partner {partner:?} is not one the fake plays: use AWS, AZURE or GCP"
            ));
        };
        self.partners.retain(|(e, _)| e != entitlement);
        self.partners.push((entitlement.to_string(), p.to_string()));
        for g in self
            .groups
            .iter_mut()
            .filter(|g| g.entitlement == entitlement)
        {
            g.partner = p.to_string();
        }
        Ok(())
    }

    /// Forgets group `id` entirely, as if Suger had never recorded it. False when unknown.
    pub(crate) fn lose_group(&mut self, id: &str) -> bool {
        let before = self.groups.len();
        self.groups.retain(|g| g.id != id);
        self.groups.len() != before
    }

    /// Replaces group `id`'s quantities: a v1 group's `records` (and so its
    /// `metaInfo.originRecords`) become `records`; a v2 group's billable records whose key is
    /// in `records` take that quantity. False when there is no such group.
    pub(crate) fn alter_group_records(&mut self, id: &str, records: &[(String, f64)]) -> bool {
        let Some(g) = self.groups.iter_mut().find(|g| g.id == id) else {
            return false;
        };
        match &mut g.billable {
            Some(billable) => {
                for r in billable.iter_mut() {
                    let key = r.get("key").and_then(Value::as_str).unwrap_or_default();
                    if let Some((_, q)) = records.iter().find(|(k, _)| k == key)
                        && let Some(obj) = r.as_object_mut()
                    {
                        obj.insert("quantity".to_string(), go_number(*q));
                    }
                }
            }
            None => {
                g.records = Some(
                    records
                        .iter()
                        .map(|(k, q)| (k.clone(), go_number(*q)))
                        .collect(),
                );
            }
        }
        g.last_update = now_nanos();
        true
    }

    /// `limit`, capped by the test's `max_page_size`.
    pub(crate) fn page_limit(&self, limit: usize) -> usize {
        self.max_page_size
            .map_or(limit, |cap| limit.min(cap.max(1)))
    }

    /// Drops every outcome a test decided: report failures (by group and by entitlement)
    /// and the page size cap.
    pub(crate) fn clear_test_outcomes(&mut self) {
        self.fail_marks.clear();
        self.entitlement_failures.clear();
        self.max_page_size = None;
    }

    /// Back to the state the fake started with: empty, then the seed loaded again.
    pub(crate) fn reset(&mut self) {
        let seed = self.seed.take();
        *self = State::new(&self.org);
        if let Some(seed) = seed {
            // The seed loaded once already, so it loads again.
            let _ = self.load_seed(&seed);
        }
    }
}
