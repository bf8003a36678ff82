//! HTTP/1.1 wire handling for the fake: reading one request (with a deadline), writing one
//! response, decoding the query string.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use super::routing::Reply;
use super::util::percent_decode;

/// Largest accepted request head (request line + headers).
const MAX_HEAD: usize = 64 * 1024;
/// Largest accepted request body.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A parsed HTTP request.
pub(crate) struct HttpRequest {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) keep_alive: bool,
}

pub(crate) enum ReadResult {
    Request(HttpRequest),
    /// The peer closed (or the socket was shut down) before a full request arrived.
    Closed,
    /// A malformed request: answer this status + message, then close.
    Reject(u16, String),
}

/// What to do after handling a request.
pub(crate) enum Outcome {
    Respond(Response),
    /// Close without writing a single byte.
    Drop,
    /// Write the head with the full `Content-Length` and half the body, then close.
    Truncate(Response),
}

/// A response ready to be written.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
    pub(crate) retry_after: Option<String>,
}

impl Response {
    pub(crate) fn json(reply: &Reply) -> Response {
        Response {
            status: reply.status,
            content_type: "application/json; charset=utf-8",
            body: serde_json::to_vec(&reply.body).unwrap_or_default(),
            retry_after: None,
        }
    }
}

pub(crate) fn reason(status: u16) -> &'static str {
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

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A connection being read, with the deadline of the request being received.
pub(crate) struct Conn<'a> {
    pub(crate) stream: &'a mut TcpStream,
    pub(crate) deadline: Instant,
}

impl Conn<'_> {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }
}

/// Reads more bytes into `buf`; false on EOF, error or when the deadline has passed (the
/// connection is then closed).
pub(crate) fn fill(conn: &mut Conn<'_>, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    loop {
        let left = conn.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || conn.stream.set_read_timeout(Some(left)).is_err() {
            return false;
        }
        match conn.stream.read(&mut chunk) {
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

pub(crate) fn read_request(stream: &mut Conn<'_>, buf: &mut Vec<u8>) -> ReadResult {
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
pub(crate) fn read_line(stream: &mut Conn<'_>, buf: &mut Vec<u8>) -> Result<String, ReadResult> {
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
pub(crate) fn read_chunked(
    stream: &mut Conn<'_>,
    buf: &mut Vec<u8>,
) -> Result<Vec<u8>, ReadResult> {
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

pub(crate) fn write_response(
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
pub(crate) fn parse_query(raw: &str) -> (Vec<(String, String)>, bool) {
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
