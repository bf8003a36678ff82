//! Decoding what a Go server really sends (`null` lists and maps, zero times, 9-digit fractions,
//! any offset, unknown fields and enum values, integers for floats), and what happens when a 2xx
//! body is not what the API promises.

use crate::support::*;
use serde::de::DeserializeOwned;
use suger_metering::*;
use time::UtcOffset;
use time::macros::datetime;

fn decode<T: DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Fixtures decode exactly
// ---------------------------------------------------------------------------------------------

#[test]
fn v1_group_decodes_exactly() {
    let g: MeteringUsageRecordGroup = decode("report_usage_record_group.json");
    assert_eq!(g, expected::report_usage_record_group());

    // Integers where floats are declared, very small and very large numbers.
    assert_eq!(g.records["api_calls"], 1200.0);
    assert_eq!(g.records["tiny"], 1e-7);
    assert_eq!(g.records["huge"], 1.5e300);
    // A serial beyond 32 bits.
    assert_eq!(g.serial_id, 4_815_162_342);
    // 9 fractional digits are kept exactly; a time sent with another offset (+02:00) is the
    // same instant in UTC.
    let created = g.creation_time.unwrap();
    assert_eq!(created.nanosecond(), 1);
    assert_eq!(created.offset(), UtcOffset::UTC);
    assert_eq!(created, datetime!(2026-03-01 10:00:01.000000001 UTC));
    let meta = g.meta_info.as_ref().unwrap();
    assert_eq!(meta.timestamp.unwrap().nanosecond(), 123_456_789);
    // Go's zero time is "unset".
    assert_eq!(g.reported_time, None);
    assert_eq!(meta.lago_usage_start_time, None);
    assert_eq!(meta.stripe_period_start_time, None);
    assert_eq!(meta.stripe_period_end_time, None);
    // `null` list is empty.
    assert!(meta.billable_records.is_empty());
}

#[test]
fn v2_group_decodes_exactly() {
    let g: MeteringUsageRecordGroup = decode("usage_record_group_v2.json");
    assert_eq!(g, expected::usage_record_group_v2());

    // v2: `records: null` is an empty map, usage lives in metaInfo.billableRecords.
    assert!(g.records.is_empty());
    let meta = g.meta_info.as_ref().unwrap();
    assert_eq!(meta.billable_records.len(), 3);
    assert_eq!(meta.billable_records[0].quantity, 3.0);
    assert_eq!(
        meta.billable_records[0].properties["tags"],
        serde_json::json!(["a", "b"])
    );
    assert!(meta.billable_records[1].properties.is_empty()); // "properties": null
    assert!(meta.billable_records[2].properties.is_empty()); // no "properties"
    assert!(meta.origin_records.is_empty()); // null
    assert!(meta.skip_validation);
    // Times sent with offsets (-08:00, +05:30, -07:00) decode to UTC, nanoseconds kept.
    let ts = meta.timestamp.unwrap();
    assert_eq!(ts.offset(), UtcOffset::UTC);
    assert_eq!(ts, datetime!(2026-03-01 07:59:59.999999999 UTC));
    assert_eq!(ts.nanosecond(), 999_999_999);
    assert_eq!(
        g.last_update_time.unwrap(),
        datetime!(2026-03-01 09:00:00.5 UTC)
    );
    assert_eq!(g.last_update_time.unwrap().offset(), UtcOffset::UTC);
    assert_eq!(g.last_update_time.unwrap().nanosecond(), 500_000_000);
    let reported = g.reported_time.unwrap();
    assert_eq!(reported.offset(), UtcOffset::UTC);
    assert_eq!(reported, datetime!(2026-03-01 10:00:00.000001 UTC));
}

#[test]
fn group_page_with_unknown_status_partner_and_fields_decodes_exactly() {
    let page: ListUsageRecordGroupsResponse = decode("list_usage_record_groups.json");
    assert_eq!(page, expected::list_usage_record_groups());
    let groups = &page.usage_record_groups;
    assert_eq!(
        groups[0].status,
        Some(UsageRecordGroupStatus::Other("ARCHIVED".into()))
    );
    assert_eq!(groups[0].status.as_ref().unwrap().as_str(), "ARCHIVED");
    assert_eq!(
        groups[0].meta_info.as_ref().unwrap().source,
        Some(UsageRecordGroupSource::Unspecified)
    );
    assert_eq!(groups[2].partner, Some(Partner::Other("TENCENT".into())));
    assert_eq!(
        groups[2].status,
        Some(UsageRecordGroupStatus::Other(String::new()))
    );
    assert_eq!(groups[2].meta_info, None);
    assert_eq!(groups[2].creation_time, None); // null
    assert_eq!(page.next_offset, Some(3));
}

