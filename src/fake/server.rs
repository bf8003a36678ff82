//! A minimal std-only HTTP/1.1 server: one accept thread (non-blocking accept polled against a
//! stop flag), one thread per connection, keep-alive with `Content-Length` bodies.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::routing::{self, Reply, RouteError};
use super::state::State;
use super::util::percent_decode;
use super::{Fault, FaultKind, Operation, RecordedRequest};

/// Largest accepted request head (request line + headers).
const MAX_HEAD: usize = 64 * 1024;
/// Largest accepted request body.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// How often the accept loop polls the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(5);

/// Locks a mutex, ignoring poisoning (a panicking test thread must not wedge the fake).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Open connections and their threads.
#[derive(Default)]
pub(crate) struct Conns {
    pub(crate) open: HashMap<u64, TcpStream>,
    pub(crate) handles: Vec<JoinHandle<()>>,
}

/// Everything the server threads and the `FakeSuger` handle share.
pub(crate) struct Shared {
    pub(crate) api_key: String,
    pub(crate) org_id: String,
    pub(crate) state: Mutex<State>,
    pub(crate) faults: Mutex<VecDeque<Fault>>,
    pub(crate) requests: Mutex<Vec<RecordedRequest>>,
    pub(crate) stop: AtomicBool,
    pub(crate) conns: Mutex<Conns>,
}

/// A parsed HTTP request.
struct HttpRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    keep_alive: bool,
}

enum ReadResult {
    Request(HttpRequest),
    /// The peer closed (or the socket was shut down) before a full request arrived.
    Closed,
    /// A malformed request: answer this status + message, then close.
    Reject(u16, String),
}

/// What to do after handling a request.
enum Outcome {
    Respond(Response),
    /// Close without writing a single byte.
    Drop,
    /// Write the head with the full `Content-Length` and half the body, then close.
    Truncate(Response),
}

/// A response ready to be written.
struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    retry_after: Option<String>,
}

impl Response {
    fn json(reply: &Reply) -> Response {
        Response {
            status: reply.status,
            content_type: "application/json; charset=utf-8",
            body: serde_json::to_vec(&reply.body).unwrap_or_default(),
            retry_after: None,
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Accepts connections until the stop flag is set; the listener is dropped (port freed) when
/// this returns.
pub(crate) fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut next_id: u64 = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                let mut conns = lock(&shared.conns);
                if shared.stop.load(Ordering::SeqCst) {
                    let _ = stream.shutdown(Shutdown::Both);
                    break;
                }
                let Ok(registered) = stream.try_clone() else {
                    continue;
                };
                next_id += 1;
                let id = next_id;
                conns.open.insert(id, registered);
                conns.handles.retain(|h| !h.is_finished());
                let sh = Arc::clone(&shared);
                let spawned = thread::Builder::new()
                    .name("fake-suger-conn".to_string())
                    .spawn(move || serve_connection(stream, id, sh));
                match spawned {
                    Ok(h) => conns.handles.push(h),
                    Err(_) => {
                        conns.open.remove(&id);
                    }
                }
            }
            Err(_) => thread::sleep(ACCEPT_POLL),
        }
    }
}

