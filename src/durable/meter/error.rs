//! The error of the [`Meter`](crate::Meter): [`MeterError`].

use crate::durable::outbox::OutboxError;
use crate::http::error::Error;

/// Everything that can go wrong with a [`Meter`](crate::Meter): invalid usage, the meter's own
/// states (shut down, stalled, too many series), and its [`Outbox`](crate::Outbox)'s errors.
///
/// Whenever [`add`](crate::Meter::add) or [`add_billable`](crate::Meter::add_billable)
/// returns an error, **the event was not counted**: the caller still holds it.
///
/// ```
/// use suger_metering::{fake::FakeSuger, Error, Meter, MeterError, Outbox};
/// # let dir = std::env::temp_dir().join(format!("meter-doc-err-{}", std::process::id()));
/// let fake = FakeSuger::start()?;
/// let meter = Meter::builder(fake.client()).outbox(Outbox::open(&dir)?).start()?;
/// let err = meter.add("entitlement-1", "api_calls", -1.0).unwrap_err();
/// assert!(matches!(err, MeterError::Report(Error::InvalidRequest { .. })));
/// meter.shutdown()?;
/// assert!(matches!(meter.add("entitlement-1", "api_calls", 1.0), Err(MeterError::Closed)));
/// # drop(meter); std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeterError {
    /// Usage that breaks a rule of the API ([`Error::InvalidRequest`]: an empty entitlement or
    /// dimension, a negative, NaN or infinite quantity), a bad builder option, or the error
    /// that stopped a flush (HTTP 401/403).
    #[error(transparent)]
    Report(Error),

    /// The outbox failed: the journal could not be written ([`OutboxError::Full`] past the
    /// outbox's size cap, [`OutboxError::Io`] when the disk fails), or a flush or recovery
    /// failed on disk.
    #[error(transparent)]
    Outbox(OutboxError),

    /// The meter was shut down; it accepts no more usage.
    #[error("the meter is shut down and accepts no more usage")]
    Closed,

    /// The meter could not write sealed usage into its outbox (disk full, size cap): it keeps
    /// that usage and refuses new usage until a later seal succeeds.
    #[error(
        "the meter cannot store sealed usage in its outbox ({reason}); new usage is refused until it can"
    )]
    #[non_exhaustive]
    Stalled {
        /// The last error of the seal.
        reason: String,
    },

    /// A new series was refused: the meter holds twice
    /// [`max_series`](crate::MeterBuilder::max_series) series because the background seal has
    /// not caught up yet (it is storing an earlier seal). Usage of series already held is still
    /// accepted; try again shortly.
    #[error(
        "the meter holds {held} series (twice max_series {max}) until the background seal catches up"
    )]
    #[non_exhaustive]
    TooManySeries {
        /// Series held now.
        held: usize,
        /// The configured [`max_series`](crate::MeterBuilder::max_series).
        max: usize,
    },
}

impl From<Error> for MeterError {
    fn from(e: Error) -> Self {
        MeterError::Report(e)
    }
}

impl From<OutboxError> for MeterError {
    /// An outbox error about a report (invalid usage, 401/403) becomes
    /// [`MeterError::Report`]; the others [`MeterError::Outbox`].
    fn from(e: OutboxError) -> Self {
        match e {
            OutboxError::Report(e) => MeterError::Report(e),
            e => MeterError::Outbox(e),
        }
    }
}

impl MeterError {
    /// The crate [`Error`] inside [`MeterError::Report`].
    pub fn report_error(&self) -> Option<&Error> {
        match self {
            MeterError::Report(e) => Some(e),
            _ => None,
        }
    }

    /// The [`OutboxError`] inside [`MeterError::Outbox`].
    pub fn outbox_error(&self) -> Option<&OutboxError> {
        match self {
            MeterError::Outbox(e) => Some(e),
            _ => None,
        }
    }

    /// `true` when the disk or the outbox's size cap is full: [`OutboxError::Full`], an I/O
    /// error `StorageFull`/`QuotaExceeded` (see [`OutboxError::is_full`]), or
    /// [`MeterError::Stalled`].
    pub fn is_full(&self) -> bool {
        match self {
            MeterError::Outbox(e) => e.is_full(),
            MeterError::Stalled { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn stalled(reason: String) -> Self {
        MeterError::Stalled { reason }
    }
}
