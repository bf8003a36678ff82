//! The command line: every command, flag and environment variable (the contract).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use suger_metering::{BillableMetricStatus, Partner, UsageRecordGroupStatus};
use time::{Date, OffsetDateTime};

use crate::flags::{
    parse_column, parse_date, parse_group_status, parse_metric_status, parse_partner, parse_secs,
    parse_since, parse_timestamp,
};

/// Report usage to Suger's Metering API, inspect it, and run a fake Suger for tests.
#[derive(Debug, Parser)]
#[command(
    name = "suger-metering",
    version,
    after_help = "Example:\n  SUGER_API_KEY=... SUGER_ORG_ID=org-1 suger-metering report ent-1 --record api_calls=120\n\n\
Exit codes: 0 success (an already-recorded report is success), 2 usage or invalid input \
(nothing sent), 3 authentication or permission, 4 outcome unknown (the request may have been \
applied: the error line says whether re-running is safe), 5 usage that will not be billed \
(reconcile, trace; report --outbox: a correction below what was forwarded), 1 any other failure."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Read the API key from this file (default: the SUGER_API_KEY environment variable).
    /// The key is never accepted as a flag value: it would land in shell history and `ps`.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) api_key_file: Option<PathBuf>,
    /// The organization id.
    #[arg(long, global = true, env = "SUGER_ORG_ID", value_name = "ID")]
    pub(crate) org_id: Option<String>,
    /// The API base URL (default https://api.suger.cloud).
    #[arg(long, global = true, env = "SUGER_API_BASE_URL", value_name = "URL")]
    pub(crate) base_url: Option<String>,
    /// Output format; default: table on a terminal, json otherwise.
    #[arg(long, short, global = true, value_enum)]
    pub(crate) output: Option<Format>,
    /// Attempts per request (retries are only made where they cannot bill twice).
    #[arg(long, global = true, default_value_t = 3, value_name = "N")]
    pub(crate) max_attempts: u32,
    /// Timeout of one attempt, in seconds (default 30).
    #[arg(long, global = true, value_name = "SECS", value_parser = parse_secs)]
    pub(crate) timeout: Option<Duration>,
    /// More detail on stderr: -v what the library does (info), -vv each attempt (debug).
    /// RUST_LOG (e.g. RUST_LOG=debug) is honoured too; warnings are always shown.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON document with the API's field names.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// The Prometheus text format (only `outbox status`), for node_exporter's textfile
    /// collector.
    Prometheus,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Report usage for one entitlement (flags), or every group of a CSV/NDJSON file.
    #[command(
        after_help = "Examples:\n  suger-metering report ent-1 --record api_calls=120 --timestamp 2026-03-01T10\n  \
suger-metering report ent-1 --billable api_calls=3,region=eu --id-key nightly-2026-03-01\n  \
suger-metering report --file usage.csv --column entitlement_id=customer_id\n\n\
CSV: header line required, columns entitlement_id,dimension,quantity[,timestamp][,id]\n\
(other header names through --column NAME=HEADER). NDJSON: one CreateUsageRecordGroupParams\n\
object per line, with entitlementID. Timestamps: RFC 3339 (2026-03-01T10:00:00Z) or an hour\n\
in UTC (2026-03-01T10).\n\n\
Ids: usage with a timestamp gets the id of (entitlement, timestamp), so a corrected re-run of\n\
the same hours is recognised (not billed twice); usage without one needs an id column or\n\
--id-key with --outbox, and otherwise gets an id from its content. --id-from content gives\n\
every group its content id (the ids of files reported before version 0.2).\n\n\
Corrections (--outbox): a re-run with changed quantities bills only the difference: an\n\
earlier group not yet forwarded (CREATED) is deleted and replaced; a forwarded one gets a\n\
group with the positive difference; a negative difference is not sent (exit 5)."
    )]
    Report(ReportArgs),
    /// Report a file as batches (no ids: Suger cannot deduplicate; prefer `report --file`).
    #[command(after_help = "Example:\n  suger-metering batch-report --file usage.ndjson")]
    BatchReport(FileArgs),
    /// Check a file locally and with Suger's validation endpoint; nothing is recorded.
    #[command(after_help = "Example:\n  suger-metering validate --file usage.csv")]
    Validate(FileArgs),
    /// Usage record groups: list, delete, retry.
    #[command(subcommand)]
    Groups(GroupsCommand),
    /// Usage record reports: list.
    #[command(subcommand)]
    Reports(ReportsCommand),
    /// Billable metrics: list, get, create, update.
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// The usage metering config: get, set.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// A local outbox of reports to send (for cron).
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Print the usage record group id of ENTITLEMENT and KEY (what `report --id-key KEY`
    /// gives; with --timestamp too, the key is KEY/TIME, e.g. job-42/2026-03-01T10:00:00Z).
    #[command(
        after_help = "Example:\n  suger-metering id ent-1 2026-03-01T10:00:00Z\n\n\
The id is a UUID v5 of the entitlement and the key: the same on every run and machine."
    )]
    Id {
        /// The entitlement.
        entitlement: String,
        /// What identifies the usage within the entitlement (an hour, a batch name, ...).
        key: String,
    },
    /// Did it reach the marketplace? The outbox's ledger against what Suger lists, one row per
    /// report; exit 5 when usage will not be billed.
    #[command(
        after_help = "Example (crontab):\n  0 * * * * suger-metering reconcile --outbox /var/lib/myapp/suger-outbox --since 48h || alert\n\n\
States: reported, awaiting_report, failed, invalid, missing, mismatch, deleted, pending, dead,\n\
unexpected, retried. Exit 0 when none is failed, invalid, missing, mismatch or dead; 5 when any is;\n\
3 for a bad API key (401/403); 4 when Suger could not be reached; 2 for bad flags."
    )]
    Reconcile(ReconcileArgs),
    /// Follow one report to the marketplace's verdict; exit 0 only when it was accepted.
    #[command(
        after_help = "Example:\n  suger-metering trace 4f0c5f8e-2b7a-5c1e-9d3a-0e6b7c8d9e10 --outbox /var/lib/myapp/suger-outbox"
    )]
    Trace(TraceArgs),
    /// Run the embedded fake Suger server until interrupted (loopback only).
    #[command(
        after_help = "Example:\n  suger-metering fake --port 0 --seed seed.json\n\n\
Prints SUGER_API_BASE_URL=..., SUGER_API_KEY=... and SUGER_ORG_ID=... as soon as it listens.\n\
--org-id (or SUGER_ORG_ID) is the organization it serves; other global flags are refused.\n\
Admin routes (no auth): POST /_fake/report-cycle, POST /_fake/report-cycle/start,\n\
POST /_fake/faults (JSON fault), DELETE /_fake/faults (also report failures, page cap),\n\
GET /_fake/requests, DELETE /_fake/requests, GET /_fake/state, POST /_fake/reset,\n\
POST /_fake/fail-next-report ({usageRecordGroupId} or {entitlementId, message,\n\
marketplaceStatus}), POST /_fake/entitlement-partner, POST /_fake/group-status,\n\
POST /_fake/lose-group, POST /_fake/alter-group, POST /_fake/max-page-size."
    )]
    Fake(FakeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The entitlement to report for (not with --file).
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub(crate) entitlement: Option<String>,
    /// A v1 record DIMENSION=QUANTITY (repeatable).
    #[arg(long = "record", value_name = "DIM=QTY", conflicts_with = "billable")]
    pub(crate) records: Vec<String>,
    /// A v2 record KEY=QUANTITY[,PROPERTY=VALUE...] (repeatable).
    #[arg(long = "billable", value_name = "KEY=QTY[,PROP=VALUE...]")]
    pub(crate) billable: Vec<String>,
    /// The group id (at most 36 characters); Suger deduplicates on it. Default: derived from
    /// --id-key and --timestamp; with neither, a random id (a re-run bills again).
    #[arg(long, conflicts_with_all = ["file", "id_key"])]
    pub(crate) id: Option<String>,
    /// What identifies this usage (an hour, a batch or file name): the id is derived from the
    /// entitlement and this key (see `suger-metering id`), so a re-run is recorded once. With
    /// --file: the key of groups without a timestamp, and a prefix of the others' keys.
    #[arg(long, value_name = "KEY")]
    pub(crate) id_key: Option<String>,
    /// How a file's groups without an id column get ids: from their identity (entitlement and
    /// timestamp, or --id-key) or from their content (the pre-0.2 ids).
    #[arg(long, value_enum, default_value_t = IdFrom::Identity, requires = "file")]
    pub(crate) id_from: IdFrom,
    /// When the usage happened: RFC 3339 or an hour in UTC (2026-03-01T10). Default: when
    /// Suger receives it.
    #[arg(long, value_name = "TIME", conflicts_with = "file", value_parser = parse_timestamp)]
    pub(crate) timestamp: Option<OffsetDateTime>,
    /// Report every group of this CSV or NDJSON file (`-` for stdin).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["records", "billable"])]
    pub(crate) file: Option<PathBuf>,
    /// The file's format; default: from the extension, else from the first line.
    #[arg(long, value_enum, requires = "file")]
    pub(crate) format: Option<FileFormat>,
    /// A CSV column under another header name, NAME=HEADER (NAME: entitlement_id, dimension,
    /// quantity, timestamp, id; repeatable), e.g. --column entitlement_id=customer_id.
    #[arg(long = "column", value_name = "NAME=HEADER", value_parser = parse_column, requires = "file")]
    pub(crate) columns: Vec<(String, String)>,
    /// Enqueue the file's groups in the outbox in DIR, then flush it.
    #[arg(long, value_name = "DIR", requires = "file")]
    pub(crate) outbox: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct FileArgs {
    /// A CSV or NDJSON file (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// The file's format; default: from the extension, else from the first line.
    #[arg(long, value_enum)]
    pub(crate) format: Option<FileFormat>,
    /// A CSV column under another header name, NAME=HEADER (repeatable).
    #[arg(long = "column", value_name = "NAME=HEADER", value_parser = parse_column)]
    pub(crate) columns: Vec<(String, String)>,
    /// Groups per request, 1 to 1000.
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) batch_size: u32,
}

