//! The TLS settings: which library, which root certificates.
//!
//! | features | TLS library | roots | with `add_root_certificates` |
//! |---|---|---|---|
//! | `rustls` (default) | rustls | Mozilla's (webpki-roots) | Mozilla's + yours |
//! | `platform-verifier` | rustls | the operating system's verifier | Mozilla's + yours |
//! | `native-tls` | the system's (OpenSSL on Linux) | the system's | Mozilla's + yours |

use crate::http::error::{Error, Result};

type Builder = ureq::config::ConfigBuilder<ureq::typestate::AgentScope>;

/// Sets the TLS library and roots on an agent configuration.
#[cfg(any(feature = "rustls", feature = "native-tls"))]
pub(crate) fn configure(config: Builder, extra_pem: &[Vec<u8>]) -> Result<Builder> {
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

    let provider = if cfg!(feature = "native-tls") {
        TlsProvider::NativeTls
    } else {
        TlsProvider::Rustls
    };
    let roots = if extra_pem.is_empty() {
        if cfg!(any(feature = "platform-verifier", feature = "native-tls")) {
            RootCerts::PlatformVerifier
        } else {
            RootCerts::WebPki
        }
    } else {
        let mut certs: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()))
            .collect();
        let mozilla = certs.len();
        for pem in extra_pem {
            for item in ureq::tls::parse_pem(pem) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c.to_owned()),
                    Ok(_) => {}
                    Err(_) => {
                        return Err(Error::Config("a root certificate is not valid PEM".into()));
                    }
                }
            }
        }
        if certs.len() == mozilla {
            return Err(Error::Config(
                "add_root_certificates: no `-----BEGIN CERTIFICATE-----` block found".into(),
            ));
        }
        RootCerts::from(certs)
    };
    Ok(config.tls_config(
        TlsConfig::builder()
            .provider(provider)
            .root_certs(roots)
            .build(),
    ))
}

/// Without a TLS feature only plain `http://` to loopback works; extra roots are refused.
#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
pub(crate) fn configure(config: Builder, extra_pem: &[Vec<u8>]) -> Result<Builder> {
    if extra_pem.is_empty() {
        Ok(config)
    } else {
        Err(Error::Config(
            "add_root_certificates needs TLS: enable the crate feature `rustls` (the default) \
             or `native-tls`"
                .into(),
        ))
    }
}
