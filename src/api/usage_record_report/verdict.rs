//! [`MarketplaceVerdict`]: what the marketplace answered for usage Suger forwarded to it.
//!
//! Suger keeps each marketplace's raw answer in a usage record report
//! (`info.awsMeteringResponse`, `azureMeteringResponse`, `gcpMeteringResponse`);
//! `marketplace.rs` reads those answers and `report_verdict.rs` folds them, with Suger's own
//! `info.status` and `info.message`, into one verdict per report.

use std::fmt;

use serde_json::Value;

/// What the marketplace answered for usage Suger forwarded to it.
///
/// Only [`Accepted`](Self::Accepted) means the usage will be billed. Anything this crate does
/// not recognise is [`Unknown`](Self::Unknown), never `Accepted`.
///
/// ```
/// use suger_metering::{MarketplaceVerdict, MeteringUsageRecordReport};
/// let report: MeteringUsageRecordReport = serde_json::from_value(serde_json::json!({
///     "id": "r1", "partner": "AWS",
///     "info": {"status": "SUCCESS", "awsMeteringResponse": {"Results": [
///         {"MeteringRecordId": "m-1", "Status": "Success",
///          "UsageRecord": {"Dimension": "api_calls", "Quantity": 3}}]}}
/// }))?;
/// assert_eq!(
///     report.verdict(),
///     MarketplaceVerdict::Accepted { record_id: Some("m-1".into()) }
/// );
/// assert!(report.verdict().is_accepted());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum MarketplaceVerdict {
    /// The marketplace accepted the usage: it will be billed. `record_id` is the marketplace's
    /// id for it (AWS `MeteringRecordId`, Azure `usageEventId`, GCP operation id) when given.
    Accepted {
        /// The marketplace's id of the accepted record (the first one, for several).
        record_id: Option<String>,
    },
    /// The marketplace already had usage for the same customer, dimension and hour (AWS
    /// `DuplicateRecord`, Azure `Duplicate`/409): this report was not billed; the earlier one
    /// was, with `quantity_accepted_before` where the marketplace says it (Azure does).
    Duplicate {
        /// The quantity the marketplace accepted earlier for that hour, when it says.
        quantity_accepted_before: Option<f64>,
    },
    /// The usage's hour is older than the marketplace accepts (AWS
    /// `TimestampOutOfBoundsException`, 6 h; Azure `Expired`, 24 h; GCP `OUT_OF_RANGE`).
    TooLate {
        /// The marketplace's or Suger's message.
        message: String,
    },
    /// The buyer cannot be billed for this product (AWS `CustomerNotSubscribed`,
    /// `CustomerNotEntitledException`; Azure `ResourceNotFound`, `ResourceNotAuthorized`;
    /// GCP `NOT_FOUND`, `PERMISSION_DENIED`, `FAILED_PRECONDITION`).
    NotEntitled {
        /// The marketplace's or Suger's message.
        message: String,
    },
    /// The marketplace refused the content (AWS `InvalidUsageDimensionException`; Azure
    /// `InvalidDimension`, `InvalidQuantity`, `BadArgument`; GCP `INVALID_ARGUMENT`).
    Invalid {
        /// Why, as the marketplace or Suger said it.
        reason: String,
    },
    /// The marketplace did not process the usage this time and it may be sent again (AWS
    /// `UnprocessedRecords`, throttling, internal errors; GCP `UNAVAILABLE`, ...).
    Retryable {
        /// The marketplace's or Suger's message.
        message: String,
    },
    /// Anything not recognised (an unknown status, an unreadable answer, a report not sent
    /// yet): never counted as accepted. `raw` is what was read: the marketplace's answer, or
    /// Suger's `{"status", "message"}` when there is none.
    Unknown {
        /// The answer that was not recognised.
        raw: Value,
    },
}

impl MarketplaceVerdict {
    /// True only for [`Accepted`](Self::Accepted): the usage will be billed.
    ///
    /// ```
    /// use suger_metering::MarketplaceVerdict;
    /// assert!(MarketplaceVerdict::Accepted { record_id: None }.is_accepted());
    /// assert!(!MarketplaceVerdict::Duplicate { quantity_accepted_before: Some(3.0) }.is_accepted());
    /// ```
    pub fn is_accepted(&self) -> bool {
        matches!(self, MarketplaceVerdict::Accepted { .. })
    }

