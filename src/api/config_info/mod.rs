//! The organization's usage metering configuration (dimension mapping per partner).

mod models;
mod operations;

pub use models::*;
