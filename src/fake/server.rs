//! A minimal std-only HTTP/1.1 server: one accept thread (non-blocking accept polled against a
//! stop flag), one thread per connection, keep-alive with `Content-Length` bodies.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use super::admin;
use super::fault::FaultKind;
use super::http::{
    Conn, HttpRequest, Outcome, ReadResult, Response, parse_query, read_request, write_response,
};
use super::operation::{Operation, RecordedRequest};
use super::routing::{self, RouteError};
use super::shared::{Shared, lock};

/// How often the accept loop polls the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(5);

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
                if conns.open.len() >= shared.max_connections {
                    // Full: close at once rather than spawn without bound.
                    let _ = stream.shutdown(Shutdown::Both);
                    continue;
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
    // A peer that never reads its answer must not hold the thread either.
    let _ = stream.set_write_timeout(Some(shared.read_timeout));
    while !shared.stop.load(Ordering::SeqCst) {
        // One deadline per request: the idle wait plus receiving the whole request.
        let deadline = Instant::now() + shared.read_timeout;
        let req = match read_request(
            &mut Conn {
                stream: &mut stream,
                deadline,
            },
            &mut buf,
        ) {
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

impl Shared {
    /// Records the request, applies the first matching fault and handles it.
    fn process(&self, req: HttpRequest) -> Outcome {
        let (raw_path, raw_query) = req.target.split_once('?').unwrap_or((&req.target, ""));
        let raw_path = raw_path.split('#').next().unwrap_or_default();
        if let Some(admin_path) = raw_path.strip_prefix(admin::PREFIX) {
            // Not recorded, no faults, no authentication: the harness's own channel.
            return Outcome::Respond(Response::json(&admin::handle(
                self,
                &req.method,
                admin_path,
                &req.body,
            )));
        }
        let (query, query_ok) = parse_query(raw_query);
        let routed = routing::route(&req.method, raw_path);
        let operation = routed.as_ref().ok().map(|(_, r)| r.operation());
        self.record(RecordedRequest {
            method: req.method.clone(),
            path: raw_path.to_string(),
            query: query.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            operation,
        });
        let fault = self.take_fault(operation, raw_path);
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

    /// Remembers a request, forgetting the oldest beyond `max_requests` requests or
    /// `max_request_bytes` bytes of bodies (a larger body is kept cut to that size).
    fn record(&self, r: RecordedRequest) {
        lock(&self.requests).push(r, self.max_requests, self.max_request_bytes);
    }

    /// Pops (or decrements) the first queued fault that matches `operation` at `raw_path`.
    fn take_fault(&self, operation: Option<Operation>, raw_path: &str) -> Option<FaultKind> {
        let mut faults = lock(&self.faults);
        let pos = faults.iter().position(|f| f.matches(operation, raw_path))?;
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
