//! Souk's local certificate authority, in the manner of mkcert: created once in the data
//! directory, trusted once by the user, and used at every start to issue a fresh
//! certificate for localhost (and the configured public host).
//!
//! SECURITY: unlike mkcert's, this CA carries X.509 name constraints: it can only vouch for
//! `localhost`, loopback addresses and the host it was created for. A user who trusts it
//! does not hand anyone who steals its key the power to impersonate other sites.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, NameConstraints,
};
use time::{Duration, OffsetDateTime};

use crate::config::readable_by_others;

pub const CA_CERT_FILE: &str = "souk-local-ca.pem";
const CA_KEY_FILE: &str = "souk-local-ca-key.pem";
const CA_HOSTS_FILE: &str = "souk-local-ca.hosts";

/// Why the local CA could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("cannot use {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is readable by other users; run `chmod 600 {path}`")]
    KeyPermissions { path: PathBuf },
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error(
        "the local CA in {dir} was made for {covered:?} and cannot vouch for {host:?}; delete that \
         directory to make a new CA (and trust it again), or set tls.cert_path and tls.key_path"
    )]
    HostNotCovered { dir: PathBuf, covered: Vec<String>, host: String },
}

/// A loaded CA, ready to issue server certificates.
pub struct LocalCa {
    pub cert_path: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    hosts: Vec<String>,
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |source| CaError::Io { path: path.to_owned(), source }
}

/// The names every local CA covers, plus the configured public host.
fn covered_hosts(public_host: &str) -> Vec<String> {
    let mut hosts = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    if !hosts.iter().any(|h| h == public_host) {
        hosts.push(public_host.to_owned());
    }
    hosts
}

fn subtree(host: &str) -> GeneralSubtree {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) if v4.is_loopback() => {
            GeneralSubtree::IpAddress(CidrSubnet::V4([127, 0, 0, 0], [255, 0, 0, 0]))
        }
        Ok(IpAddr::V4(v4)) => GeneralSubtree::IpAddress(CidrSubnet::V4(v4.octets(), [255; 4])),
        Ok(IpAddr::V6(v6)) => GeneralSubtree::IpAddress(CidrSubnet::V6(v6.octets(), [255; 16])),
        Err(_) => GeneralSubtree::DnsName(host.to_owned()),
    }
}

fn write_new(path: &Path, contents: &str, mode: u32) -> Result<(), CaError> {
    let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(io(path))?;
    f.write_all(contents.as_bytes()).map_err(io(path))
}

/// Loads the CA from `dir`, creating it first if there is none.
pub fn ensure(dir: &Path, public_host: &str, now: OffsetDateTime) -> Result<LocalCa, CaError> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    let hosts_path = dir.join(CA_HOSTS_FILE);
    if !cert_path.exists() {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let hosts = covered_hosts(public_host);
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let stamp = now.date();
        params.distinguished_name.push(DnType::CommonName, format!("Souk local CA {stamp}"));
        params.distinguished_name.push(DnType::OrganizationName, "Souk (local development)");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: hosts.iter().map(|h| subtree(h)).collect(),
            excluded_subtrees: Vec::new(),
        });
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(3650);
        let cert = params.self_signed(&key)?;
        // The key first and private, so a crash never leaves a certificate without its key
        // readable by others.
        write_new(&key_path, &key.serialize_pem(), 0o600)?;
        write_new(&hosts_path, &hosts.join("\n"), 0o644)?;
        write_new(&cert_path, &cert.pem(), 0o644)?;
        tracing::info!(path = %cert_path.display(), "created a local certificate authority");
    }
    if readable_by_others(&key_path) {
        return Err(CaError::KeyPermissions { path: key_path });
    }
    let cert_pem = fs::read_to_string(&cert_path).map_err(io(&cert_path))?;
    let key_pem = fs::read_to_string(&key_path).map_err(io(&key_path))?;
    let hosts = fs::read_to_string(&hosts_path).map_err(io(&hosts_path))?;
    let key = KeyPair::from_pem(&key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)?;
    Ok(LocalCa {
        cert_path,
        issuer,
        hosts: hosts.lines().map(str::to_owned).filter(|h| !h.is_empty()).collect(),
        dir: dir.to_owned(),
    })
}

impl LocalCa {
    /// Issues a server certificate for localhost, loopback and `public_host`, valid for
    /// 397 days (the longest browsers accept). Returns the PEM chain and the PEM key.
    pub fn issue(&self, public_host: &str, now: OffsetDateTime) -> Result<(String, String), CaError> {
        if !self.hosts.iter().any(|h| h == public_host) {
            return Err(CaError::HostNotCovered {
                dir: self.dir.clone(),
                covered: self.hosts.clone(),
                host: public_host.to_owned(),
            });
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(covered_hosts(public_host))?;
        params.distinguished_name.push(DnType::CommonName, public_host);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(397);
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_reuses_and_refuses_loose_keys_and_foreign_hosts() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let ca = ensure(dir.path(), "localhost", now).unwrap();
        let first = fs::read(&ca.cert_path).unwrap();
        let (chain, key) = ca.issue("localhost", now).unwrap();
        assert!(chain.contains("BEGIN CERTIFICATE") && key.contains("PRIVATE KEY"));
        let again = ensure(dir.path(), "localhost", now).unwrap();
        assert_eq!(fs::read(&again.cert_path).unwrap(), first, "the CA is reused, not remade");
        assert!(matches!(again.issue("souk.example", now), Err(CaError::HostNotCovered { .. })));
        let key_path = dir.path().join(CA_KEY_FILE);
        fs::set_permissions(&key_path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(ensure(dir.path(), "localhost", now), Err(CaError::KeyPermissions { .. })));
    }
}
