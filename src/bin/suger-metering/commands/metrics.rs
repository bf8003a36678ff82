//! `metrics list|get|create|update`.

use suger_metering::{BillableMetric, ListBillableMetrics, UpdateBillableMetricParams};

use super::connect;
use crate::cli::{Global, MetricsCommand};
use crate::exit::{self, Failure, Op};
use crate::input::read_json_file;
use crate::output::Printer;

/// `metrics ...`.
pub(crate) fn run(global: &Global, printer: &Printer, cmd: MetricsCommand) -> Result<(), Failure> {
    let read = |e: suger_metering::Error| exit::classify(&e, Op::Read);
    let change =
        |e: suger_metering::Error| exit::classify(&e, Op::Change("suger-metering metrics list"));
    let metric = match cmd {
        MetricsCommand::List { status } => {
            let client = connect(global)?;
            let mut query = ListBillableMetrics::new();
            query.status = status;
            let list = client.list_billable_metrics(&query).map_err(read)?;
            let mut out = printer.list();
            list.into_iter().for_each(|m| out.push(m));
            out.finish();
            return Ok(());
        }
        MetricsCommand::Get { id } => connect(global)?.get_billable_metric(&id).map_err(read)?,
        MetricsCommand::Create { file } => {
            let metric: BillableMetric = read_json_file(&file, "a BillableMetric")?;
            connect(global)?
                .create_billable_metric(&metric)
                .map_err(change)?
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
                status,
            };
            connect(global)?
                .update_billable_metric(&id, &params)
                .map_err(change)?
        }
    };
    printer.one(&metric, std::slice::from_ref(&metric));
    Ok(())
}