/// `--id-from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum IdFrom {
    /// From what identifies the usage: the entitlement and timestamp (or --id-key).
    Identity,
    /// From the whole content (entitlement, usage, timestamp): the ids before version 0.2.
    Content,
}

/// `--format` of usage files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FileFormat {
    /// Comma-separated, header line required.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

/// Filters shared by `groups list` and `reports list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only this entitlement.
    #[arg(long, value_name = "ID", conflicts_with_all = ["buyer", "partner"])]
    pub(crate) entitlement: Option<String>,
    /// Only this buyer.
    #[arg(long, value_name = "ID", conflicts_with = "partner")]
    pub(crate) buyer: Option<String>,
    /// Only this marketplace (AWS, AZURE, GCP, ...).
    #[arg(long, value_name = "PARTNER", value_parser = parse_partner)]
    pub(crate) partner: Option<Partner>,
    /// First day, YYYY-MM-DD (UTC, inclusive; groups: creation day).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub(crate) from: Option<Date>,
    /// Last day, YYYY-MM-DD (UTC, inclusive).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub(crate) to: Option<Date>,
    /// Page size, 1 to 1000 (with --all: per request).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) limit: Option<u32>,
    /// Skip this many results.
    #[arg(long, value_name = "N")]
    pub(crate) offset: Option<u32>,
    /// Fetch every page.
    #[arg(long)]
    pub(crate) all: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum GroupsCommand {
    /// List usage record groups.
    #[command(
        after_help = "Example:\n  suger-metering groups list --entitlement ent-1 --status REPORT_FAILED --all -o ndjson"
    )]
    List {
        #[command(flatten)]
        filters: ListArgs,
        /// Only groups with this status (CREATED, REPORT_PENDING, REPORTED, REPORT_FAILED,
        /// INVALID, DELETED).
        #[arg(long, value_name = "STATUS", value_parser = parse_group_status)]
        status: Option<UsageRecordGroupStatus>,
    },
    /// Delete a group (only CREATED or INVALID ones can be).
    #[command(
        after_help = "Example:\n  suger-metering groups delete 7d9f0c1e-... --date 2026-03-01"
    )]
    Delete(GroupIdArgs),
    /// Retry a REPORT_FAILED group (it goes back to CREATED for the next hourly report).
    #[command(after_help = "Example:\n  suger-metering groups retry 7d9f0c1e-...")]
    Retry(GroupIdArgs),
}

