//! The plumbing, the lowest layer: the client and its builder, the transport (build, send,
//! retry loop, size caps, decode), the retry policy, the wire errors and their classification,
//! TLS, the base URL, and the small helpers they share.
//!
//! Nothing here imports a higher layer (`api`, `durable`, `fake`, the CLI).

pub(crate) mod base_url;
pub(crate) mod bounded;
pub(crate) mod builder;
pub(crate) mod client;
pub(crate) mod encode;
pub(crate) mod error;
pub(crate) mod retry;
pub(crate) mod serde_util;
pub(crate) mod text;
pub(crate) mod tls;
pub(crate) mod transport;
pub(crate) mod transport_error;
pub(crate) mod usage_record;
