//! TLS for the HTTPS listener: rustls with the `ring` provider, configured to Mozilla's
//! Server Side TLS profiles. "Intermediate" (TLS 1.2 and 1.3, forward-secret AEAD suites
//! only) is the default; "modern" is TLS 1.3 only.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::crypto::ring as provider;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Which Mozilla profile to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProfile {
    Intermediate,
    Modern,
}

/// The certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("no certificate found in the certificate PEM")]
    NoCertificate,
    #[error("the private key PEM holds no usable key: {0}")]
    Key(String),
    #[error("the certificate PEM is malformed: {0}")]
    Certificate(String),
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
}

/// Mozilla "intermediate" cipher suites in Mozilla's order, minus the DHE suites rustls
/// does not implement (by design: finite-field DHE is slow and error-prone).
fn intermediate_suites() -> Vec<rustls::SupportedCipherSuite> {
    use provider::cipher_suite as cs;
    vec![
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]
}

/// The crypto provider for a profile: its suites and key-exchange groups (X25519, P-256,
/// P-384, as both Mozilla profiles list).
#[must_use]
pub fn crypto_provider(profile: TlsProfile) -> CryptoProvider {
    let suites = match profile {
        TlsProfile::Intermediate => intermediate_suites(),
        TlsProfile::Modern => provider::DEFAULT_CIPHER_SUITES
            .iter()
            .copied()
            .filter(|s| s.version() == &rustls::version::TLS13)
            .collect(),
    };
    CryptoProvider {
        cipher_suites: suites,
        kx_groups: vec![
            provider::kx_group::X25519,
            provider::kx_group::SECP256R1,
            provider::kx_group::SECP384R1,
        ],
        ..provider::default_provider()
    }
}

/// Builds the server configuration from a PEM certificate chain and PEM private key.
pub fn server_config(
    profile: TlsProfile,
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Key(e.to_string()))?;
    let versions: &[&rustls::SupportedProtocolVersion] = match profile {
        TlsProfile::Intermediate => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsProfile::Modern => &[&rustls::version::TLS13],
    };
    let mut config = ServerConfig::builder_with_provider(Arc::new(crypto_provider(profile)))
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modern_is_tls13_only_and_intermediate_has_no_cbc_or_rsa_kx() {
        assert!(
            crypto_provider(TlsProfile::Modern)
                .cipher_suites
                .iter()
                .all(|s| s.version() == &rustls::version::TLS13)
        );
        for s in crypto_provider(TlsProfile::Intermediate).cipher_suites {
            let name = format!("{:?}", s.suite());
            assert!(name.contains("GCM") || name.contains("CHACHA20"), "{name}");
            assert!(name.starts_with("TLS13") || name.contains("ECDHE"), "{name}");
        }
    }

    #[test]
    fn garbage_pem_is_refused_clearly() {
        assert!(matches!(
            server_config(TlsProfile::Intermediate, b"nope", b"nope"),
            Err(TlsError::NoCertificate)
        ));
    }
}
