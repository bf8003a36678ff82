//! Whether a request reached Suger, told from what really happened on loopback: a TLS server
//! with a certificate the client does not trust, a proxy that refuses `CONNECT`, a port nobody
//! listens on, a listener whose queue is full, a server that closes after reading the request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use suger_metering::{
    CreateUsageRecordGroupParams, Error, MeteringClient, MeteringClientBuilder,
    NewUsageRecordGroup, RetryPolicy, TransportErrorKind,
};

/// What a loopback server saw: connections accepted and complete HTTP requests read.
#[derive(Clone, Default)]
struct Seen {
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl Seen {
    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Reads one HTTP request (head and `Content-Length` body); `None` if the peer went away.
fn read_request(stream: &mut impl Read) -> Option<String> {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(head)
}

const GROUP: &str = r#"{"id":"g-1","entitlementID":"ent-1","records":{"api_calls":1}}"#;
const BATCH: &str = r#"[{"id":"g-2","entitlementID":"ent-1","records":{"api_calls":1}}]"#;

/// Answers a request: a group for a report, a list for a batch.
fn answer(head: &str) -> String {
    let body = if head.contains("batchCreate") {
        BATCH
    } else {
        GROUP
    };
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Serves every connection on its own thread with `serve`.
fn spawn_server(serve: impl Fn(TcpStream, &Seen) + Send + Sync + 'static) -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Seen::default();
    let serve = Arc::new(serve);
    let s = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            s.connections.fetch_add(1, Ordering::SeqCst);
            let (serve, s) = (serve.clone(), s.clone());
            std::thread::spawn(move || serve(stream, &s));
        }
    });
    (port, seen)
}

/// A TLS server on loopback with a certificate for 127.0.0.1 issued by a fresh CA; returns the
/// port, what it saw, and the CA's PEM.
fn tls_server() -> (u16, Seen, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Distinct names: OpenSSL takes a certificate whose subject is its issuer for self-signed.
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "suger-metering test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap(),
    );
    let (port, seen) = spawn_server(move |tcp, seen| {
        let conn = rustls::ServerConnection::new(config.clone()).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        if let Some(head) = read_request(&mut tls) {
            seen.requests.fetch_add(1, Ordering::SeqCst);
            let _ = tls.write_all(answer(&head).as_bytes());
            let _ = tls.flush();
        }
    });
    (port, seen, ca.pem())
}

/// A proxy that answers every `CONNECT` with `status`.
fn refusing_proxy(status: &'static str) -> (u16, Seen) {
    spawn_server(move |mut tcp, seen| {
        if read_request(&mut tcp).is_some() {
            seen.requests.fetch_add(1, Ordering::SeqCst);
            let _ = write!(
                tcp,
                "HTTP/1.1 {status}\r\nproxy-authenticate: Basic realm=\"corp\"\r\ncontent-length: 0\r\n\r\n"
            );
        }
    })
}

/// A server that reads the whole request, then closes the connection without an answer.
fn closing_server() -> (u16, Seen) {
    spawn_server(|mut tcp, seen| {
        if read_request(&mut tcp).is_some() {
            seen.requests.fetch_add(1, Ordering::SeqCst);
        }
    })
}

/// A plain HTTP server that answers every request.
fn answering_server() -> (u16, Seen) {
    spawn_server(|mut tcp, seen| {
        if let Some(head) = read_request(&mut tcp) {
            seen.requests.fetch_add(1, Ordering::SeqCst);
            let _ = tcp.write_all(answer(&head).as_bytes());
        }
    })
}

