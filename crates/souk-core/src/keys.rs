//! The key service: the loaded master keys, the system's own keys, and per-subject data
//! keys fetched (or created) inside the caller's transaction. Use cases seal and reveal
//! personal data through it and never touch key bytes.

use std::sync::{Arc, PoisonError, RwLock};

use souk_audit::checkpoint::Signer;
use souk_crypto::blind_index::{self, BlindIndexKey};
use souk_crypto::nonce::Nonces;
use souk_crypto::provider::KeyProvider;
use souk_crypto::{CryptoError, DataKey, FieldContext, KeyBytes, Keyring, Sealed, Subject, WrappedKey};
use souk_domain::{Entropy, OsEntropy, Timestamp};
use souk_store::keys::{self as store, DataKeyRow, SystemKeyRow};
use souk_store::{Store, StoreError};
use sqlx::AnyConnection;

use crate::CoreError;

const BLIND_INDEX_ROOT: &str = "blind-index";
const AUDIT_SIGNING: &str = "audit-signing";
/// Root of identity's keys (CSRF tokens, recovery-code hashes, password pepper).
const IDENTITY_ROOT: &str = "identity";
/// Expected accounts, for sizing the email blind index (CipherSweet's rule).
const EXPECTED_ACCOUNTS: u64 = 1_000_000;

/// A revealed personal field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revealed {
    Text(String),
    /// The subject's key was destroyed: the value is gone for good.
    Erased,
}

impl Revealed {
    /// The text, or a clear marker for erased data (never garbage).
    #[must_use]
    pub fn display(&self) -> &str {
        match self {
            Self::Text(t) => t,
            Self::Erased => "[erased]",
        }
    }
}

/// Keys and encryption for use cases.
pub struct KeyService {
    provider: Arc<dyn KeyProvider>,
    keyring: RwLock<Arc<Keyring>>,
    nonces: Nonces,
    email_index: BlindIndexKey,
    login_throttle: BlindIndexKey,
    registration_index: BlindIndexKey,
    risk_index: BlindIndexKey,
    identity_root: KeyBytes,
    signer: Signer,
}

impl std::fmt::Debug for KeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyService").field("provider", &self.provider).finish_non_exhaustive()
    }
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> CoreError {
    CoreError::Internal(Box::new(e))
}

fn system_subject(purpose: &str) -> Subject<'_> {
    Subject { kind: "system", id: purpose }
}

impl KeyService {
    /// Loads the master keys and the system keys, creating the system keys on first start.
    pub async fn open(
        store: &Store,
        provider: Arc<dyn KeyProvider>,
        entropy: &dyn Entropy,
        now: Timestamp,
    ) -> Result<Self, CoreError> {
        let keyring = Arc::new(provider.load().map_err(internal)?);
        let nonces = Nonces::new(Box::new(OsEntropy::new()));
        let mut conn = store.conn().await?;
        let mut roots = Vec::new();
        for purpose in [BLIND_INDEX_ROOT, AUDIT_SIGNING, IDENTITY_ROOT] {
            let existing = store::system_keys(&mut conn).await?.into_iter().find(|k| k.purpose == purpose);
            let row = match existing {
                Some(row) => row,
                None => {
                    let kek = keyring.current().map_err(internal)?;
                    let wrapped = kek
                        .wrap(system_subject(purpose), 1, &KeyBytes::generate(entropy), &nonces)
                        .map_err(internal)?;
                    let row = SystemKeyRow {
                        purpose: purpose.to_owned(),
                        version: 1,
                        kek_version: wrapped.kek_version,
                        wrapped: wrapped.bytes,
                    };
                    store::insert_system_key(&mut conn, &row, now.as_micros()).await?;
                    // Another process may have won the race; use whatever is stored.
                    store::system_keys(&mut conn)
                        .await?
                        .into_iter()
                        .find(|k| k.purpose == purpose)
                        .ok_or(CoreError::Unavailable)?
                }
            };
            let wrapped = WrappedKey { kek_version: row.kek_version, bytes: row.wrapped.clone() };
            roots.push(keyring.unwrap_key(system_subject(purpose), row.version, &wrapped).map_err(internal)?);
        }
        let [blind_root, signing_seed, identity_root] =
            <[KeyBytes; 3]>::try_from(roots).map_err(|_| CoreError::Unavailable)?;
        Ok(Self {
            provider,
            keyring: RwLock::new(keyring),
            nonces,
            email_index: BlindIndexKey::derive(&blind_root, "accounts", "email"),
            login_throttle: BlindIndexKey::derive(&blind_root, "login_throttle", "email"),
            registration_index: BlindIndexKey::derive(&blind_root, "shop_verifications", "registration"),
            risk_index: BlindIndexKey::derive(&blind_root, "risk_events", "key"),
            identity_root,
            signer: Signer::from_seed(signing_seed.expose(), 1).map_err(internal)?,
        })
    }

