//! [`TransportError`]: no usable answer arrived, classified by what happened, so that the caller
//! knows whether the request may have reached Suger.

use std::fmt;

/// What went wrong on the way to Suger or back. See [`TransportError::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The host name could not be resolved. **Never sent.**
    Dns,
    /// No connection could be opened (refused, unreachable). **Never sent.**
    Connect,
    /// Opening the connection (DNS, TCP, proxy, TLS handshake) timed out. **Never sent.**
    ConnectTimeout,
    /// The server's TLS certificate is not trusted: a self-signed certificate, a private CA, or
    /// a TLS-inspecting proxy whose CA is not among the client's roots. Add the CA with
    /// [`MeteringClientBuilder::add_root_certificates`](crate::MeteringClientBuilder::add_root_certificates).
    /// **Never sent.**
    UntrustedCertificate,
    /// The TLS handshake failed for another reason (no common protocol version or cipher, a
    /// handshake alert). **Never sent.**
    TlsHandshake,
    /// The proxy refused to open a tunnel to Suger (for example `407 Proxy Authentication
    /// Required`) or did not answer the `CONNECT`. **Never sent.**
    Proxy,
    /// The request was sent, or may have been, and the complete answer did not arrive in time.
    /// **May have been applied.**
    Timeout,
    /// The connection broke after it was opened (reset, closed before a complete answer).
    /// **May have been applied.**
    ConnectionLost,
    /// The answer's body is larger than the limit for this operation.
    /// **Sent and applied** if the server answered 2xx.
    ResponseTooLarge,
    /// The answer is not valid HTTP. **May have been applied.**
    Protocol,
    /// Any other failure. **May have been applied.**
    Other,
}

