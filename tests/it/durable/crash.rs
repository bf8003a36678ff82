//! Real crashes: a child process (this test binary, re-run with `--exact durable::crash::crash_child`) enqueues
//! and adds from 2 threads against a fake in this process while the parent kills it with
//! SIGKILL at random instants; and the outbox lock across processes.

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
        // The parent polls the lock too: wait for its probe to let go.
        let _outbox = loop {
            match Outbox::open(&dir) {
                Ok(outbox) => break outbox,
                Err(OutboxError::Locked { .. }) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("{e}"),
            }
        };
        println!("LOCKED");
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    // Reports whose answer was lost are sent again at once (the default waits a minute, which
    // the drain would spend spinning).
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
            meter.flush().unwrap();
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
        let run = spawn("work", &fake, &dir, round);
        // Up to 600 ms: a loaded machine takes a few hundred to start a child (and replay its
        // journal in a debug build), and half the rounds must see it work.
        std::thread::sleep(Duration::from_millis(40 + rng.below(560)));
        let (lines, stderr) = run.kill();
        assert!(
            !stderr.contains("panicked"),
            "round {round}: the child failed:\n{stderr}"
        );
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
        "  (enqueues acknowledged {} of {} begun; adds acknowledged {adds_acked} of {adds_begun} begun; {} groups at the fake)",
        enq_acked.len(),
        enq_begun.len(),
        groups.len()
    );
    assert!(
        rounds_with_acks >= ROUNDS / 2,
        "children were killed before working: {rounds_with_acks}"
    );
    assert_eq!((lost, duplicated), (0, 0));
}

#[test]
fn two_processes_cannot_open_one_outbox_and_a_killed_holder_releases_it() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("lock-proc");
    let mut run = spawn("hold", &fake, &dir, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    // Wait for the child to hold the lock (its stdout is read by the collector thread, so
    // poll the directory's lock instead).
    loop {
        match Outbox::open(dir.path()) {
            Err(OutboxError::Locked { .. }) => break,
            Ok(outbox) => drop(outbox), // the child has not locked it yet
            Err(e) => panic!("{e}"),
        }
        assert!(
            Instant::now() < deadline,
            "the child never locked the outbox"
        );
        assert!(run.child.try_wait().unwrap().is_none(), "the child exited");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Locked, and this process holds no Outbox: the child holds the lock.
    run.kill();
    let outbox = Outbox::open(dir.path()).expect("the kernel released the killed holder's lock");
    assert_eq!(outbox.pending().unwrap(), 0);
}
