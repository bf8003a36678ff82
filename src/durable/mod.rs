//! What survives a crash: the [`Outbox`](crate::Outbox) (a maildir store, its lock, flush),
//! its ledger of what Suger recorded, the [`Meter`](crate::Meter) (windows, journal and
//! recovery, seal), and [`reconcile`](crate::reconcile) (the ledger against Suger and the
//! marketplaces' verdicts).
//!
//! Imports only `crate::api` and `crate::http` below it.

pub(crate) mod ledger;
pub(crate) mod meter;
pub(crate) mod outbox;
pub(crate) mod reconcile;
