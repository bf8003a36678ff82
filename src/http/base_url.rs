//! Checks of the base URL: `https://`, or plain `http://` to a loopback host only.

use crate::http::error::{Error, Result};

/// A checked base URL.
#[derive(Debug)]
pub(crate) struct BaseUrl {
    /// The URL without a trailing slash, its scheme in lower case.
    pub(crate) url: String,
    /// `https://` (else plain `http://`, to a loopback host).
    pub(crate) https: bool,
    /// The host is `localhost`, in `127.0.0.0/8` or `[::1]`: never reached through a proxy.
    pub(crate) loopback: bool,
}

/// Checks a base URL: scheme `https` (any case), or `http` to a loopback host; a host that is a
/// name or an IP literal; a port of 1 to 65535 in digits only; no credentials, query or fragment.
pub(crate) fn check_base_url(url: &str) -> Result<BaseUrl> {
    let bad = |why: &str| Error::Config(format!("base URL {:?} {why}", redact_userinfo(url)));
    let trimmed = url.trim().trim_end_matches('/');
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        return Err(bad("must start with https://"));
    };
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        _ => return Err(bad("must start with https://")),
    };
    if rest.contains(['?', '#']) {
        return Err(bad("must not have a query or fragment"));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return Err(bad("must not contain credentials"));
    }
    let (host, port) = split_authority(authority).ok_or_else(|| bad("has a malformed host"))?;
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    if let Some(port) = port
        && !(port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p != 0))
    {
        return Err(bad("has an invalid port (1 to 65535)"));
    }
    let loopback = is_loopback(host);
    if !https && !loopback {
        return Err(bad(
            "must be https:// (plain http:// is allowed only to localhost, 127.0.0.0/8 or [::1])",
        ));
    }
    let url = format!(
        "{}://{authority}{path}",
        if https { "https" } else { "http" }
    );
    if ureq::http::Uri::try_from(url.as_str()).is_err() {
        return Err(bad("is not a valid URI"));
    }
    Ok(BaseUrl {
        url,
        https,
        loopback,
    })
}

/// `host[:port]` or `[v6][:port]`; `None` when the host is neither a DNS name nor an IP literal
/// or something follows the bracketed address other than a port.
fn split_authority(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        addr.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        return Some((addr, port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let name_ok = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    name_ok.then_some((host, port))
}

/// The URL with any `user:password@` replaced, for messages.
pub(crate) fn redact_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://[redacted]@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted_from_messages() {
        assert_eq!(
            redact_userinfo("https://u:hunter2@api.suger.cloud/x@y"),
            "https://[redacted]@api.suger.cloud/x@y"
        );
        let e = check_base_url("https://u:hunter2@api.suger.cloud").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn base_url_rules() {
        for ok in [
            "https://api.suger.cloud",
            "https://api.suger.cloud/",
            "https://proxy.example.com:8443/suger",
            "http://127.0.0.1:1234",
            "http://127.5.6.7",
            "http://localhost:8080/",
            "http://[::1]:9000",
        ] {
            assert!(check_base_url(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            check_base_url("https://api.suger.cloud/").unwrap().url,
            "https://api.suger.cloud"
        );
        assert_eq!(
            check_base_url("HTTPS://api.suger.cloud").unwrap().url,
            "https://api.suger.cloud"
        );
        assert!(check_base_url("HTTP://127.0.0.1:80").unwrap().loopback);
        assert!(!check_base_url("https://api.suger.cloud").unwrap().loopback);
        for bad in [
            "api.suger.cloud",
            "http://api.suger.cloud",
            "http://https://api.suger.cloud",
            "http://10.0.0.1",
            "http://127.0.0.1.evil.com",
            "http://localhost.evil.com",
            "https://user:pass@api.suger.cloud",
            "https://api.suger.cloud?x=1",
            "https://",
            "ftp://api.suger.cloud",
            "https://api.suger.cloud:99999",
            "https://api.suger.cloud:x",
            "https://api.suger.cloud/a b",
            "https://[::1",
            "http://[::1]evil.example:8080",
            "https://[::1]evil.example",
            "https://api.suger.cloud:+80",
            "https://api.suger.cloud:0",
            "https://api.suger.cloud:",
            "https://api suger.cloud",
            "https://[not-v6]:80",
        ] {
            assert!(
                matches!(check_base_url(bad), Err(Error::Config(_))),
                "{bad}"
            );
        }
    }
}
