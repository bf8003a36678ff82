//! The usage metering configuration operations: get and update.

use crate::http::client::MeteringClient;
use crate::http::error::Result;
use crate::http::transport::Request;

use super::models::*;

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
