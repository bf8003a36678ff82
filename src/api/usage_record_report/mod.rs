//! Usage record reports: what Suger sent to a marketplace for a set of usage record groups,
//! and the marketplace's verdict on it.

mod answer;
pub(crate) mod marketplace;
mod models;
mod operations;
mod query;
mod report_verdict;
mod verdict;

pub use models::*;
pub use query::ListUsageRecordReports;
pub use verdict::{MarketplaceRecordVerdict, MarketplaceVerdict};
