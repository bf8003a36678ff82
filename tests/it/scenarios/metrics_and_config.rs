//! Billable metrics (create, get, list, update, not found) and the usage metering config
//! (null collections read as empty, a patch round-trips).

use serde_json::json;
use suger_metering::{
    BillableMetric, BillableMetricAggregationType, BillableMetricInfo, BillableMetricStatus, Error,
    ListBillableMetrics, Partner, PartnerUsageMeteringConfig, UpdateBillableMetricParams,
    UsageMeteringConfigInfo, UsageMeteringDimensionMappingMode, UsageMeteringDimensionMappingValue,
};

use crate::support::fake::*;

#[test]
fn billable_metric_create_get_list_update_and_not_found() {
    let fake = start();
    let c = client(&fake);

    let created = c
        .create_billable_metric(&BillableMetric {
            id: "bm-calls".into(),
            name: "API calls".into(),
            description: "every call".into(),
            aggregation_type: Some(BillableMetricAggregationType::Sum),
            info: Some(BillableMetricInfo {
                group_bys: vec!["region".into()],
                ..Default::default()
            }),
            // Ignored by the server: always ACTIVE.
            status: Some(BillableMetricStatus::Deleted),
            ..Default::default()
        })
        .expect("create");
    assert_eq!(created.id, "bm-calls");
    assert_eq!(created.name, "API calls");
    assert_eq!(created.organization_id, "fake-org");
    assert_eq!(created.status, Some(BillableMetricStatus::Active));
    assert_eq!(
        created.aggregation_type,
        Some(BillableMetricAggregationType::Sum)
    );
    assert_eq!(
        created.info.as_ref().expect("info").group_bys,
        ["region".to_string()]
    );
    assert!(created.creation_time.is_some());

    // Without an id the server assigns one.
    let second = c
        .create_billable_metric(&BillableMetric {
            name: "Storage".into(),
            ..Default::default()
        })
        .expect("create");
    assert!(is_uuid_shaped(&second.id), "{}", second.id);
    assert_eq!(second.info, None);

    // A duplicate id is a 400 and creates nothing.
    let e = c
        .create_billable_metric(&BillableMetric {
            id: "bm-calls".into(),
            name: "Again".into(),
            ..Default::default()
        })
        .expect_err("duplicate");
    assert!(matches!(e, Error::Api { status: 400, .. }), "{e:?}");
    assert_eq!(fake.billable_metrics().len(), 2);

    // Name rules are checked before sending.
    let before = fake.requests().len();
    for name in ["abc", &"n".repeat(51)] {
        let e = c
            .create_billable_metric(&BillableMetric {
                name: name.to_string(),
                ..Default::default()
            })
            .expect_err("bad name");
        assert!(matches!(e, Error::InvalidRequest { field: "name", .. }));
    }
    assert_eq!(fake.requests().len(), before);

    let got = c.get_billable_metric("bm-calls").expect("get");
    assert_eq!(got, created);

    let all = c
        .list_billable_metrics(&ListBillableMetrics::new())
        .expect("list");
    assert_eq!(
        all.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["bm-calls", second.id.as_str()]
    );
    assert!(
        c.list_billable_metrics(&ListBillableMetrics::new().status(BillableMetricStatus::Deleted))
            .expect("list")
            .is_empty(),
        "the server's null decodes as empty"
    );

    let updated = c
        .update_billable_metric(
            "bm-calls",
            &UpdateBillableMetricParams {
                description: Some("calls, all regions".into()),
                status: Some(BillableMetricStatus::Deleted),
                ..Default::default()
            },
        )
        .expect("update");
    assert_eq!(updated.name, "API calls", "absent fields unchanged");
    assert_eq!(updated.description, "calls, all regions");
    assert_eq!(updated.status, Some(BillableMetricStatus::Deleted));
    let body = fake
        .requests()
        .last()
        .expect("request")
        .json()
        .expect("JSON");
    assert_eq!(
        body,
        json!({"description": "calls, all regions", "status": "DELETED"})
    );

    let deleted = c
        .list_billable_metrics(&ListBillableMetrics::new().status(BillableMetricStatus::Deleted))
        .expect("list");
    assert_eq!(
        deleted.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["bm-calls"]
    );
    assert_eq!(
        last_query(&fake),
        [("status".to_string(), "DELETED".to_string())]
    );
    let active = c
        .list_billable_metrics(&ListBillableMetrics::new().status(BillableMetricStatus::Active))
        .expect("list");
    assert_eq!(
        active.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        [second.id.as_str()]
    );

    let e = c.get_billable_metric("missing").expect_err("404");
    assert!(e.is_not_found(), "{e:?}");
    assert!(matches!(e, Error::Api { status: 404, .. }));
    let e = c
        .update_billable_metric(
            "missing",
            &UpdateBillableMetricParams {
                name: Some("Renamed".into()),
                ..Default::default()
            },
        )
        .expect_err("404");
    assert!(e.is_not_found(), "{e:?}");
    assert_eq!(fake.billable_metrics().len(), 2);
}

#[test]
fn config_get_null_as_empty_and_patch_round_trip() {
    let fake = start();
    let c = client(&fake);

    let initial = c.get_usage_metering_config_info().expect("get");
    assert_eq!(initial, UsageMeteringConfigInfo::default());
    assert!(initial.partner_usage_metering_configs.is_empty());

    let wanted = UsageMeteringConfigInfo {
        partner_usage_metering_configs: vec![
            PartnerUsageMeteringConfig {
                partner: Some(Partner::Aws),
                enable_dimension_mapping: true,
                enable_billable_dimension: true,
                dimension_mapping_v2: [(
                    "api_calls".to_string(),
                    vec![UsageMeteringDimensionMappingValue {
                        dimension_key: "calls".into(),
                        convertion_multiplier: Some(0.5),
                        mapping_mode: Some(UsageMeteringDimensionMappingMode::Quantity),
                        ..Default::default()
                    }],
                )]
                .into(),
                ..Default::default()
            },
            PartnerUsageMeteringConfig {
                partner: Some(Partner::Gcp),
                enable_commit_with_additional_usage_metering: true,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let updated = c.update_usage_metering_config_info(&wanted).expect("patch");
    assert_eq!(updated, wanted);
    let req = fake.requests().last().expect("request").clone();
    assert_eq!(req.method, "PATCH");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(c.get_usage_metering_config_info().expect("get"), wanted);

    // Back to empty: sent as [], answered as [].
    let cleared = c
        .update_usage_metering_config_info(&UsageMeteringConfigInfo::default())
        .expect("patch");
    assert!(cleared.partner_usage_metering_configs.is_empty());
    assert_eq!(
        fake.requests().last().expect("request").json(),
        Some(json!({"partnerUsageMeteringConfigs": []}))
    );
    assert_eq!(
        c.get_usage_metering_config_info().expect("get"),
        UsageMeteringConfigInfo::default()
    );
}
