//! Idempotency keys for mutating calls (checkout now, payments next): a retried request
//! with the same key and body gets the first answer, replayed; the same key with another
//! body is refused; a retry while the first is still running is told to wait. Keys live
//! 24 hours per caller.

use sha2::{Digest as _, Sha256};
use souk_store::idempotency as store;

use crate::{CoreError, Souk};

/// How long an answer is kept.
pub const TTL_MICROS: i64 = 24 * 3_600 * 1_000_000;

/// What to do with a request that carries a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// First use: run the request (and store its answer, or `release` on failure).
    Fresh,
    /// Seen before with this body: send this answer again.
    Replay { status: u16, body: Vec<u8> },
    /// Seen before with another body.
    Mismatch,
    /// The first request with this key has not answered yet.
    InProgress,
}

/// Checks a key's shape: 1 to 255 visible ASCII characters (UUIDs are typical).
pub fn valid_key(key: &str) -> Result<(), CoreError> {
    if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(CoreError::invalid("Idempotency-Key", "use 1 to 255 visible ASCII characters, e.g. a UUID"))
    }
}

/// Claims `key` for this request body, or says how it was used before.
pub async fn begin(souk: &Souk, scope: &str, key: &str, body: &[u8]) -> Result<Begun, CoreError> {
    valid_key(key)?;
    let hash: [u8; 32] = Sha256::digest(body).into();
    let now = souk.clock.now();
    let mut conn = souk.store.conn().await?;
    if store::claim(&mut conn, scope, key, &hash, now, now.plus_micros(TTL_MICROS)).await? {
        return Ok(Begun::Fresh);
    }
    let Some(stored) = store::stored(&mut conn, scope, key).await? else {
        // Expired and purged between the two statements: treat as in progress; a retry claims it.
        return Ok(Begun::InProgress);
    };
    if stored.request_hash.as_slice() != hash {
        return Ok(Begun::Mismatch);
    }
    Ok(match stored.answer {
        Some((status, body)) => Begun::Replay { status, body },
        None => Begun::InProgress,
    })
}

/// Stores the answer to a claimed key, for requests whose change commits elsewhere (a
/// payment, settled by the vault's own idempotency): a retry with the key replays it.
pub async fn complete(
    souk: &Souk,
    scope: &str,
    key: &str,
    status: u16,
    body: &[u8],
) -> Result<(), CoreError> {
    let mut conn = souk.store.conn().await?;
    Ok(store::complete(&mut conn, scope, key, status, body).await?)
}

/// Gives a claimed key back after a request that changed nothing (it failed), so that a
/// corrected retry can run.
pub async fn release(souk: &Souk, scope: &str, key: &str) -> Result<(), CoreError> {
    let mut conn = souk.store.conn().await?;
    Ok(store::release(&mut conn, scope, key).await?)
}

/// Forgets expired keys (housekeeping).
pub async fn purge(souk: &Souk) -> Result<u64, CoreError> {
    let mut conn = souk.store.conn().await?;
    Ok(store::purge(&mut conn, souk.clock.now()).await?)
}
