//! `config get|set`: the organization's usage metering configuration (read-modify-write).

use suger_metering::UsageMeteringConfigInfo;

use super::connect;
use crate::cli::{ConfigCommand, Global};
use crate::exit::{self, Failure, Op};
use crate::input::read_json_file;
use crate::output::Printer;

/// `config ...`.
pub(crate) fn run(global: &Global, printer: &Printer, cmd: ConfigCommand) -> Result<(), Failure> {
    let read = |e: suger_metering::Error| exit::classify(&e, Op::Read);
    let change =
        |e: suger_metering::Error| exit::classify(&e, Op::Change("suger-metering config get"));
    let config = match cmd {
        ConfigCommand::Get => connect(global)?
            .get_usage_metering_config_info()
            .map_err(read)?,
        ConfigCommand::Set { file } => {
            let wanted: UsageMeteringConfigInfo =
                read_json_file(&file, "a UsageMeteringConfigInfo")?;
            let client = connect(global)?;
            // Read-modify-write: partners the file does not name keep their current config.
            let mut merged = client.get_usage_metering_config_info().map_err(read)?;
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
                .map_err(change)?
        }
    };
    printer.one(&config, &config.partner_usage_metering_configs);
    Ok(())
}
