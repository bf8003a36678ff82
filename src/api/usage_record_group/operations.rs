//! The usage record group operations of [`MeteringClient`].

use std::num::NonZeroUsize;

use time::Date;

use super::models::*;
use super::query::ListUsageRecordGroups;
use crate::api::ids::check_id;
use crate::api::ids::new_report_id;
use crate::api::pages::paginate;
use crate::api::query::ymd;
use crate::api::rules::{check_batch, check_report, fill_or_match};
use crate::http::client::MeteringClient;
use crate::http::error::{Error, Result};
use crate::http::transport::Request;

/// Default batch size of [`MeteringClient::report_usage_record_groups_in_batches`].
///
/// Suger does not document a limit for `batchCreateUsageRecordGroups`; 1000 matches the API's
/// largest page (`limit` max 1000), keeps a request body around 250 KB for v1 groups, and
/// bounds what one lost answer can leave in doubt.
pub const DEFAULT_BATCH_SIZE: NonZeroUsize = NonZeroUsize::new(1000).unwrap();

/// What happened to one batch of [`MeteringClient::report_usage_record_groups_in_batches`].
///
/// `#[non_exhaustive]`: a later version may add fields, so read it by field access.
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchOutcome {
    /// The batch: indexes into the slice that was passed in.
    pub range: std::ops::Range<usize>,
    /// The created groups (recorded), or why the batch was not, or may not have been, recorded.
    pub result: Result<Vec<MeteringUsageRecordGroup>>,
}

/// `?creationDate=YYYY-MM-DD` when given.
fn creation_date_query(creation_date: Option<Date>) -> Result<Vec<(&'static str, String)>> {
    creation_date
        .map(|d| Ok(("creationDate", ymd("creation_date", d)?)))
        .into_iter()
        .collect()
}