#[derive(Debug, Args)]
pub(crate) struct GroupIdArgs {
    /// The usage record group id.
    pub(crate) id: String,
    /// The group's creation day, YYYY-MM-DD (UTC).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub(crate) date: Option<Date>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReportsCommand {
    /// List usage record reports.
    #[command(
        after_help = "Example:\n  suger-metering reports list --entitlement ent-1 --from 2026-03-01 --all"
    )]
    List {
        #[command(flatten)]
        filters: ListArgs,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum MetricsCommand {
    /// List billable metrics.
    #[command(after_help = "Example:\n  suger-metering metrics list --status ACTIVE")]
    List {
        /// Only metrics with this status (ACTIVE, DELETED).
        #[arg(long, value_name = "STATUS", value_parser = parse_metric_status)]
        status: Option<BillableMetricStatus>,
    },
    /// Get one billable metric.
    #[command(after_help = "Example:\n  suger-metering metrics get m-1")]
    Get {
        /// The billable metric id.
        id: String,
    },
    /// Create a billable metric from a JSON file (`-` for stdin).
    #[command(
        after_help = "Example:\n  echo '{\"name\":\"API calls\",\"aggregationType\":\"SUM\"}' | suger-metering metrics create --file -"
    )]
    Create {
        /// A BillableMetric JSON object.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// Update a billable metric's name, description or status.
    #[command(
        after_help = "Example:\n  suger-metering metrics update m-1 --name \"API calls (v2)\""
    )]
    Update {
        /// The billable metric id.
        id: String,
        /// New name, 4 to 50 characters.
        #[arg(long)]
        name: Option<String>,
        /// New description, at most 300 characters.
        #[arg(long)]
        description: Option<String>,
        /// New status (ACTIVE, DELETED).
        #[arg(long, value_parser = parse_metric_status)]
        status: Option<BillableMetricStatus>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print the usage metering config.
    #[command(after_help = "Example:\n  suger-metering config get -o json > config.json")]
    Get,
    /// Update the config from a JSON file: partners in the file replace the same partner's
    /// current entry; partners it does not name are kept (read-modify-write).
    #[command(after_help = "Example:\n  suger-metering config set --file config.json")]
    Set {
        /// A UsageMeteringConfigInfo JSON object (`-` for stdin).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum OutboxCommand {
    /// Count the reports waiting in an outbox (only reads: works while others enqueue and send).
    #[command(after_help = "Example:\n  suger-metering outbox status --dir /var/lib/myapp/outbox")]
    Status {
        /// The outbox directory.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Send what is waiting in an outbox (for cron: `*/5 * * * *`). Exits 0 with a note when
    /// another process (a service's meter) is sending it: that process sends these reports.
    #[command(
        after_help = "Example (crontab):\n  */5 * * * * suger-metering outbox flush --dir /var/lib/myapp/outbox"
    )]
    Flush {
        /// The outbox directory.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Move the reports Suger refused for good (dead letters) back to be sent again, after
    /// fixing the cause (a wrong base URL, a dimension missing from the metering config).
    #[command(
        after_help = "Example:\n  suger-metering outbox requeue-dead --dir /var/lib/myapp/outbox && suger-metering outbox flush --dir /var/lib/myapp/outbox"
    )]
    RequeueDead {
        /// The outbox directory.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ReconcileArgs {
    /// The outbox directory (read without its lock: safe beside the running service).
    #[arg(long, value_name = "DIR")]
    pub(crate) outbox: PathBuf,
    /// The usage of the last DURATION (e.g. 48h, 90m, 2d). Default: 48h.
    #[arg(long, value_name = "DURATION", value_parser = parse_since, conflicts_with_all = ["from", "to"])]
    pub(crate) since: Option<Duration>,
    /// First day of usage, YYYY-MM-DD (UTC).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub(crate) from: Option<Date>,
    /// Last day of usage, YYYY-MM-DD (UTC, inclusive). Default: today.
    #[arg(long, value_name = "DATE", value_parser = parse_date, requires = "from")]
    pub(crate) to: Option<Date>,
    /// Retry failed groups still inside the marketplace's late-usage window (AWS 6 h, Azure
    /// 24 h), once each.
    #[arg(long)]
    pub(crate) retry_failed: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TraceArgs {
    /// The report's id (the usage record group id).
    pub(crate) id: String,
    /// The outbox directory whose ledger knows the report (faster; without it, the last 35
    /// days of every entitlement are listed).
    #[arg(long, value_name = "DIR")]
    pub(crate) outbox: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct FakeArgs {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub(crate) port: u16,
    /// Loopback address to listen on (127.0.0.1, ::1 or localhost).
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// A JSON file of billableMetrics, usageRecordGroups and usageMeteringConfigInfo to preload.
    #[arg(long, value_name = "FILE")]
    pub(crate) seed: Option<PathBuf>,
    /// How many requests to remember for GET /_fake/requests.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub(crate) max_requests: usize,
    /// At most this many bytes of request bodies are remembered (oldest forgotten first).
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    pub(crate) max_request_bytes: usize,
    /// Most connections served at once (one thread each); more are closed on accept.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub(crate) max_connections: usize,
    /// Close connections idle (or sending one request) for longer than this many seconds.
    #[arg(long, default_value = "30", value_name = "SECS", value_parser = parse_secs)]
    pub(crate) read_timeout: Duration,
}
