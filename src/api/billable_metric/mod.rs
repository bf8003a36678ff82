//! Billable metrics: what v2 usage records (`billable_records`) are counted against.

mod models;
mod operations;
mod query;

pub use models::*;
pub use query::ListBillableMetrics;
