//! Client-side CPU cost of `suger_metering::MeteringClient` against a loopback server, compared
//! with a bare `ureq::Agent` doing the same HTTP exchange and with an in-memory decode.
//!
//! Run with `cargo bench --bench client`. Linux only (`getrusage(RUSAGE_THREAD)`, `/proc`).
//!
//! The HTTP/1.1 server runs on threads inside this process (keep-alive, TCP_NODELAY, request
//! bodies read fully) and answers every route with response bytes built before anything is
//! measured. "Thread CPU" is the user+sys time of the calling thread, read with
//! `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`: the same counter as `getrusage(RUSAGE_THREAD)`,
//! which is reported next to it but can lag by a scheduler tick in CPU-bound loops. "Process
//! CPU" is `getrusage(RUSAGE_SELF)` minus what the server threads report for themselves, so it
//! also includes short-lived helper threads the client spawns (ureq's DNS resolver thread).
//! Variants of one workload run interleaved, round by round.
//!
//! Iteration counts come from environment variables (defaults in brackets):
//! `BENCH_RUNS` [7] runs per variant, and per run `BENCH_W1_N` [2000], `BENCH_W2_N` [50],
//! `BENCH_W3_N` [30], `BENCH_W5_N` [1000], `BENCH_W6_N` [2000] calls; W4 iterates
//! `BENCH_W4_TOTAL` [100000] and `BENCH_W4_SMALL` [10000] groups.