/// A plain HTTP server that answers every request 200 with `body`.
fn answering_with(body: String) -> (u16, Seen) {
    spawn_server(move |mut tcp, seen| {
        if read_request(&mut tcp).is_some() {
            seen.requests.fetch_add(1, Ordering::SeqCst);
            let _ = write!(
                tcp,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    })
}

/// A port nobody listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A builder with the default retry policy whose waits are recorded instead of slept.
fn builder(base_url: &str) -> (MeteringClientBuilder, Arc<Mutex<Vec<Duration>>>) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let w = waits.clone();
    let b = MeteringClient::builder()
        .api_key("test-key-s3cr3t")
        .org_id("org-1")
        .base_url(base_url)
        .retry(RetryPolicy::default().sleep_fn(move |d| w.lock().unwrap().push(d)));
    (b, waits)
}

fn report_params() -> CreateUsageRecordGroupParams {
    CreateUsageRecordGroupParams {
        id: Some("job-1".into()),
        records: [("api_calls".to_string(), 1.0)].into(),
        ..Default::default()
    }
}

fn batch() -> Vec<NewUsageRecordGroup> {
    vec![NewUsageRecordGroup {
        entitlement_id: "ent-1".into(),
        records: [("api_calls".to_string(), 1.0)].into(),
        ..Default::default()
    }]
}

/// What a call's error says: (kind, may have been sent, retryable).
fn verdict(e: &Error) -> (Option<TransportErrorKind>, bool, bool) {
    (
        e.transport_error().map(|t| t.kind()),
        e.request_may_have_been_sent(),
        e.is_retryable(),
    )
}

/// Reports once and batches once; asserts both fail with `kind`, never sent, with `retryable`,
/// neither as an outcome-unknown error, and returns the errors.
fn never_sent(client: &MeteringClient, kind: TransportErrorKind, retryable: bool) -> [Error; 2] {
    let report = client
        .report_usage_record_group("ent-1", &report_params())
        .unwrap_err();
    assert!(
        matches!(report, Error::Transport(_) | Error::Timeout(_)),
        "{report:?}"
    );
    assert_eq!(
        verdict(&report),
        (Some(kind), false, retryable),
        "{report:?}"
    );
    let batch = client
        .batch_report_usage_record_groups(&batch())
        .unwrap_err();
    assert!(
        matches!(batch, Error::Transport(_) | Error::Timeout(_)),
        "a batch that never left is not BatchOutcomeUnknown: {batch:?}"
    );
    assert_eq!(verdict(&batch), (Some(kind), false, retryable), "{batch:?}");
    [report, batch]
}

#[test]
fn an_untrusted_certificate_is_never_sent_and_says_how_to_trust_a_ca() {
    let (port, seen, _ca) = tls_server();
    let (b, waits) = builder(&format!("https://127.0.0.1:{port}"));
    let client = b.build().unwrap();
    let [report, _] = never_sent(&client, TransportErrorKind::UntrustedCertificate, false);
    let text = report.to_string();
    assert!(text.contains("certificate is not trusted"), "{text}");
    assert!(text.contains("add_root_certificates"), "{text}");
    // No retry: one handshake per call, and no request ever arrived.
    assert_eq!((seen.connections(), seen.requests()), (2, 0));
    assert!(waits.lock().unwrap().is_empty());
}

#[test]
fn the_same_server_is_trusted_once_its_ca_is_added() {
    let (port, seen, ca) = tls_server();
    let (b, _) = builder(&format!("https://127.0.0.1:{port}"));
    let client = b.add_root_certificates(ca).build().unwrap();
    let group = client
        .report_usage_record_group("ent-1", &report_params())
        .unwrap();
    assert_eq!(group.id, "g-1");
    let created = client.batch_report_usage_record_groups(&batch()).unwrap();
    assert_eq!(created[0].id, "g-2");
    assert_eq!(seen.requests(), 2);
}

#[test]
fn a_root_certificate_that_is_not_pem_is_a_config_error() {
    let (b, _) = builder("https://127.0.0.1:1");
    let e = b
        .add_root_certificates("not a certificate")
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
}

#[test]
fn a_proxy_that_refuses_connect_is_never_sent_and_named_with_its_status() {
    let (proxy, seen) = refusing_proxy("407 Proxy Authentication Required");
    // `.invalid` never resolves; the proxy refuses before anything would.
    let (b, waits) = builder("https://api.suger.invalid");
    let client = b
        .proxy(format!("http://127.0.0.1:{proxy}"))
        .build()
        .unwrap();
    let [report, _] = never_sent(&client, TransportErrorKind::Proxy, false);
    assert!(report.to_string().contains("407"), "{report}");
    assert_eq!(seen.requests(), 2, "one CONNECT per call, no retry");
    assert!(waits.lock().unwrap().is_empty());
}

#[test]
fn a_proxy_that_fails_otherwise_is_never_sent_and_may_pass_later() {
    let (proxy, seen) = refusing_proxy("502 Bad Gateway");
    let (b, waits) = builder("https://api.suger.invalid");
    let client = b
        .proxy(format!("http://127.0.0.1:{proxy}"))
        .build()
        .unwrap();
    never_sent(&client, TransportErrorKind::Proxy, true);
    // Never sent, so even the batch is retried: 3 attempts each.
    assert_eq!(seen.requests(), 6);
    assert_eq!(waits.lock().unwrap().len(), 4);
}

#[test]
fn a_refused_connection_is_never_sent_and_retried() {
    let (b, waits) = builder(&format!("http://127.0.0.1:{}", closed_port()));
    let client = b.build().unwrap();
    never_sent(&client, TransportErrorKind::Connect, true);
    assert_eq!(waits.lock().unwrap().len(), 4, "3 attempts per call");
}

#[test]
fn a_host_that_does_not_resolve_is_never_sent() {
    // A label over 63 characters: the resolver refuses it without asking any server.
    let host = format!("{}.invalid", "a".repeat(64));
    let (b, _) = builder(&format!("https://{host}"));
    let client = b.retry(RetryPolicy::disabled()).build().unwrap();
    never_sent(&client, TransportErrorKind::Dns, true);
}

#[test]
fn a_connect_timeout_is_never_sent() {
    // A listener with a backlog of one that never accepts: once one connection waits in its
    // queue, the kernel drops further SYNs and connecting times out.
    let listener = full_listener();
    let port = listener.local_addr().unwrap().port();
    let _queued = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _queued2 = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(100),
    );
    let (b, _) = builder(&format!("http://127.0.0.1:{port}"));
    let client = b
        .connect_timeout(Duration::from_millis(200))
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    let [report, batch] = never_sent(&client, TransportErrorKind::ConnectTimeout, true);
    assert!(matches!(report, Error::Timeout(_)), "{report:?}");
    assert!(matches!(batch, Error::Timeout(_)), "{batch:?}");
}

