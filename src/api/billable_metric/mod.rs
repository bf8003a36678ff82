//! Billable metrics: what v2 usage records (`billable_records`) are counted against.

mod models;
mod operations;

pub use models::*;
