//! The vault's own certificate authority: one CA that issues the vault's server certificate
//! and the client certificates of its callers (the marketplace). Neither side trusts any
//! other root for this connection. `souk vault certs` writes these to files.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use secrecy::SecretString;
use time::{Duration, OffsetDateTime};

use crate::VaultError;

/// A certificate and its private key, both PEM.
#[derive(Debug)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: SecretString,
}

/// A vault CA able to issue certificates.
pub struct VaultCa {
    pub cert_pem: String,
    pub key_pem: SecretString,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for VaultCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultCa").field("cert_pem", &self.cert_pem).finish_non_exhaustive()
    }
}

fn rcgen_error(e: &rcgen::Error) -> VaultError {
    VaultError::Config(format!("certificate generation: {e}"))
}

impl VaultCa {
    /// A new CA (`CN=<name>`), valid ten years, that can sign end-entity certificates only.
    pub fn generate(name: &str, now: OffsetDateTime) -> Result<Self, VaultError> {
        let key = KeyPair::generate().map_err(|e| rcgen_error(&e))?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| rcgen_error(&e))?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.distinguished_name.push(DnType::OrganizationName, "Souk card vault");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(3650);
        let cert = params.self_signed(&key).map_err(|e| rcgen_error(&e))?;
        let key_pem = SecretString::from(key.serialize_pem());
        let cert_pem = cert.pem();
        let issuer = Issuer::new(params, key);
        Ok(Self { cert_pem, key_pem, issuer })
    }

    /// The CA written earlier (its certificate and key, PEM), to issue more certificates.
    pub fn from_pem(cert_pem: &str, key_pem: SecretString) -> Result<Self, VaultError> {
        use secrecy::ExposeSecret as _;
        let key = KeyPair::from_pem(key_pem.expose_secret()).map_err(|e| rcgen_error(&e))?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key).map_err(|e| rcgen_error(&e))?;
        Ok(Self { cert_pem: cert_pem.to_owned(), key_pem, issuer })
    }

    fn issue(
        &self,
        names: Vec<String>,
        common_name: &str,
        usage: ExtendedKeyUsagePurpose,
        now: OffsetDateTime,
    ) -> Result<Issued, VaultError> {
        let key = KeyPair::generate().map_err(|e| rcgen_error(&e))?;
        let mut params = CertificateParams::new(names).map_err(|e| rcgen_error(&e))?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(397);
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer).map_err(|e| rcgen_error(&e))?;
        Ok(Issued { cert_pem: cert.pem(), key_pem: SecretString::from(key.serialize_pem()) })
    }

    /// The vault's server certificate, for `hosts` (DNS names or IP addresses).
    pub fn issue_server(&self, hosts: &[String], now: OffsetDateTime) -> Result<Issued, VaultError> {
        let cn = hosts.first().map_or("vault", String::as_str);
        self.issue(hosts.to_vec(), cn, ExtendedKeyUsagePurpose::ServerAuth, now)
    }

    /// A client certificate for the caller `name` (e.g. `marketplace`): its one
    /// subject alternative name is [`client_san`]`(name)`.
    pub fn issue_client(&self, name: &str, now: OffsetDateTime) -> Result<Issued, VaultError> {
        self.issue(vec![client_san(name)], name, ExtendedKeyUsagePurpose::ClientAuth, now)
    }
}

/// The DNS name a client certificate for `name` carries; a credential bound to the client
/// `name` is accepted only over a connection authenticated by such a certificate.
#[must_use]
pub fn client_san(name: &str) -> String {
    format!("{name}.vault-client.invalid")
}