/// A listening socket with a backlog of 0 (one pending connection on Linux).
fn full_listener() -> TcpListener {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a fresh descriptor that the TcpListener then owns.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(libc::bind(fd, (&raw const addr).cast(), len), 0);
        assert_eq!(libc::listen(fd, 0), 0);
        TcpListener::from_raw_fd(fd)
    }
}

#[test]
fn a_connection_closed_after_the_request_may_have_been_applied() {
    let (port, seen) = closing_server();
    let (b, waits) = builder(&format!("http://127.0.0.1:{port}"));
    let client = b.build().unwrap();
    // A report carries its id: retried, then its outcome is unknown, and it may be resent.
    let report = client
        .report_usage_record_group("ent-1", &report_params())
        .unwrap_err();
    match &report {
        Error::ReportOutcomeUnknown {
            id, id_generated, ..
        } => assert_eq!((id.as_str(), *id_generated), ("job-1", false)),
        other => panic!("expected ReportOutcomeUnknown, got {other:?}"),
    }
    assert!(report.request_may_have_been_sent());
    assert!(report.is_retryable());
    assert_eq!(seen.requests(), 3);
    assert_eq!(waits.lock().unwrap().len(), 2);
    // A batch is sent once and handed back.
    let e = client
        .batch_report_usage_record_groups(&batch())
        .unwrap_err();
    assert!(matches!(e, Error::BatchOutcomeUnknown { .. }), "{e:?}");
    assert!(e.request_may_have_been_sent());
    assert!(!e.is_retryable());
    assert_eq!(seen.requests(), 4);
}