fn main() {
    #[cfg(target_os = "linux")]
    linux::main();
    #[cfg(not(target_os = "linux"))]
    eprintln!("benches/client.rs needs Linux (getrusage(RUSAGE_THREAD) and /proc)");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    use std::hint::black_box;
    use std::io::{self, IoSlice, Read, Write};
    use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::thread;
    use std::time::Instant;

    use suger_metering::{
        BillableMetric, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, ListUsageRecordGroups,
        ListUsageRecordGroupsResponse, MeteringClient, MeteringUsageRecord,
        MeteringUsageRecordGroup, NewUsageRecordGroup,
    };
    use time::format_description::well_known::Rfc3339;
    use ureq::config::Config;
    use ureq::http::Uri;
    use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
    use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

    const ORG: &str = "org-bench";
    const API_KEY: &str = "bench-api-key-0123456789abcdef";
    const METRIC_ID: &str = "bm-3f6c1e2a-9b7d-4e2f-8a1c-0d9e8f7a6b5c";
    /// Page size of W2 and W4 (`limit=1000`, the API's maximum).
    const PAGE: usize = 1000;
    /// Same cap as the client's transport.
    const BODY_LIMIT: u64 = 64 * 1024 * 1024;
    const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

    // ---------------------------------------------------------------- configuration

    fn env_usize(name: &str, default: usize) -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&v| v > 0)
            .unwrap_or(default)
    }

    struct Settings {
        runs: usize,
        w1: usize,
        w2: usize,
        w3: usize,
        w4_total: usize,
        w4_small: usize,
        w5: usize,
        w6: usize,
    }

    impl Settings {
        fn from_env() -> Self {
            let round = |n: usize| n.div_ceil(PAGE) * PAGE;
            Settings {
                runs: env_usize("BENCH_RUNS", 7),
                w1: env_usize("BENCH_W1_N", 2000),
                w2: env_usize("BENCH_W2_N", 50),
                w3: env_usize("BENCH_W3_N", 30),
                w4_total: round(env_usize("BENCH_W4_TOTAL", 100_000)),
                w4_small: round(env_usize("BENCH_W4_SMALL", 10_000)),
                w5: env_usize("BENCH_W5_N", 1000),
                w6: env_usize("BENCH_W6_N", 2000),
            }
        }
    }

    // ---------------------------------------------------------------- CPU and memory probes

    fn tv_ns(tv: libc::timeval) -> u64 {
        tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1000
    }

    /// `getrusage(who)`: user + sys CPU time in nanoseconds (microsecond resolution) and the
    /// number of minor page faults.
    fn rusage(who: libc::c_int) -> (u64, u64) {
        // SAFETY: an all-zero `rusage` is a valid value, and getrusage only writes into it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `ru` is a valid, exclusive pointer for the duration of the call.
        let rc = unsafe { libc::getrusage(who, &mut ru) };
        assert_eq!(rc, 0, "getrusage failed: {}", io::Error::last_os_error());
        (tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime), ru.ru_minflt as u64)
    }

    /// CPU time of the calling thread, in nanoseconds, from `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`.
    ///
    /// Same quantity as `getrusage(RUSAGE_THREAD)` user+sys, but exact: Linux answers
    /// `RUSAGE_THREAD` from the thread's accumulated runtime *without* first adding the slice it
    /// is running right now, so a CPU-bound loop with no context switch reads stale by up to a
    /// scheduler tick (short in-memory loops then measure 0). Both are reported.
    fn thread_cpu_ns() -> u64 {
        // SAFETY: an all-zero `timespec` is valid; clock_gettime only writes into it.
        let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
        // SAFETY: `ts` is a valid, exclusive pointer for the duration of the call.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(
            rc,
            0,
            "clock_gettime failed: {}",
            io::Error::last_os_error()
        );
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    /// A `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`).
    fn status_kb(key: &str) -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Resets `VmHWM` to the current RSS (Linux >= 4.0); false when not permitted.
    fn reset_peak_rss() -> bool {
        std::fs::write("/proc/self/clear_refs", "5").is_ok()
    }

    // ---------------------------------------------------------------- Go-style fixtures

    /// RFC 3339 with 9 fractional digits, as Go's `time.Time` marshals; some with an offset.
    fn go_time(i: usize, minute_shift: usize) -> String {
        let nanos = (i * 7_919 * 104_729 + 123_456_789) % 1_000_000_000;
        let offset = if i % 7 == 3 { "-07:00" } else { "Z" };
        format!(
            "2026-11-{:02}T{:02}:{:02}:{:02}.{nanos:09}{offset}",
            1 + i % 28,
            (i / 28) % 24,
            (i + minute_shift) % 60,
            (i * 13) % 60,
        )
    }

    fn uuid(tag: u32, i: usize) -> String {
        format!(
            "{tag:08x}-{:04x}-4b7d-9e2f-{:012x}",
            i % 0xffff,
            i * 2_654_435_761
        )
    }

    const PARTNERS: [&str; 3] = ["AWS", "AZURE", "GCP"];
    const REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"];

    /// One usage record group the way Suger's Go server marshals it: every field present,
    /// `null` for nil maps/slices, Go's zero time for unset times. `created` shapes the answer of
    /// a batch report (status CREATED, not reported yet).
    fn go_group(out: &mut String, i: usize, created: bool) {
        let v1 = i.is_multiple_of(3);
        let reported = !created && !i.is_multiple_of(4);
        let status = if created {
            "CREATED"
        } else if reported {
            if i % 50 == 7 {
                "REPORT_FAILED"
            } else {
                "REPORTED"
            }
        } else {
            "CREATED"
        };
        let records = if v1 {
            format!(r#"{{"api_calls":{},"storage_gb":3.25}}"#, 1000 + i)
        } else {
            "null".to_owned()
        };
        let billable = if v1 {
            "null".to_owned()
        } else {
            let mut b = format!(
                r#"[{{"key":"api_calls","quantity":{},"properties":{{"region":"{}","tier":"pro","cluster":"c-{}"}}}}"#,
                100 + i % 900,
                REGIONS[i % 4],
                i % 16,
            );
            if i.is_multiple_of(2) {
                write!(
                    b,
                    r#",{{"key":"egress_gb","quantity":0.125,"properties":{{"region":"{}"}}}}"#,
                    REGIONS[i % 4]
                )
                .unwrap();
            }
            b.push(']');
            b
        };
        let report_id = if reported {
            format!("urr-{}", uuid(0x5eed, i / 10))
        } else {
            String::new()
        };
        let reported_time = if reported {
            go_time(i, 30)
        } else {
            ZERO_TIME.to_owned()
        };
        write!(
            out,
            concat!(
                r#"{{"id":"{id}","buyerID":"buyer-{buyer:04}","entitlementID":"{ent}","#,
                r#""organizationID":"{ORG}","partner":"{partner}","records":{records},"#,
                r#""status":"{status}","metaInfo":{{"SkipValidation":false,"#,
                r#""billableRecords":{billable},"originRecords":null,"source":"API","#,
                r#""timestamp":"{ts}","stripePeriodStartTime":"{ZERO_TIME}"}},"#,
                r#""serialID":{serial},"usageRecordReportID":"{report_id}","#,
                r#""creationTime":"{ct}","lastUpdateTime":"{ut}","reportedTime":"{rt}"}}"#,
            ),
            id = uuid(0x6f1c2a9e, i),
            buyer = i % 97,
            ent = format_args!("ent-{}", uuid(0xe17, i % 40)),
            ORG = ORG,
            partner = PARTNERS[i % 3],
            records = records,
            status = status,
            billable = billable,
            ts = go_time(i, 0),
            ZERO_TIME = ZERO_TIME,
            serial = 4_200_000 + i,
            report_id = report_id,
            ct = go_time(i, 1),
            ut = go_time(i, 2),
            rt = reported_time,
        )
        .unwrap();
    }

    /// `{"usageRecordGroups":[...]` without the closing brace (a page's shared prefix).
    fn page_prefix(n: usize) -> String {
        let mut s = String::with_capacity(n * 800);
        s.push_str(r#"{"usageRecordGroups":["#);
        for i in 0..n {
            if i > 0 {
                s.push(',');
            }
            go_group(&mut s, i, false);
        }
        s.push(']');
        s
    }

    fn created_groups(n: usize) -> String {
        let mut s = String::with_capacity(n * 800);
        s.push('[');
        for i in 0..n {
            if i > 0 {
                s.push(',');
            }
            go_group(&mut s, i, true);
        }
        s.push(']');
        s
    }

    fn billable_metric_json() -> String {
        format!(
            concat!(
                r#"{{"id":"{id}","name":"API calls (all regions)","#,
                r#""description":"Number of API calls, counted per region and plan tier, excluding health checks, internal retries and calls rejected by the rate limiter.","#,
                r#""organizationId":"{org}","aggregationType":"SUM","info":{{"filterGroups":["#,
                r#"{{"filters":[{{"name":"region","operation":"IS","value":"us-east-1","valueType":"STRING"}},"#,
                r#"{{"name":"latency_ms","operation":"GTE","value":0,"valueType":"FLOAT"}}]}},"#,
                r#"{{"filters":[{{"name":"path","operation":"NOT_CONTAINS","value":"/healthz","valueType":"STRING"}}]}}],"#,
                r#""groupBys":null,"propertyUniqueOn":""}},"status":"ACTIVE","#,
                r#""creationTime":"2026-03-01T10:00:00.123456789Z","lastUpdateTime":"{zero}","#,
                r#""creatorID":"user-7d1f","lastUpdatedBy":null}}"#,
            ),
            id = METRIC_ID,
            org = ORG,
            zero = ZERO_TIME,
        )
    }

    /// The W3 request: 1000 groups, a third v1 `records`, the rest v2 with properties.
    fn new_groups(n: usize) -> Vec<NewUsageRecordGroup> {
        let ts = time::macros::datetime!(2026-11-26 14:00:00.123456789 UTC);
        (0..n)
            .map(|i| {
                let mut g = NewUsageRecordGroup {
                    entitlement_id: format!("ent-{}", uuid(0xe17, i % 40)),
                    timestamp: Some(ts),
                    ..Default::default()
                };
                if i.is_multiple_of(3) {
                    g.records = BTreeMap::from([
                        ("api_calls".to_owned(), (1000 + i) as f64),
                        ("storage_gb".to_owned(), 3.25),
                    ]);
                } else {
                    g.billable_records = vec![
                        MeteringUsageRecord::new("api_calls", (100 + i % 900) as f64)
                            .property("region", REGIONS[i % 4])
                            .property("tier", "pro")
                            .property("cluster", format!("c-{}", i % 16)),
                        MeteringUsageRecord::new("egress_gb", 0.125)
                            .property("region", REGIONS[i % 4]),
                    ];
                }
                g
            })
            .collect()
    }

    // ---------------------------------------------------------------- the loopback server

    fn http_head(status: &str, content_length: usize) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\n\
             Date: Thu, 26 Nov 2026 14:00:00 GMT\r\nContent-Length: {content_length}\r\n\r\n"
        )
        .into_bytes()
    }

    fn full_response(status: &str, body: &[u8]) -> Vec<u8> {
        let mut r = http_head(status, body.len());
        r.extend_from_slice(body);
        r
    }

    /// Every response the server sends, built before measuring.
    struct Responses {
        metric: Vec<u8>,
        list: Vec<u8>,
        batch: Vec<u8>,
        /// W4: pages share `page_prefix`; page `k` is `page_heads[k] + page_prefix + page_tails[k]`.
        page_prefix: Vec<u8>,
        page_heads: Vec<Vec<u8>>,
        page_tails: Vec<Vec<u8>>,
        /// W4: the page after the last one (Go's nil slice).
        end_page: Vec<u8>,
        not_found: Vec<u8>,
    }

    struct Server {
        addr: SocketAddr,
        responses: Responses,
        connections: AtomicUsize,
        requests: AtomicUsize,
        /// CPU time the server's connection threads used (they report it after each answer).
        cpu_ns: AtomicU64,
        /// 0: `usageRecordGroup` answers the W2 page. Otherwise W4 paging up to this many groups.
        paging_total: AtomicUsize,
    }

    enum Route {
        Metric,
        List,
        Page(usize),
        Batch,
        NotFound,
    }

    impl Server {
        fn start(responses: Responses) -> Arc<Server> {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
            let server = Arc::new(Server {
                addr: listener.local_addr().unwrap(),
                responses,
                connections: AtomicUsize::new(0),
                requests: AtomicUsize::new(0),
                cpu_ns: AtomicU64::new(0),
                paging_total: AtomicUsize::new(0),
            });
            let s = Arc::clone(&server);
            thread::Builder::new()
                .name("bench-accept".into())
                .spawn(move || {
                    for stream in listener.incoming() {
                        let Ok(stream) = stream else { continue };
                        s.connections.fetch_add(1, Ordering::SeqCst);
                        let s = Arc::clone(&s);
                        thread::Builder::new()
                            .name("bench-conn".into())
                            .spawn(move || s.serve(stream))
                            .expect("spawn connection thread");
                    }
                })
                .expect("spawn accept thread");
            server
        }

        fn route(&self, head: &[u8]) -> Route {
            let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
            let mut parts = line.split(|&b| b == b' ');
            let method = parts.next().unwrap_or_default();
            let target = parts.next().unwrap_or_default();
            let (path, query) = match target.iter().position(|&b| b == b'?') {
                Some(q) => (&target[..q], &target[q + 1..]),
                None => (target, &b""[..]),
            };
            let Some(rest) = path.strip_prefix(b"/org/org-bench/") else {
                return Route::NotFound;
            };
            match (method, rest) {
                (b"GET", r) if r.starts_with(b"billableMetric/") => Route::Metric,
                (b"GET", b"usageRecordGroup") => {
                    if self.paging_total.load(Ordering::Relaxed) == 0 {
                        Route::List
                    } else {
                        Route::Page(query_offset(query))
                    }
                }
                (b"POST", b"batchCreateUsageRecordGroups") => Route::Batch,
                _ => Route::NotFound,
            }
        }

        /// One keep-alive connection: read a request (headers, then exactly Content-Length body
        /// bytes), answer with pre-built bytes, repeat.
        fn serve(&self, mut stream: TcpStream) {
            stream.set_nodelay(true).expect("TCP_NODELAY");
            let mut buf = vec![0u8; 16 * 1024];
            let mut scratch = vec![0u8; 256 * 1024];
            let mut filled = 0;
            let mut last_cpu = thread_cpu_ns();
            loop {
                let head_end = loop {
                    if let Some(end) = find_head_end(&buf[..filled]) {
                        break end;
                    }
                    if filled == buf.len() {
                        buf.resize(buf.len() * 2, 0);
                    }
                    match stream.read(&mut buf[filled..]) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => filled += n,
                    }
                };
                let head = &buf[..head_end];
                let route = self.route(head);
                let body_len = content_length(head);
                let buffered = filled - head_end;
                let consumed = if buffered >= body_len {
                    head_end + body_len
                } else {
                    let mut remaining = body_len - buffered;
                    while remaining > 0 {
                        let want = remaining.min(scratch.len());
                        match stream.read(&mut scratch[..want]) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => remaining -= n,
                        }
                    }
                    filled
                };
                buf.copy_within(consumed..filled, 0);
                filled -= consumed;

                if self.respond(&mut stream, route).is_err() {
                    return;
                }
                self.requests.fetch_add(1, Ordering::Relaxed);
                let now = thread_cpu_ns();
                self.cpu_ns.fetch_add(now - last_cpu, Ordering::Relaxed);
                last_cpu = now;
            }
        }

        fn respond(&self, stream: &mut TcpStream, route: Route) -> io::Result<()> {
            let r = &self.responses;
            match route {
                Route::Metric => stream.write_all(&r.metric),
                Route::List => stream.write_all(&r.list),
                Route::Batch => stream.write_all(&r.batch),
                Route::NotFound => stream.write_all(&r.not_found),
                Route::Page(offset) => {
                    let total = self.paging_total.load(Ordering::Relaxed);
                    let k = offset / PAGE;
                    if offset >= total || k >= r.page_heads.len() {
                        return stream.write_all(&r.end_page);
                    }
                    write_all_vectored(
                        stream,
                        &mut [
                            IoSlice::new(&r.page_heads[k]),
                            IoSlice::new(&r.page_prefix),
                            IoSlice::new(&r.page_tails[k]),
                        ],
                    )
                }
            }
        }

        fn url(&self) -> String {
            format!("http://{}", self.addr)
        }
    }

    fn find_head_end(buf: &[u8]) -> Option<usize> {
        buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
    }

    fn content_length(head: &[u8]) -> usize {
        head.split(|&b| b == b'\n')
            .find_map(|line| {
                let colon = line.iter().position(|&b| b == b':')?;
                let (name, value) = line.split_at(colon);
                if !name.eq_ignore_ascii_case(b"content-length") {
                    return None;
                }
                std::str::from_utf8(&value[1..]).ok()?.trim().parse().ok()
            })
            .unwrap_or(0)
    }

    fn query_offset(query: &[u8]) -> usize {
        query
            .split(|&b| b == b'&')
            .find_map(|pair| pair.strip_prefix(b"offset="))
            .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
            .unwrap_or(0)
    }

    fn write_all_vectored(stream: &mut TcpStream, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
        while !bufs.is_empty() {
            let n = stream.write_vectored(bufs)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut bufs, n);
        }
        Ok(())
    }

    fn build_responses(max_pages: usize) -> (Responses, Fixtures) {
        let metric = billable_metric_json().into_bytes();
        let prefix = page_prefix(PAGE).into_bytes();
        let mut list = prefix.clone();
        write!(ByteWriter(&mut list), r#","nextOffset":{PAGE}}}"#).unwrap();
        let batch = created_groups(PAGE).into_bytes();

        let mut page_heads = Vec::with_capacity(max_pages);
        let mut page_tails = Vec::with_capacity(max_pages);
        for k in 0..max_pages {
            let tail = format!(r#","nextOffset":{}}}"#, (k + 1) * PAGE).into_bytes();
            page_heads.push(http_head("200 OK", prefix.len() + tail.len()));
            page_tails.push(tail);
        }
        let responses = Responses {
            metric: full_response("200 OK", &metric),
            list: full_response("200 OK", &list),
            batch: full_response("200 OK", &batch),
            page_prefix: prefix,
            page_heads,
            page_tails,
            end_page: full_response("200 OK", br#"{"usageRecordGroups":null,"nextOffset":0}"#),
            not_found: full_response("404 Not Found", br#""bench server: no such route""#),
        };
        (
            responses,
            Fixtures {
                metric,
                list,
                batch,
            },
        )
    }

    /// `fmt::Write` into a byte vector.
    struct ByteWriter<'a>(&'a mut Vec<u8>);
    impl std::fmt::Write for ByteWriter<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }

    /// The response bodies, for the decode-only floors.
    struct Fixtures {
        metric: Vec<u8>,
        list: Vec<u8>,
        batch: Vec<u8>,
    }

    // ---------------------------------------------------------------- bare ureq

    fn bare_config() -> Config {
        // Same settings as the crate's client: status codes as responses, no redirects, the
        // same timeouts, no proxy.
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(DEFAULT_TIMEOUT))
            .timeout_connect(Some(DEFAULT_CONNECT_TIMEOUT))
            .user_agent("bare-ureq-bench")
            .proxy(None)
            .build()
    }

    /// Resolves IP-literal hosts without DNS (and without ureq's resolver thread); anything
    /// else goes to ureq's default resolver. Only used to show what that thread costs.
    #[derive(Debug, Default)]
    struct IpLiteralResolver(DefaultResolver);

    impl Resolver for IpLiteralResolver {
        fn resolve(
            &self,
            uri: &Uri,
            config: &Config,
            timeout: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            if let (Some(authority), Some(port)) = (uri.authority(), uri.port_u16()) {
                let host = authority
                    .host()
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                if let Ok(ip) = host.parse::<IpAddr>() {
                    let mut addrs = self.empty();
                    addrs.push(SocketAddr::new(ip, port));
                    return Ok(addrs);
                }
            }
            self.0.resolve(uri, config, timeout)
        }
    }

    struct Bare {
        agent: ureq::Agent,
        authorization: String,
        metric_url: String,
        list_url: String,
        batch_url: String,
    }

    impl Bare {
        fn new(base: &str, agent: ureq::Agent) -> Self {
            Bare {
                agent,
                authorization: format!("Key {API_KEY}"),
                metric_url: format!("{base}/org/{ORG}/billableMetric/{METRIC_ID}"),
                list_url: format!("{base}/org/{ORG}/usageRecordGroup?limit={PAGE}"),
                batch_url: format!("{base}/org/{ORG}/batchCreateUsageRecordGroups"),
            }
        }

        fn read(mut resp: ureq::http::Response<ureq::Body>) -> Vec<u8> {
            assert!(resp.status().is_success(), "status {}", resp.status());
            resp.body_mut()
                .with_config()
                .limit(BODY_LIMIT)
                .read_to_vec()
                .expect("read body")
        }

        /// Like `read`, but sizes the buffer from Content-Length first.
        fn read_presized(mut resp: ureq::http::Response<ureq::Body>) -> Vec<u8> {
            assert!(resp.status().is_success(), "status {}", resp.status());
            let len = resp.body().content_length().unwrap_or(0).min(BODY_LIMIT);
            let mut v = Vec::with_capacity(len as usize);
            resp.body_mut()
                .with_config()
                .limit(BODY_LIMIT)
                .reader()
                .read_to_end(&mut v)
                .expect("read body");
            v
        }

        fn get(&self, url: &str) -> ureq::http::Response<ureq::Body> {
            self.agent
                .get(url)
                .header("authorization", self.authorization.as_str())
                .header("accept", "application/json")
                .call()
                .expect("bare GET")
        }

        fn metric(&self) -> BillableMetric {
            let body = Self::read(self.get(&self.metric_url));
            serde_json::from_slice(&body).expect("decode metric")
        }

        fn list(&self) -> ListUsageRecordGroupsResponse {
            let body = Self::read(self.get(&self.list_url));
            serde_json::from_slice(&body).expect("decode page")
        }

        fn list_presized(&self) -> ListUsageRecordGroupsResponse {
            let body = Self::read_presized(self.get(&self.list_url));
            serde_json::from_slice(&body).expect("decode page")
        }

        fn post_batch(&self, json: &[u8]) -> Vec<MeteringUsageRecordGroup> {
            let resp = self
                .agent
                .post(&self.batch_url)
                .header("authorization", self.authorization.as_str())
                .header("accept", "application/json")
                .header("content-type", "application/json")
                .send(json)
                .expect("bare POST");
            serde_json::from_slice(&Self::read(resp)).expect("decode batch")
        }

        /// What a bare client does with typed input: serialize, send, read, decode.
        fn batch(&self, groups: &[NewUsageRecordGroup]) -> Vec<MeteringUsageRecordGroup> {
            let json = serde_json::to_vec(groups).expect("serialize");
            self.post_batch(&json)
        }
    }

    // ---------------------------------------------------------------- measuring

    /// Per-call costs of each run.
    #[derive(Default)]
    struct Runs {
        /// Calling thread, `CLOCK_THREAD_CPUTIME_ID`, ns.
        thread: Vec<f64>,
        /// Calling thread, `getrusage(RUSAGE_THREAD)` user+sys, ns.
        thread_rusage: Vec<f64>,
        /// `getrusage(RUSAGE_SELF)` minus the server threads' own CPU, ns.
        process: Vec<f64>,
        wall: Vec<f64>,
        /// Minor page faults of the whole process.
        faults: Vec<f64>,
    }

    /// One measured variant: `n` calls of `f` per run.
    struct Variant<'a> {
        n: usize,
        f: Box<dyn FnMut() + 'a>,
        runs: Runs,
    }

    fn variant<'a>(n: usize, f: impl FnMut() + 'a) -> Variant<'a> {
        Variant {
            n,
            f: Box::new(f),
            runs: Runs::default(),
        }
    }

    /// Warms every variant up, then measures `runs` rounds; each round runs every variant once
    /// in turn, so that background noise spreads over all of them alike.
    fn measure(server: &Server, runs: usize, variants: &mut [Variant<'_>]) {
        for v in variants.iter_mut() {
            for _ in 0..v.n.div_ceil(10).max(1) {
                (v.f)();
            }
        }
        for _ in 0..runs {
            for v in variants.iter_mut() {
                let s0 = server.cpu_ns.load(Ordering::SeqCst);
                let (p0, f0) = rusage(libc::RUSAGE_SELF);
                let (r0, _) = rusage(libc::RUSAGE_THREAD);
                let t0 = thread_cpu_ns();
                let w0 = Instant::now();
                for _ in 0..v.n {
                    (v.f)();
                }
                let wall = w0.elapsed().as_nanos() as f64;
                let t1 = thread_cpu_ns();
                let (r1, _) = rusage(libc::RUSAGE_THREAD);
                let (p1, f1) = rusage(libc::RUSAGE_SELF);
                let s1 = server.cpu_ns.load(Ordering::SeqCst);
                let n = v.n as f64;
                let r = &mut v.runs;
                r.thread.push((t1 - t0) as f64 / n);
                r.thread_rusage.push((r1 - r0) as f64 / n);
                r.process
                    .push(((p1 - p0) as f64 - (s1 - s0) as f64).max(0.0) / n);
                r.wall.push(wall / n);
                r.faults.push((f1 - f0) as f64 / n);
            }
        }
    }

    fn stats(v: &[f64]) -> (f64, f64, f64) {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let mid = s.len() / 2;
        let median = if s.len() % 2 == 1 {
            s[mid]
        } else {
            (s[mid - 1] + s[mid]) / 2.0
        };
        (median, s[0], s[s.len() - 1])
    }

    fn median(v: &[f64]) -> f64 {
        stats(v).0
    }

    fn fmt_ns(ns: f64) -> String {
        if ns >= 1e6 {
            format!("{:.2} ms", ns / 1e6)
        } else if ns >= 1e4 {
            format!("{:.1} µs", ns / 1e3)
        } else if ns >= 1e3 {
            format!("{:.2} µs", ns / 1e3)
        } else {
            format!("{ns:.0} ns")
        }
    }

    /// `median (min–max)`.
    fn cell(v: &[f64]) -> String {
        let (m, lo, hi) = stats(v);
        format!("{} ({}–{})", fmt_ns(m), fmt_ns(lo), fmt_ns(hi))
    }

    fn ratio(a: &Variant<'_>, b: &Variant<'_>) -> String {
        format!("{:.2}×", median(&a.runs.thread) / median(&b.runs.thread))
    }

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
            .proxy(None)
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
            .proxy(None)
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
        let mut w6 = [
            variant(cfg.w6, || {
                black_box(
                    MeteringClient::builder()
                        .api_key(API_KEY)
                        .org_id(ORG)
                        .base_url(&base)
                        .proxy(None)
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
        println!(
            "| workload | client CPU/call | bare-ureq floor | decode-only floor | client/bare |"
        );
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

    struct W4Pass {
        groups: usize,
        requests: usize,
        rss_before_kb: u64,
        hwm_after_kb: u64,
        /// VmRSS while each page is held (read at its first group), kB.
        rss_samples: Vec<u64>,
        thread_ns: u64,
        wall_s: f64,
    }

    struct W4 {
        passes: Vec<W4Pass>,
        reset_ok: bool,
        rss_start_kb: u64,
        hwm_start_kb: u64,
    }

    /// Iterates `w4_small`, then `w4_total` groups, resetting the peak RSS before each pass.
    fn w4_memory(server: &Server, client: &MeteringClient, cfg: &Settings) -> W4 {
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

    fn w5_connections(server: &Server, base: &str, n: usize) -> (usize, usize) {
        let client = MeteringClient::builder()
            .api_key(API_KEY)
            .org_id(ORG)
            .base_url(base)
            .proxy(None)
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

    fn cpu_model() -> String {
        std::fs::read_to_string("/proc/cpuinfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
            .map(|(_, m)| m.trim().to_owned())
            .unwrap_or_else(|| "unknown".into())
    }
}
