//! `id ENTITLEMENT KEY`: the usage record group id `--id-key KEY` gives, for shell scripts.

use suger_metering::usage_record_group_id;

use crate::exit::Failure;

/// Prints `usage_record_group_id(ENTITLEMENT, KEY)` on one line of stdout.
pub(crate) fn run(entitlement: &str, key: &str) -> Result<(), Failure> {
    if entitlement.is_empty() || key.is_empty() {
        return Err(Failure::usage(
            "the entitlement and the key must not be empty",
            "give both, e.g. suger-metering id ent-1 2026-03-01T10:00:00Z",
        ));
    }
    println!("{}", usage_record_group_id(entitlement, key));
    Ok(())
}
