//! The billable metric models: the metric, its aggregation and filters, the update body, and
//! the limits the API sets on names and descriptions.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::http::error::Result;
use crate::http::serde_util::{is_empty, null_as_default as nd, open_enum, rfc3339_opt};

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

/// A billable metric: what the server answers, and the body of
/// [`MeteringClient::create_billable_metric`].
///
/// As a request body only `name` is required; read-only fields (`id` if the server assigns it,
/// times, `organization_id`) may stay empty. Build it with `..Default::default()` (the way to
/// build every request type of this crate: a field added in a later version then takes its
/// default and your code keeps compiling):
///
/// ```
/// use suger_metering::{BillableMetric, BillableMetricAggregationType};
/// let metric = BillableMetric {
///     name: "API calls".into(),
///     aggregation_type: Some(BillableMetricAggregationType::Sum),
///     ..Default::default()
/// };
/// ```
///
/// # Read and sent back
/// A metric read from Suger and sent back (say, copied to another organization) keeps what it
/// was read with: fields this version of the crate does not model are kept in `extra` (on this
/// type and on every nested one), `aggregationType`, `status`, `info`, a filter's `operation`,
/// `value` and `valueType` stay left out when they were. Two spellings that Go's `encoding/json`
/// decodes to the same value may come back in one form: an empty or `null` string (`id`,
/// `description`, `organizationId`, `propertyUniqueOn`), list or filter `value` is left out, an
/// unset time (Go's zero time or `null`) is left out, times are sent in UTC, and a `null`
/// `name` is sent as `""`.
///
/// [`MeteringClient::create_billable_metric`]: crate::MeteringClient::create_billable_metric
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
    /// When the metric was created (UTC).
    #[serde(with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<OffsetDateTime>,
    /// When the metric last changed (UTC).
    #[serde(with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<OffsetDateTime>,
    /// Fields of the server's answer that this version of the crate does not model, sent back
    /// unchanged. Don't put a modelled field's wire name here: it would be sent twice.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Filters and group-bys of a billable metric. Build it with `..Default::default()`; see
/// [`BillableMetric`] for what a read and sent back metric keeps.
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
    /// Fields this version of the crate does not model, sent back unchanged.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A group of filters. Build it with `..Default::default()`; see [`BillableMetric`] for what a
/// read and sent back metric keeps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BillableMetricFilterGroup {
    /// The filters.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub filters: Vec<BillableMetricFilter>,
    /// Fields this version of the crate does not model, sent back unchanged.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// One filter on a usage record property. Build it with `..Default::default()`; see
/// [`BillableMetric`] for what a read and sent back metric keeps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BillableMetricFilter {
    /// The property name.
    #[serde(deserialize_with = "nd")]
    pub name: String,
    /// The operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<BillableMetricFilterOperation>,
    /// The value (any JSON; its type follows `value_type`), kept as it was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// The value's type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_type: Option<BillableMetricFilterValueType>,
    /// Fields this version of the crate does not model, sent back unchanged.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The body of [`MeteringClient::update_billable_metric`]: only the fields that are `Some` are
/// sent and changed.
///
/// Build it with `..Default::default()` (the way to build every request type of this crate: a
/// field added in a later version then takes its default, `None`, and your code keeps
/// compiling):
///
/// ```
/// use suger_metering::UpdateBillableMetricParams;
/// let params = UpdateBillableMetricParams {
///     description: Some("API calls, all regions".into()),
///     ..Default::default()
/// };
/// ```
///
/// [`MeteringClient::update_billable_metric`]: crate::MeteringClient::update_billable_metric
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A metric as Suger may send it next year: fields the crate does not model at every level,
    /// optional fields left out, filter values of several JSON types.
    fn metric_with_unknown_fields() -> Value {
        json!({
            "id": "bm-1",
            "name": "LLM tokens",
            "description": "Tokens processed, by model",
            "organizationId": "org-1",
            "aggregationType": "SUM",
            "status": "ARCHIVED",
            "info": {
                "filterGroups": [
                    {
                        "filters": [
                            { "name": "model", "operation": "IS", "value": "large", "valueType": "STRING" },
                            { "name": "weight", "operation": "GTE", "value": 2.5, "valueType": "FLOAT", "unit": "kg" },
                            { "name": "tiny", "operation": "LT", "value": 1e-75 },
                            { "name": "region", "operation": "EXISTS" },
                            { "name": "tags", "operation": "IN", "value": ["a", 1, null, {"b": 2}] }
                        ],
                        "combinator": "OR"
                    }
                ],
                "groupBys": ["region", "model"],
                "propertyUniqueOn": "user",
                "window": { "size": 1, "unit": "HOUR" }
            },
            "creationTime": "2026-01-15T08:30:00.123456789Z",
            "lastUpdateTime": "2026-01-16T00:00:00Z",
            "createdBy": "user-1",
            "archived": null
        })
    }

    #[test]
    fn a_metric_with_unknown_fields_round_trips_unchanged() {
        let read = metric_with_unknown_fields();
        let metric: BillableMetric = serde_json::from_value(read.clone()).unwrap();
        let sent: Value = serde_json::from_str(&serde_json::to_string(&metric).unwrap()).unwrap();
        assert_eq!(sent, read);
    }

    #[test]
    fn unknown_fields_are_kept_where_they_were() {
        let metric: BillableMetric = serde_json::from_value(metric_with_unknown_fields()).unwrap();
        assert_eq!(metric.extra["createdBy"], json!("user-1"));
        assert_eq!(metric.extra["archived"], Value::Null);
        assert_eq!(
            metric.status,
            Some(BillableMetricStatus::Other("ARCHIVED".into()))
        );
        let info = metric.info.as_ref().unwrap();
        assert_eq!(info.extra["window"], json!({ "size": 1, "unit": "HOUR" }));
        let group = &info.filter_groups[0];
        assert_eq!(group.extra["combinator"], json!("OR"));
        assert_eq!(group.filters[1].extra["unit"], json!("kg"));
        assert_eq!(
            (
                group.filters[3].value.as_ref(),
                group.filters[3].value_type.as_ref()
            ),
            (None, None)
        );
        assert!(group.filters[0].extra.is_empty());
    }

    #[test]
    fn go_zero_values_decode_as_empty_and_are_left_out() {
        let read = json!({
            "id": "bm-1",
            "name": null,
            "description": "",
            "organizationId": null,
            "aggregationType": null,
            "info": { "filterGroups": [{ "filters": null }], "groupBys": null, "propertyUniqueOn": "" },
            "creationTime": "2026-01-15T10:30:00+02:00",
            "lastUpdateTime": "0001-01-01T00:00:00Z"
        });
        let metric: BillableMetric = serde_json::from_value(read).unwrap();
        assert_eq!(
            serde_json::to_value(&metric).unwrap(),
            json!({
                "id": "bm-1",
                "name": "",
                "info": { "filterGroups": [{}] },
                "creationTime": "2026-01-15T08:30:00Z"
            })
        );
    }
}
