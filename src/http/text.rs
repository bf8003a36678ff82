//! Text from the server, made safe to keep in an error and to print: excerpts, messages,
//! `Retry-After`, and an error's causes on one line.

use std::time::Duration;

/// An error and its causes on one line (`error: cause: cause`), for the places that keep an
/// error as text: the outbox's dead letters and last error, the meter's stats. A cause that
/// the text already says (an "outcome unknown" names its last attempt) is not repeated.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = c.source();
    }
    text
}

/// At most this many bytes of a body are kept in an error.
const EXCERPT_BYTES: usize = 300;

/// A short, printable excerpt of a body: lossy UTF-8, cut at a character boundary.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let cut = &body[..body.len().min(EXCERPT_BYTES)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if body.len() > EXCERPT_BYTES {
        // A multi-byte character cut in two shows as U+FFFD; drop it.
        if s.ends_with('\u{FFFD}') {
            s.pop();
        }
        s.push('…');
    }
    s
}

/// The server's message in an error body: a JSON string unquoted (what Suger's Go server sends),
/// the `message`/`error` field of a JSON object, else a trimmed excerpt of the raw text.
pub(crate) fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::String(s)) if s.trim().is_empty() => {
            return "(empty message)".to_owned();
        }
        Ok(serde_json::Value::String(s)) => return clip(&printable(&s)),
        Ok(serde_json::Value::Object(map)) => {
            for key in ["message", "error"] {
                if let Some(serde_json::Value::String(s)) = map.get(key) {
                    return clip(&printable(s));
                }
            }
        }
        _ => {}
    }
    let text = printable(excerpt(body).trim());
    let text = text.as_str();
    if text.is_empty() {
        "(empty body)".to_owned()
    } else {
        text.to_owned()
    }
}

/// Server text made safe to print: control characters (LF, CR, ESC, ...) are escaped as
/// `\n`, `\r`, `\u{1b}`, so an error body can neither forge log lines nor drive a terminal.
pub(crate) fn printable(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn clip(s: &str) -> String {
    if s.len() <= 1000 {
        return s.to_owned();
    }
    let mut end = 1000;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (IMF-fixdate). A date in the past is zero.
pub(crate) fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, fmt)
        .ok()?
        .assume_utc();
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn messages_from_every_kind_of_error_body() {
        assert_eq!(
            error_message(br#""all the quantity of usage records are zero""#),
            "all the quantity of usage records are zero"
        );
        assert_eq!(error_message(br#"{"message":"nope"}"#), "nope");
        assert_eq!(
            error_message(b"<html>502 Bad Gateway</html>\n"),
            "<html>502 Bad Gateway</html>"
        );
        assert_eq!(error_message(b""), "(empty body)");
        assert_eq!(error_message(br#""""#), "(empty message)");
        let long = "x".repeat(5000);
        let m = error_message(long.as_bytes());
        assert_eq!(m.chars().count(), EXCERPT_BYTES + 1);
        assert!(m.ends_with('…'));
    }

    #[test]
    fn excerpt_never_splits_a_character() {
        let body = "é".repeat(400);
        let e = excerpt(body.as_bytes());
        assert!(e.ends_with('…'));
        assert!(!e.contains('\u{FFFD}'));
    }

    #[test]
    fn server_text_cannot_drive_a_terminal() {
        let m = error_message(b"\"line1\\nfake: line\\r\\u001b[31mred\"");
        assert_eq!(m, "line1\\nfake: line\\r\\u{1b}[31mred");
        let m = error_message(b"<html>\x1b[2J\nboom</html>");
        assert_eq!(m, "<html>\\u{1b}[2J\\nboom</html>");
    }

    #[test]
    fn retry_after_seconds_and_http_dates() {
        let now = datetime!(2026-11-26 12:00:00 UTC);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Thu, 26 Nov 2026 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Thu, 26 Nov 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