impl MeteringClient {
    /// Reports one usage record group for an entitlement.
    ///
    /// `POST /org/{orgId}/entitlement/{entitlementId}/usageRecordGroup`
    ///
    /// Every report carries an id: `params.id`, or a random UUID the client generates when it
    /// is `None`. Suger deduplicates on it, so the client retries a report after a timeout, a
    /// dropped connection or a 5xx (see [`RetryPolicy`](crate::RetryPolicy)) without risk of
    /// billing twice. A 409 means a group with this id is recorded: the call returns
    /// [`Error::AlreadyReported`] (recorded once, not lost; `retried` tells whether an earlier
    /// attempt of this call or an earlier call recorded it), and
    /// [`Error::is_already_reported`] is the one test for "done". When no attempt got a definite
    /// answer, the call returns [`Error::ReportOutcomeUnknown`] with the id that was sent:
    /// report again with that id to settle it.
    ///
    /// Empty `entitlement_id`/`organization_id` in `params` are filled from the arguments.
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::CreateUsageRecordGroupParams;
    /// let group = client.report_usage_record_group(
    ///     "entitlement-1",
    ///     &CreateUsageRecordGroupParams {
    ///         id: Some("2026-11-26T14:00-ent1".into()),
    ///         records: [("api_calls".to_string(), 120.0)].into(),
    ///         ..Default::default()
    ///     },
    /// )?;
    /// println!("{} is {:?}", group.id, group.status);
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] (nothing sent) for an empty entitlement id, an id longer than
    /// 36 characters, both or neither of `records`/`billable_records`, all quantities zero, a
    /// negative, NaN or infinite quantity, an empty dimension name or billable metric key, a
    /// `timestamp` more than 5 minutes in the future, `meta_info` set, or a body naming another
    /// org or entitlement.
    /// [`Error::Api`] with 400, 409 or 5xx from the server; transport and decode errors.
    pub fn report_usage_record_group(
        &self,
        entitlement_id: &str,
        params: &CreateUsageRecordGroupParams,
    ) -> Result<MeteringUsageRecordGroup> {
        let mut body = params.clone();
        self.check_into(entitlement_id, &mut body)?;
        let id_generated = body.id.is_none();
        let id = body.id.get_or_insert_with(new_report_id).clone();
        let req = Request::post(&["entitlement", entitlement_id, "usageRecordGroup"])
            .json(&body)?
            .idempotent();
        let unknown = |e: Error, id: String| Error::report_outcome_unknown(id, id_generated, e);
        let fetched = self.fetch_tracked(&req);
        let retried = fetched.earlier_attempt_may_have_applied;
        match fetched.result {
            // Recorded, but the answer is unreadable: the caller still gets the id.
            Ok(answer) => answer.decode().map_err(|e| unknown(e, id)),
            // A 409 means a group with this id is recorded (ids are unique per organization):
            // by an earlier attempt of this call, or before it when the id is the caller's. A
            // generated id that the server already knows cannot be this usage: keep the 409.
            Err(Error::Api {
                status: 409,
                message,
                ..
            }) if retried || !id_generated => Err(Error::already_reported(id, message, retried)),
            Err(e) if e.outcome_unknown() => Err(unknown(e, id)),
            Err(e) => Err(e),
        }
    }

    /// Checks a usage report without sending anything: exactly the rules
    /// [`report_usage_record_group`](Self::report_usage_record_group) and
    /// [`Outbox::enqueue`](crate::Outbox::enqueue) apply before sending or storing (one set of
    /// rules for the whole crate), including that `params` names no other organization or
    /// entitlement. Use it to check a whole file before reporting any of it.
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::CreateUsageRecordGroupParams;
    /// let params = CreateUsageRecordGroupParams {
    ///     records: [("api_calls".to_string(), -1.0)].into(),
    ///     ..Default::default()
    /// };
    /// assert!(client.check_usage_record_group("entitlement-1", &params).is_err());
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for every case listed under
    /// [`report_usage_record_group`](Self::report_usage_record_group).
    pub fn check_usage_record_group(
        &self,
        entitlement_id: &str,
        params: &CreateUsageRecordGroupParams,
    ) -> Result<()> {
        self.check_into(entitlement_id, &mut params.clone())
    }

    /// [`check_report`] plus the org and entitlement of the body, filled in when empty.
    fn check_into(
        &self,
        entitlement_id: &str,
        body: &mut CreateUsageRecordGroupParams,
    ) -> Result<()> {
        check_report(entitlement_id, body)?;
        fill_or_match(&mut body.entitlement_id, "entitlement_id", entitlement_id)?;
        fill_or_match(&mut body.organization_id, "organization_id", self.org_id())
    }

    /// Reports a batch of usage record groups in one request.
    ///
    /// `POST /org/{orgId}/batchCreateUsageRecordGroups`
    ///
    /// Batch items carry no id, so the server cannot deduplicate them. The client resends a
    /// batch only when it provably never reached the server. When the batch was sent but no
    /// definite answer came back (timeout, dropped connection, 5xx), the call returns
    /// [`Error::BatchOutcomeUnknown`] carrying the batch: it may or may not have been recorded, and
    /// sending it again may bill twice.
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::NewUsageRecordGroup;
    /// let groups = client.batch_report_usage_record_groups(&[NewUsageRecordGroup {
    ///     entitlement_id: "entitlement-1".into(),
    ///     records: [("api_calls".to_string(), 120.0)].into(),
    ///     ..Default::default()
    /// }])?;
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] (nothing sent) for an empty batch, an item with an empty
    /// entitlement id, both or neither of `records`/`billable_records`, a NaN or infinite
    /// quantity or `meta_info` set, or when every quantity of the whole batch is zero.
    pub fn batch_report_usage_record_groups(
        &self,
        groups: &[NewUsageRecordGroup],
    ) -> Result<Vec<MeteringUsageRecordGroup>> {
        check_batch(groups)?;
        let req = Request::post(&["batchCreateUsageRecordGroups"])
            .json(groups)?
            .list();
        match self
            .fetch(&req)
            // One created group per group sent, never more.
            .and_then(|answer| answer.decode_list(groups.len()))
        {
            Ok(created) => Ok(created),
            Err(e) if e.outcome_unknown() => Err(Error::batch_outcome_unknown(groups.to_vec(), e)),
            Err(e) => Err(e),
        }
    }

    /// Validates a batch of usage record groups without recording anything.
    ///
    /// `POST /org/{orgId}/batchValidateUsageRecordGroups`
    ///
    /// Returns the server's verdict: an empty string when the batch is valid, otherwise the
    /// description the server gave (with HTTP 200 or 400).
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// # let groups: Vec<suger_metering::NewUsageRecordGroup> = vec![];
    /// let verdict = client.batch_validate_usage_record_groups(&groups)?;
    /// if verdict.is_empty() { println!("valid") } else { println!("invalid: {verdict}") }
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// The same [`Error::InvalidRequest`] rules as a batch report; [`Error::Api`] for statuses
    /// other than 200 and 400 (a 500 may be a failed validation or a server fault).
    pub fn batch_validate_usage_record_groups(
        &self,
        groups: &[NewUsageRecordGroup],
    ) -> Result<String> {
        check_batch(groups)?;
        let req = Request::post(&["batchValidateUsageRecordGroups"])
            .json(groups)?
            .idempotent();
        match self.fetch(&req) {
            Ok(answer) if answer.body.iter().all(u8::is_ascii_whitespace) => Ok(String::new()),
            Ok(answer) => answer.decode(),
            Err(Error::Api {
                status: 400,
                message,
                ..
            }) => Ok(message),
            Err(e) => Err(e),
        }
    }

    /// Lists usage record groups, one page.
    ///
    /// `GET /org/{orgId}/usageRecordGroup`
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::ListUsageRecordGroups;
    /// let page = client.list_usage_record_groups(
    ///     &ListUsageRecordGroups::new().entitlement_id("entitlement-1").limit(100),
    /// )?;
    /// for g in &page.usage_record_groups { println!("{} {:?}", g.id, g.status) }
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] (nothing sent) for more than one of partner/buyer/entitlement,
    /// an empty id filter, `limit` outside 1..=1000, or `start_date` after `end_date`.
    pub fn list_usage_record_groups(
        &self,
        query: &ListUsageRecordGroups,
    ) -> Result<ListUsageRecordGroupsResponse> {
        self.call(
            Request::get(&["usageRecordGroup"])
                .query(query.query()?)
                .list(),
        )
    }

    /// Iterates over every usage record group matching `query`, fetching pages lazily by
    /// `offset`/`nextOffset` (page size: `query.limit`, else the server's 1000).
    ///
    /// Holds at most one page in memory. Stops at an empty page or when `nextOffset` is missing
    /// or does not advance; an error is yielded once and ends the iteration.
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::ListUsageRecordGroups;
    /// let mut total = 0.0;
    /// for group in client.usage_record_groups(&ListUsageRecordGroups::new().entitlement_id("entitlement-1")) {
    ///     total += group?.records.values().sum::<f64>();
    /// }
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    pub fn usage_record_groups(
        &self,
        query: &ListUsageRecordGroups,
    ) -> impl Iterator<Item = Result<MeteringUsageRecordGroup>> + '_ {
        paginate(
            self,
            query.clone(),
            query.offset.unwrap_or(0),
            |client, q| {
                let page = client.list_usage_record_groups(q)?;
                Ok((page.usage_record_groups, page.next_offset))
            },
            |q, offset| q.offset = Some(offset),
        )
    }

    /// Reports any number of usage record groups in batches of `batch_size` (`None` means
    /// [`DEFAULT_BATCH_SIZE`]), one request per batch, and tells for each batch what happened.
    ///
    /// Every batch is attempted, whatever happened to the others. A batch whose result is
    /// `Ok` was recorded; one with [`Error::BatchOutcomeUnknown`] may or may not have been; any
    /// other error means it was not recorded (e.g. [`Error::InvalidRequest`] for a batch whose
    /// quantities are all zero, or a 400 from the server).
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// # let groups: Vec<suger_metering::NewUsageRecordGroup> = vec![];
    /// for outcome in client.report_usage_record_groups_in_batches(&groups, None) {
    ///     match outcome.result {
    ///         Ok(created) => println!("groups {:?}: {} recorded", outcome.range, created.len()),
    ///         Err(e) => eprintln!("groups {:?}: {e}", outcome.range),
    ///     }
    /// }
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    #[must_use = "each batch may have failed: check every outcome"]
    pub fn report_usage_record_groups_in_batches(
        &self,
        groups: &[NewUsageRecordGroup],
        batch_size: Option<NonZeroUsize>,
    ) -> Vec<BatchOutcome> {
        let size = batch_size.unwrap_or(DEFAULT_BATCH_SIZE).get();
        let mut start = 0;
        groups
            .chunks(size)
            .map(|chunk| {
                let range = start..start + chunk.len();
                start = range.end;
                BatchOutcome {
                    range,
                    result: self.batch_report_usage_record_groups(chunk),
                }
            })
            .collect()
    }

    /// Deletes a usage record group. Only groups with status `CREATED` or `INVALID` can be
    /// deleted. `creation_date` (UTC) helps the server find the group.
    ///
    /// `DELETE /org/{orgId}/usageRecordGroup/{usageRecordGroupId}?creationDate=YYYY-MM-DD`
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// let deleted = client.delete_usage_record_group("group-1", Some(time::macros::date!(2026 - 11 - 26)))?;
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an empty id; [`Error::Api`] 404 for an unknown group
    /// ([`Error::is_not_found`]), 400 when its status forbids deletion.
    pub fn delete_usage_record_group(
        &self,
        usage_record_group_id: &str,
        creation_date: Option<Date>,
    ) -> Result<MeteringUsageRecordGroup> {
        check_id("usage_record_group_id", usage_record_group_id)?;
        self.call(
            Request::delete(&["usageRecordGroup", usage_record_group_id])
                .query(creation_date_query(creation_date)?),
        )
    }

    /// Retries a usage record group whose report failed: `REPORT_FAILED` becomes `CREATED`, to be
    /// reported in the next hourly cycle.
    ///
    /// `POST /org/{orgId}/usageRecordGroup/{usageRecordGroupId}/retry?creationDate=YYYY-MM-DD`
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// let group = client.retry_usage_record_group("group-1", None)?;
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an empty id; [`Error::Api`] 404 for an unknown group,
    /// 400 when it is not `REPORT_FAILED`.
    pub fn retry_usage_record_group(
        &self,
        usage_record_group_id: &str,
        creation_date: Option<Date>,
    ) -> Result<MeteringUsageRecordGroup> {
        check_id("usage_record_group_id", usage_record_group_id)?;
        self.call(
            Request::post(&["usageRecordGroup", usage_record_group_id, "retry"])
                .query(creation_date_query(creation_date)?),
        )
    }
}
