//! Usage record groups: report (one or a batch), validate, list, delete and retry.
//!
//! A usage record group is one report of usage for one entitlement: either v1 `records`
//! (dimension → quantity) or v2 `billable_records` (billable metric key, quantity, properties),
//! never both.

pub(crate) mod models;
mod operations;
mod query;

pub use models::*;
pub use operations::{BatchOutcome, DEFAULT_BATCH_SIZE};
pub use query::ListUsageRecordGroups;
