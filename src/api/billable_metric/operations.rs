//! The billable metric operations: list, get, create and update, with the checks on names and
//! descriptions made before anything is sent.

use crate::api::ids::check_id;
use crate::http::client::MeteringClient;
use crate::http::error::{Error, Result};
use crate::http::transport::Request;

use super::models::*;
use super::query::ListBillableMetrics;

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

    /// Lists the organization's billable metrics, all of them or only those the query selects.
    ///
    /// `GET /org/{orgId}/billableMetric?status=`
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::{BillableMetricStatus, ListBillableMetrics};
    /// let all = client.list_billable_metrics(&ListBillableMetrics::new())?;
    /// let active =
    ///     client.list_billable_metrics(&ListBillableMetrics::new().status(BillableMetricStatus::Active))?;
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Api`], transport and decode errors.
    pub fn list_billable_metrics(
        &self,
        query: &ListBillableMetrics,
    ) -> Result<Vec<BillableMetric>> {
        self.fetch(
            &Request::get(&["billableMetric"])
                .query(query.query()?)
                .list(),
        )?
        .decode_list(crate::http::bounded::MAX_METRICS)
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
