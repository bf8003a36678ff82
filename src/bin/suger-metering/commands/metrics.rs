//! `metrics list|get|create|update` and `config get|set`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use suger_metering::{
    BillableMetric, BillableMetricStatus, UpdateBillableMetricParams, UsageMeteringConfigInfo,
};

use crate::cli::{ConfigCommand, Global, MetricsCommand};
use crate::exit::{self, Failure, Op};
use crate::input::read_text;
use crate::output::Printer;

/// `metrics ...`.
pub(crate) fn metrics(
    global: &Global,
    printer: &Printer,
    cmd: MetricsCommand,
) -> Result<(), Failure> {
    let fail = |e: suger_metering::Error| exit::classify(&e, Op::Other);
    let metric = match cmd {
        MetricsCommand::List { status } => {
            let client = crate::connect(global)?;
            let list = client
                .list_billable_metrics(status.as_deref().map(BillableMetricStatus::from))
                .map_err(fail)?;
            let mut out = printer.list();
            list.into_iter().for_each(|m| out.push(m));
            out.finish();
            return Ok(());
        }
        MetricsCommand::Get { id } => crate::connect(global)?
            .get_billable_metric(&id)
            .map_err(fail)?,
        MetricsCommand::Create { file } => {
            let metric: BillableMetric = read_json_file(&file, "a BillableMetric")?;
            crate::connect(global)?
                .create_billable_metric(&metric)
                .map_err(fail)?
        }
        MetricsCommand::Update {
            id,
            name,
            description,
            status,
        } => {
            if name.is_none() && description.is_none() && status.is_none() {
                return Err(Failure::usage(
                    "nothing to update",
                    "give --name, --description or --status",
                ));
            }
            let params = UpdateBillableMetricParams {
                name,
                description,
                status: status.as_deref().map(BillableMetricStatus::from),
            };
            crate::connect(global)?
                .update_billable_metric(&id, &params)
                .map_err(fail)?
        }
    };
    printer.one(&metric, std::slice::from_ref(&metric));
    Ok(())
}

/// `config ...`.
pub(crate) fn config(
    global: &Global,
    printer: &Printer,
    cmd: ConfigCommand,
) -> Result<(), Failure> {
    let fail = |e: suger_metering::Error| exit::classify(&e, Op::Other);
    let config = match cmd {
        ConfigCommand::Get => crate::connect(global)?
            .get_usage_metering_config_info()
            .map_err(fail)?,
        ConfigCommand::Set { file } => {
            let wanted: UsageMeteringConfigInfo =
                read_json_file(&file, "a UsageMeteringConfigInfo")?;
            let client = crate::connect(global)?;
            // Read-modify-write: partners the file does not name keep their current config.
            let mut merged = client.get_usage_metering_config_info().map_err(fail)?;
            for p in wanted.partner_usage_metering_configs {
                let current = merged
                    .partner_usage_metering_configs
                    .iter_mut()
                    .find(|c| c.partner == p.partner);
                match current {
                    Some(c) => *c = p,
                    None => merged.partner_usage_metering_configs.push(p),
                }
            }
            client
                .update_usage_metering_config_info(&merged)
                .map_err(fail)?
        }
    };
    printer.one(&config, &config.partner_usage_metering_configs);
    Ok(())
}

/// Reads a JSON object file into `T`, refusing fields `T` does not know (they would be
/// silently dropped, and a read-modify-write would lose them).
fn read_json_file<T: DeserializeOwned + Serialize>(
    path: &std::path::Path,
    what: &str,
) -> Result<T, Failure> {
    let text = read_text(path)?;
    let bad = |why: String| {
        Failure::usage(
            format!("{}: {why}", path.display()),
            format!("give {what} as a JSON object; nothing was sent"),
        )
    };
    let value: Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    if !value.is_object() {
        return Err(bad("not a JSON object".into()));
    }
    let typed: T =
        serde_json::from_value(value.clone()).map_err(|e| bad(format!("not {what}: {e}")))?;
    let back = serde_json::to_value(&typed).unwrap_or(Value::Null);
    let mut lost = Vec::new();
    lost_fields(&value, &back, "", &mut lost);
    if !lost.is_empty() {
        return Err(bad(format!(
            "fields this version of suger-metering does not know would be lost: {}",
            lost.join(", ")
        )));
    }
    Ok(typed)
}

/// Paths of non-empty values in `given` that are missing from `kept`.
fn lost_fields(given: &Value, kept: &Value, path: &str, out: &mut Vec<String>) {
    match (given, kept) {
        (Value::Object(g), Value::Object(k)) => {
            for (key, v) in g {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(kv) => lost_fields(v, kv, &p, out),
                    None if !is_empty(v) => out.push(p),
                    None => {}
                }
            }
        }
        (Value::Array(g), Value::Array(k)) => {
            for (i, (gv, kv)) in g.iter().zip(k).enumerate() {
                lost_fields(gv, kv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
    }
}