#[test]
fn an_unknown_outcome_with_a_generated_id_is_not_retryable_with_the_same_params() {
    let (port, _) = closing_server();
    let (b, _) = builder(&format!("http://127.0.0.1:{port}"));
    let client = b.retry(RetryPolicy::disabled()).build().unwrap();
    let params = CreateUsageRecordGroupParams {
        id: None,
        ..report_params()
    };
    let e = client
        .report_usage_record_group("ent-1", &params)
        .unwrap_err();
    let Error::ReportOutcomeUnknown {
        id, id_generated, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert!(*id_generated);
    assert_eq!(id.len(), 36);
    assert!(!e.is_retryable(), "the same params would get a new id");
}

#[test]
fn a_loopback_base_url_never_goes_through_a_proxy() {
    let (proxy, proxy_seen) = refusing_proxy("407 Proxy Authentication Required");
    let (port, seen) = answering_server();
    let (b, _) = builder(&format!("http://127.0.0.1:{port}"));
    let client = b
        .proxy(format!("http://127.0.0.1:{proxy}"))
        .build()
        .unwrap();
    client
        .report_usage_record_group("ent-1", &report_params())
        .unwrap();
    assert_eq!((seen.requests(), proxy_seen.connections()), (1, 0));
}

#[test]
fn an_answer_over_the_size_limit_is_an_error_not_an_abort() {
    // 2 MiB of `{},`: decoded, each `{}` would become a whole model.
    let body = format!("[{}{{}}]", "{},".repeat(700_000));
    let (port, seen) = answering_with(body);
    let (b, _) = builder(&format!("http://127.0.0.1:{port}"));
    let client = b
        .max_response_bytes(1024 * 1024)
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    let e = client
        .batch_report_usage_record_groups(&batch())
        .unwrap_err();
    let Error::BatchOutcomeUnknown { source, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        source.transport_error().map(|t| t.kind()),
        Some(TransportErrorKind::ResponseTooLarge)
    );
    assert_eq!(seen.requests(), 1);
}

mod deadline {
    use super::*;
    use suger_metering::fake::{FakeSuger, Fault, Operation};

    #[test]
    fn slow_attempts_stop_at_the_deadline() {
        let fake = FakeSuger::start().unwrap();
        fake.inject(
            Fault::delay(Duration::from_millis(900))
                .times(3)
                .only(Operation::ListUsageRecordGroups),
        );
        let client = fake
            .client_builder()
            .timeout(Duration::from_millis(300))
            .retry(
                RetryPolicy::default()
                    .backoff(Duration::ZERO, Duration::ZERO)
                    .deadline(Duration::from_millis(500))
                    .sleep_fn(|_| {}),
            )
            .build()
            .unwrap();
        let e = client
            .list_usage_record_groups(&Default::default())
            .unwrap_err();
        assert!(matches!(e, Error::Timeout(_)), "{e:?}");
        // 300 ms, then the 200 ms left: two attempts of the three the policy allows.
        let attempts = fake
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/usageRecordGroup"))
            .count();
        assert_eq!(attempts, 2);
    }

    #[test]
    fn a_retry_after_that_would_cross_the_deadline_ends_the_retries() {
        let fake = FakeSuger::start().unwrap();
        fake.inject(
            Fault::status(503)
                .retry_after("20")
                .times(3)
                .only(Operation::ReportUsageRecordGroup),
        );
        let waits = Arc::new(Mutex::new(Vec::new()));
        let w = waits.clone();
        let client = fake
            .client_builder()
            .retry(
                RetryPolicy::default()
                    .deadline(Duration::from_secs(30))
                    .sleep_fn(move |d| w.lock().unwrap().push(d)),
            )
            .build()
            .unwrap();
        let e = client
            .report_usage_record_group("ent-1", &report_params())
            .unwrap_err();
        assert_eq!(
            (e.status(), e.retry_after()),
            (Some(503), Some(Duration::from_secs(20)))
        );
        // Waited 20 s once; another 20 s would pass the 30 s deadline.
        assert_eq!(*waits.lock().unwrap(), [Duration::from_secs(20)]);
        assert_eq!(fake.requests().len(), 2);
        assert!(fake.usage_record_groups().is_empty());
    }
}

mod spool {
    use super::*;
    use suger_metering::fake::{FakeSuger, Fault, Operation};
    use suger_metering::usage_record_group_id;

    /// The README's spool advice, followed literally: write each report with its id to disk
    /// before reporting, delete the file once reported or already reported, and report what
    /// is left on the next run.
    fn run_job(client: &MeteringClient, dir: &std::path::Path, hours: &[&str]) -> usize {
        for hour in hours {
            let params = CreateUsageRecordGroupParams {
                id: Some(usage_record_group_id("ent-1", hour)),
                records: [("api_calls".to_string(), 10.0)].into(),
                ..Default::default()
            };
            let path = dir.join(format!("{hour}.json"));
            if !path.exists() {
                std::fs::write(&path, serde_json::to_vec(&params).unwrap()).unwrap();
            }
        }
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let mut left = 0;
        for path in files {
            let params: CreateUsageRecordGroupParams =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            match client.report_usage_record_group("ent-1", &params) {
                Ok(_) => std::fs::remove_file(&path).unwrap(),
                Err(e) if e.is_already_reported() => std::fs::remove_file(&path).unwrap(),
                Err(_) => left += 1,
            }
        }
        left
    }

    #[test]
    fn a_spool_replayed_after_lost_answers_bills_each_hour_once() {
        let fake = FakeSuger::start().unwrap();
        let client = fake
            .client_builder()
            .retry(RetryPolicy::disabled())
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("suger-spool-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Run 1: the first report is applied but its answer lost; the second is refused 503.
        fake.inject(Fault::drop_after_apply().only(Operation::ReportUsageRecordGroup));
        fake.inject(Fault::status(503).only(Operation::ReportUsageRecordGroup));
        assert_eq!(
            run_job(&client, &dir, &["2026-11-26T13", "2026-11-26T14"]),
            2
        );
        assert_eq!(fake.usage_record_groups().len(), 1);
        // Run 2 (a re-run of the same hours plus a new one): the lost answer is settled by a
        // 409 on its id, the refused one is reported, the new one too.
        let hours = ["2026-11-26T13", "2026-11-26T14", "2026-11-26T15"];
        assert_eq!(run_job(&client, &dir, &hours), 0);
        // Run 3: a plain re-run of the whole job finds every hour recorded.
        assert_eq!(run_job(&client, &dir, &hours), 0);
        let groups = fake.usage_record_groups();
        let mut ids: Vec<&str> = groups.iter().map(|g| g["id"].as_str().unwrap()).collect();
        ids.sort();
        let mut expected: Vec<String> = hours
            .iter()
            .map(|h| usage_record_group_id("ent-1", h))
            .collect();
        expected.sort();
        assert_eq!(ids, expected, "each hour recorded exactly once");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_page_longer_than_the_api_allows_is_a_decode_error_not_an_abort() {
    let body = format!(r#"{{"usageRecordGroups":[{}{{}}]}}"#, "{},".repeat(1000));
    let (port, _) = answering_with(body);
    let (b, _) = builder(&format!("http://127.0.0.1:{port}"));
    let client = b.retry(RetryPolicy::disabled()).build().unwrap();
    let e = client
        .list_usage_record_groups(&Default::default())
        .unwrap_err();
    let Error::Decode { status, source, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*status, 200);
    assert!(
        source.to_string().contains("more than 1000 items"),
        "{source}"
    );
}

/// `HTTPS_PROXY` from the environment (ureq's default), end to end through the binary: a proxy
/// that wants credentials is never sent, exit 1, named with its status, tried once.
#[cfg(feature = "cli")]
#[test]
fn https_proxy_from_the_environment_refusing_connect_is_never_sent() {
    let (proxy, seen) = refusing_proxy("407 Proxy Authentication Required");
    let mut cmd = crate::cli::bin();
    cmd.env("SUGER_API_KEY", "test-key-s3cr3t")
        .env("SUGER_ORG_ID", "org-1")
        .env("SUGER_API_BASE_URL", "https://api.suger.invalid")
        .env("HTTPS_PROXY", format!("http://127.0.0.1:{proxy}"));
    let args = [
        "report",
        "ent-1",
        "--record",
        "api_calls=1",
        "--id",
        "job-1",
    ];
    crate::cli::run_cmd(cmd, &args, None)
        .code(1)
        .error_line(&["407", "nothing was sent"]);
    assert_eq!(seen.requests(), 1, "one CONNECT, no retry");
}