fn serve_connection(mut stream: TcpStream, id: u64, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        let req = match read_request(&mut stream, &mut buf) {
            ReadResult::Request(r) => r,
            ReadResult::Closed => break,
            ReadResult::Reject(status, message) => {
                let resp = Response::json(&routing::error(status, message));
                let _ = write_response(&mut stream, &resp, false, false, false);
                break;
            }
        };
        let keep_alive = req.keep_alive;
        let is_head = req.method == "HEAD";
        let written = match shared.process(req) {
            Outcome::Respond(resp) => {
                write_response(&mut stream, &resp, keep_alive, is_head, false).is_ok() && keep_alive
            }
            Outcome::Drop => false,
            Outcome::Truncate(resp) => {
                let _ = write_response(&mut stream, &resp, keep_alive, is_head, true);
                false
            }
        };
        if !written {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    lock(&shared.conns).open.remove(&id);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads more bytes into `buf`; false on EOF or error.
fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return true;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> ReadResult {
    let reject = |status: u16, m: &str| ReadResult::Reject(status, m.to_string());
    let head_end = loop {
        if let Some(pos) = find(buf, b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return reject(431, "request head too large");
        }
        if !fill(stream, buf) {
            return ReadResult::Closed;
        }
    };
    let head_bytes: Vec<u8> = buf.drain(..head_end + 4).collect();
    let Ok(head) = std::str::from_utf8(&head_bytes[..head_end]) else {
        return reject(400, "request head is not UTF-8");
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts.as_slice() else {
        return reject(400, "malformed request line");
    };
    if method.is_empty() || !method.bytes().all(|c| c.is_ascii_uppercase()) {
        return reject(400, "malformed method");
    }
    if !target.starts_with('/') {
        return reject(400, "request target must be an absolute path");
    }
    let http11 = match *version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return reject(400, "unsupported HTTP version"),
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            return reject(400, "obsolete header line folding");
        }
        let Some((name, value)) = line.split_once(':') else {
            return reject(400, "malformed header line");
        };
        if name.is_empty()
            || name
                .bytes()
                .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
        {
            return reject(400, "malformed header name");
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    fn header<'a>(
        headers: &'a [(String, String)],
        n: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        headers
            .iter()
            .filter(move |(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    }
    let chunked = match header(&headers, "transfer-encoding").last() {
        None => false,
        Some(te) if te.eq_ignore_ascii_case("chunked") => true,
        Some(_) => return reject(501, "unsupported Transfer-Encoding"),
    };
    let mut length: Option<usize> = None;
    for v in header(&headers, "content-length") {
        let Ok(n) = v.parse::<usize>() else {
            return reject(400, "malformed Content-Length");
        };
        if length.is_some_and(|l| l != n) {
            return reject(400, "conflicting Content-Length headers");
        }
        length = Some(n);
    }
    if chunked && length.is_some() {
        return reject(400, "both Content-Length and Transfer-Encoding given");
    }
    let length = length.unwrap_or(0);
    if length > MAX_BODY {
        return reject(413, "request body too large");
    }
    let connection = header(&headers, "connection")
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase();
    let has_token = |t: &str| connection.split(',').any(|x| x.trim() == t);
    let keep_alive = if http11 {
        !has_token("close")
    } else {
        has_token("keep-alive")
    };
    let expects_continue =
        header(&headers, "expect").any(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_continue && (chunked || buf.len() < length) {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let body = if chunked {
        match read_chunked(stream, buf) {
            Ok(body) => body,
            Err(result) => return result,
        }
    } else {
        while buf.len() < length {
            if !fill(stream, buf) {
                return ReadResult::Closed;
            }
        }
        buf.drain(..length).collect()
    };
    ReadResult::Request(HttpRequest {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        body,
        keep_alive,
    })
}

/// Reads one CRLF-terminated line from the connection (without the CRLF).
fn read_line(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<String, ReadResult> {
    loop {
        if let Some(pos) = find(buf, b"\r\n") {
            let line: Vec<u8> = buf.drain(..pos + 2).collect();
            return String::from_utf8(line[..pos].to_vec())
                .map_err(|_| ReadResult::Reject(400, "malformed chunked body".to_string()));
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadResult::Reject(
                400,
                "malformed chunked body".to_string(),
            ));
        }
        if !fill(stream, buf) {
            return Err(ReadResult::Closed);
        }
    }
}

/// Decodes a `Transfer-Encoding: chunked` body (extensions and trailers are ignored).
fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Vec<u8>, ReadResult> {
    let malformed = || ReadResult::Reject(400, "malformed chunked body".to_string());
    let mut body = Vec::new();
    loop {
        let line = read_line(stream, buf)?;
        let size_hex = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| malformed())?;
        if size == 0 {
            // Trailer section up to the empty line.
            while !read_line(stream, buf)?.is_empty() {}
            return Ok(body);
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(ReadResult::Reject(
                413,
                "request body too large".to_string(),
            ));
        }
        while buf.len() < size + 2 {
            if !fill(stream, buf) {
                return Err(ReadResult::Closed);
            }
        }
        if &buf[size..size + 2] != b"\r\n" {
            return Err(malformed());
        }
        body.extend(buf.drain(..size));
        buf.drain(..2);
    }
}

fn write_response(
    stream: &mut TcpStream,
    resp: &Response,
    keep_alive: bool,
    is_head: bool,
    truncate: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len()
    );
    if let Some(ra) = &resp.retry_after {
        let clean: String = ra.chars().filter(|c| !c.is_control()).collect();
        head.push_str(&format!("Retry-After: {clean}\r\n"));
    }
    if !keep_alive || truncate {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if !is_head {
        let n = if truncate {
            resp.body.len() / 2
        } else {
            resp.body.len()
        };
        out.extend_from_slice(&resp.body[..n]);
    }
    stream.write_all(&out)?;
    stream.flush()
}

/// Splits a query string into decoded pairs (`+` is a space). The flag is false when some part
/// is not valid percent-encoded UTF-8 (that part is then kept raw).
fn parse_query(raw: &str) -> (Vec<(String, String)>, bool) {
    let mut ok = true;
    let mut out = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match (percent_decode(k, true), percent_decode(v, true)) {
            (Some(k), Some(v)) => out.push((k, v)),
            _ => {
                ok = false;
                out.push((k.to_string(), v.to_string()));
            }
        }
    }
    (out, ok)
}

impl Shared {
    /// Records the request, applies the first matching fault and handles it.
    fn process(&self, req: HttpRequest) -> Outcome {
        let (raw_path, raw_query) = req.target.split_once('?').unwrap_or((&req.target, ""));
        let raw_path = raw_path.split('#').next().unwrap_or_default();
        let (query, query_ok) = parse_query(raw_query);
        let routed = routing::route(&req.method, raw_path);
        let operation = routed.as_ref().ok().map(|(_, r)| r.operation());
        lock(&self.requests).push(RecordedRequest {
            method: req.method.clone(),
            path: raw_path.to_string(),
            query: query.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            operation,
        });
        let fault = self.take_fault(operation);
        match &fault {
            Some(FaultKind::Status {
                status,
                retry_after,
                body,
            }) => {
                let (content_type, body) = match body {
                    None => (
                        "application/json; charset=utf-8",
                        serde_json::to_vec(&format!("injected {status}")).unwrap_or_default(),
                    ),
                    Some(raw) => (content_type_of(raw), raw.clone().into_bytes()),
                };
                return Outcome::Respond(Response {
                    status: *status,
                    content_type,
                    body,
                    retry_after: retry_after.clone(),
                });
            }
            Some(FaultKind::Delay(d)) => {
                self.sleep(*d);
                if self.stop.load(Ordering::SeqCst) {
                    // Dropped mid-delay: close without applying or answering.
                    return Outcome::Drop;
                }
            }
            _ => {}
        }
        let resp = self.handle(&req, routed, &query, query_ok, raw_path);
        match fault {
            Some(FaultKind::DropAfterApply) => Outcome::Drop,
            Some(FaultKind::TruncateBody) => Outcome::Truncate(resp),
            _ => Outcome::Respond(resp),
        }
    }

    fn handle(
        &self,
        req: &HttpRequest,
        routed: Result<(String, routing::Route), RouteError>,
        query: &[(String, String)],
        query_ok: bool,
        raw_path: &str,
    ) -> Response {
        let reply = match routed {
            Err(RouteError::NotFound) => {
                routing::error(404, format!("no route for {} {}", req.method, raw_path))
            }
            Err(RouteError::BadEncoding) => {
                routing::error(400, "the path is not valid percent-encoded UTF-8")
            }
            Ok(_) if !query_ok => {
                routing::error(400, "the query string is not valid percent-encoded UTF-8")
            }
            Ok((org, route)) => {
                let expected = format!("Key {}", self.api_key);
                let auth = req
                    .headers
                    .iter()
                    .find(|(k, _)| k == "authorization")
                    .map(|(_, v)| v.as_str());
                if auth != Some(expected.as_str()) {
                    routing::error(401, "unauthorized")
                } else if org != self.org_id {
                    routing::error(
                        403,
                        format!("the API key does not belong to organization {org:?}"),
                    )
                } else {
                    lock(&self.state).dispatch(&route, query, &req.body)
                }
            }
        };
        Response::json(&reply)
    }

    /// Pops (or decrements) the first queued fault that matches `operation`.
    fn take_fault(&self, operation: Option<Operation>) -> Option<FaultKind> {
        let mut faults = lock(&self.faults);
        let pos = faults
            .iter()
            .position(|f| f.only.is_none() || f.only == operation)?;
        let f = faults.get_mut(pos)?;
        let kind = f.kind.clone();
        f.times = f.times.saturating_sub(1);
        if f.times == 0 {
            faults.remove(pos);
        }
        Some(kind)
    }

    /// Sleeps `d`, waking early when the server stops.
    fn sleep(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            if now >= end {
                break;
            }
            thread::sleep((end - now).min(Duration::from_millis(10)));
        }
    }
}

fn content_type_of(raw: &str) -> &'static str {
    if raw.trim_start().starts_with('<') {
        "text/html; charset=utf-8"
    } else if !raw.is_empty() && serde_json::from_str::<serde_json::Value>(raw).is_ok() {
        "application/json; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    }
}
