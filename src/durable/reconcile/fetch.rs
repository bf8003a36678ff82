//! What Suger lists: groups and reports per entitlement over a creation-date range, page by
//! page (following `nextOffset`; pages may be smaller than asked), counting the calls.

use std::collections::HashMap;

use time::Date;

use crate::api::usage_record_group::{
    ListUsageRecordGroups, MeteringUsageRecordGroup, UsageRecordGroupStatus,
};
use crate::api::usage_record_report::{ListUsageRecordReports, MeteringUsageRecordReport};
use crate::http::client::MeteringClient;
use crate::http::error::Result;

/// A hard cap on the pages of one listing: a server that keeps answering `nextOffset` cannot
/// hold a reconciliation forever (1000 pages of 1000 is a million groups).
const MAX_PAGES: usize = 1000;

/// Lists through Suger, counting the requests.
pub(crate) struct Fetcher<'c> {
    pub(crate) client: &'c MeteringClient,
    pub(crate) page_size: u32,
    pub(crate) calls: usize,
}

impl Fetcher<'_> {
    /// Every group of `entitlement` (any entitlement when `None`) created in `start..=end`,
    /// only those with `status` when given.
    pub(crate) fn groups(
        &mut self,
        entitlement: Option<&str>,
        (start, end): (Date, Date),
        status: Option<UsageRecordGroupStatus>,
    ) -> Result<Vec<MeteringUsageRecordGroup>> {
        let mut q = ListUsageRecordGroups::new()
            .start_date(start)
            .end_date(end)
            .limit(self.page_size);
        q.entitlement_id = entitlement.map(str::to_owned);
        q.status = status;
        let mut out = Vec::new();
        let mut offset = 0;
        for _ in 0..MAX_PAGES {
            if offset > 0 {
                q.offset = Some(offset);
            }
            self.calls += 1;
            let page = self.client.list_usage_record_groups(&q)?;
            let n = page.usage_record_groups.len();
            out.extend(page.usage_record_groups);
            match page.next_offset {
                Some(next) if n > 0 && next > offset => offset = next,
                _ => break,
            }
        }
        Ok(out)
    }

    /// Every report of `entitlement` (any when `None`) created in `start..=end`, by id.
    pub(crate) fn reports(
        &mut self,
        entitlement: Option<&str>,
        (start, end): (Date, Date),
    ) -> Result<HashMap<String, MeteringUsageRecordReport>> {
        let mut q = ListUsageRecordReports::new()
            .start_date(start)
            .end_date(end)
            .limit(self.page_size);
        q.entitlement_id = entitlement.map(str::to_owned);
        let mut out = HashMap::new();
        let mut offset = 0;
        for _ in 0..MAX_PAGES {
            if offset > 0 {
                q.offset = Some(offset);
            }
            self.calls += 1;
            let page = self.client.list_usage_record_reports(&q)?;
            let n = page.usage_record_reports.len();
            out.extend(
                page.usage_record_reports
                    .into_iter()
                    .map(|r| (r.id.clone(), r)),
            );
            match page.next_offset {
                Some(next) if n > 0 && next > offset => offset = next,
                _ => break,
            }
        }
        Ok(out)
    }
}
