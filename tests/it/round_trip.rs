//! Read-modify-write through the client: what a `get` read is what the next `update` or
//! `create` sends, field for field, number for number, including fields the crate does not
//! model (Suger adds fields) and optional fields the server left out.

use serde_json::{Value, json};
use suger_metering::*;

use crate::support::*;

const CONFIG_PATH: &str = "/org/org-1/usageMeteringConfigInfo";

/// A config as Suger may send it after it adds fields: unknown fields at every level, mappings
/// without `convertionMultiplier` (QUANTITY mode's multiplier left to the server) next to an
/// explicit `0`, and numbers as Go writes them (`1`, `1e-75`).
fn config_with_unknown_fields() -> Value {
    json!({
        "partnerUsageMeteringConfigs": [
            {
                "partner": "AWS",
                "enableBillableDimension": true,
                "enableCommitWithAdditionalUsageAtListPrice": false,
                "enableCommitWithAdditionalUsageMetering": true,
                "enableDimensionMapping": true,
                "dimensionMapping": {
                    "cpu": { "dimensionKey": "vcpu", "mappingMode": "QUANTITY" }
                },
                "dimensionMappingV2": {
                    "api_calls": [
                        { "dimensionKey": "requests" },
                        { "dimensionKey": "zero", "convertionMultiplier": 0 },
                        { "dimensionKey": "one", "convertionMultiplier": 1, "mappingMode": "" },
                        { "dimensionKey": "tiny", "convertionMultiplier": 1e-75, "rounding": "UP" }
                    ]
                },
                "enableRounding": true,
                "limits": { "daily": [100, null, 2.5] }
            },
            {
                "partner": "TENCENT",
                "enableBillableDimension": false,
                "enableCommitWithAdditionalUsageAtListPrice": false,
                "enableCommitWithAdditionalUsageMetering": false,
                "enableDimensionMapping": false,
                "region": null
            }
        ],
        "updatedBy": "someone@example.com",
        "revision": 12
    })
}

/// Serves `read` to a GET of the config, lets `change` edit the config that was read, and
/// expects exactly `sent` in the PATCH that sends it back.
fn get_change_update(read: &Value, sent: Value, change: impl FnOnce(&mut UsageMeteringConfigInfo)) {
    let mut s = server();
    let get = expect_no_body(&mut s, "GET", CONFIG_PATH)
        .with_body(read.to_string())
        .create();
    let patch = expect_json(&mut s, "PATCH", CONFIG_PATH, sent)
        .with_body(read.to_string())
        .create();
    let client = client(&mut s);
    let mut config = client.get_usage_metering_config_info().unwrap();
    change(&mut config);
    client.update_usage_metering_config_info(&config).unwrap();
    get.assert();
    patch.assert();
}

#[test]
fn a_config_read_and_sent_back_unchanged_is_the_same_json() {
    let read = config_with_unknown_fields();
    get_change_update(&read, read.clone(), |_| {});
}

#[test]
fn a_config_read_changed_and_sent_back_changes_only_that_field() {
    let read = config_with_unknown_fields();
    let mut sent = read.clone();
    sent["partnerUsageMeteringConfigs"][1]["enableDimensionMapping"] = json!(true);
    sent["partnerUsageMeteringConfigs"][0]["dimensionMappingV2"]["api_calls"][0]["convertionMultiplier"] =
        json!(0.5);
    get_change_update(&read, sent, |config| {
        let configs = &mut config.partner_usage_metering_configs;
        configs[1].enable_dimension_mapping = true;
        configs[0]
            .dimension_mapping_v2
            .get_mut("api_calls")
            .unwrap()[0]
            .convertion_multiplier = Some(0.5);
    });
}

#[test]
fn a_billable_metric_read_and_created_again_is_the_same_json() {
    let read = json!({
        "id": "bm-1",
        "name": "LLM tokens",
        "description": "Tokens processed, by model",
        "organizationId": "org-1",
        "aggregationType": "UNIQUE_COUNT",
        "status": "ACTIVE",
        "info": {
            "filterGroups": [{
                "filters": [
                    { "name": "model", "operation": "IS", "value": "large", "valueType": "STRING" },
                    { "name": "weight", "operation": "GTE", "value": 1e-75, "valueType": "FLOAT", "unit": "kg" },
                    { "name": "region", "operation": "EXISTS" }
                ],
                "combinator": "AND"
            }],
            "groupBys": ["region"],
            "propertyUniqueOn": "user",
            "window": { "hours": 1 }
        },
        "creationTime": "2026-01-15T08:30:00.123456789Z",
        "lastUpdateTime": "2026-01-16T00:00:00Z",
        "createdBy": "user-1"
    });
    let mut s = server();
    let get = expect_no_body(&mut s, "GET", "/org/org-1/billableMetric/bm-1")
        .with_body(read.to_string())
        .create();
    let create = expect_json(&mut s, "POST", "/org/org-1/billableMetric", read.clone())
        .with_body(read.to_string())
        .create();
    let client = client(&mut s);
    let metric = client.get_billable_metric("bm-1").unwrap();
    let created = client.create_billable_metric(&metric).unwrap();
    get.assert();
    create.assert();
    assert_eq!(created, metric);
}

#[test]
fn usage_records_read_from_a_group_and_reported_again_are_the_same_json() {
    let record = json!({
        "key": "tokens",
        "quantity": 3,
        "properties": { "model": "large", "weight": 1e-75 },
        "unit": "token"
    });
    let group = json!({ "id": "g-1", "metaInfo": { "billableRecords": [record.clone()] } });
    let mut s = server();
    let get = expect_no_body(&mut s, "GET", "/org/org-1/usageRecordGroup")
        .with_body(json!({ "usageRecordGroups": [group] }).to_string())
        .create();
    let report = expect_json(
        &mut s,
        "POST",
        "/org/org-1/entitlement/ent-1/usageRecordGroup",
        json!({
            "id": "g-2",
            "entitlementID": "ent-1",
            "organizationID": "org-1",
            "records": {},
            "billableRecords": [record]
        }),
    )
    .with_body(json!({ "id": "g-2" }).to_string())
    .create();
    let client = client(&mut s);
    let page = client
        .list_usage_record_groups(&ListUsageRecordGroups::new())
        .unwrap();
    let meta = page.usage_record_groups[0].meta_info.clone().unwrap();
    client
        .report_usage_record_group(
            "ent-1",
            &CreateUsageRecordGroupParams {
                id: Some("g-2".into()),
                billable_records: meta.billable_records,
                ..Default::default()
            },
        )
        .unwrap();
    get.assert();
    report.assert();
}
