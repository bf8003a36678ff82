//! The organization's usage metering configuration (dimension mapping per partner).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::client::MeteringClient;
use crate::common::Partner;
use crate::error::Result;
use crate::serde_util::{is_empty, null_as_default as nd, null_values_as_default, open_enum};
use crate::transport::Request;

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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UsageMeteringConfigInfo {
    /// One configuration per partner (AWS, AZURE, GCP, ...). Always sent, as `[]` when empty.
    #[serde(deserialize_with = "nd")]
    pub partner_usage_metering_configs: Vec<PartnerUsageMeteringConfig>,
}

/// Usage metering configuration for one partner.
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
    #[serde(
        deserialize_with = "null_values_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub dimension_mapping: BTreeMap<String, UsageMeteringDimensionMappingValue>,
    /// Source dimension key → destination dimensions.
    #[serde(
        rename = "dimensionMappingV2",
        deserialize_with = "null_values_as_default",
        skip_serializing_if = "is_empty"
    )]
    pub dimension_mapping_v2: BTreeMap<String, Vec<UsageMeteringDimensionMappingValue>>,
}

/// A destination of a dimension mapping.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UsageMeteringDimensionMappingValue {
    /// The destination dimension key.
    #[serde(deserialize_with = "nd")]
    pub dimension_key: String,
    /// The conversion multiplier (the field keeps the API's spelling, `convertionMultiplier`).
    #[serde(deserialize_with = "nd")]
    pub convertion_multiplier: f64,
    /// The conversion mode; the server defaults to `QUANTITY`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping_mode: Option<UsageMeteringDimensionMappingMode>,
}

impl MeteringClient {
    /// Gets the organization's usage metering configuration.
    ///
    /// `GET /org/{orgId}/usageMeteringConfigInfo`
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// let config = client.get_usage_metering_config_info()?;
    /// for p in &config.partner_usage_metering_configs {
    ///     println!("{:?}: mapping {}", p.partner, p.enable_dimension_mapping);
    /// }
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Api`](crate::Error::Api), transport and decode errors.
    pub fn get_usage_metering_config_info(&self) -> Result<UsageMeteringConfigInfo> {
        self.call(Request::get(&["usageMeteringConfigInfo"]))
    }

    /// Updates the organization's usage metering configuration.
    ///
    /// `PATCH /org/{orgId}/usageMeteringConfigInfo`
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// let mut config = client.get_usage_metering_config_info()?;
    /// for p in &mut config.partner_usage_metering_configs {
    ///     p.enable_dimension_mapping = true;
    /// }
    /// let updated = client.update_usage_metering_config_info(&config)?;
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Api`](crate::Error::Api), transport and decode errors.
    pub fn update_usage_metering_config_info(
        &self,
        config: &UsageMeteringConfigInfo,
    ) -> Result<UsageMeteringConfigInfo> {
        self.call(Request::patch(&["usageMeteringConfigInfo"]).json(config)?)
    }
}
