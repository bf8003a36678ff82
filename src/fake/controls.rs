//! [`FakeSuger`]'s controls for tests: which marketplace an entitlement belongs to, how its
//! next report ends, lost and altered groups, small pages, and reset. Each has an admin route
//! (see the [module docs](super)).

use super::FakeSuger;
use super::shared::lock;

impl FakeSuger {
    /// Makes `entitlement` belong to `partner`: `"AWS"` (the default), `"AZURE"` or `"GCP"`
    /// (any case). Its groups (stored and to come) and reports carry that partner, and its
    /// reports hold that marketplace's request and answer (`info.azureMeteringResponse`, ...).
    /// A seed does the same with `"entitlements": [{"id": "ent-1", "partner": "AZURE"}]`.
    ///
    /// ```
    /// use suger_metering::fake::FakeSuger;
    /// let fake = FakeSuger::start()?;
    /// fake.set_entitlement_partner("ent-1", "AZURE");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// For another partner (a bug in the calling test).
    pub fn set_entitlement_partner(&self, entitlement: &str, partner: &str) {
        if let Err(m) = lock(&self.shared.state).set_partner(entitlement, partner) {
            panic!("FakeSuger::set_entitlement_partner: {m}");
        }
    }

    /// Makes the next report of `entitlement` fail: its groups in that report end
    /// `REPORT_FAILED`, the report's `info.status` is `FAILED` and `info.message` is
    /// `message`; the marketplace's answer is `null` (it refused the call as a whole). Used
    /// once, by the next report cycle that reports something for `entitlement`.
    ///
    /// ```
    /// use suger_metering::fake::FakeSuger;
    /// let fake = FakeSuger::start()?;
    /// fake.fail_next_report_for_entitlement("ent-1", "the buyer's subscription ended");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fail_next_report_for_entitlement(&self, entitlement: &str, message: &str) {
        lock(&self.shared.state).fail_entitlement(entitlement, message, None);
    }

    /// Like [`fail_next_report_for_entitlement`](Self::fail_next_report_for_entitlement),
    /// but the marketplace answers each record with its own `marketplace_status`, in its own
    /// shape:
    ///
    /// * AWS: a per-record `Status` such as `"CustomerNotSubscribed"` or `"DuplicateRecord"`;
    ///   `"UnprocessedRecords"` leaves every record in `UnprocessedRecords`; a name ending in
    ///   `Exception` (`"TimestampOutOfBoundsException"`, `"InvalidUsageDimensionException"`,
    ///   `"ThrottlingException"`) fails the whole call: no answer, and `info.message` reads as
    ///   the AWS SDK's error with that name.
    /// * Azure: each event's `status` (`"Expired"`, `"ResourceNotFound"`, `"InvalidDimension"`,
    ///   ...) with `error.code` = the status and `error.message` = `message`; `"Duplicate"`
    ///   answers as Azure's 409 does, with the earlier event in
    ///   `error.additionalInfo.acceptedMessage`.
    /// * GCP: a `reportErrors` item per operation, `status.code` the `google.rpc.Code` of
    ///   `marketplace_status` (`"INVALID_ARGUMENT"`, `"FAILED_PRECONDITION"`, `"14"`, ...).
    ///
    /// ```
    /// use suger_metering::fake::FakeSuger;
    /// let fake = FakeSuger::start()?;
    /// fake.fail_next_report_for_entitlement_with_status(
    ///     "ent-1",
    ///     "CustomerNotSubscribed",
    ///     "the buyer unsubscribed",
    /// );
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fail_next_report_for_entitlement_with_status(
        &self,
        entitlement: &str,
        marketplace_status: &str,
        message: &str,
    ) {
        lock(&self.shared.state).fail_entitlement(entitlement, message, Some(marketplace_status));
    }

    /// Loses group `id`: it disappears from every list and from
    /// [`usage_record_groups`](Self::usage_record_groups), as if Suger had never recorded it
    /// (reporting the same id again then succeeds).
    ///
    /// ```
    /// use suger_metering::fake::FakeSuger;
    /// # use suger_metering::CreateUsageRecordGroupParams;
    /// let fake = FakeSuger::start()?;
    /// # let params = CreateUsageRecordGroupParams {
    /// #     id: Some("g1".into()),
    /// #     records: [("api_calls".to_string(), 3.0)].into(),
    /// #     ..Default::default()
    /// # };
    /// # fake.client().report_usage_record_group("ent-1", &params).unwrap();
    /// fake.lose_group("g1");
    /// assert!(fake.usage_record_groups().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If there is no group with that id (a bug in the calling test).
    pub fn lose_group(&self, id: &str) {
        let found = lock(&self.shared.state).lose_group(id);
        assert!(found, "FakeSuger::lose_group: no usage record group {id:?}");
    }

    /// Alters group `id`'s quantities, as if Suger had recorded other ones than were sent. A
    /// v1 group's `records` become `records`, and so does its `metaInfo.originRecords` (the
    /// fake keeps no separate copy of what was sent: a reconciliation comparing with either
    /// sees the change). A v2 group's billable records whose key is in `records` take that
    /// quantity; the others stay.
    ///
    /// ```
    /// use suger_metering::fake::FakeSuger;
    /// # use suger_metering::CreateUsageRecordGroupParams;
    /// let fake = FakeSuger::start()?;
    /// # let params = CreateUsageRecordGroupParams {
    /// #     id: Some("g1".into()),
    /// #     records: [("api_calls".to_string(), 3.0)].into(),
    /// #     ..Default::default()
    /// # };
    /// # fake.client().report_usage_record_group("ent-1", &params).unwrap();
    /// fake.alter_group_records("g1", [("api_calls", 2.0)]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If there is no group with that id (a bug in the calling test).
    pub fn alter_group_records<K: Into<String>>(
        &self,
        id: &str,
        records: impl IntoIterator<Item = (K, f64)>,
    ) {
        let records: Vec<(String, f64)> = records.into_iter().map(|(k, q)| (k.into(), q)).collect();
        let found = lock(&self.shared.state).alter_group_records(id, &records);
        assert!(
            found,
            "FakeSuger::alter_group_records: no usage record group {id:?}"
        );
    }

    /// Makes the list routes (usage record groups and reports) return at most `n` items per
    /// page, whatever `limit` asks, with a correct `nextOffset`: Suger may answer pages
    /// smaller than asked. `0` removes the cap.
    ///
    /// ```
    /// use suger_metering::fake::FakeSuger;
    /// let fake = FakeSuger::start()?;
    /// fake.max_page_size(5);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_page_size(&self, n: usize) {
        lock(&self.shared.state).max_page_size = (n > 0).then_some(n);
    }

    /// The first half of a report cycle: every `CREATED` group becomes `REPORT_PENDING`
    /// (taken by Suger, not forwarded yet). Returns their ids.
    /// [`run_report_cycle`](Self::run_report_cycle) then reports them.
    ///
    /// ```
    /// use suger_metering::fake::FakeSuger;
    /// let fake = FakeSuger::start()?;
    /// assert!(fake.start_report_cycle().is_empty());
    /// assert!(fake.run_report_cycle().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start_report_cycle(&self) -> Vec<String> {
        lock(&self.shared.state).start_report_cycle()
    }

    /// Drops every outcome a test decided: queued [`Fault`](super::Fault)s, report failures
    /// (by group and by entitlement) and the page size cap. Stored data stays.
    ///
    /// ```
    /// use suger_metering::fake::{FakeSuger, Fault};
    /// let fake = FakeSuger::start()?;
    /// fake.inject(Fault::status(503).times(3));
    /// fake.clear_faults();
    /// assert!(fake.client().list_billable_metrics(None).is_ok());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// Back to how the fake started, for a fake shared between tests: no faults or decided
    /// outcomes, no recorded requests, the state empty and then the
    /// [seed](super::FakeSugerBuilder::seed) loaded again (groups without an id get new ones).
    ///
    /// ```
    /// use suger_metering::fake::FakeSuger;
    /// let fake = FakeSuger::start()?;
    /// fake.reset();
    /// assert!(fake.usage_record_groups().is_empty() && fake.requests().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset(&self) {
        self.shared.reset();
    }
}
