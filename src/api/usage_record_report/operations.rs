//! The usage record report operations: list a page, or iterate over every page.

use crate::api::pages::paginate;
use crate::http::client::MeteringClient;
use crate::http::error::Result;
use crate::http::transport::Request;

use super::models::*;
use super::query::*;

impl MeteringClient {
    /// Iterates over every usage record report matching `query`, fetching pages lazily by
    /// `offset`/`nextOffset`; see [`MeteringClient::usage_record_groups`] for when it stops.
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::ListUsageRecordReports;
    /// for report in client.usage_record_reports(&ListUsageRecordReports::new()) {
    ///     println!("{}", report?.id);
    /// }
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    pub fn usage_record_reports(
        &self,
        query: &ListUsageRecordReports,
    ) -> impl Iterator<Item = Result<MeteringUsageRecordReport>> + '_ {
        paginate(
            self,
            query.clone(),
            query.offset.unwrap_or(0),
            |client, q| {
                let page = client.list_usage_record_reports(q)?;
                Ok((page.usage_record_reports, page.next_offset))
            },
            |q, offset| q.offset = Some(offset),
        )
    }

    /// Lists usage record reports, one page.
    ///
    /// `GET /org/{orgId}/usageRecordReport`
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::ListUsageRecordReports;
    /// let page = client.list_usage_record_reports(&ListUsageRecordReports::new().limit(50))?;
    /// for r in &page.usage_record_reports {
    ///     println!("{} {:?}", r.id, r.info.as_ref().and_then(|i| i.status.clone()));
    /// }
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`](crate::Error::InvalidRequest) (nothing sent) for an empty id filter, `limit` outside
    /// 1..=1000, or `start_date` after `end_date`.
    pub fn list_usage_record_reports(
        &self,
        query: &ListUsageRecordReports,
    ) -> Result<ListUsageRecordReportsResponse> {
        self.call(
            Request::get(&["usageRecordReport"])
                .query(query.query()?)
                .list(),
        )
    }
}
