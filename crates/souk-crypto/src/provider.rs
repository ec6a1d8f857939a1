//! Where master keys come from. [`KeyProvider`] is a trait so that an external KMS can be
//! added; two providers ship: key files in the data directory (the default) and an
//! environment variable.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret as _, SecretString};
use souk_domain::{Entropy, Timestamp};

use crate::CryptoError;
use crate::key::KeyBytes;
use crate::keyring::{Kek, Keyring};

/// A source of versioned master keys.
pub trait KeyProvider: Send + Sync + std::fmt::Debug {
    /// Loads every available version.
    fn load(&self) -> Result<Keyring, CryptoError>;
    /// Creates the next version and returns its number (rotation).
    fn create_version(&self, entropy: &dyn Entropy) -> Result<u32, CryptoError>;
    /// Where the keys live, for `souk keys status`.
    fn describe(&self) -> String;
    /// When a version was created, if the provider knows.
    fn created_at(&self, _version: u32) -> Option<Timestamp> {
        None
    }
    /// Destroys a version's key material. Callers check first that nothing uses it.
    fn retire(&self, version: u32) -> Result<(), CryptoError>;
}

const FILE_PREFIX: &str = "kek-v";
const FILE_SUFFIX: &str = ".key";
const FILE_MAGIC: &str = "souk-kek-v1 ";

/// Master keys in files `kek-vNNNN.key` (mode 0600) in a directory (mode 0700).
#[derive(Debug, Clone)]
pub struct FileKeyProvider {
    dir: PathBuf,
}

impl FileKeyProvider {
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn path(&self, version: u32) -> PathBuf {
        self.dir.join(format!("{FILE_PREFIX}{version:04}{FILE_SUFFIX}"))
    }

    fn key_files(&self) -> Result<Vec<(u32, PathBuf)>, CryptoError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(CryptoError::KeyFile { path: self.dir.clone(), reason: e.to_string() });
            }
        };
        let mut files = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(v) = name.strip_prefix(FILE_PREFIX).and_then(|r| r.strip_suffix(FILE_SUFFIX))
                && let Ok(version) = v.parse::<u32>()
            {
                files.push((version, entry.path()));
            }
        }
        files.sort();
        Ok(files)
    }

    /// Creates version 1 if there is no key yet (first start). Returns whether it did.
    pub fn ensure(&self, entropy: &dyn Entropy) -> Result<bool, CryptoError> {
        if self.key_files()?.is_empty() {
            self.create_version(entropy)?;
            return Ok(true);
        }
        Ok(false)
    }
}

fn read_key_file(path: &Path) -> Result<KeyBytes, CryptoError> {
    let err = |reason: String| CryptoError::KeyFile { path: path.to_owned(), reason };
    let meta = fs::metadata(path).map_err(|e| err(e.to_string()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CryptoError::KeyFilePermissions { path: path.to_owned(), mode });
    }
    let text = zeroize::Zeroizing::new(fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
    let encoded = text.trim().strip_prefix(FILE_MAGIC).ok_or_else(|| err("not a Souk key file".into()))?;
    let raw = zeroize::Zeroizing::new(STANDARD.decode(encoded).map_err(|_| err("not base64".into()))?);
    KeyBytes::from_slice(&raw)
}

impl KeyProvider for FileKeyProvider {
    fn load(&self) -> Result<Keyring, CryptoError> {
        let mut ring = Keyring::default();
        for (version, path) in self.key_files()? {
            ring.insert(Kek::new(version, &read_key_file(&path)?)?);
        }
        ring.current()?;
        Ok(ring)
    }

    fn create_version(&self, entropy: &dyn Entropy) -> Result<u32, CryptoError> {
        let dir_err =
            |e: std::io::Error| CryptoError::KeyFile { path: self.dir.clone(), reason: e.to_string() };
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir).map_err(dir_err)?;
        let version = self.key_files()?.last().map_or(1, |(v, _)| v + 1);
        let path = self.path(version);
        let key = KeyBytes::generate(entropy);
        let text = zeroize::Zeroizing::new(format!("{FILE_MAGIC}{}\n", STANDARD.encode(key.expose())));
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| CryptoError::KeyFile { path: path.clone(), reason: e.to_string() })?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| CryptoError::KeyFile { path: path.clone(), reason: e.to_string() })?;
        Ok(version)
    }

    fn describe(&self) -> String {
        format!("key files in {}", self.dir.display())
    }

    fn created_at(&self, version: u32) -> Option<Timestamp> {
        let modified = fs::metadata(self.path(version)).ok()?.modified().ok()?;
        let micros = modified.duration_since(std::time::UNIX_EPOCH).ok()?.as_micros();
        Some(Timestamp::from_micros(i64::try_from(micros).ok()?))
    }

    fn retire(&self, version: u32) -> Result<(), CryptoError> {
        let path = self.path(version);
        let err = |e: std::io::Error| CryptoError::KeyFile { path: path.clone(), reason: e.to_string() };
        // Overwrite before unlinking, so the key does not linger in the file's blocks on
        // file systems that rewrite in place.
        let len = fs::metadata(&path).map_err(err)?.len();
        let mut f = OpenOptions::new().write(true).open(&path).map_err(err)?;
        f.write_all(&vec![0u8; usize::try_from(len).unwrap_or(0)])
            .and_then(|()| f.sync_all())
            .map_err(err)?;
        fs::remove_file(&path).map_err(err)
    }
}

