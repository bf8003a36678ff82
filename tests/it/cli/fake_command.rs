//! `suger-metering fake`: the embedded fake Suger as a process that other processes (the
//! library client, the CLI itself, plain HTTP for the admin routes) talk to.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use super::{bin, run_cmd, temp_file};
use suger_metering::{CreateUsageRecordGroupParams, ListUsageRecordGroups, MeteringClient};

/// Kills the child when dropped, so that a failing assertion does not leak a server.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn fake_command_serves_another_process() {
    let seed = temp_file(
        "seed.json",
        r#"{"billableMetrics": [{"id": "m1", "name": "API calls"}]}"#,
    );
    let mut child = Child(
        bin()
            .args(["fake", "--port", "0", "--seed", seed.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut vars = std::collections::HashMap::new();
    for _ in 0..3 {
        let line = lines.next().unwrap().unwrap();
        let (k, v) = line.split_once('=').unwrap();
        vars.insert(k.to_string(), v.to_string());
    }
    let base = &vars["SUGER_API_BASE_URL"];
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let client = MeteringClient::builder()
        .base_url(base.as_str())
        .api_key(&vars["SUGER_API_KEY"])
        .org_id(&vars["SUGER_ORG_ID"])
        .no_proxy()
        .build()
        .unwrap();
    assert_eq!(client.get_billable_metric("m1").unwrap().name, "API calls");
    let params = CreateUsageRecordGroupParams {
        records: [("api_calls".to_string(), 2.0)].into(),
        ..Default::default()
    };
    client.report_usage_record_group("ent-1", &params).unwrap();
    let groups = client
        .list_usage_record_groups(&ListUsageRecordGroups::new())
        .unwrap();
    assert_eq!(groups.usage_record_groups.len(), 1);
    // The CLI itself, pointed at the fake in the other process.
    let mut cmd = bin();
    for (k, v) in &vars {
        cmd.env(k, v);
    }
    let r = run_cmd(cmd, &["groups", "list"], None);
    assert_eq!(r.code(0).json()[0]["records"]["api_calls"], 2.0);
    // The admin routes, over plain HTTP from yet another client.
    let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    let admin = |path: &str, body: &str| {
        agent
            .post(format!("{base}/_fake/{path}"))
            .send(body)
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    };
    let ids: serde_json::Value = serde_json::from_str(&admin("report-cycle", "")).unwrap();
    assert_eq!(ids["usageRecordReportIds"].as_array().unwrap().len(), 1);
    let mut cmd = bin();
    cmd.envs(&vars);
    assert_eq!(
        run_cmd(cmd, &["reports", "list"], None)
            .code(0)
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    admin(
        "faults",
        r#"{"status": 503, "operation": "ListUsageRecordGroups"}"#,
    );
    let mut cmd = bin();
    cmd.envs(&vars);
    run_cmd(cmd, &["groups", "list", "--max-attempts", "1"], None)
        .code(1)
        .error_line(&["503"]);
    // Loopback only; a bad seed or a taken port is refused with a message.
    run_cmd(bin(), &["fake", "--host", "0.0.0.0"], None)
        .code(2)
        .error_line(&["loopback"]);
}