#[test]
fn null_page_is_empty() {
    let page: ListUsageRecordGroupsResponse = decode("list_usage_record_groups_null.json");
    assert_eq!(page.usage_record_groups, vec![]);
    assert_eq!(page.next_offset, None);
    let page: ListUsageRecordGroupsResponse = serde_json::from_str("{}").unwrap();
    assert_eq!(page, ListUsageRecordGroupsResponse::default());
}

#[test]
fn batch_delete_and_retry_answers_decode_exactly() {
    let batch: Vec<MeteringUsageRecordGroup> = decode("batch_report_usage_record_groups.json");
    assert_eq!(batch, expected::batch_report_usage_record_groups());
    let deleted: MeteringUsageRecordGroup = decode("delete_usage_record_group.json");
    assert_eq!(deleted, expected::delete_usage_record_group());
    assert_eq!(deleted.status, Some(UsageRecordGroupStatus::Deleted));
    let retried: MeteringUsageRecordGroup = decode("retry_usage_record_group.json");
    assert_eq!(retried, expected::retry_usage_record_group());
}

#[test]
fn usage_record_reports_with_raw_marketplace_payloads_decode_exactly() {
    let page: ListUsageRecordReportsResponse = decode("list_usage_record_reports.json");
    assert_eq!(page, expected::list_usage_record_reports());

    let reports = &page.usage_record_reports;
    let aws = reports[0].info.as_ref().unwrap();
    assert_eq!(aws.status, Some(UsageRecordReportStatus::Success));
    // The raw AWS request and response are kept verbatim, integers staying integers.
    let req = aws.aws_metering_request.as_ref().unwrap();
    assert_eq!(req["ProductCode"], "abc123prodcode");
    assert_eq!(req["UsageRecords"][0]["Quantity"], serde_json::json!(200));
    let resp = aws.aws_metering_response.as_ref().unwrap();
    assert_eq!(resp["Results"][0]["Status"], "Success");
    assert_eq!(aws.azure_metering_request, None); // null
    assert!(aws.credit_records.is_empty()); // null
    assert_eq!(aws.commit_amount, 1000.0); // integer for a float

    let azure = reports[1].info.as_ref().unwrap();
    assert_eq!(
        azure.status,
        Some(UsageRecordReportStatus::Other("PARTIALLY_INVOICED".into()))
    );
    assert_eq!(
        azure.aggregated_billable_records[1].billable_metric_aggregation_type,
        Some(BillableMetricAggregationType::Other("P99".into()))
    );
    assert_eq!(
        azure.azure_metering_response.as_ref().unwrap()["result"][0]["status"],
        "Accepted"
    );
    assert_eq!(azure.start_time.unwrap().offset(), UtcOffset::UTC);
    assert_eq!(
        azure.start_time.unwrap(),
        datetime!(2026-03-01 10:00:00 UTC)
    );
    assert_eq!(reports[1].creation_time.unwrap().offset(), UtcOffset::UTC);

    // A report with `info: null`, an empty partner and a zero creation time.
    assert_eq!(reports[2].info, None);
    assert_eq!(reports[2].partner, Some(Partner::Unspecified));
    assert_eq!(reports[2].creation_time, None);
    assert_eq!(page.next_offset, None);
}

#[test]
fn billable_metric_decodes_exactly() {
    let m: BillableMetric = decode("billable_metric.json");
    assert_eq!(m, expected::billable_metric());
    assert_eq!(m.last_update_time, None); // zero time
    let info = m.info.as_ref().unwrap();
    assert!(info.filter_groups[1].filters.is_empty()); // "filters": null
    assert_eq!(
        info.filter_groups[0].filters[1].value,
        Some(serde_json::json!(2.5))
    );
}

#[test]
fn billable_metric_list_with_unknown_enum_values_decodes_exactly() {
    let list: Vec<BillableMetric> = decode("list_billable_metrics.json");
    assert_eq!(list, expected::list_billable_metrics());
    assert_eq!(
        list[1].aggregation_type,
        Some(BillableMetricAggregationType::Other("PERCENTILE_95".into()))
    );
    assert_eq!(
        list[1].status,
        Some(BillableMetricStatus::Other("ARCHIVED".into()))
    );
    let filter = &list[1].info.as_ref().unwrap().filter_groups[0].filters[0];
    assert_eq!(
        filter.operation,
        Some(BillableMetricFilterOperation::Other("MATCHES_REGEX".into()))
    );
    assert_eq!(
        filter.value_type,
        Some(BillableMetricFilterValueType::Other("BOOLEAN".into()))
    );
    assert_eq!(list[0].last_update_time.unwrap().offset(), UtcOffset::UTC);
    assert_eq!(list[0].last_update_time.unwrap().nanosecond(), 1);
    assert_eq!(list[2].info, None);
}

