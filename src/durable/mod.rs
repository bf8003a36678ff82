//! What survives a crash: the [`Outbox`](crate::Outbox) (a maildir store, its lock, flush) and
//! the [`Meter`](crate::Meter) (windows, journal and recovery, seal).
//!
//! Imports only `crate::api` and `crate::http` below it.

pub(crate) mod ledger;
pub(crate) mod meter;
pub(crate) mod outbox;
pub(crate) mod reconcile;
