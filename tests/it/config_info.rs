//! Contract tests for the usage metering config operations.

use crate::support::*;
use serde_json::json;
use suger_metering::*;

#[test]
fn get_sends_no_body_and_decodes_every_partner_config() {
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/usageMeteringConfigInfo")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(fixture("usage_metering_config_info.json"))
        .create();
    let got = client(&mut s).get_usage_metering_config_info().unwrap();
    m.assert();
    assert_eq!(got, expected::usage_metering_config_info());
}

#[test]
fn update_sends_partner_usage_metering_configs() {
    // Numbers as Go writes them (`1`, not `1.0`), and the fixture's unknown fields sent back.
    let sent = json!({
        "partnerUsageMeteringConfigs": [
            {
                "partner": "AWS",
                "enableBillableDimension": true,
                "enableCommitWithAdditionalUsageAtListPrice": false,
                "enableCommitWithAdditionalUsageMetering": true,
                "enableDimensionMapping": true,
                "dimensionMapping": {
                    "api_calls": { "dimensionKey": "requests", "convertionMultiplier": 0.001, "mappingMode": "QUANTITY" }
                },
                "dimensionMappingV2": {
                    "api_calls": [
                        { "dimensionKey": "requests", "convertionMultiplier": 1, "mappingMode": "" },
                        { "dimensionKey": "spend", "convertionMultiplier": 0, "mappingMode": "AMOUNT" }
                    ]
                }
            },
            {
                "partner": "AZURE",
                "enableBillableDimension": false,
                "enableCommitWithAdditionalUsageAtListPrice": false,
                "enableCommitWithAdditionalUsageMetering": false,
                "enableDimensionMapping": false
            },
            {
                "partner": "TENCENT",
                "enableBillableDimension": false,
                "enableCommitWithAdditionalUsageAtListPrice": true,
                "enableCommitWithAdditionalUsageMetering": true,
                "enableDimensionMapping": true,
                "dimensionMappingV2": {
                    "gpu_hours": [ { "dimensionKey": "gpu", "convertionMultiplier": 2, "mappingMode": "PERCENT" } ]
                },
                "enableRounding": true
            }
        ],
        "updatedBy": "someone@example.com"
    });
    let got = answered_json(
        "PATCH",
        "/org/org-1/usageMeteringConfigInfo",
        sent,
        &fixture("usage_metering_config_info.json"),
        |c| c.update_usage_metering_config_info(&expected::usage_metering_config_info()),
    )
    .unwrap();
    assert_eq!(got, expected::usage_metering_config_info());
}

#[test]
fn update_with_no_partner_configs_sends_an_empty_list_and_decodes_null() {
    let answer = r#"{"partnerUsageMeteringConfigs":null}"#;
    let sent = json!({ "partnerUsageMeteringConfigs": [] });
    let got = answered_json(
        "PATCH",
        "/org/org-1/usageMeteringConfigInfo",
        sent,
        answer,
        |c| c.update_usage_metering_config_info(&UsageMeteringConfigInfo::default()),
    )
    .unwrap();
    assert_eq!(got, UsageMeteringConfigInfo::default());
}

#[test]
fn update_with_a_partner_without_mappings_omits_them() {
    let answer = r#"{"partnerUsageMeteringConfigs":[{"partner":"","enableDimensionMapping":true,"dimensionMapping":null,"dimensionMappingV2":null}]}"#;
    let sent = json!({ "partnerUsageMeteringConfigs": [ {
        "enableBillableDimension": false,
        "enableCommitWithAdditionalUsageAtListPrice": false,
        "enableCommitWithAdditionalUsageMetering": false,
        "enableDimensionMapping": true
    } ] });
    let got = answered_json(
        "PATCH",
        "/org/org-1/usageMeteringConfigInfo",
        sent,
        answer,
        |c| {
            c.update_usage_metering_config_info(&UsageMeteringConfigInfo {
                partner_usage_metering_configs: vec![PartnerUsageMeteringConfig {
                    enable_dimension_mapping: true,
                    ..Default::default()
                }],
                ..Default::default()
            })
        },
    )
    .unwrap();
    assert_eq!(
        got.partner_usage_metering_configs,
        vec![PartnerUsageMeteringConfig {
            partner: Some(Partner::Unspecified),
            enable_dimension_mapping: true,
            ..Default::default()
        }]
    );
}
