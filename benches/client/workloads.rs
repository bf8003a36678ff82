//! The workloads W1..W6 and the report they print.

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Instant;

use suger_metering::{
    BillableMetric, ListUsageRecordGroups, ListUsageRecordGroupsResponse, MeteringClient,
    MeteringUsageRecordGroup,
};
use time::format_description::well_known::Rfc3339;
use ureq::unversioned::transport::DefaultConnector;

use crate::{bare::*, fixtures::*, probes::*, report::*, server::*};

// ---------------------------------------------------------------- the workloads

pub(crate) fn main() {
    let cfg = Settings::from_env();
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let max_pages = cfg.w4_total.max(cfg.w4_small) / PAGE;
    let (responses, fx) = build_responses(max_pages);
    let server = Server::start(responses);
    let base = server.url();

    let client = MeteringClient::builder()
        .api_key(API_KEY)
        .org_id(ORG)
        .base_url(&base)
        .no_proxy()
        .build()
        .expect("build client");

    // W4 first, before any other request has grown the heap.
    eprintln!(
        "W4: iterating {} and {} groups ...",
        cfg.w4_small, cfg.w4_total
    );
    let w4 = w4_memory(&server, &client, &cfg);

    let bare = Bare::new(&base, bare_config().new_agent());
    let bare_ip = Bare::new(
        &base,
        ureq::Agent::with_parts(
            bare_config(),
            DefaultConnector::default(),
            IpLiteralResolver::default(),
        ),
    );
    let groups = new_groups(PAGE);
    let groups_json = serde_json::to_vec(&groups).unwrap();
    let list_query = ListUsageRecordGroups::new().limit(PAGE as u32);

    // Sanity: the client and the bare floors see the same data.
    let metric = client
        .get_billable_metric(METRIC_ID)
        .expect("client metric");
    assert_eq!(metric, bare.metric());
    assert_eq!(metric, bare_ip.metric());
    let page = client
        .list_usage_record_groups(&list_query)
        .expect("client page");
    assert_eq!(page.usage_record_groups.len(), PAGE);
    assert_eq!(page.next_offset, Some(PAGE as u32));
    assert_eq!(page, bare.list());
    assert_eq!(page, bare.list_presized());
    let created = client
        .batch_report_usage_record_groups(&groups)
        .expect("client batch");
    assert_eq!(created.len(), PAGE);
    assert_eq!(created, bare.batch(&groups));
    assert_eq!(created, bare.post_batch(&groups_json));

    // A host name instead of an IP literal, as with the real API: ureq resolves it on
    // every request (getaddrinfo on its resolver thread), pooled connection or not.
    let client_localhost = MeteringClient::builder()
        .api_key(API_KEY)
        .org_id(ORG)
        .base_url(format!("http://localhost:{}", server.addr.port()))
        .no_proxy()
        .build()
        .expect("build localhost client");
    assert_eq!(
        metric,
        client_localhost.get_billable_metric(METRIC_ID).unwrap()
    );
    // Every RFC 3339 string of the W2 page (5 per group), to price time parsing alone.
    let timestamps: Vec<&str> = fx
        .list
        .split(|&b| b == b'"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.len() >= 20 && s[4] == b'-' && s[10] == b'T')
        .map(|s| std::str::from_utf8(s).unwrap())
        .collect();
    assert_eq!(timestamps.len(), 5 * PAGE);

    let r = cfg.runs;
    eprintln!("W1 ...");
    let mut w1 = [
        variant(cfg.w1, || {
            black_box(client.get_billable_metric(black_box(METRIC_ID)).unwrap());
        }),
        variant(cfg.w1, || {
            black_box(bare.metric());
        }),
        variant(cfg.w1, || {
            black_box(bare_ip.metric());
        }),
        variant(cfg.w1, || {
            black_box(
                client_localhost
                    .get_billable_metric(black_box(METRIC_ID))
                    .unwrap(),
            );
        }),
        variant(cfg.w1, || {
            black_box(serde_json::from_slice::<BillableMetric>(black_box(&fx.metric)).unwrap());
        }),
    ];
    measure(&server, r, &mut w1);

    eprintln!("W2 ...");
    let mut w2 = [
        variant(cfg.w2, || {
            black_box(
                client
                    .list_usage_record_groups(black_box(&list_query))
                    .unwrap(),
            );
        }),
        variant(cfg.w2, || {
            black_box(bare.list());
        }),
        variant(cfg.w2, || {
            black_box(bare.list_presized());
        }),
        variant(cfg.w2, || {
            black_box(
                serde_json::from_slice::<ListUsageRecordGroupsResponse>(black_box(&fx.list))
                    .unwrap(),
            );
        }),
        variant(cfg.w2, || {
            black_box(
                serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&fx.list)).unwrap(),
            );
        }),
        variant(cfg.w2, || {
            for t in black_box(&timestamps) {
                black_box(time::OffsetDateTime::parse(t, &Rfc3339).unwrap());
            }
        }),
    ];
    measure(&server, r, &mut w2);

    eprintln!("W3 ...");
    let mut w3 = [
        variant(cfg.w3, || {
            black_box(
                client
                    .batch_report_usage_record_groups(black_box(&groups))
                    .unwrap(),
            );
        }),
        variant(cfg.w3, || {
            black_box(bare.batch(black_box(&groups)));
        }),
        variant(cfg.w3, || {
            black_box(bare.post_batch(black_box(&groups_json)));
        }),
        variant(cfg.w3, || {
            black_box(
                serde_json::from_slice::<Vec<MeteringUsageRecordGroup>>(black_box(&fx.batch))
                    .unwrap(),
            );
        }),
        variant(cfg.w3, || {
            black_box(serde_json::to_vec(black_box(&groups)).unwrap());
        }),
    ];
    measure(&server, r, &mut w3);

    eprintln!("W5, W6 ...");
    let (w5_connections, w5_requests) = w5_connections(&server, &base, cfg.w5);
    // 16 threads sharing one client: ureq's own default pool (3 idle connections per host)
    // against the client's default (16).
    let w5_threads = [3, suger_metering::DEFAULT_MAX_IDLE_CONNECTIONS]
        .map(|idle| (idle, w5_threads(&server, &base, 16, cfg.w5 / 16, idle)));
    let mut w6 = [
        variant(cfg.w6, || {
            black_box(
                MeteringClient::builder()
                    .api_key(API_KEY)
                    .org_id(ORG)
                    .base_url(&base)
                    .no_proxy()
                    .build()
                    .unwrap(),
            );
        }),
        variant(cfg.w6, || {
            black_box(
                MeteringClient::builder()
                    .api_key(API_KEY)
                    .org_id(ORG)
                    .build()
                    .unwrap(),
            );
        }),
        variant(cfg.w6, || {
            black_box(black_box(&client).clone());
        }),
    ];
    measure(&server, r, &mut w6);
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    // ------------------------------------------------------------ report
    let kb = |n: usize| format!("{:.0} KB", n as f64 / 1000.0);
    println!("## suger-metering client benchmark\n");
    println!(
        "Machine: nproc {}, CPU model: {}; loadavg before: {}; after: {}.",
        thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        load_before.trim(),
        load_after.trim(),
    );
    println!(
        "Runs: {r} per variant, interleaved; calls per run: W1 {}, W2 {}, W3 {}, W6 {}. \
         Bodies: W1 {} B, W2 {}, W3 request {} and response {}.\n",
        cfg.w1,
        cfg.w2,
        cfg.w3,
        cfg.w6,
        fx.metric.len(),
        kb(fx.list.len()),
        kb(groups_json.len()),
        kb(fx.batch.len()),
    );
    println!(
        "CPU of the calling thread per call (CLOCK_THREAD_CPUTIME_ID = getrusage(RUSAGE_THREAD) \
         user+sys, read exactly): median (min–max) over {r} runs.\n"
    );
    println!("| workload | client CPU/call | bare-ureq floor | decode-only floor | client/bare |");
    println!("|---|---|---|---|---|");
    println!(
        "| W1 get_billable_metric ({} B) | {} | {} | {} | {} |",
        fx.metric.len(),
        cell(&w1[0].runs.thread),
        cell(&w1[1].runs.thread),
        cell(&w1[4].runs.thread),
        ratio(&w1[0], &w1[1]),
    );
    println!(
        "| W2 list_usage_record_groups (1000 groups, {}) | {} | {} | {} | {} |",
        kb(fx.list.len()),
        cell(&w2[0].runs.thread),
        cell(&w2[1].runs.thread),
        cell(&w2[3].runs.thread),
        ratio(&w2[0], &w2[1]),
    );
    println!(
        "| W3 batch_report_usage_record_groups (1000 groups) | {} | {} ¹ | {} | {} |",
        cell(&w3[0].runs.thread),
        cell(&w3[1].runs.thread),
        cell(&w3[3].runs.thread),
        ratio(&w3[0], &w3[1]),
    );
    println!(
        "\n¹ The bare W3 floor serializes the same `&[NewUsageRecordGroup]` with \
         `serde_json::to_vec` on every call, as any client handed typed groups must; \
         the pre-serialized variant is below.\n"
    );

    println!("### All variants\n");
    println!(
        "Thread CPU = CLOCK_THREAD_CPUTIME_ID; rusage = getrusage(RUSAGE_THREAD) over the same \
         interval; process = RUSAGE_SELF minus the server threads' CPU (includes helper threads \
         the client spawns); faults = minor page faults of the process.\n"
    );
    println!(
        "| variant | thread CPU/call | rusage thread/call | process CPU/call | wall/call | faults/call |"
    );
    println!("|---|---|---|---|---|---|");
    let row = |name: &str, v: &Variant<'_>| {
        println!(
            "| {name} | {} | {} | {} | {} | {:.1} |",
            cell(&v.runs.thread),
            fmt_ns(median(&v.runs.thread_rusage)),
            cell(&v.runs.process),
            fmt_ns(median(&v.runs.wall)),
            median(&v.runs.faults),
        );
    };
    row("W1 client", &w1[0]);
    row("W1 bare ureq", &w1[1]);
    row(
        "W1 bare ureq + IP-literal resolver (no resolver thread)",
        &w1[2],
    );
    row(
        "W1 client, base_url http://localhost:PORT (host name, getaddrinfo per request)",
        &w1[3],
    );
    row("W1 decode only", &w1[4]);
    row("W2 client", &w2[0]);
    row("W2 bare ureq", &w2[1]);
    row(
        "W2 bare ureq, body Vec presized from Content-Length",
        &w2[2],
    );
    row("W2 decode only", &w2[3]);
    row("W2 JSON syntax only (IgnoredAny)", &w2[4]);
    row(
        "W2 the page's 5000 RFC 3339 times only (OffsetDateTime::parse)",
        &w2[5],
    );
    row("W3 client", &w3[0]);
    row("W3 bare ureq (serialize per call)", &w3[1]);
    row("W3 bare ureq, body pre-serialized once", &w3[2]);
    row("W3 decode only (response)", &w3[3]);
    row("W3 serialize only (request)", &w3[4]);
    row(
        "W6 builder()…build() + drop, loopback base_url, proxy(None)",
        &w6[0],
    );
    row(
        "W6 builder()…build() + drop, defaults (https, proxy from env)",
        &w6[1],
    );
    row("W6 clone() + drop", &w6[2]);

    println!("\n### W4: iterate usage_record_groups(limit=1000)\n");
    println!(
        "| groups | requests | VmRSS before pass | VmHWM after pass | VmHWM − VmRSS before W4 | VmRSS with page 1 / 10 / last held | thread CPU/group | wall |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for m in &w4.passes {
        let at = |k: usize| m.rss_samples.get(k).copied().unwrap_or(0);
        println!(
            "| {} | {} | {} kB | {} kB | {:+} kB | {} / {} / {} kB | {} | {:.2} s |",
            m.groups,
            m.requests,
            m.rss_before_kb,
            m.hwm_after_kb,
            m.hwm_after_kb as i64 - w4.rss_start_kb as i64,
            at(0),
            at(9),
            at(m.rss_samples.len().saturating_sub(1)),
            fmt_ns(m.thread_ns as f64 / m.groups as f64),
            m.wall_s,
        );
    }
    println!(
        "\nBefore W4 (server, fixtures and client built, no request yet): VmRSS {} kB, \
         VmHWM {} kB. Peak reset to the current RSS before each pass (/proc/self/clear_refs): {}.",
        w4.rss_start_kb,
        w4.hwm_start_kb,
        if w4.reset_ok {
            "yes"
        } else {
            "NOT PERMITTED, so the second pass shows a cumulative peak"
        },
    );

    println!("\n### W5, W6\n");
    println!(
        "- W5: {} sequential get_billable_metric calls on a fresh client: the server accepted \
         {w5_connections} TCP connection(s) for {w5_requests} requests.",
        cfg.w5
    );
    for (idle, (connections, requests)) in w5_threads {
        println!(
            "- W5, 16 threads sharing one client with max_idle_connections({idle}): the server \
             accepted {connections} TCP connection(s) for {requests} requests."
        );
    }
    println!(
        "- W6: MeteringClient::builder()…build() + drop: {} CPU per build (defaults: {}); \
         clone + drop: {}.",
        cell(&w6[0].runs.thread),
        cell(&w6[1].runs.thread),
        cell(&w6[2].runs.thread),
    );
    println!(
        "- Server totals: {} connections, {} requests.",
        server.connections.load(Ordering::SeqCst),
        server.requests.load(Ordering::SeqCst)
    );
}

