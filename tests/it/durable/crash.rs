//! Real crashes: child processes (this test binary, re-run with `--exact
//! durable::crash::crash_child`) against a fake in this process, killed with SIGKILL at random
//! instants: one sender (a meter with its journal, which also enqueues) and two writer
//! processes enqueueing into the same outbox at once; and the send lock across processes.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::TempDir;
use suger_metering::fake::{FakeSuger, Fault, Operation};
use suger_metering::{
    CreateUsageRecordGroupParams, Meter, MeteringClient, Outbox, OutboxError, RetryPolicy,
};

const MODE: &str = "SUGER_CRASH_CHILD";
const ROUNDS: usize = 24;
const ENQ_ENT: &str = "ent-enqueue";
/// The meter's entitlements (`m0`..`m31`): each seal enqueues up to 32 groups, one fsync each,
/// so that kills often land between the first enqueue of a seal and its journal's deletion.
const METER_ENTS: u64 = 32;

/// The child's side. Does nothing unless started by a parent test (env `SUGER_CRASH_CHILD`).
#[test]
#[ignore = "a child process of the crash tests"]
fn crash_child() {
    let Ok(mode) = std::env::var(MODE) else {
        return;
    };
    // End libtest's "test crash_child ... " line, so that every marker starts a line.
    println!();
    let env = |k: &str| std::env::var(k).unwrap();
    let dir = env("CRASH_DIR");
    let client = MeteringClient::builder()
        .base_url(env("CRASH_URL"))
        .api_key(env("CRASH_KEY"))
        .org_id(env("CRASH_ORG"))
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .retry(RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(5)))
        .build()
        .unwrap();
    if mode == "hold" {
        // A service: its meter holds the send lock for its life.
        let _meter = Meter::builder(client)
            .outbox(Outbox::open(&dir).unwrap())
            .flush_interval(Duration::from_secs(3600))
            .start()
            .unwrap();
        println!("LOCKED");
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    if let Some(writer) = mode.strip_prefix("write-") {
        // A writer process (a cron job, a pre-fork worker): enqueues, never sends.
        let outbox = Outbox::open(&dir).unwrap();
        let round = env("CRASH_ROUND");
        println!("STARTED");
        for i in 0u64.. {
            let id = format!("w{writer}-r{round}-{i}");
            println!("EB {id}");
            let params = CreateUsageRecordGroupParams {
                id: Some(id.clone()),
                records: [("enqueued".to_string(), 1.0)].into(),
                ..Default::default()
            };
            outbox.enqueue(ENQ_ENT, &params).unwrap();
            println!("EA {id}");
        }
        return;
    }
    // A failed report waits 10 ms, not a minute, before it is sent again: the drain below
    // must not wait for the default backoff.
    let outbox = Outbox::builder(&dir)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(10))
        .open()
        .unwrap();
    let meter = Meter::builder(client)
        .outbox(outbox)
        .journal(true)
        .flush_interval(Duration::from_millis(25))
        .start()
        .unwrap();
    if mode == "drain" {
        meter.shutdown().unwrap();
        while meter.outbox().pending().unwrap() > 0 {
            let s = meter.flush().unwrap();
            if s.pending > 0 {
                eprintln!("drain: {s:?}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        println!("DRAINED");
        return;
    }
    let round = env("CRASH_ROUND");
    println!("STARTED");
    std::thread::scope(|s| {
        for t in 0..2 {
            let (meter, round) = (&meter, &round);
            s.spawn(move || {
                for i in 0u64.. {
                    if t == 0 && i % 16 == 0 {
                        let id = format!("r{round}-{i}");
                        println!("EB {id}");
                        let params = CreateUsageRecordGroupParams {
                            id: Some(id.clone()),
                            records: [("enqueued".to_string(), 1.0)].into(),
                            ..Default::default()
                        };
                        meter.outbox().enqueue(ENQ_ENT, &params).unwrap();
                        println!("EA {id}");
                    }
                    println!("AB {t}");
                    meter
                        .add(&format!("m{}", i % METER_ENTS), "calls", 1.0)
                        .unwrap();
                    println!("AA {t}");
                }
            });
        }
    });
}

struct Run {
    child: Child,
    out: JoinHandle<Vec<String>>,
    err: JoinHandle<String>,
}

/// Starts the child in `mode`; its complete stdout lines are collected on a thread.
fn spawn(mode: &str, fake: &FakeSuger, dir: &TempDir, round: usize) -> Run {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "durable::crash::crash_child",
            "--nocapture",
            "--ignored",
            "--test-threads=1",
        ])
        .env(MODE, mode)
        .env("CRASH_DIR", dir.path())
        .env("CRASH_URL", fake.base_url())
        .env("CRASH_KEY", fake.api_key())
        .env("CRASH_ORG", fake.org_id())
        .env("CRASH_ROUND", round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut line = Vec::new();
        // Only complete lines: a line cut by the kill was never fully acknowledged.
        while stdout.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            if line.ends_with(b"\n") {
                lines.push(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
            }
            line.clear();
        }
        lines
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    Run { child, out, err }
}

impl Run {
    fn kill(mut self) -> (Vec<String>, String) {
        self.child.kill().unwrap(); // SIGKILL on Unix
        self.child.wait().unwrap();
        (self.out.join().unwrap(), self.err.join().unwrap())
    }

    fn finish(mut self, limit: Duration) -> (Vec<String>, String) {
        let deadline = Instant::now() + limit;
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the child did not finish in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        (self.out.join().unwrap(), self.err.join().unwrap())
    }
}

/// xorshift64*, seeded from the clock (the seed is printed).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

#[test]
fn sigkill_at_random_instants_loses_nothing_acknowledged_and_bills_nothing_twice() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("crash");
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("crash test seed: {seed}");
    let mut rng = Rng(seed);
    let (mut enq_begun, mut enq_acked) = (HashSet::new(), HashSet::new());
    let (mut adds_begun, mut adds_acked) = (0u64, 0u64);
    let mut rounds_with_acks = 0;
    for round in 0..ROUNDS {
        if round % 4 == 1 {
            // Some answers are lost too, after Suger applied the report.
            fake.inject(Fault::drop_after_apply().only(Operation::ReportUsageRecordGroup));
        }
        // One sender and two writer processes on one outbox, killed one after the other.
        let mut runs: Vec<Run> = ["work", "write-a", "write-b"]
            .iter()
            .map(|mode| spawn(mode, &fake, &dir, round))
            .collect();
        let mut lines = Vec::new();
        // Up to 600 ms: a loaded machine takes a few hundred to start a child (and replay its
        // journal in a debug build), and half the rounds must see it work.
        std::thread::sleep(Duration::from_millis(40 + rng.below(560)));
        while !runs.is_empty() {
            let run = runs.remove(rng.below(runs.len() as u64) as usize);
            let (out, stderr) = run.kill();
            assert!(
                !stderr.contains("panicked"),
                "round {round}: a child failed:\n{stderr}"
            );
            lines.extend(out);
            std::thread::sleep(Duration::from_millis(rng.below(30)));
        }
        let before = adds_acked + enq_acked.len() as u64;
        for line in &lines {
            match line.split_once(' ') {
                Some(("EB", id)) => assert!(enq_begun.insert(id.to_owned())),
                Some(("EA", id)) => assert!(enq_acked.insert(id.to_owned())),
                Some(("AB", _)) => adds_begun += 1,
                Some(("AA", _)) => adds_acked += 1,
                _ => {}
            }
        }
        rounds_with_acks += usize::from(adds_acked + enq_acked.len() as u64 > before);
    }
    let (lines, stderr) = spawn("drain", &fake, &dir, ROUNDS).finish(Duration::from_secs(60));
    assert!(
        lines.iter().any(|l| l == "DRAINED"),
        "drain failed:\n{stderr}"
    );

    let groups = fake.usage_record_groups();
    let mut enq_recorded: HashMap<String, u32> = HashMap::new();
    let mut meter_sum = 0.0;
    for g in &groups {
        match g["entitlementID"].as_str() {
            Some(ENQ_ENT) => {
                *enq_recorded
                    .entry(g["id"].as_str().unwrap().into())
                    .or_default() += 1
            }
            Some(m) if m.starts_with('m') => meter_sum += g["records"]["calls"].as_f64().unwrap(),
            other => panic!("unexpected group for {other:?}"),
        }
    }
    let meter_recorded = meter_sum as u64;
    assert_eq!(meter_recorded as f64, meter_sum);
    // Lost: acknowledged but not recorded. Duplicated: recorded more than once, or more often
    // than it was even attempted.
    let lost = enq_acked
        .iter()
        .filter(|id| !enq_recorded.contains_key(*id))
        .count() as u64
        + adds_acked.saturating_sub(meter_recorded);
    let duplicated = enq_recorded
        .iter()
        .map(|(id, n)| u64::from(*n - 1) + u64::from(!enq_begun.contains(id)))
        .sum::<u64>()
        + meter_recorded.saturating_sub(adds_begun);
    let acknowledged = enq_acked.len() as u64 + adds_acked;
    let recorded = enq_recorded.values().map(|n| u64::from(*n)).sum::<u64>() + meter_recorded;
    println!(
        "crash rounds: {ROUNDS}, acknowledged: {acknowledged}, recorded: {recorded}, lost: {lost}, duplicated: {duplicated}"
    );
    println!(
        "  (enqueues acknowledged {} of {} begun, {} by the two writer processes; adds acknowledged {adds_acked} of {adds_begun} begun; {} groups at the fake)",
        enq_acked.len(),
        enq_begun.len(),
        enq_acked.iter().filter(|id| id.starts_with('w')).count(),
        groups.len()
    );
    assert!(
        rounds_with_acks >= ROUNDS / 2,
        "children were killed before working: {rounds_with_acks}"
    );
    assert_eq!((lost, duplicated), (0, 0));
}

#[test]
fn a_service_holds_the_send_lock_others_enqueue_and_a_killed_holder_releases_it() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("lock-proc");
    let outbox = Outbox::open(dir.path()).unwrap();
    let client = fake.client();
    // Nothing pending: a flush sends nothing but still needs the send lock.
    let run = spawn("hold", &fake, &dir, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match outbox.flush(&client) {
            Err(OutboxError::Locked { .. }) => break,
            Ok(_) => {} // the child has not started its meter yet
            Err(e) => panic!("{e}"),
        }
        assert!(
            Instant::now() < deadline,
            "the child never took the send lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // While the service holds it, this process enqueues and reads the status.
    outbox
        .enqueue("ent-1", &super::usage(Some("cron-1"), "calls", 1.0))
        .unwrap();
    assert_eq!(Outbox::inspect(dir.path()).unwrap().pending, 1);
    assert!(matches!(
        outbox.flush(&client),
        Err(OutboxError::Locked { .. })
    ));
    run.kill();
    let s = outbox
        .flush(&client)
        .expect("the kernel released the killed holder's lock");
    assert_eq!(s.recorded, 1);
}
