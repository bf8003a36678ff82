//! The integration tests, in one binary: one build, one link, shared support.
//!
//! Each module pins one area of behaviour; `support` holds the mock server guard, the client
//! helpers, the expected values of the fixtures (tests/fixtures) and the raw HTTP helpers.

mod support;

mod billable_metric;
#[cfg(feature = "cli")]
mod cli;
mod config_info;
mod decoding;
mod durable;
mod errors;
mod fake_cycle;
mod fake_http;
mod fake_server;
mod faults;
mod logging;
mod round_trip;
mod scenarios;
mod security;
mod smoke;
mod truth;
mod usage_record_group;
mod usage_record_report;
mod validation;
mod verdict;