pub(crate) struct W4Pass {
    pub(crate) groups: usize,
    pub(crate) requests: usize,
    pub(crate) rss_before_kb: u64,
    pub(crate) hwm_after_kb: u64,
    /// VmRSS while each page is held (read at its first group), kB.
    pub(crate) rss_samples: Vec<u64>,
    pub(crate) thread_ns: u64,
    pub(crate) wall_s: f64,
}

pub(crate) struct W4 {
    pub(crate) passes: Vec<W4Pass>,
    pub(crate) reset_ok: bool,
    pub(crate) rss_start_kb: u64,
    pub(crate) hwm_start_kb: u64,
}

/// Iterates `w4_small`, then `w4_total` groups, resetting the peak RSS before each pass.
pub(crate) fn w4_memory(server: &Server, client: &MeteringClient, cfg: &Settings) -> W4 {
    let rss_start_kb = status_kb("VmRSS");
    let hwm_start_kb = status_kb("VmHWM");
    let mut reset_ok = true;
    let mut passes = Vec::new();
    for total in [cfg.w4_small, cfg.w4_total] {
        server.paging_total.store(total, Ordering::SeqCst);
        reset_ok &= reset_peak_rss();
        let rss_before_kb = status_kb("VmRSS");
        let req0 = server.requests.load(Ordering::SeqCst);
        let t0 = thread_cpu_ns();
        let w0 = Instant::now();
        let mut n = 0usize;
        let mut quantity = 0.0;
        let mut rss_samples = Vec::with_capacity(total / PAGE);
        for g in client.usage_record_groups(&ListUsageRecordGroups::new().limit(PAGE as u32)) {
            let g = g.expect("W4 page");
            quantity += g.records.values().sum::<f64>();
            n += 1;
            if n % PAGE == 1 {
                // The first group of a page: that page is decoded and held.
                rss_samples.push(status_kb("VmRSS"));
            }
        }
        black_box(quantity);
        let wall_s = w0.elapsed().as_secs_f64();
        let thread_ns = thread_cpu_ns() - t0;
        assert_eq!(n, total, "W4 iterated {n} groups, expected {total}");
        passes.push(W4Pass {
            groups: n,
            requests: server.requests.load(Ordering::SeqCst) - req0,
            rss_before_kb,
            hwm_after_kb: status_kb("VmHWM"),
            rss_samples,
            thread_ns,
            wall_s,
        });
    }
    server.paging_total.store(0, Ordering::SeqCst);
    W4 {
        passes,
        reset_ok,
        rss_start_kb,
        hwm_start_kb,
    }
}

