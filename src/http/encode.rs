//! Percent-encoding of path segments and query values.

use std::fmt::Write as _;

/// Percent-encodes one path segment: everything but RFC 3986 unreserved characters, and the
/// dots of `.`/`..` too, so that an id can never add, remove or climb a path segment.
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    encode_into(&mut out, segment, segment == "." || segment == "..");
    out
}

pub(crate) fn encode_into(out: &mut String, s: &str, encode_dots: bool) {
    for &b in s.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'~')
            || (b == b'.' && !encode_dots);
        if keep {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_change_the_path() {
        assert_eq!(encode_segment("a/b"), "a%2Fb");
        assert_eq!(encode_segment(".."), "%2E%2E");
        assert_eq!(encode_segment("."), "%2E");
        assert_eq!(encode_segment("v1.2"), "v1.2");
        assert_eq!(encode_segment("?x=1#f"), "%3Fx%3D1%23f");
        assert_eq!(encode_segment("a b"), "a%20b");
        assert_eq!(encode_segment("é"), "%C3%A9");
        assert_eq!(encode_segment("A-z_0~9"), "A-z_0~9");
    }
}