/// Master keys from an environment variable: `VERSION:BASE64[,VERSION:BASE64…]`.
#[derive(Debug)]
pub struct EnvKeyProvider {
    variable: &'static str,
    value: SecretString,
}

impl EnvKeyProvider {
    #[must_use]
    pub fn new(variable: &'static str, value: SecretString) -> Self {
        Self { variable, value }
    }

    /// A new random key in this provider's format, for an operator to add to the variable.
    #[must_use]
    pub fn generate_entry(version: u32, entropy: &dyn Entropy) -> SecretString {
        let key = KeyBytes::generate(entropy);
        SecretString::from(format!("{version}:{}", STANDARD.encode(key.expose())))
    }
}

impl KeyProvider for EnvKeyProvider {
    fn load(&self) -> Result<Keyring, CryptoError> {
        let mut ring = Keyring::default();
        for entry in self.value.expose_secret().split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || CryptoError::Provider(format!("{} must hold VERSION:BASE64 entries", self.variable));
            let (version, encoded) = entry.split_once(':').ok_or_else(bad)?;
            let version: u32 = version.parse().map_err(|_| bad())?;
            let raw = zeroize::Zeroizing::new(STANDARD.decode(encoded).map_err(|_| bad())?);
            ring.insert(Kek::new(version, &KeyBytes::from_slice(&raw)?)?);
        }
        ring.current()?;
        Ok(ring)
    }

    fn create_version(&self, _entropy: &dyn Entropy) -> Result<u32, CryptoError> {
        Err(CryptoError::Provider(format!(
            "master keys from {} are managed outside Souk: add a new VERSION:BASE64 entry \
             (`souk keys generate` prints one) and run `souk keys rotate` again",
            self.variable
        )))
    }

    fn describe(&self) -> String {
        format!("environment variable {}", self.variable)
    }

    fn retire(&self, version: u32) -> Result<(), CryptoError> {
        Err(CryptoError::Provider(format!(
            "master keys from {} are managed outside Souk: remove the entry for version {version} from it",
            self.variable
        )))
    }
}

#[cfg(test)]
mod tests {
    use souk_domain::OsEntropy;

    use super::*;

    #[test]
    fn file_keys_are_private_versioned_and_refused_when_readable() {
        let dir = tempfile::tempdir().unwrap();
        let p = FileKeyProvider::new(dir.path().join("keys"));
        assert!(matches!(p.load(), Err(CryptoError::NoMasterKey)));
        assert!(p.ensure(&OsEntropy::new()).unwrap());
        assert!(!p.ensure(&OsEntropy::new()).unwrap(), "ensure is idempotent");
        assert_eq!(p.create_version(&OsEntropy::new()).unwrap(), 2);
        let ring = p.load().unwrap();
        assert_eq!(ring.versions(), vec![1, 2]);
        assert_eq!(ring.current().unwrap().version(), 2);
        let mode = fs::metadata(p.path(1)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = fs::metadata(dir.path().join("keys")).unwrap().permissions().mode() & 0o777;
        assert_eq!(dmode, 0o700);
        fs::set_permissions(p.path(1), fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(p.load(), Err(CryptoError::KeyFilePermissions { mode: 0o640, .. })));
    }

    #[test]
    fn env_keys_parse_and_refuse_garbage() {
        let e = OsEntropy::new();
        let value = format!(
            "{},{}",
            EnvKeyProvider::generate_entry(1, &e).expose_secret(),
            EnvKeyProvider::generate_entry(2, &e).expose_secret()
        );
        let p = EnvKeyProvider::new("SOUK_KEYS_MASTER_KEYS", SecretString::from(value));
        assert_eq!(p.load().unwrap().versions(), vec![1, 2]);
        assert!(p.create_version(&e).is_err());
        for bad in ["", "x", "1:notbase64!", "1:AAAA"] {
            let p = EnvKeyProvider::new("V", SecretString::from(bad));
            assert!(p.load().is_err(), "{bad:?}");
        }
    }
}