#[test]
fn usage_metering_config_decodes_exactly() {
    let c: UsageMeteringConfigInfo = decode("usage_metering_config_info.json");
    assert_eq!(c, expected::usage_metering_config_info());
    let configs = &c.partner_usage_metering_configs;
    assert!(configs[1].dimension_mapping.is_empty()); // null
    assert!(configs[1].dimension_mapping_v2.is_empty()); // null
    assert_eq!(
        configs[0].dimension_mapping_v2["api_calls"][0].mapping_mode,
        Some(UsageMeteringDimensionMappingMode::Unspecified)
    );
    assert_eq!(configs[2].partner, Some(Partner::Other("TENCENT".into())));
    assert_eq!(
        configs[2].dimension_mapping_v2["gpu_hours"][0].mapping_mode,
        Some(UsageMeteringDimensionMappingMode::Other("PERCENT".into()))
    );
}

#[test]
fn usage_metering_config_with_a_null_mapping_list_decodes() {
    // Go's encoding/json writes a nil slice stored in a map as `null`.
    let c: UsageMeteringConfigInfo = serde_json::from_str(
        r#"{"partnerUsageMeteringConfigs":[{"partner":"AWS","dimensionMappingV2":{"api_calls":null}}]}"#,
    )
    .unwrap();
    assert_eq!(
        c.partner_usage_metering_configs[0].dimension_mapping_v2["api_calls"],
        vec![]
    );
}

#[test]
fn unknown_enum_values_round_trip_verbatim() {
    // What the client decodes it can send back unchanged (e.g. a config update after a get).
    let c: UsageMeteringConfigInfo = decode("usage_metering_config_info.json");
    let back = serde_json::to_value(&c).unwrap();
    assert_eq!(back["partnerUsageMeteringConfigs"][2]["partner"], "TENCENT");
    assert_eq!(
        back["partnerUsageMeteringConfigs"][2]["dimensionMappingV2"]["gpu_hours"][0]["mappingMode"],
        "PERCENT"
    );
    assert_eq!(
        back["partnerUsageMeteringConfigs"][0]["dimensionMappingV2"]["api_calls"][0]["mappingMode"],
        ""
    );
}

// ---------------------------------------------------------------------------------------------
// 2xx bodies that do not match the schema
// ---------------------------------------------------------------------------------------------

/// Serves `body` with `status` on GET `path` and returns what `call` made of it.
fn serve<T: std::fmt::Debug>(
    path: &str,
    status: usize,
    body: &str,
    call: impl FnOnce(&MeteringClient) -> suger_metering::Result<T>,
) -> Error {
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", path)
        .with_status(status)
        .with_header("content-type", "application/json")
        .with_body(body)
        .expect(1)
        .create();
    let result = call(&client_without_retries(&mut s));
    m.assert();
    result.expect_err("a body that does not match the schema must be an error")
}

fn decode_parts(e: Error) -> (u16, String, serde_json::Error) {
    match e {
        Error::Decode {
            status,
            excerpt,
            source,
            ..
        } => (status, excerpt, source),
        other => panic!("expected Error::Decode, got {other:?}"),
    }
}

#[test]
fn malformed_200_body_is_a_decode_error_keeping_the_body() {
    let body = r#"{"id":"bm-1","name":"LLM tok"#;
    let e = serve("/org/org-1/billableMetric/bm-1", 200, body, |c| {
        c.get_billable_metric("bm-1")
    });
    assert_eq!(e.status(), Some(200));
    assert!(!e.is_retryable());
    assert!(!e.is_not_found());
    let (status, excerpt, source) = decode_parts(e);
    assert_eq!(status, 200);
    assert_eq!(excerpt, body);
    assert!(source.is_eof(), "{source}");
}

#[test]
fn html_page_with_200_is_a_decode_error() {
    let body = "<html><body><h1>Welcome to nginx!</h1></body></html>";
    let e = serve("/org/org-1/usageMeteringConfigInfo", 200, body, |c| {
        c.get_usage_metering_config_info()
    });
    let display = e.to_string();
    let (status, excerpt, source) = decode_parts(e);
    assert_eq!(status, 200);
    assert_eq!(excerpt, body);
    assert!(source.is_syntax(), "{source}");
    assert_eq!(
        display,
        format!(
            "the HTTP 200 answer from Suger does not match the API's schema (body starts: {body:?})"
        )
    );
}

