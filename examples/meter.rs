//! A usage meter against the embedded fake Suger server: no account, no network.
//!
//! `cargo run --example meter`
//!
//! Two worker threads count API calls and tokens; the meter sums them per hour, seals them
//! into a durable outbox and reports them. Suger "fails" twice on the way (a 503, and an
//! answer lost after the report was applied): nothing is lost, nothing is billed twice.

use std::sync::Arc;
use std::time::Duration;

use suger_metering::fake::{FakeSuger, Fault, Operation};
use suger_metering::{Meter, MeteringUsageRecord, Outbox, RetryPolicy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fake = FakeSuger::start()?;
    let client = fake
        .client_builder()
        .retry(
            RetryPolicy::default().backoff(Duration::from_millis(10), Duration::from_millis(100)),
        )
        .build()?;
    let dir = std::env::temp_dir().join(format!("suger-meter-example-{}", std::process::id()));

    // In a service: a directory on a persistent volume, e.g. /var/lib/myapp/suger-outbox.
    let meter = Arc::new(
        Meter::builder(client)
            .outbox(Outbox::open(&dir)?)
            .flush_interval(Duration::from_millis(200))
            .journal(true) // every add survives a kill -9 of this process
            .start()?,
    );

    fake.inject(Fault::status(503).only(Operation::ReportUsageRecordGroup));
    fake.inject(Fault::drop_after_apply().only(Operation::ReportUsageRecordGroup));

    let workers: Vec<_> = ["customer-a", "customer-b"]
        .into_iter()
        .map(|entitlement| {
            let meter = Arc::clone(&meter);
            std::thread::spawn(move || -> Result<(), suger_metering::MeterError> {
                for request in 0..10_000 {
                    meter.add(entitlement, "api_calls", 1.0)?;
                    if request % 1000 == 0 {
                        meter.add_billable(
                            entitlement,
                            MeteringUsageRecord::new("tokens", 512.0).property("model", "large"),
                        )?;
                    }
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker panicked")?;
    }

    // Before exiting: seal what is open, send everything, stop the background threads.
    let last = meter.shutdown()?;
    let stats = meter.stats();
    println!(
        "last flush: {} recorded, {} pending; since start: {} recorded, {} already recorded (a lost answer), {} dead",
        last.recorded, last.pending, stats.recorded, stats.already_recorded, stats.dead
    );

    let mut calls = 0.0;
    for group in fake.usage_record_groups() {
        calls += group["records"]["api_calls"].as_f64().unwrap_or(0.0);
        println!(
            "{} {} {:<11} records={} billableRecords={}",
            group["id"].as_str().unwrap_or_default(),
            group["metaInfo"]["timestamp"].as_str().unwrap_or_default(),
            group["entitlementID"].as_str().unwrap_or_default(),
            group["records"],
            group["metaInfo"]["billableRecords"]
                .as_array()
                .map_or(0, Vec::len),
        );
    }
    println!("api_calls recorded at Suger: {calls} (added: 20000)");
    assert_eq!(calls, 20_000.0);

    drop(meter);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
