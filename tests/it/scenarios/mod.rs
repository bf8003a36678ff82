//! Scenario tests: the real client against the in-process fake, one test per rule of the fake,
//! one file per subject. The helpers they share (a fake and a client for it, usage builders,
//! what the fake stored and received) are in `support::fake`.

mod auth;
mod lifecycle;
mod list;
mod metrics_and_config;
mod pagination;
mod report;
