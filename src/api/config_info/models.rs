//! The usage metering configuration models: per partner, the mapping of dimensions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::common::Partner;
use crate::http::error::Result;
use crate::http::serde_util::{
    go_f64, is_empty, null_as_default as nd, null_values_as_default, open_enum,
};

open_enum! {
    /// How a source dimension converts to a destination dimension.
    pub enum UsageMeteringDimensionMappingMode {
        /// The empty string: Go's zero value; the server treats it as `QUANTITY`.
        Unspecified = "",
        /// Convert the quantity.
        Quantity = "QUANTITY",
        /// Convert the amount.
        Amount = "AMOUNT",
    }
}

/// The organization's usage metering configuration.
///
/// # Read, change, send back
/// [`MeteringClient::get_usage_metering_config_info`] then
/// [`MeteringClient::update_usage_metering_config_info`] sends back what was read, so that the
/// server decodes exactly what it sent:
/// * fields this version of the crate does not model are kept in `extra` (on this type and on
///   every nested one) and sent back unchanged, at any depth;
/// * a field the server left out stays out where its absence can mean something other than zero
///   (`convertionMultiplier`, `mappingMode`, `partner` are `Option`s);
/// * numbers come back as the same JSON number, bit for bit (`1`, `0.001`, `1e-75`).
///
/// Two spellings that Go's `encoding/json` decodes to the same value may come back in one form
/// (a `null` read comes back as left out, or as the zero value it decodes to):
/// * a `null` or empty map (`dimensionMapping`, `dimensionMappingV2`) is left out;
/// * a `null` inside one of those maps is sent as its zero value (`[]`, `{"dimensionKey": ""}`);
/// * a `null` or missing `enable...` flag or `dimensionKey` is sent as `false` or `""` (Go's
///   zero value and the spec's default; the server sends these fields every time);
/// * `partnerUsageMeteringConfigs` is always sent, `[]` when empty or `null`, so that an emptied
///   list is an explicit "no configs".
///
/// # Building one
/// With `..Default::default()` (the way to build every request type of this crate: a field
/// added in a later version then takes its default and your code keeps compiling):
///
/// ```
/// use suger_metering::{Partner, PartnerUsageMeteringConfig, UsageMeteringConfigInfo};
/// let config = UsageMeteringConfigInfo {
///     partner_usage_metering_configs: vec![PartnerUsageMeteringConfig {
///         partner: Some(Partner::Aws),
///         enable_dimension_mapping: true,
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// ```
///
/// [`MeteringClient::get_usage_metering_config_info`]: crate::MeteringClient::get_usage_metering_config_info
/// [`MeteringClient::update_usage_metering_config_info`]: crate::MeteringClient::update_usage_metering_config_info
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UsageMeteringConfigInfo {
    /// One configuration per partner (AWS, AZURE, GCP, ...). Always sent, as `[]` when empty.
    #[serde(deserialize_with = "nd")]
    pub partner_usage_metering_configs: Vec<PartnerUsageMeteringConfig>,
    /// Fields of the server's answer that this version of the crate does not model, sent back
    /// unchanged. Don't put a modelled field's wire name here: it would be sent twice.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Usage metering configuration for one partner.
///
/// Build it with `..Default::default()`; see [`UsageMeteringConfigInfo`] for what a read and
/// sent back config keeps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PartnerUsageMeteringConfig {
    /// The partner this configuration is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<Partner>,
    /// Whether billable dimensions are enabled.
    #[serde(deserialize_with = "nd")]
    pub enable_billable_dimension: bool,
    /// Whether commit with additional usage is metered at list price.
    #[serde(deserialize_with = "nd")]
    pub enable_commit_with_additional_usage_at_list_price: bool,
    /// Whether commit with additional usage metering is enabled.
    #[serde(deserialize_with = "nd")]
    pub enable_commit_with_additional_usage_metering: bool,
    /// Whether dimension mapping is enabled.
    #[serde(deserialize_with = "nd")]
    pub enable_dimension_mapping: bool,
    /// Deprecated by the API in favour of `dimension_mapping_v2`: source key → destination.
    /// Left out when empty.
    #[serde(
        deserialize_with = "null_values_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub dimension_mapping: BTreeMap<String, UsageMeteringDimensionMappingValue>,
    /// Source dimension key → destination dimensions. Left out when empty.
    #[serde(
        rename = "dimensionMappingV2",
        deserialize_with = "null_values_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub dimension_mapping_v2: BTreeMap<String, Vec<UsageMeteringDimensionMappingValue>>,
    /// Fields this version of the crate does not model, sent back unchanged.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A destination of a dimension mapping.
///
/// Build it with `..Default::default()`; see [`UsageMeteringConfigInfo`] for what a read and
/// sent back config keeps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UsageMeteringDimensionMappingValue {
    /// The destination dimension key.
    #[serde(deserialize_with = "nd")]
    pub dimension_key: String,
    /// The conversion multiplier of `QUANTITY` mode (the field keeps the API's spelling,
    /// `convertionMultiplier`). `None` when the server left it out (the spec: not required in
    /// `AMOUNT` mode) or sent `null`, and then it is left out again: `Some(0.0)` is a different
    /// instruction, a multiplier of zero.
    #[serde(with = "go_f64::option", skip_serializing_if = "Option::is_none")]
    pub convertion_multiplier: Option<f64>,
    /// The conversion mode; the server defaults to `QUANTITY` when it is left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping_mode: Option<UsageMeteringDimensionMappingMode>,
    /// Fields this version of the crate does not model, sent back unchanged.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn round_trip(read: &Value) -> Value {
        let config: UsageMeteringConfigInfo = serde_json::from_value(read.clone()).unwrap();
        let sent = serde_json::to_string(&config).unwrap();
        serde_json::from_str(&sent).unwrap()
    }

    /// A config as Suger may send it next year: fields the crate does not model at every level,
    /// multipliers left out, numbers Go writes without a fraction or with an exponent.
    fn config_with_unknown_fields() -> Value {
        json!({
            "partnerUsageMeteringConfigs": [
                {
                    "partner": "AWS",
                    "enableBillableDimension": true,
                    "enableCommitWithAdditionalUsageAtListPrice": false,
                    "enableCommitWithAdditionalUsageMetering": true,
                    "enableDimensionMapping": true,
                    "dimensionMapping": {
                        "api_calls": { "dimensionKey": "requests", "mappingMode": "AMOUNT" }
                    },
                    "dimensionMappingV2": {
                        "api_calls": [
                            { "dimensionKey": "requests", "convertionMultiplier": 0.001 },
                            { "dimensionKey": "spend", "mappingMode": "AMOUNT", "currency": "USD" },
                            { "dimensionKey": "zero", "convertionMultiplier": 0, "mappingMode": "" },
                            { "dimensionKey": "tiny", "convertionMultiplier": 1e-75, "mappingMode": "QUANTITY" },
                            { "dimensionKey": "one", "convertionMultiplier": 1, "note": null }
                        ]
                    },
                    "enableRounding": true,
                    "rounding": { "mode": "HALF_UP", "digits": [2, null, 1.5] }
                },
                {
                    "partner": "TENCENT",
                    "enableBillableDimension": false,
                    "enableCommitWithAdditionalUsageAtListPrice": false,
                    "enableCommitWithAdditionalUsageMetering": false,
                    "enableDimensionMapping": false
                }
            ],
            "updatedBy": "someone@example.com",
            "version": 7
        })
    }

    #[test]
    fn a_config_with_unknown_fields_and_absent_multipliers_round_trips_unchanged() {
        let read = config_with_unknown_fields();
        assert_eq!(round_trip(&read), read);
    }

    #[test]
    fn absent_multipliers_are_none_and_unknown_fields_are_kept_where_they_were() {
        let config: UsageMeteringConfigInfo =
            serde_json::from_value(config_with_unknown_fields()).unwrap();
        assert_eq!(config.extra["version"], json!(7));
        let aws = &config.partner_usage_metering_configs[0];
        assert_eq!(aws.extra["enableRounding"], json!(true));
        assert_eq!(
            aws.dimension_mapping["api_calls"].convertion_multiplier,
            None
        );
        let v2 = &aws.dimension_mapping_v2["api_calls"];
        let multipliers: Vec<_> = v2.iter().map(|m| m.convertion_multiplier).collect();
        assert_eq!(
            multipliers,
            [Some(0.001), None, Some(0.0), Some(1e-75), Some(1.0)]
        );
        assert_eq!(v2[1].extra["currency"], json!("USD"));
        assert_eq!(v2[4].extra["note"], Value::Null);
        assert!(v2[0].extra.is_empty());
    }

    #[test]
    fn a_changed_field_is_the_only_change_sent_back() {
        let read = config_with_unknown_fields();
        let mut config: UsageMeteringConfigInfo = serde_json::from_value(read.clone()).unwrap();
        config.partner_usage_metering_configs[1].enable_dimension_mapping = true;
        let mut expected = read;
        expected["partnerUsageMeteringConfigs"][1]["enableDimensionMapping"] = json!(true);
        assert_eq!(serde_json::to_value(&config).unwrap(), expected);
    }

    #[test]
    fn go_nulls_decode_as_empty_and_come_back_as_their_zero_value_or_left_out() {
        let read = json!({
            "partnerUsageMeteringConfigs": [{
                "partner": null,
                "enableBillableDimension": null,
                "enableDimensionMapping": true,
                "dimensionMapping": null,
                "dimensionMappingV2": { "a": null, "b": [{ "dimensionKey": null, "convertionMultiplier": null, "mappingMode": null }] },
                "extraNull": null
            }]
        });
        let config: UsageMeteringConfigInfo = serde_json::from_value(read).unwrap();
        assert_eq!(
            serde_json::to_value(&config).unwrap(),
            json!({
                "partnerUsageMeteringConfigs": [{
                    "enableBillableDimension": false,
                    "enableCommitWithAdditionalUsageAtListPrice": false,
                    "enableCommitWithAdditionalUsageMetering": false,
                    "enableDimensionMapping": true,
                    "dimensionMappingV2": { "a": [], "b": [{ "dimensionKey": "" }] },
                    "extraNull": null
                }]
            })
        );
        let empty: UsageMeteringConfigInfo =
            serde_json::from_str(r#"{"partnerUsageMeteringConfigs":null}"#).unwrap();
        assert_eq!(
            serde_json::to_value(&empty).unwrap(),
            json!({ "partnerUsageMeteringConfigs": [] })
        );
    }
}