#[test]
fn array_where_an_object_is_expected_is_a_decode_error() {
    let body = r#"[{"id":"bm-1","name":"LLM tokens"}]"#;
    let e = serve("/org/org-1/billableMetric/bm-1", 200, body, |c| {
        c.get_billable_metric("bm-1")
    });
    let (status, excerpt, source) = decode_parts(e);
    assert_eq!(status, 200);
    assert_eq!(excerpt, body);
    // serde may try the array as a positional struct; either way it is a data error.
    assert!(source.is_data(), "{source}");
    assert!(source.to_string().starts_with("invalid type"), "{source}");
}

#[test]
fn object_where_an_array_is_expected_is_a_decode_error() {
    let body = r#"{"billableMetrics":[]}"#;
    let e = serve("/org/org-1/billableMetric", 200, body, |c| {
        c.list_billable_metrics(&ListBillableMetrics::new())
    });
    let (status, excerpt, source) = decode_parts(e);
    assert_eq!(status, 200);
    assert_eq!(excerpt, body);
    assert!(
        source.to_string().starts_with("invalid type: map"),
        "{source}"
    );
}

#[test]
fn string_where_a_number_is_expected_is_a_decode_error_with_the_status() {
    // Any 2xx is decoded; the status is kept in the error.
    let body = r#"{"usageRecordGroups":[{"id":"g-1","serialID":"7"}],"nextOffset":null}"#;
    let e = serve("/org/org-1/usageRecordGroup", 203, body, |c| {
        c.list_usage_record_groups(&ListUsageRecordGroups::new())
    });
    assert_eq!(e.status(), Some(203));
    let (status, excerpt, source) = decode_parts(e);
    assert_eq!(status, 203);
    assert_eq!(excerpt, body);
    assert!(
        source
            .to_string()
            .starts_with(r#"invalid type: string "7""#),
        "{source}"
    );
}

#[test]
fn string_where_a_quantity_is_expected_is_a_decode_error() {
    let body =
        r#"{"usageRecordReports":[{"id":"r","info":{"reportedRecords":{"api_calls":"12"}}}]}"#;
    let e = serve("/org/org-1/usageRecordReport", 200, body, |c| {
        c.list_usage_record_reports(&ListUsageRecordReports::new())
    });
    let (_, _, source) = decode_parts(e);
    assert!(
        source
            .to_string()
            .starts_with(r#"invalid type: string "12""#),
        "{source}"
    );
}

#[test]
fn a_large_bad_body_gives_a_short_excerpt() {
    // About 2 MB of valid groups, then a field of the wrong type at the very end.
    let group = std::str::from_utf8(
        &std::fs::read(format!(
            "{}/tests/fixtures/usage_record_group_v2.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap()
    .replace(['\n', ' '], "");
    let groups = vec![group.as_str(); 2_000].join(",");
    let body = format!(r#"{{"usageRecordGroups":[{groups}],"nextOffset":"more"}}"#);
    assert!(body.len() > 1_000_000);

    let e = serve("/org/org-1/usageRecordGroup", 200, &body, |c| {
        c.list_usage_record_groups(&ListUsageRecordGroups::new())
    });
    let display_len = e.to_string().len();
    let (status, excerpt, source) = decode_parts(e);
    assert_eq!(status, 200);
    assert!(
        (100..=304).contains(&excerpt.len()),
        "excerpt is {} bytes",
        excerpt.len()
    );
    assert!(
        body.starts_with(excerpt.trim_end_matches('…')),
        "the excerpt is the start of the body: {excerpt}"
    );
    assert!(display_len < 1_000, "Display is {display_len} bytes");
    assert!(source.to_string().contains("more"), "{source}");
}

#[test]
fn excerpt_of_a_multibyte_body_is_cut_on_a_character_boundary() {
    let body = format!(r#"{{"id":"{}"#, "é".repeat(400)); // unterminated string
    let e = serve("/org/org-1/billableMetric/x", 200, &body, |c| {
        c.get_billable_metric("x")
    });
    let (_, excerpt, _) = decode_parts(e);
    assert!(excerpt.len() <= 304, "excerpt is {} bytes", excerpt.len());
    assert!(!excerpt.contains('\u{FFFD}'), "{excerpt}");
    assert!(body.starts_with(excerpt.trim_end_matches('…')));
}
