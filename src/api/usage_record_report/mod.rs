//! Usage record reports: what Suger sent to a marketplace for a set of usage record groups.

mod models;
mod operations;
mod query;

pub use models::*;
pub use query::ListUsageRecordReports;
