//! Billable metrics: what v2 usage records (`billable_records`) are counted against.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::client::MeteringClient;
use crate::error::{Error, Result};
use crate::ids::check_id;
use crate::serde_util::{is_empty, null_as_default as nd, open_enum, rfc3339_opt};
use crate::transport::Request;

/// Shortest billable metric name the API accepts (characters).
pub const MIN_BILLABLE_METRIC_NAME_LEN: usize = 4;
/// Longest billable metric name the API accepts (characters).
pub const MAX_BILLABLE_METRIC_NAME_LEN: usize = 50;
/// Longest billable metric description the API accepts (characters).
pub const MAX_BILLABLE_METRIC_DESCRIPTION_LEN: usize = 300;
/// Longest billable metric id the API accepts (characters).
pub const MAX_BILLABLE_METRIC_ID_LEN: usize = 36;

open_enum! {
    /// Status of a billable metric.
    pub enum BillableMetricStatus {
        /// In use.
        Active = "ACTIVE",
        /// Deleted.
        Deleted = "DELETED",
    }
}

open_enum! {
    /// How a billable metric aggregates its usage records.
    pub enum BillableMetricAggregationType {
        /// Number of records.
        Count = "COUNT",
        /// Number of distinct values of `property_unique_on`.
        UniqueCount = "UNIQUE_COUNT",
        /// Sum of quantities.
        Sum = "SUM",
        /// Largest quantity.
        Max = "MAX",
        /// Last quantity.
        Last = "LAST",
    }
}

open_enum! {
    /// Operation of a billable metric filter.
    pub enum BillableMetricFilterOperation {
        /// Equals (strings).
        Is = "IS",
        /// Differs (strings).
        NotIs = "NOT_IS",
        /// Contains.
        Contains = "CONTAINS",
        /// Does not contain.
        NotContains = "NOT_CONTAINS",
        /// Greater than.
        Gt = "GT",
        /// Greater than or equal.
        Gte = "GTE",
        /// Less than.
        Lt = "LT",
        /// Less than or equal.
        Lte = "LTE",
        /// Equals (numbers).
        Eq = "EQ",
        /// Differs (numbers).
        NotEq = "NOT_EQ",
        /// The property exists.
        Exists = "EXISTS",
        /// The property does not exist.
        NotExists = "NOT_EXISTS",
    }
}

open_enum! {
    /// Type of a billable metric filter's value.
    pub enum BillableMetricFilterValueType {
        /// A string.
        String = "STRING",
        /// A number.
        Float = "FLOAT",
    }
}

/// A billable metric.
///
/// As a request body ([`MeteringClient::create_billable_metric`]) only `name` is required;
/// read-only fields (`id` if the server assigns it, times, `organization_id`) may stay empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BillableMetric {
    /// The metric's id (at most 36 characters).
    #[serde(deserialize_with = "nd", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The name, 4 to 50 characters.
    #[serde(deserialize_with = "nd")]
    pub name: String,
    /// The description, at most 300 characters.
    #[serde(deserialize_with = "nd", skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The organization (note the wire name `organizationId`).
    #[serde(deserialize_with = "nd", skip_serializing_if = "String::is_empty")]
    pub organization_id: String,
    /// How usage is aggregated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregation_type: Option<BillableMetricAggregationType>,
    /// Filters and group-bys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<BillableMetricInfo>,
    /// Status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<BillableMetricStatus>,
    /// When the metric was created.
    #[serde(with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<OffsetDateTime>,
    /// When the metric last changed.
    #[serde(with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<OffsetDateTime>,
}

/// Filters and group-bys of a billable metric.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BillableMetricInfo {
    /// Filter groups, combined with AND.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub filter_groups: Vec<BillableMetricFilterGroup>,
    /// Properties to group by.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub group_bys: Vec<String>,
    /// The property counted by a `UNIQUE_COUNT` metric.
    #[serde(deserialize_with = "nd", skip_serializing_if = "String::is_empty")]
    pub property_unique_on: String,
}

/// A group of filters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BillableMetricFilterGroup {
    /// The filters.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub filters: Vec<BillableMetricFilter>,
}

/// One filter on a usage record property.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BillableMetricFilter {
    /// The property name.
    #[serde(deserialize_with = "nd")]
    pub name: String,
    /// The operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<BillableMetricFilterOperation>,
    /// The value (any JSON; its type follows `value_type`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// The value's type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_type: Option<BillableMetricFilterValueType>,
}

/// The body of [`MeteringClient::update_billable_metric`]: only the fields that are `Some` are
/// sent and changed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateBillableMetricParams {
    /// A new name, 4 to 50 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new description, at most 300 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A new status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<BillableMetricStatus>,
}

