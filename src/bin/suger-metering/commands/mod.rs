//! One module per top-level command (as `cli.rs` defines them).

pub(crate) mod fake;
pub(crate) mod groups;
pub(crate) mod metrics;
pub(crate) mod outbox;
pub(crate) mod report;
