//! The resources, one module per resource and the same shape for each: models, query builders,
//! operations (`impl MeteringClient` methods of a few lines: validate, describe the request,
//! hand it to the transport), plus the one home of report ids and the helpers only resources use.
//!
//! Imports only `crate::http` below it.

pub(crate) mod billable_metric;
pub(crate) mod common;
pub(crate) mod config_info;
pub(crate) mod ids;
pub(crate) mod pages;
pub(crate) mod query;
pub(crate) mod rules;
pub(crate) mod usage_record_group;
pub(crate) mod usage_record_report;