    fn keyring(&self) -> Arc<Keyring> {
        self.keyring.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Re-reads the master keys (after `souk keys rotate` added a version).
    pub fn reload(&self) -> Result<(), CoreError> {
        let fresh = Arc::new(self.provider.load().map_err(internal)?);
        *self.keyring.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// Unwraps with the loaded keys, reloading once if the key names a newer master key.
    fn unwrap(
        &self,
        subject: Subject<'_>,
        version: u32,
        wrapped: &WrappedKey,
    ) -> Result<KeyBytes, CoreError> {
        match self.keyring().unwrap_key(subject, version, wrapped) {
            Err(CryptoError::UnknownKeyVersion(_)) => {
                self.reload()?;
                self.keyring().unwrap_key(subject, version, wrapped).map_err(internal)
            }
            other => other.map_err(internal),
        }
    }

    /// The subject's data key: `Ok(None)` if it was destroyed, or if it never existed and
    /// `create` is false.
    pub async fn data_key(
        &self,
        conn: &mut AnyConnection,
        subject: Subject<'_>,
        create: bool,
        now: Timestamp,
    ) -> Result<Option<DataKey>, CoreError> {
        let row = match store::latest_data_key(conn, subject.kind, subject.id).await? {
            Some(row) => row,
            None if !create => return Ok(None),
            None => {
                let ring = self.keyring();
                let kek = ring.current().map_err(internal)?;
                let dek = KeyBytes::generate(&OsEntropy::new());
                let wrapped = kek.wrap(subject, 1, &dek, &self.nonces).map_err(internal)?;
                let row = DataKeyRow {
                    subject_kind: subject.kind.to_owned(),
                    subject_id: subject.id.to_owned(),
                    version: 1,
                    kek_version: wrapped.kek_version,
                    wrapped: Some(wrapped.bytes),
                };
                if store::insert_data_key(conn, &row, now.as_micros()).await? {
                    return DataKey::new(1, &dek).map(Some).map_err(internal);
                }
                store::latest_data_key(conn, subject.kind, subject.id).await?.ok_or(CoreError::Unavailable)?
            }
        };
        let Some(bytes) = row.wrapped else { return Ok(None) };
        let dek = self.unwrap(subject, row.version, &WrappedKey { kek_version: row.kek_version, bytes })?;
        DataKey::new(row.version, &dek).map(Some).map_err(internal)
    }

    /// Seals a value for the subject, creating its data key on first use. Fails if the
    /// subject was erased: nothing new is written for an erased subject.
    pub async fn seal(
        &self,
        conn: &mut AnyConnection,
        subject: Subject<'_>,
        ctx: &FieldContext<'_>,
        plaintext: &[u8],
        now: Timestamp,
    ) -> Result<Sealed, CoreError> {
        let key = self.data_key(conn, subject, true, now).await?.ok_or(CoreError::NotFound("subject"))?;
        key.seal(ctx, plaintext, &self.nonces).map_err(internal)
    }

    /// Opens a sealed text field, or says it was erased.
    pub async fn reveal(
        &self,
        conn: &mut AnyConnection,
        subject: Subject<'_>,
        ctx: &FieldContext<'_>,
        sealed: &Sealed,
    ) -> Result<Revealed, CoreError> {
        match self.data_key(conn, subject, false, Timestamp::UNIX_EPOCH).await? {
            None => Ok(Revealed::Erased),
            Some(key) => key.open_text(ctx, sealed).map(Revealed::Text).map_err(internal),
        }
    }

    /// Opens a sealed binary field (a document), or `None` when the subject was erased.
    pub async fn reveal_bytes(
        &self,
        conn: &mut AnyConnection,
        subject: Subject<'_>,
        ctx: &FieldContext<'_>,
        sealed: &Sealed,
    ) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, CoreError> {
        match self.data_key(conn, subject, false, Timestamp::UNIX_EPOCH).await? {
            None => Ok(None),
            Some(key) => key.open(ctx, sealed).map(Some).map_err(internal),
        }
    }

    /// The blind index of a (normalised) shop registration number: truncated like the
    /// email index, so it finds candidates to compare and proves nothing on its own.
    #[must_use]
    pub fn registration_index(&self, number: &str) -> Vec<u8> {
        self.registration_index.index(number.as_bytes(), blind_index::bits_for_rows(EXPECTED_ACCOUNTS))
    }

    /// The blind index of an email address.
    #[must_use]
    pub fn email_index(&self, email: &str) -> Vec<u8> {
        self.email_index.index(
            blind_index::normalize_email(email).as_bytes(),
            blind_index::bits_for_rows(EXPECTED_ACCOUNTS),
        )
    }

    /// The throttle key of an email typed at sign-in: a full-length keyed hash (unlike the
    /// truncated blind index, two addresses never share a throttle).
    #[must_use]
    pub fn login_throttle_key(&self, email: &str) -> Vec<u8> {
        self.login_throttle.index(blind_index::normalize_email(email).as_bytes(), 128)
    }

    /// The key a risk velocity counter or list entry is kept under: a full-length keyed hash
    /// of `kind` and the raw value (an IP, a device, an address), in hex. Full length, unlike
    /// the truncated blind indexes, so two values never share a counter.
    #[must_use]
    pub fn risk_key(&self, kind: &str, raw: &[u8]) -> String {
        let mut input = Vec::with_capacity(kind.len() + 1 + raw.len());
        input.extend_from_slice(kind.as_bytes());
        input.push(0);
        input.extend_from_slice(raw);
        self.risk_index.index(&input, 128).iter().fold(String::with_capacity(32), |mut out, b| {
            use std::fmt::Write as _;
            let _ = write!(out, "{b:02x}");
            out
        })
    }

    /// The risk key of an email address (normalized first): what `:email:` holds and what
    /// the email lists keep.
    #[must_use]
    pub fn risk_email(&self, email: &str) -> String {
        self.risk_key("email", blind_index::normalize_email(email).as_bytes())
    }

    /// A key of identity's for one purpose (`csrf`, `recovery-codes`, `password-pepper`).
    #[must_use]
    pub fn identity_key(&self, purpose: &str) -> KeyBytes {
        self.identity_root.derive(purpose)
    }

    /// Destroys the subject's data keys: all their sealed fields become unreadable
    /// everywhere at once, in backups too. Returns how many keys were destroyed.
    pub async fn shred(
        &self,
        conn: &mut AnyConnection,
        subject: Subject<'_>,
        now: Timestamp,
    ) -> Result<u64, CoreError> {
        Ok(store::destroy_data_keys(conn, subject.kind, subject.id, now.as_micros()).await?)
    }

    #[must_use]
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    #[must_use]
    pub fn provider(&self) -> &Arc<dyn KeyProvider> {
        &self.provider
    }

    /// The loaded master key versions.
    #[must_use]
    pub fn versions(&self) -> Vec<u32> {
        self.keyring().versions()
    }

    /// Rewraps up to `batch` data keys and every system key still under an older master
    /// key. Returns how many it rewrapped; 0 means rotation is complete.
    pub async fn rewrap_batch(&self, store: &Store, batch: u32) -> Result<u64, CoreError> {
        let ring = self.keyring();
        let current = ring.current().map_err(internal)?.version();
        let mut conn = store.conn().await?;
        let mut done = 0;
        for row in store::data_keys_to_rewrap(&mut conn, current, batch).await? {
            let Some(bytes) = row.wrapped.clone() else {
                continue;
            };
            let subject = Subject { kind: static_kind(&row.subject_kind)?, id: &row.subject_id };
            let old = WrappedKey { kek_version: row.kek_version, bytes };
            if let Some(new) = ring.rewrap(subject, row.version, &old, &self.nonces).map_err(internal)? {
                // A concurrent destroy wins: the conditional update then changes nothing.
                if store::rewrap_data_key(&mut conn, &row, row.kek_version, new.kek_version, &new.bytes)
                    .await?
                {
                    done += 1;
                }
            }
        }
        for row in store::system_keys(&mut conn).await? {
            let old = WrappedKey { kek_version: row.kek_version, bytes: row.wrapped.clone() };
            let rewrapped = ring
                .rewrap(system_subject(&row.purpose), row.version, &old, &self.nonces)
                .map_err(internal)?;
            if let Some(new) = rewrapped
                && store::rewrap_system_key(&mut conn, &row, row.kek_version, new.kek_version, &new.bytes)
                    .await?
            {
                done += 1;
            }
        }
        Ok(done)
    }
}

/// Subject kinds are a closed set; anything else in the table is corruption.
fn static_kind(kind: &str) -> Result<&'static str, CoreError> {
    match kind {
        "account" => Ok("account"),
        "shop" => Ok("shop"),
        other => {
            Err(CoreError::from(StoreError::Corrupt(format!("unknown data key subject kind {other:?}"))))
        }
    }
}