pub(crate) fn w5_connections(server: &Server, base: &str, n: usize) -> (usize, usize) {
    let client = MeteringClient::builder()
        .api_key(API_KEY)
        .org_id(ORG)
        .base_url(base)
        .no_proxy()
        .build()
        .unwrap();
    let c0 = server.connections.load(Ordering::SeqCst);
    let r0 = server.requests.load(Ordering::SeqCst);
    for _ in 0..n {
        black_box(client.get_billable_metric(METRIC_ID).unwrap());
    }
    (
        server.connections.load(Ordering::SeqCst) - c0,
        server.requests.load(Ordering::SeqCst) - r0,
    )
}

/// `threads` threads share one client with `idle` pooled connections, `calls` calls each, all
/// started together: how many connections the server accepts.
pub(crate) fn w5_threads(
    server: &Server,
    base: &str,
    threads: usize,
    calls: usize,
    idle: usize,
) -> (usize, usize) {
    let client = MeteringClient::builder()
        .api_key(API_KEY)
        .org_id(ORG)
        .base_url(base)
        .no_proxy()
        .max_idle_connections(idle)
        .build()
        .unwrap();
    let c0 = server.connections.load(Ordering::SeqCst);
    let r0 = server.requests.load(Ordering::SeqCst);
    let start = std::sync::Barrier::new(threads);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                start.wait();
                for _ in 0..calls {
                    black_box(client.get_billable_metric(METRIC_ID).unwrap());
                }
            });
        }
    });
    (
        server.connections.load(Ordering::SeqCst) - c0,
        server.requests.load(Ordering::SeqCst) - r0,
    )
}

pub(crate) fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}