    /// The verdict's name in snake_case: `accepted`, `duplicate`, `too_late`, `not_entitled`,
    /// `invalid`, `retryable` or `unknown` (for output and logs).
    ///
    /// ```
    /// use suger_metering::MarketplaceVerdict;
    /// let v = MarketplaceVerdict::TooLate { message: "expired".into() };
    /// assert_eq!(v.name(), "too_late");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            MarketplaceVerdict::Accepted { .. } => "accepted",
            MarketplaceVerdict::Duplicate { .. } => "duplicate",
            MarketplaceVerdict::TooLate { .. } => "too_late",
            MarketplaceVerdict::NotEntitled { .. } => "not_entitled",
            MarketplaceVerdict::Invalid { .. } => "invalid",
            MarketplaceVerdict::Retryable { .. } => "retryable",
            MarketplaceVerdict::Unknown { .. } => "unknown",
        }
    }

    /// The message or reason it carries, if any (`None` for `Accepted`, `Duplicate` and
    /// `Unknown`).
    ///
    /// ```
    /// use suger_metering::MarketplaceVerdict;
    /// let v = MarketplaceVerdict::Invalid { reason: "unknown dimension".into() };
    /// assert_eq!(v.message(), Some("unknown dimension"));
    /// assert_eq!(MarketplaceVerdict::Accepted { record_id: None }.message(), None);
    /// ```
    pub fn message(&self) -> Option<&str> {
        match self {
            MarketplaceVerdict::TooLate { message }
            | MarketplaceVerdict::NotEntitled { message }
            | MarketplaceVerdict::Retryable { message } => Some(message),
            MarketplaceVerdict::Invalid { reason } => Some(reason),
            _ => None,
        }
    }

    /// How bad it is for billing, to pick one verdict for several records: lower is worse.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            MarketplaceVerdict::NotEntitled { .. } => 0,
            MarketplaceVerdict::TooLate { .. } => 1,
            MarketplaceVerdict::Invalid { .. } => 2,
            MarketplaceVerdict::Duplicate { .. } => 3,
            MarketplaceVerdict::Retryable { .. } => 4,
            MarketplaceVerdict::Unknown { .. } => 5,
            MarketplaceVerdict::Accepted { .. } => 6,
        }
    }
}

impl fmt::Display for MarketplaceVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MarketplaceVerdict::Accepted {
                record_id: Some(id),
            } => write!(f, "accepted ({id})"),
            MarketplaceVerdict::Duplicate {
                quantity_accepted_before: Some(q),
            } => write!(f, "duplicate (accepted before: {q})"),
            MarketplaceVerdict::Unknown { raw } => {
                let mut s = raw.to_string();
                if s.len() > 200 {
                    let mut end = 200;
                    while !s.is_char_boundary(end) {
                        end -= 1;
                    }
                    s.truncate(end);
                    s.push('…');
                }
                write!(f, "unknown: {s}")
            }
            other => match other.message() {
                Some(m) if !m.is_empty() => write!(f, "{}: {m}", other.name()),
                _ => f.write_str(other.name()),
            },
        }
    }
}

/// The verdict on one record of a marketplace's answer (one AWS usage record, one Azure usage
/// event, one GCP operation), with what the answer says about the record.
///
/// Response-only and `#[non_exhaustive]`: outside this crate, read it from
/// [`MeteringUsageRecordReport::record_verdicts`](crate::MeteringUsageRecordReport::record_verdicts).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct MarketplaceRecordVerdict {
    /// The dimension (AWS `Dimension`, Azure `dimension`, GCP metric name), when given.
    pub dimension: Option<String>,
    /// The quantity sent, when given.
    pub quantity: Option<f64>,
    /// The marketplace's customer (AWS `CustomerIdentifier`/`CustomerAWSAccountID`, Azure
    /// `resourceId`, GCP `consumerId`), when given.
    pub customer: Option<String>,
    /// The usage's time as the marketplace answer states it (text), when given.
    pub timestamp: Option<String>,
    /// What the marketplace answered for this record.
    pub verdict: MarketplaceVerdict,
}
