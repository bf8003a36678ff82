//! What each fixture in tests/fixtures must decode to, field by field.
//!
//! `OffsetDateTime`'s `==` compares instants, not offsets: tests that care about the offset
//! check it separately.

use std::collections::BTreeMap;

use serde_json::json;
use suger_metering::*;
use time::macros::datetime;

/// Builds a model with struct-literal syntax from `Default` (or from the `..base` given) and
/// field assignments: the response models are `#[non_exhaustive]`, so outside the crate they
/// cannot be built with a literal (which is what lets the crate add fields to them).
macro_rules! build {
    ($t:ident { $($field:ident : $value:expr),* $(,)? }) => {
        build!($t { $($field: $value,)* ..$t::default() })
    };
    ($t:ident { $($field:ident : $value:expr,)* ..$base:expr }) => {{
        let mut built: $t = $base;
        $(built.$field = $value;)*
        built
    }};
}

/// A `BTreeMap<String, f64>` from pairs.
pub fn quantities(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// A JSON object from a `json!` value.
pub fn object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// The filters `model IS "large"` and `weight GTE weight` of the fixtures' billable metrics.
fn model_is_large_and_weight_gte(weight: serde_json::Value) -> Vec<BillableMetricFilter> {
    vec![
        BillableMetricFilter {
            name: "model".into(),
            operation: Some(BillableMetricFilterOperation::Is),
            value: Some(json!("large")),
            value_type: Some(BillableMetricFilterValueType::String),
            ..Default::default()
        },
        BillableMetricFilter {
            name: "weight".into(),
            operation: Some(BillableMetricFilterOperation::Gte),
            value: Some(weight),
            value_type: Some(BillableMetricFilterValueType::Float),
            ..Default::default()
        },
    ]
}

/// fixtures/report_usage_record_group.json: a v1 group just created.
pub fn report_usage_record_group() -> MeteringUsageRecordGroup {
    let records = quantities(&[
        ("api_calls", 1200.0),
        ("storage_gb", 0.5),
        ("tiny", 1e-7),
        ("huge", 1.5e300),
    ]);
    build!(MeteringUsageRecordGroup {
        id: "urg-2026-03-01T10-ent-1".into(),
        buyer_id: "buyer-9".into(),
        entitlement_id: "ent-1".into(),
        organization_id: "org-1".into(),
        partner: Some(Partner::Aws),
        records: records.clone(),
        status: Some(UsageRecordGroupStatus::Created),
        meta_info: Some(build!(MeteringUsageRecordGroupMetaInfo {
            skip_validation: false,
            billable_records: vec![],
            origin_records: records,
            source: Some(UsageRecordGroupSource::Api),
            timestamp: Some(datetime!(2026-03-01 10:00:00.123456789 UTC)),
            lago_amount: 0.0,
            lago_subscription_id: String::new(),
            lago_usage_start_time: None,
            metronome_daily_cost_amount: 0.0,
            metronome_invoice_id: String::new(),
            metronome_monthly_invoice_amount: 0.0,
            metronome_monthly_invoice_amount_adjusted: 0.0,
            stripe_invoice_id: String::new(),
            stripe_period_start_time: None,
            stripe_period_end_time: None,
            stripe_subscription_item_id: String::new(),
            stripe_usage_record_summary_id: String::new(),
            stripe_usage_record_summary_total_usage: 0,
        })),
        serial_id: 4_815_162_342,
        usage_record_report_id: String::new(),
        creation_time: Some(datetime!(2026-03-01 12:00:01.000000001 +02:00)),
        last_update_time: Some(datetime!(2026-03-01 10:00:01.987654321 UTC)),
        reported_time: None,
    })
}

/// fixtures/usage_record_group_v2.json: a reported v2 group (billable records in metaInfo).
pub fn usage_record_group_v2() -> MeteringUsageRecordGroup {
    build!(MeteringUsageRecordGroup {
        id: "5d1c7a2e-0b7f-4c1e-9a57-3f2b8c9d0e11".into(),
        buyer_id: "buyer-3".into(),
        entitlement_id: "ent-2".into(),
        organization_id: "org-1".into(),
        partner: Some(Partner::Gcp),
        records: BTreeMap::new(),
        status: Some(UsageRecordGroupStatus::Reported),
        meta_info: Some(build!(MeteringUsageRecordGroupMetaInfo {
            skip_validation: true,
            billable_records: vec![
                MeteringUsageRecord {
                    key: "tokens".into(),
                    quantity: 3.0,
                    properties: object(json!({
                        "model": "large",
                        "region": "us-east1",
                        "cached": false,
                        "weight": 2.5,
                        "tags": ["a", "b"],
                        "extra": null
                    })),
                    ..Default::default()
                },
                MeteringUsageRecord::new("requests", 0.25),
                MeteringUsageRecord::new("seats", 1.0),
            ],
            origin_records: BTreeMap::new(),
            source: Some(UsageRecordGroupSource::Metronome),
            timestamp: Some(datetime!(2026-02-28 23:59:59.999999999 -08:00)),
            lago_amount: 12.5,
            lago_subscription_id: "lago-sub-1".into(),
            lago_usage_start_time: Some(datetime!(2026-02-01 00:00:00 UTC)),
            metronome_daily_cost_amount: 3.0,
            metronome_invoice_id: "inv_123".into(),
            metronome_monthly_invoice_amount: 99.99,
            metronome_monthly_invoice_amount_adjusted: 89.99,
            stripe_invoice_id: "in_1".into(),
            stripe_period_start_time: Some(datetime!(2026-02-01 00:00:00 UTC)),
            stripe_period_end_time: Some(datetime!(2026-03-01 00:00:00 UTC)),
            stripe_subscription_item_id: "si_1".into(),
            stripe_usage_record_summary_id: "sis_1".into(),
            stripe_usage_record_summary_total_usage: 42,
        })),
        serial_id: 7,
        usage_record_report_id: "urr-77".into(),
        creation_time: Some(datetime!(2026-03-01 08:00:00 UTC)),
        last_update_time: Some(datetime!(2026-03-01 14:30:00.5 +05:30)),
        reported_time: Some(datetime!(2026-03-01 03:00:00.000001 -07:00)),
    })
}

/// fixtures/list_usage_record_groups.json.
pub fn list_usage_record_groups() -> ListUsageRecordGroupsResponse {
    build!(ListUsageRecordGroupsResponse {
        usage_record_groups: vec![
            build!(MeteringUsageRecordGroup {
                id: "urg-a".into(),
                buyer_id: "buyer-9".into(),
                entitlement_id: "ent-1".into(),
                organization_id: "org-1".into(),
                partner: Some(Partner::Azure),
                records: quantities(&[("api_calls", 10.0), ("gpu_hours", 0.125)]),
                status: Some(UsageRecordGroupStatus::Other("ARCHIVED".into())),
                meta_info: Some(build!(MeteringUsageRecordGroupMetaInfo {
                    source: Some(UsageRecordGroupSource::Unspecified),
                    ..Default::default()
                })),
                serial_id: 1,
                usage_record_report_id: String::new(),
                creation_time: Some(datetime!(2026-03-02 00:00:00.000000001 UTC)),
                last_update_time: Some(datetime!(2026-03-02 00:00:00.000000001 UTC)),
                reported_time: None,
            }),
            usage_record_group_v2(),
            build!(MeteringUsageRecordGroup {
                id: "urg-c".into(),
                buyer_id: String::new(),
                entitlement_id: "ent-3".into(),
                organization_id: "org-1".into(),
                partner: Some(Partner::Other("TENCENT".into())),
                records: quantities(&[("x", 5.0)]),
                status: Some(UsageRecordGroupStatus::Other(String::new())),
                meta_info: None,
                serial_id: 0,
                usage_record_report_id: String::new(),
                creation_time: None,
                last_update_time: None,
                reported_time: None,
            }),
        ],
        next_offset: Some(3),
    })
}

/// fixtures/batch_report_usage_record_groups.json.
pub fn batch_report_usage_record_groups() -> Vec<MeteringUsageRecordGroup> {
    let created = Some(datetime!(2026-03-01 10:00:02.25 UTC));
    vec![
        build!(MeteringUsageRecordGroup {
            id: "b7e1d2c3-0000-4000-8000-000000000001".into(),
            buyer_id: "buyer-9".into(),
            entitlement_id: "ent-1".into(),
            organization_id: "org-1".into(),
            partner: Some(Partner::Aws),
            records: quantities(&[("api_calls", 5.0)]),
            status: Some(UsageRecordGroupStatus::Created),
            meta_info: Some(build!(MeteringUsageRecordGroupMetaInfo {
                origin_records: quantities(&[("api_calls", 5.0)]),
                source: Some(UsageRecordGroupSource::Api),
                timestamp: Some(datetime!(2026-03-01 10:00:00 UTC)),
                ..Default::default()
            })),
            serial_id: 101,
            usage_record_report_id: String::new(),
            creation_time: created,
            last_update_time: created,
            reported_time: None,
        }),
        build!(MeteringUsageRecordGroup {
            id: "b7e1d2c3-0000-4000-8000-000000000002".into(),
            buyer_id: "buyer-3".into(),
            entitlement_id: "ent-2".into(),
            organization_id: "org-1".into(),
            partner: Some(Partner::Gcp),
            records: BTreeMap::new(),
            status: Some(UsageRecordGroupStatus::Created),
            meta_info: Some(build!(MeteringUsageRecordGroupMetaInfo {
                billable_records: vec![
                    MeteringUsageRecord::new("tokens", 0.0).property("model", "small"),
                ],
                source: Some(UsageRecordGroupSource::Api),
                ..Default::default()
            })),
            serial_id: 102,
            usage_record_report_id: String::new(),
            creation_time: created,
            last_update_time: created,
            reported_time: None,
        }),
    ]
}

/// fixtures/delete_usage_record_group.json.
pub fn delete_usage_record_group() -> MeteringUsageRecordGroup {
    build!(MeteringUsageRecordGroup {
        id: "urg-a".into(),
        buyer_id: "buyer-9".into(),
        entitlement_id: "ent-1".into(),
        organization_id: "org-1".into(),
        partner: Some(Partner::Aws),
        records: quantities(&[("api_calls", 10.0)]),
        status: Some(UsageRecordGroupStatus::Deleted),
        meta_info: None,
        serial_id: 1,
        usage_record_report_id: String::new(),
        creation_time: Some(datetime!(2026-03-02 00:00:00 UTC)),
        last_update_time: Some(datetime!(2026-03-02 09:15:00.75 UTC)),
        reported_time: None,
    })
}

/// fixtures/retry_usage_record_group.json: the delete fixture's group in another state.
pub fn retry_usage_record_group() -> MeteringUsageRecordGroup {
    build!(MeteringUsageRecordGroup {
        id: "urg-failed".into(),
        partner: Some(Partner::Azure),
        status: Some(UsageRecordGroupStatus::Created),
        serial_id: 12,
        last_update_time: Some(datetime!(2026-03-03 00:00:00 UTC)),
        ..delete_usage_record_group()
    })
}

/// fixtures/list_usage_record_reports.json.
pub fn list_usage_record_reports() -> ListUsageRecordReportsResponse {
    let aws_record = json!({
        "CustomerIdentifier": "cust-1",
        "Dimension": "api_calls",
        "Quantity": 200,
        "Timestamp": "2026-03-01T10:00:00Z",
        "UsageAllocations": null
    });
    let aws = build!(MeteringUsageRecordReport {
        id: "urr-77".into(),
        buyer_id: "buyer-9".into(),
        entitlement_id: "ent-1".into(),
        entitlement_term_id: "term-3".into(),
        organization_id: "org-1".into(),
        partner: Some(Partner::Aws),
        product_id: "prod-7".into(),
        creation_time: Some(datetime!(2026-03-01 11:00:05.123456789 UTC)),
        info: Some(build!(MeteringUsageRecordReportInfo {
            status: Some(UsageRecordReportStatus::Success),
            message: String::new(),
            partner: Some(Partner::Aws),
            start_time: Some(datetime!(2026-03-01 10:00:00 UTC)),
            end_time: Some(datetime!(2026-03-01 11:00:00 UTC)),
            usage_record_group_ids: vec!["urg-0001".into(), "urg-0002".into()],
            aggregated_billable_records: vec![],
            reported_records: quantities(&[("api_calls", 200.0), ("storage_gb", 0.5)]),
            included_records: quantities(&[("api_calls", 1000.0)]),
            credit_records: BTreeMap::new(),
            decimal_parts: quantities(&[("storage_gb", 0.0)]),
            new_decimal_parts: quantities(&[("storage_gb", 0.5)]),
            dimension_categories: BTreeMap::new(),
            dimension_unit_list_price: quantities(&[("api_calls", 0.002)]),
            dimension_unit_price: quantities(&[("api_calls", 0.0015)]),
            records_to_report_before_adjustment_at_list_price: BTreeMap::new(),
            commit_amount: 1000.0,
            credit_amount: 0.0,
            used_commit_amount: 250.75,
            used_commit_amount_increment: 0.3,
            used_credit_amount: 0.0,
            used_credit_amount_increment: 0.0,
            aws_metering_request: Some(json!({
                "ProductCode": "abc123prodcode",
                "UsageRecords": [aws_record.clone()]
            })),
            aws_metering_response: Some(json!({
                "Results": [
                    { "MeteringRecordId": "mr-1", "Status": "Success", "UsageRecord": aws_record }
                ],
                "UnprocessedRecords": [],
                "ResultMetadata": {}
            })),
            azure_metering_request: None,
            azure_metering_response: None,
            gcp_metering_request: None,
            gcp_metering_response: None,
            alibaba_metering_request: None,
            alibaba_metering_response: None,
        })),
    });
    let azure_event = json!({
        "dimension": "tokens",
        "effectiveStartTime": "2026-03-01T10:00:00",
        "planId": "gold",
        "quantity": 1500000,
        "resourceId": "8c3f3c52-5d4b-4d3b-9e0b-3c9d0b2f1a77"
    });
    let azure = build!(MeteringUsageRecordReport {
        id: "urr-78".into(),
        buyer_id: "buyer-3".into(),
        entitlement_id: "ent-2".into(),
        entitlement_term_id: String::new(),
        organization_id: "org-1".into(),
        partner: Some(Partner::Azure),
        product_id: "prod-8".into(),
        creation_time: Some(datetime!(2026-03-01 12:00:05.5 +01:00)),
        info: Some(build!(MeteringUsageRecordReportInfo {
            status: Some(UsageRecordReportStatus::Other("PARTIALLY_INVOICED".into())),
            message: "1 of 2 usage events were accepted".into(),
            partner: Some(Partner::Azure),
            start_time: Some(datetime!(2026-03-01 05:00:00 -05:00)),
            end_time: Some(datetime!(2026-03-01 06:00:00 -05:00)),
            usage_record_group_ids: vec!["5d1c7a2e-0b7f-4c1e-9a57-3f2b8c9d0e11".into()],
            aggregated_billable_records: vec![
                build!(AggregatedMeteringUsageRecord {
                    key: "tokens".into(),
                    name: "LLM tokens".into(),
                    quantity: 1_500_000.0,
                    amount: 12.75,
                    billable_metric_aggregation_type: Some(BillableMetricAggregationType::Sum),
                    billable_metric_info: Some(BillableMetricInfo {
                        filter_groups: vec![BillableMetricFilterGroup {
                            filters: model_is_large_and_weight_gte(json!(2)),
                            ..Default::default()
                        }],
                        group_bys: vec!["region".into()],
                        property_unique_on: String::new(),
                        ..Default::default()
                    }),
                    group_bys_expression: "region".into(),
                    unique_count_aggregation_result: None,
                }),
                build!(AggregatedMeteringUsageRecord {
                    key: "users".into(),
                    name: String::new(),
                    quantity: 3.0,
                    amount: 0.0,
                    billable_metric_aggregation_type: Some(BillableMetricAggregationType::Other(
                        "P99".into(),
                    )),
                    billable_metric_info: Some(BillableMetricInfo {
                        filter_groups: vec![],
                        group_bys: vec![],
                        property_unique_on: "user_id".into(),
                        ..Default::default()
                    }),
                    group_bys_expression: String::new(),
                    unique_count_aggregation_result: Some(build!(UniqueCountAggregationResult {
                        new_items: object(json!({ "u1": {}, "u2": null, "u3": 1 })),
                    })),
                }),
            ],
            reported_records: BTreeMap::new(),
            included_records: BTreeMap::new(),
            credit_records: quantities(&[("tokens", 100.0)]),
            decimal_parts: BTreeMap::new(),
            new_decimal_parts: BTreeMap::new(),
            dimension_categories: [("tokens".to_string(), "compute".to_string())].into(),
            dimension_unit_list_price: BTreeMap::new(),
            dimension_unit_price: BTreeMap::new(),
            records_to_report_before_adjustment_at_list_price: quantities(&[(
                "tokens",
                1_500_000.0,
            )]),
            commit_amount: 0.0,
            credit_amount: 50.0,
            used_commit_amount: 0.0,
            used_commit_amount_increment: 0.0,
            used_credit_amount: 10.5,
            used_credit_amount_increment: 2.25,
            aws_metering_request: None,
            aws_metering_response: None,
            azure_metering_request: Some(json!({ "request": [azure_event] })),
            azure_metering_response: Some(json!({
                "count": 1,
                "result": [{
                    "dimension": "tokens",
                    "effectiveStartTime": "2026-03-01T10:00:00",
                    "messageTime": "2026-03-01T11:00:04.1234567Z",
                    "planId": "gold",
                    "quantity": 1500000,
                    "resourceId": "8c3f3c52-5d4b-4d3b-9e0b-3c9d0b2f1a77",
                    "status": "Accepted",
                    "usageEventId": "ev-1",
                    "error": null
                }]
            })),
            gcp_metering_request: None,
            gcp_metering_response: None,
            alibaba_metering_request: None,
            alibaba_metering_response: None,
        })),
    });
    let empty = build!(MeteringUsageRecordReport {
        id: "urr-79".into(),
        entitlement_id: "ent-4".into(),
        organization_id: "org-1".into(),
        partner: Some(Partner::Unspecified),
        creation_time: None,
        info: None,
        ..Default::default()
    });
    build!(ListUsageRecordReportsResponse {
        usage_record_reports: vec![aws, azure, empty],
        next_offset: None,
    })
}

/// fixtures/billable_metric.json.
pub fn billable_metric() -> BillableMetric {
    BillableMetric {
        id: "bm-1".into(),
        name: "LLM tokens".into(),
        description: "Tokens processed, by model".into(),
        organization_id: "org-1".into(),
        aggregation_type: Some(BillableMetricAggregationType::Sum),
        info: Some(BillableMetricInfo {
            filter_groups: vec![
                BillableMetricFilterGroup {
                    filters: model_is_large_and_weight_gte(json!(2.5)),
                    ..Default::default()
                },
                BillableMetricFilterGroup {
                    filters: vec![],
                    ..Default::default()
                },
            ],
            group_bys: vec!["region".into(), "model".into()],
            property_unique_on: String::new(),
            ..Default::default()
        }),
        status: Some(BillableMetricStatus::Active),
        creation_time: Some(datetime!(2026-01-15 08:30:00.123456789 UTC)),
        last_update_time: None,
        extra: object(json!({ "createdBy": "user-1" })),
    }
}

/// fixtures/list_billable_metrics.json.
pub fn list_billable_metrics() -> Vec<BillableMetric> {
    vec![
        BillableMetric {
            id: "bm-1".into(),
            name: "LLM tokens".into(),
            description: String::new(),
            organization_id: "org-1".into(),
            aggregation_type: Some(BillableMetricAggregationType::Sum),
            info: Some(BillableMetricInfo::default()),
            status: Some(BillableMetricStatus::Active),
            creation_time: Some(datetime!(2026-01-15 08:30:00 UTC)),
            last_update_time: Some(datetime!(2026-01-16 09:30:00.000000001 +01:00)),
            ..Default::default()
        },
        BillableMetric {
            id: "bm-2".into(),
            name: "p95 latency".into(),
            description: "A metric the server added after this crate was written".into(),
            organization_id: "org-1".into(),
            aggregation_type: Some(BillableMetricAggregationType::Other("PERCENTILE_95".into())),
            info: Some(BillableMetricInfo {
                filter_groups: vec![BillableMetricFilterGroup {
                    filters: vec![BillableMetricFilter {
                        name: "path".into(),
                        operation: Some(BillableMetricFilterOperation::Other(
                            "MATCHES_REGEX".into(),
                        )),
                        value: Some(json!("^/v1/")),
                        value_type: Some(BillableMetricFilterValueType::Other("BOOLEAN".into())),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                group_bys: vec![],
                property_unique_on: String::new(),
                ..Default::default()
            }),
            status: Some(BillableMetricStatus::Other("ARCHIVED".into())),
            creation_time: None,
            last_update_time: None,
            extra: object(json!({ "version": 3 })),
        },
        BillableMetric {
            id: "bm-3".into(),
            name: "Unique users".into(),
            description: String::new(),
            organization_id: "org-1".into(),
            aggregation_type: Some(BillableMetricAggregationType::UniqueCount),
            info: None,
            status: Some(BillableMetricStatus::Deleted),
            creation_time: None,
            last_update_time: None,
            ..Default::default()
        },
    ]
}

/// fixtures/usage_metering_config_info.json.
pub fn usage_metering_config_info() -> UsageMeteringConfigInfo {
    let value = |key: &str, m: f64, mode: Option<UsageMeteringDimensionMappingMode>| {
        UsageMeteringDimensionMappingValue {
            dimension_key: key.into(),
            convertion_multiplier: Some(m),
            mapping_mode: mode,
            ..Default::default()
        }
    };
    UsageMeteringConfigInfo {
        partner_usage_metering_configs: vec![
            PartnerUsageMeteringConfig {
                partner: Some(Partner::Aws),
                enable_billable_dimension: true,
                enable_commit_with_additional_usage_at_list_price: false,
                enable_commit_with_additional_usage_metering: true,
                enable_dimension_mapping: true,
                dimension_mapping: [(
                    "api_calls".to_string(),
                    value(
                        "requests",
                        0.001,
                        Some(UsageMeteringDimensionMappingMode::Quantity),
                    ),
                )]
                .into(),
                dimension_mapping_v2: [(
                    "api_calls".to_string(),
                    vec![
                        value(
                            "requests",
                            1.0,
                            Some(UsageMeteringDimensionMappingMode::Unspecified),
                        ),
                        value(
                            "spend",
                            0.0,
                            Some(UsageMeteringDimensionMappingMode::Amount),
                        ),
                    ],
                )]
                .into(),
                ..Default::default()
            },
            PartnerUsageMeteringConfig {
                partner: Some(Partner::Azure),
                ..Default::default()
            },
            PartnerUsageMeteringConfig {
                partner: Some(Partner::Other("TENCENT".into())),
                enable_billable_dimension: false,
                enable_commit_with_additional_usage_at_list_price: true,
                enable_commit_with_additional_usage_metering: true,
                enable_dimension_mapping: true,
                dimension_mapping: BTreeMap::new(),
                dimension_mapping_v2: [(
                    "gpu_hours".to_string(),
                    vec![value(
                        "gpu",
                        2.0,
                        Some(UsageMeteringDimensionMappingMode::Other("PERCENT".into())),
                    )],
                )]
                .into(),
                extra: object(json!({ "enableRounding": true })),
            },
        ],
        extra: object(json!({ "updatedBy": "someone@example.com" })),
    }
}