fn check_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if !(MIN_BILLABLE_METRIC_NAME_LEN..=MAX_BILLABLE_METRIC_NAME_LEN).contains(&n) {
        return Err(Error::invalid(
            "name",
            format!(
                "must be {MIN_BILLABLE_METRIC_NAME_LEN} to {MAX_BILLABLE_METRIC_NAME_LEN} characters, got {n}"
            ),
        ));
    }
    Ok(())
}

fn check_description(description: &str) -> Result<()> {
    let n = description.chars().count();
    if n > MAX_BILLABLE_METRIC_DESCRIPTION_LEN {
        return Err(Error::invalid(
            "description",
            format!("must be at most {MAX_BILLABLE_METRIC_DESCRIPTION_LEN} characters, got {n}"),
        ));
    }
    Ok(())
}

impl MeteringClient {
    /// Creates a billable metric.
    ///
    /// `POST /org/{orgId}/billableMetric`
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::{BillableMetric, BillableMetricAggregationType};
    /// let metric = client.create_billable_metric(&BillableMetric {
    ///     name: "API calls".into(),
    ///     aggregation_type: Some(BillableMetricAggregationType::Sum),
    ///     ..Default::default()
    /// })?;
    /// println!("created {}", metric.id);
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] (nothing sent) for a name outside 4..=50 characters, a
    /// description over 300 characters, an id over 36, or an `organization_id` other than the
    /// client's; [`Error::Api`] 400 from the server.
    pub fn create_billable_metric(&self, metric: &BillableMetric) -> Result<BillableMetric> {
        check_name(&metric.name)?;
        check_description(&metric.description)?;
        if !metric.organization_id.is_empty() && metric.organization_id != self.org_id() {
            return Err(Error::invalid(
                "organization_id",
                format!(
                    "the body names {:?} but the client is for {:?}",
                    metric.organization_id,
                    self.org_id()
                ),
            ));
        }
        if metric.id.chars().count() > MAX_BILLABLE_METRIC_ID_LEN {
            return Err(Error::invalid(
                "id",
                format!("is longer than {MAX_BILLABLE_METRIC_ID_LEN} characters"),
            ));
        }
        self.call(Request::post(&["billableMetric"]).json(metric)?)
    }

    /// Gets one billable metric.
    ///
    /// `GET /org/{orgId}/billableMetric/{billableMetricId}`
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// match client.get_billable_metric("bm-1") {
    ///     Ok(m) => println!("{}: {}", m.id, m.name),
    ///     Err(e) if e.is_not_found() => println!("no such metric"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an empty id; [`Error::Api`] 404 for an unknown metric.
    pub fn get_billable_metric(&self, billable_metric_id: &str) -> Result<BillableMetric> {
        check_id("billable_metric_id", billable_metric_id)?;
        self.call(Request::get(&["billableMetric", billable_metric_id]))
    }

    /// Lists the organization's billable metrics, optionally only those with `status`.
    ///
    /// `GET /org/{orgId}/billableMetric?status=`
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::BillableMetricStatus;
    /// let active = client.list_billable_metrics(Some(BillableMetricStatus::Active))?;
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Api`], transport and decode errors.
    pub fn list_billable_metrics(
        &self,
        status: Option<BillableMetricStatus>,
    ) -> Result<Vec<BillableMetric>> {
        let query = status
            .map(|s| ("status", s.as_str().to_owned()))
            .into_iter()
            .collect();
        self.fetch(&Request::get(&["billableMetric"]).query(query).list())?
            .decode_list(crate::bounded::MAX_METRICS)
    }

    /// Updates the name, description and/or status of a billable metric.
    ///
    /// `PATCH /org/{orgId}/billableMetric/{billableMetricId}`
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::UpdateBillableMetricParams;
    /// let m = client.update_billable_metric("bm-1", &UpdateBillableMetricParams {
    ///     description: Some("API calls, all regions".into()),
    ///     ..Default::default()
    /// })?;
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] (nothing sent) for an empty id, a name outside 4..=50
    /// characters or a description over 300; [`Error::Api`] 404 for an unknown metric.
    pub fn update_billable_metric(
        &self,
        billable_metric_id: &str,
        params: &UpdateBillableMetricParams,
    ) -> Result<BillableMetric> {
        check_id("billable_metric_id", billable_metric_id)?;
        if let Some(name) = &params.name {
            check_name(name)?;
        }
        if let Some(description) = &params.description {
            check_description(description)?;
        }
        self.call(Request::patch(&["billableMetric", billable_metric_id]).json(params)?)
    }
}