/// No usable answer arrived from Suger.
///
/// [`kind`](Self::kind) tells what happened and
/// [`request_may_have_been_sent`](Self::request_may_have_been_sent) whether the request may
/// have reached Suger; `source()` is the underlying HTTP library's error (its type is not part
/// of this crate's API).
pub struct TransportError {
    kind: TransportErrorKind,
    detail: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl TransportError {
    /// What went wrong.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// `false` only when the request provably never left this machine (DNS, connect, connect
    /// timeout, TLS handshake or certificate, proxy `CONNECT` refused); `true` otherwise: such a
    /// request **may have been applied** by Suger.
    pub fn request_may_have_been_sent(&self) -> bool {
        use TransportErrorKind as K;
        !matches!(
            self.kind,
            K::Dns
                | K::Connect
                | K::ConnectTimeout
                | K::UntrustedCertificate
                | K::TlsHandshake
                | K::Proxy
        )
    }

    /// `true` when sending again later may succeed: DNS, connect and connection failures,
    /// timeouts, malformed answers, and a proxy that failed for a reason other than
    /// authentication. `false` for an untrusted certificate, a failed TLS handshake, a proxy
    /// that wants credentials, and an answer over the size limit: those fail the same way again.
    pub fn is_transient(&self) -> bool {
        use TransportErrorKind as K;
        match self.kind {
            K::Dns | K::Connect | K::ConnectTimeout | K::Timeout | K::ConnectionLost => true,
            K::Protocol | K::Other => true,
            K::Proxy => !self.detail.contains("407"),
            K::UntrustedCertificate | K::TlsHandshake | K::ResponseTooLarge => false,
        }
    }

    pub(crate) fn from_ureq(e: ureq::Error) -> Self {
        let (kind, detail) = classify(&e);
        TransportError {
            kind,
            detail,
            source: Box::new(e),
        }
    }

    /// For the crate's own tests of the retry decision.
    #[cfg(test)]
    pub(crate) fn of_kind(kind: TransportErrorKind) -> Self {
        TransportError {
            kind,
            detail: String::new(),
            source: "test".into(),
        }
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("kind", &self.kind)
            .field("detail", &self.detail)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TransportErrorKind as K;
        let what = match self.kind {
            K::Dns => "could not resolve the Suger API's host (not sent)",
            K::Connect => "could not connect to the Suger API (not sent)",
            K::ConnectTimeout => "timed out connecting to the Suger API (not sent)",
            K::UntrustedCertificate => {
                "the server's TLS certificate is not trusted (not sent); to trust a private CA, \
                 add it with MeteringClientBuilder::add_root_certificates"
            }
            K::TlsHandshake => "the TLS handshake with the Suger API failed (not sent)",
            K::Proxy => {
                return write!(
                    f,
                    "the proxy refused the tunnel to Suger: {} (not sent)",
                    self.detail
                );
            }
            K::Timeout => {
                "no complete answer from Suger in time (the request may have been applied)"
            }
            K::ConnectionLost => {
                "the connection to Suger broke before a complete answer (the request may have been applied)"
            }
            K::ResponseTooLarge => {
                "Suger's answer is larger than the size limit for this operation"
            }
            K::Protocol => "Suger's answer is not valid HTTP (the request may have been applied)",
            K::Other => "the request to Suger failed (it may have been applied)",
        };
        f.write_str(what)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Decides, from what ureq reports, what happened: the phase (resolve, connect, TLS handshake,
/// proxy tunnel) before which nothing of the request was written, or after.
fn classify(e: &ureq::Error) -> (TransportErrorKind, String) {
    use TransportErrorKind as K;
    use ureq::Timeout as T;
    let kind = match e {
        ureq::Error::HostNotFound => K::Dns,
        ureq::Error::ConnectionFailed => K::Connect,
        ureq::Error::Timeout(T::Resolve) => K::Dns,
        ureq::Error::Timeout(T::Connect) => K::ConnectTimeout,
        ureq::Error::Timeout(_) => K::Timeout,
        ureq::Error::ConnectProxyFailed(reason) => return (K::Proxy, reason.clone()),
        ureq::Error::InvalidProxyUrl => K::Proxy,
        ureq::Error::BodyExceedsLimit(_) => K::ResponseTooLarge,
        ureq::Error::Protocol(_) | ureq::Error::LargeResponseHeader(..) => K::Protocol,
        ureq::Error::BodyStalled => K::Timeout,
        ureq::Error::Tls(_) => K::TlsHandshake,
        #[cfg(feature = "rustls")]
        ureq::Error::Rustls(r) => rustls_kind(r).unwrap_or(K::TlsHandshake),
        #[cfg(feature = "native-tls")]
        ureq::Error::NativeTls(_) => native_tls_kind(e),
        ureq::Error::Io(io) => io_kind(io),
        _ => K::Other,
    };
    (kind, String::new())
}

fn io_kind(io: &std::io::Error) -> TransportErrorKind {
    use TransportErrorKind as K;
    use std::io::ErrorKind as E;
    #[cfg(feature = "rustls")]
    if let Some(kind) = io
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .and_then(rustls_kind)
    {
        return kind;
    }
    // ureq passes the resolver's failure on as std made it: an uncategorized io::Error whose
    // text is getaddrinfo's (`failed to lookup address information: Name or service not known`).
    if io
        .to_string()
        .starts_with("failed to lookup address information")
    {
        return K::Dns;
    }
    match io.kind() {
        E::ConnectionRefused | E::AddrNotAvailable | E::NotFound => K::Connect,
        E::TimedOut | E::WouldBlock => K::Timeout,
        _ => K::ConnectionLost,
    }
}

/// The rustls errors that only a handshake produces: nothing of the request was written yet.
/// (rustls does not renegotiate, so certificates are only ever checked in the handshake.)
#[cfg(feature = "rustls")]
fn rustls_kind(e: &rustls::Error) -> Option<TransportErrorKind> {
    use TransportErrorKind as K;
    use rustls::AlertDescription as A;
    match e {
        rustls::Error::InvalidCertificate(_)
        | rustls::Error::NoCertificatesPresented
        | rustls::Error::UnsupportedNameType => Some(K::UntrustedCertificate),
        rustls::Error::PeerIncompatible(_) => Some(K::TlsHandshake),
        rustls::Error::AlertReceived(
            A::HandshakeFailure
            | A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::ProtocolVersion
            | A::InsufficientSecurity
            | A::UnrecognisedName,
        ) => Some(K::TlsHandshake),
        _ => None,
    }
}

/// ureq reports native-tls errors only from the handshake (reads and writes after it are I/O
/// errors). A certificate problem is told apart by OpenSSL's message.
#[cfg(feature = "native-tls")]
fn native_tls_kind(e: &ureq::Error) -> TransportErrorKind {
    let text = e.to_string().to_ascii_lowercase();
    if text.contains("certificate") {
        TransportErrorKind::UntrustedCertificate
    } else {
        TransportErrorKind::TlsHandshake
    }
}
