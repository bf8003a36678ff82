//! The whole client in one run.
//!
//! ```sh
//! cargo run --example quickstart            # against the embedded fake Suger server
//! SUGER_API_KEY=... SUGER_ORG_ID=... cargo run --example quickstart          # real API, read-only
//! SUGER_API_KEY=... SUGER_ORG_ID=... SUGER_ENTITLEMENT_ID=... \
//!     cargo run --example quickstart -- --write  # real API, also reports one usage record group
//! ```
//!
//! Without `SUGER_API_KEY` and `SUGER_ORG_ID` it starts `suger_metering::fake::FakeSuger` in this
//! process and walks through every operation. With them it only reads from the real account,
//! unless `--write` is given.

use std::process::ExitCode;

use suger_metering::fake::FakeSuger;
use suger_metering::{
    BillableMetric, BillableMetricAggregationType, BillableMetricStatus,
    CreateUsageRecordGroupParams, Error, ListUsageRecordGroups, ListUsageRecordReports,
    MeteringClient, MeteringUsageRecord, NewUsageRecordGroup, Partner, PartnerUsageMeteringConfig,
    UpdateBillableMetricParams, UsageRecordGroupStatus,
};

fn main() -> ExitCode {
    let write = std::env::args().skip(1).any(|a| a == "--write");
    let real =
        std::env::var_os("SUGER_API_KEY").is_some() || std::env::var_os("SUGER_ORG_ID").is_some();
    let result = if real {
        against_real_api(write)
    } else {
        against_fake()
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn against_fake() -> Result<(), Box<dyn std::error::Error>> {
    let fake = FakeSuger::start()?;
    let client = fake.client();
    println!(
        "Started a fake Suger server at {} (org {:?})\n",
        fake.base_url(),
        client.org_id()
    );

    // 1. A billable metric for v2 usage.
    let metric = client.create_billable_metric(&BillableMetric {
        name: "LLM tokens".into(),
        description: "Tokens processed".into(),
        aggregation_type: Some(BillableMetricAggregationType::Sum),
        ..Default::default()
    })?;
    println!(
        "create_billable_metric   -> {} {:?} ({})",
        metric.id,
        metric.name,
        name(&metric.status)
    );
    let metric = client.update_billable_metric(
        &metric.id,
        &UpdateBillableMetricParams {
            description: Some("Tokens processed, all models".into()),
            ..Default::default()
        },
    )?;
    println!(
        "update_billable_metric   -> description {:?}",
        metric.description
    );
    let got = client.get_billable_metric(&metric.id)?;
    let active = client.list_billable_metrics(Some(BillableMetricStatus::Active))?;
    println!(
        "get/list_billable_metrics-> {:?}; {} active",
        got.name,
        active.len()
    );

    // 2. Report usage: v1 records with our own id (idempotent), then v2 billable records.
    let v1 = client.report_usage_record_group(
        "ent-acme",
        &CreateUsageRecordGroupParams {
            id: Some("acme-2026-11-26T14".into()),
            records: [("api_calls".to_string(), 1200.0)].into(),
            ..Default::default()
        },
    )?;
    println!(
        "report (v1 records)      -> {} {} {:?}",
        v1.id,
        name(&v1.status),
        v1.records
    );
    match client.report_usage_record_group(
        "ent-acme",
        &CreateUsageRecordGroupParams {
            id: Some("acme-2026-11-26T14".into()),
            records: [("api_calls".to_string(), 1200.0)].into(),
            ..Default::default()
        },
    ) {
        Err(e) if e.is_conflict() => {
            println!("report again, same id    -> refused, not billed twice: {e}")
        }
        other => println!("report again, same id    -> unexpected: {other:?}"),
    }
    let v2 = client.report_usage_record_group(
        "ent-globex",
        &CreateUsageRecordGroupParams {
            billable_records: vec![
                MeteringUsageRecord::new(metric.id.as_str(), 52_000.0).property("model", "large"),
            ],
            ..Default::default()
        },
    )?;
    let billable = v2
        .meta_info
        .as_ref()
        .map(|m| m.billable_records.len())
        .unwrap_or(0);
    println!(
        "report (v2 billable)     -> {} (client-generated id), {billable} billable record(s)",
        v2.id
    );

    // 3. Refused before sending: every quantity zero.
    let zero = client.report_usage_record_group(
        "ent-acme",
        &CreateUsageRecordGroupParams {
            records: [("api_calls".to_string(), 0.0)].into(),
            ..Default::default()
        },
    );
    if let Err(e) = zero {
        println!("report all-zero usage    -> {e}");
    }

    // 4. Validate, then batch-report.
    let batch: Vec<NewUsageRecordGroup> = ["ent-acme", "ent-initech"]
        .into_iter()
        .map(|ent| NewUsageRecordGroup {
            entitlement_id: ent.into(),
            records: [
                ("api_calls".to_string(), 40.0),
                ("storage_gb".to_string(), 2.5),
            ]
            .into(),
            ..Default::default()
        })
        .collect();
    let verdict = client.batch_validate_usage_record_groups(&batch)?;
    println!(
        "batch_validate           -> {}",
        if verdict.is_empty() {
            "valid".to_string()
        } else {
            verdict
        }
    );
    let created = client.batch_report_usage_record_groups(&batch)?;
    println!(
        "batch_report             -> {} groups created",
        created.len()
    );

    // 5. List back, with a filter, and all pages through the iterator.
    let page = client
        .list_usage_record_groups(&ListUsageRecordGroups::new().entitlement_id("ent-acme"))?;
    println!(
        "list (entitlement ent-acme) -> {} groups",
        page.usage_record_groups.len()
    );
    for g in &page.usage_record_groups {
        println!("    {} {} {:?}", g.id, name(&g.status), g.records);
    }
    let all = client
        .usage_record_groups(&ListUsageRecordGroups::new().limit(2))
        .collect::<Result<Vec<_>, Error>>()?;
    println!(
        "usage_record_groups (pages of 2) -> {} groups in all",
        all.len()
    );

    // 6. Suger's hourly report cycle; make one group fail to show retry.
    fake.fail_next_report_for(&created[1].id);
    let reports = fake.run_report_cycle();
    println!(
        "\n(fake) hourly report cycle -> {} usage record reports",
        reports.len()
    );
    let listed = client.list_usage_record_reports(&ListUsageRecordReports::new())?;
    for r in &listed.usage_record_reports {
        let info = r.info.clone().unwrap_or_default();
        println!(
            "list_usage_record_reports -> {} for {} {}: {:?}; the marketplace's verdict: {}",
            r.id,
            r.entitlement_id,
            name(&info.status),
            info.usage_record_group_ids,
            r.verdict()
        );
    }
    let failed = client.list_usage_record_groups(
        &ListUsageRecordGroups::new().status(UsageRecordGroupStatus::ReportFailed),
    )?;
    for g in &failed.usage_record_groups {
        let retried = client.retry_usage_record_group(&g.id, None)?;
        println!(
            "retry_usage_record_group -> {} is {} again",
            retried.id,
            name(&retried.status)
        );
    }

    // 7. Delete a group that was not reported yet (only CREATED or INVALID can be deleted).
    let extra = client.report_usage_record_group(
        "ent-acme",
        &CreateUsageRecordGroupParams {
            records: [("api_calls".to_string(), 1.0)].into(),
            ..Default::default()
        },
    )?;
    let deleted = client.delete_usage_record_group(&extra.id, None)?;
    println!(
        "delete_usage_record_group -> {} {}",
        deleted.id,
        name(&deleted.status)
    );
    if let Err(e) = client.delete_usage_record_group(&v1.id, None) {
        println!("delete a REPORTED group  -> {e}");
    }

    // 8. The metering config.
    let mut config = client.get_usage_metering_config_info()?;
    println!(
        "\nget_usage_metering_config_info -> {} partner configs",
        config.partner_usage_metering_configs.len()
    );
    config
        .partner_usage_metering_configs
        .push(PartnerUsageMeteringConfig {
            partner: Some(Partner::Aws),
            enable_billable_dimension: true,
            ..Default::default()
        });
    let config = client.update_usage_metering_config_info(&config)?;
    println!(
        "update_usage_metering_config_info -> {:?}",
        config
            .partner_usage_metering_configs
            .iter()
            .map(|c| name(&c.partner))
            .collect::<Vec<_>>()
    );
    println!(
        "\nDone: {} requests served by the fake.",
        fake.requests().len()
    );
    Ok(())
}

fn against_real_api(write: bool) -> Result<(), Box<dyn std::error::Error>> {
    let client = MeteringClient::from_env()?;
    println!(
        "Using the real Suger API at {} (org {:?}), read-only{}\n",
        client.base_url(),
        client.org_id(),
        if write {
            " plus one report (--write)"
        } else {
            ""
        }
    );

    let metrics = client.list_billable_metrics(None)?;
    println!("list_billable_metrics    -> {} metrics", metrics.len());
    let groups = client.list_usage_record_groups(&ListUsageRecordGroups::new().limit(10))?;
    println!(
        "list_usage_record_groups -> {} groups (first page of 10)",
        groups.usage_record_groups.len()
    );
    for g in &groups.usage_record_groups {
        println!(
            "    {} {} {} {:?}",
            g.id,
            g.entitlement_id,
            name(&g.status),
            g.records
        );
    }
    let reports = client.list_usage_record_reports(&ListUsageRecordReports::new().limit(10))?;
    println!(
        "list_usage_record_reports -> {} reports (first page of 10)",
        reports.usage_record_reports.len()
    );
    let config = client.get_usage_metering_config_info()?;
    println!(
        "get_usage_metering_config_info -> {} partner configs",
        config.partner_usage_metering_configs.len()
    );

    if write {
        let entitlement = std::env::var("SUGER_ENTITLEMENT_ID")
            .map_err(|_| "--write needs SUGER_ENTITLEMENT_ID (and optionally SUGER_DIMENSION)")?;
        let dimension = std::env::var("SUGER_DIMENSION").unwrap_or_else(|_| "quickstart".into());
        let group = client.report_usage_record_group(
            &entitlement,
            &CreateUsageRecordGroupParams {
                records: [(dimension, 1.0)].into(),
                ..Default::default()
            },
        )?;
        println!(
            "report_usage_record_group -> {} {}",
            group.id,
            name(&group.status)
        );
    }
    Ok(())
}

/// An optional enum value as its wire name (`-` when absent).
fn name<T: std::fmt::Display>(value: &Option<T>) -> String {
    value.as_ref().map_or_else(|| "-".to_string(), T::to_string)
}
