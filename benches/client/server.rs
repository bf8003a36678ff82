//! The loopback HTTP/1.1 server: keep-alive, TCP_NODELAY, bodies read fully, prebuilt answers.

use std::fmt::Write as _;
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;

use crate::{fixtures::*, probes::*};

// ---------------------------------------------------------------- the loopback server

pub(crate) fn http_head(status: &str, content_length: usize) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Date: Thu, 26 Nov 2026 14:00:00 GMT\r\nContent-Length: {content_length}\r\n\r\n"
    )
    .into_bytes()
}

pub(crate) fn full_response(status: &str, body: &[u8]) -> Vec<u8> {
    let mut r = http_head(status, body.len());
    r.extend_from_slice(body);
    r
}

/// Every response the server sends, built before measuring.
pub(crate) struct Responses {
    pub(crate) metric: Vec<u8>,
    pub(crate) list: Vec<u8>,
    pub(crate) batch: Vec<u8>,
    /// W4: pages share `page_prefix`; page `k` is `page_heads[k] + page_prefix + page_tails[k]`.
    pub(crate) page_prefix: Vec<u8>,
    pub(crate) page_heads: Vec<Vec<u8>>,
    pub(crate) page_tails: Vec<Vec<u8>>,
    /// W4: the page after the last one (Go's nil slice).
    pub(crate) end_page: Vec<u8>,
    pub(crate) not_found: Vec<u8>,
}

pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) responses: Responses,
    pub(crate) connections: AtomicUsize,
    pub(crate) requests: AtomicUsize,
    /// CPU time the server's connection threads used (they report it after each answer).
    pub(crate) cpu_ns: AtomicU64,
    /// 0: `usageRecordGroup` answers the W2 page. Otherwise W4 paging up to this many groups.
    pub(crate) paging_total: AtomicUsize,
}

pub(crate) enum Route {
    Metric,
    List,
    Page(usize),
    Batch,
    NotFound,
}

impl Server {
    pub(crate) fn start(responses: Responses) -> Arc<Server> {
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

    pub(crate) fn route(&self, head: &[u8]) -> Route {
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
    pub(crate) fn serve(&self, mut stream: TcpStream) {
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

    pub(crate) fn respond(&self, stream: &mut TcpStream, route: Route) -> io::Result<()> {
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

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

pub(crate) fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

pub(crate) fn content_length(head: &[u8]) -> usize {
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

pub(crate) fn query_offset(query: &[u8]) -> usize {
    query
        .split(|&b| b == b'&')
        .find_map(|pair| pair.strip_prefix(b"offset="))
        .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn write_all_vectored(
    stream: &mut TcpStream,
    mut bufs: &mut [IoSlice<'_>],
) -> io::Result<()> {
    while !bufs.is_empty() {
        let n = stream.write_vectored(bufs)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut bufs, n);
    }
    Ok(())
}

pub(crate) fn build_responses(max_pages: usize) -> (Responses, Fixtures) {
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
pub(crate) struct ByteWriter<'a>(&'a mut Vec<u8>);
impl std::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// The response bodies, for the decode-only floors.
pub(crate) struct Fixtures {
    pub(crate) metric: Vec<u8>,
    pub(crate) list: Vec<u8>,
    pub(crate) batch: Vec<u8>,
}
