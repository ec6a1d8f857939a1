//! Recording and checking security events. A use case calls [`record`] with its own
//! transaction, so the entry commits with the change it records or not at all. Checkpoints
//! sign the tree head; [`verify`] replays the whole log against them.

use std::net::IpAddr;

use souk_audit::Entry;
use souk_audit::checkpoint::{self, Checkpoint};
use souk_audit::compact::CompactTree;
use souk_audit::merkle::{self, Hash};
use souk_audit::verify::{Report, StoredRow, Verifier};
use souk_crypto::{FieldContext, Subject};
use souk_domain::Timestamp;
use souk_store::audit::{self as store, AuditRow, CheckpointRow};
use souk_store::{Store, StoreError};
use sqlx::AnyConnection;

use crate::{CoreError, Souk};

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `account`, `api_key`, `system` or `operator` (someone at the command line).
    pub kind: &'static str,
    pub id: String,
    pub role: String,
    /// The session or API key used, if any.
    pub credential: String,
    pub ip: Option<IpAddr>,
}

impl Actor {
    /// Souk itself (start-up tasks, scheduled jobs).
    #[must_use]
    pub fn system() -> Self {
        Self { kind: "system", id: "souk".into(), role: "system".into(), credential: String::new(), ip: None }
    }

    /// An operator running a `souk` command on the server.
    #[must_use]
    pub fn operator(user: &str) -> Self {
        Self {
            kind: "operator",
            id: user.to_owned(),
            role: "operator".into(),
            credential: String::new(),
            ip: None,
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Denied,
    Failure,
}

impl Outcome {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failure => "failure",
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct Event {
    pub actor: Actor,
    pub action: &'static str,
    pub target_kind: &'static str,
    pub target_id: String,
    pub outcome: Outcome,
    pub request_id: String,
    /// Facts about the event, without personal data.
    pub detail: serde_json::Value,
}

fn bad_row(e: impl std::fmt::Display) -> CoreError {
    CoreError::from(StoreError::Corrupt(e.to_string()))
}

fn u64_of(v: i64) -> Result<u64, CoreError> {
    u64::try_from(v).map_err(bad_row)
}

/// Appends `events` to the log in the caller's transaction. Returns the first position.
pub async fn record(souk: &Souk, tx: &mut AnyConnection, events: &[Event]) -> Result<u64, CoreError> {
    let n = u32::try_from(events.len()).map_err(bad_row)?;
    let first = store::reserve(tx, n).await?;
    let now = souk.clock.now();
    let mut rows = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        let seq = u64_of(first)? + i as u64;
        let ip_sealed = match (e.actor.ip, e.actor.kind) {
            // SECURITY: a client address is personal data: sealed under the actor's key, so
            // erasing the account erases it here too, while the log stays verifiable.
            (Some(ip), "account") => {
                let seq_text = seq.to_string();
                let ctx = FieldContext { table: "audit_log", column: "ip", row_id: &seq_text };
                let subject = Subject { kind: "account", id: &e.actor.id };
                Some(
                    souk.keys
                        .seal(tx, subject, &ctx, ip.to_string().as_bytes(), now)
                        .await?
                        .as_bytes()
                        .to_vec(),
                )
            }
            _ => None,
        };
        let entry = Entry {
            seq,
            at: now.as_micros(),
            actor_kind: e.actor.kind.to_owned(),
            actor_id: e.actor.id.clone(),
            actor_role: e.actor.role.clone(),
            credential_id: e.actor.credential.clone(),
            ip_sealed,
            action: e.action.to_owned(),
            target_kind: e.target_kind.to_owned(),
            target_id: e.target_id.clone(),
            outcome: e.outcome.as_str().to_owned(),
            request_id: e.request_id.clone(),
            detail: e.detail.to_string(),
        };
        rows.push(row_of(&entry, first + i64::try_from(i).map_err(bad_row)?));
    }
    store::insert(tx, &rows).await?;
    u64_of(first)
}

fn row_of(e: &Entry, seq: i64) -> AuditRow {
    AuditRow {
        seq,
        at: e.at,
        actor_kind: e.actor_kind.clone(),
        actor_id: e.actor_id.clone(),
        actor_role: e.actor_role.clone(),
        credential_id: e.credential_id.clone(),
        ip_sealed: e.ip_sealed.clone(),
        action: e.action.clone(),
        target_kind: e.target_kind.clone(),
        target_id: e.target_id.clone(),
        outcome: e.outcome.clone(),
        request_id: e.request_id.clone(),
        detail: e.detail.clone(),
        leaf_hash: e.leaf_hash().to_vec(),
    }
}

fn entry_of(r: AuditRow) -> Result<StoredRow, CoreError> {
    let stored_leaf: Hash =
        r.leaf_hash.as_slice().try_into().map_err(|_| bad_row("leaf hash is not 32 bytes"))?;
    Ok(StoredRow {
        entry: Entry {
            seq: u64_of(r.seq)?,
            at: r.at,
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            actor_role: r.actor_role,
            credential_id: r.credential_id,
            ip_sealed: r.ip_sealed,
            action: r.action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            outcome: r.outcome,
            request_id: r.request_id,
            detail: r.detail,
        },
        stored_leaf,
    })
}

fn checkpoint_of(r: &CheckpointRow) -> Result<Checkpoint, CoreError> {
    Ok(Checkpoint {
        tree_size: u64_of(r.tree_size)?,
        root: r.root_hash.as_slice().try_into().map_err(|_| bad_row("root is not 32 bytes"))?,
        signed_at: r.signed_at,
        key_version: u32::try_from(r.key_version).map_err(bad_row)?,
        signature: r.signature.clone(),
    })
}

/// Rows are read in pages of this many.
const PAGE: u32 = 10_000;

/// Streams every row in order to `each`. The store reads pages on another task (another
/// thread for SQLite) while the caller hashes, so reading and hashing overlap on two cores.
async fn each_row(
    store: &Store,
    mut each: impl FnMut(AuditRow) -> Result<(), CoreError>,
) -> Result<(), CoreError> {
    let (pages, mut incoming) = tokio::sync::mpsc::channel::<Result<Vec<AuditRow>, StoreError>>(2);
    let reader = tokio::spawn({
        let store = store.clone();
        async move { store::scan(&store, PAGE, pages).await }
    });
    while let Some(page) = incoming.recv().await {
        for row in page? {
            each(row)?;
        }
    }
    reader.await.map_err(|e| CoreError::Internal(Box::new(e)))?;
    Ok(())
}

/// Signs a checkpoint of the log as it is now, unless the newest checkpoint already covers
/// it. The root is computed from the entries' content, never from stored hashes. Only entries
/// added since this process's last checkpoint are read: earlier ones are summarized by the
/// tree's peaks in memory (`souk audit verify` is what re-reads everything).
pub async fn checkpoint(souk: &Souk) -> Result<Option<Checkpoint>, CoreError> {
    let mut tree = souk.audit_tree.lock().await;
    let mut conn = souk.store.conn().await?;
    loop {
        let from = i64::try_from(tree.size()).map_err(bad_row)?;
        let rows = store::rows_from(&mut conn, from, PAGE).await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            if r.seq != i64::try_from(tree.size()).map_err(bad_row)? {
                return Err(bad_row(format!(
                    "the audit log has no entry {} (run `souk audit verify`); not signing",
                    tree.size()
                )));
            }
            tree.push(entry_of(r)?.entry.leaf_hash());
        }
    }
    let latest = store::checkpoints(&mut conn).await?.last().map_or(0, |c| c.tree_size);
    if tree.size() == 0 || i64::try_from(tree.size()).map_err(bad_row)? <= latest {
        return Ok(None);
    }
    let cp = souk.keys.signer().sign(tree.size(), &tree.root(), souk.clock.now().as_micros());
    store::insert_checkpoint(
        &mut conn,
        &CheckpointRow {
            tree_size: i64::try_from(cp.tree_size).map_err(bad_row)?,
            root_hash: cp.root.to_vec(),
            signed_at: cp.signed_at,
            key_version: i64::from(cp.key_version),
            signature: cp.signature.clone(),
        },
    )
    .await?;
    Ok(Some(cp))
}

/// Replays the log: every entry, every checkpoint. `progress(done, total)` is called as
/// rows are read.
pub async fn verify(souk: &Souk, mut progress: impl FnMut(u64, u64)) -> Result<Report, CoreError> {
    let mut conn = souk.store.conn().await?;
    let head = u64_of(store::head_size(&mut conn).await?)?;
    let checkpoints =
        store::checkpoints(&mut conn).await?.iter().map(checkpoint_of).collect::<Result<Vec<_>, _>>()?;
    drop(conn);
    let mut verifier = Verifier::new(souk.keys.signer().public_key(), head, checkpoints);
    let mut done = 0u64;
    each_row(&souk.store, |r| {
        verifier.feed(&entry_of(r)?);
        done += 1;
        if done.is_multiple_of(10_000) {
            progress(done, head);
        }
        Ok(())
    })
    .await?;
    progress(done, head);
    Ok(verifier.finish())
}

/// An inclusion proof of one entry in the newest checkpoint.
#[derive(Debug, Clone)]
pub struct InclusionProof {
    pub seq: u64,
    pub leaf_hash: Hash,
    pub checkpoint: Checkpoint,
    pub path: Vec<Hash>,
    pub public_key: Vec<u8>,
}

impl InclusionProof {
    /// Checks the proof and the checkpoint's signature.
    #[must_use]
    pub fn verifies(&self) -> bool {
        checkpoint::verify(&self.public_key, &self.checkpoint)
            && merkle::verify_inclusion(
                &self.leaf_hash,
                self.seq,
                self.checkpoint.tree_size,
                &self.path,
                &self.checkpoint.root,
            )
    }
}

/// Proves that entry `seq` is in the log, against the newest signed checkpoint.
pub async fn prove(souk: &Souk, seq: u64) -> Result<InclusionProof, CoreError> {
    let mut conn = souk.store.conn().await?;
    let cp = store::checkpoints(&mut conn).await?.last().map(checkpoint_of).transpose()?;
    drop(conn);
    let cp = cp.ok_or(CoreError::NotFound("checkpoint"))?;
    if seq >= cp.tree_size {
        return Err(CoreError::NotFound("entry in the newest checkpoint"));
    }
    let mut leaves = Vec::new();
    each_row(&souk.store, |r| {
        if u64_of(r.seq)? < cp.tree_size {
            leaves.push(entry_of(r)?.entry.leaf_hash());
        }
        Ok(())
    })
    .await?;
    let index = usize::try_from(seq).map_err(bad_row)?;
    let leaf_hash = *leaves.get(index).ok_or(CoreError::NotFound("entry"))?;
    let path = merkle::inclusion_proof(&leaves, index).ok_or(CoreError::NotFound("entry"))?;
    Ok(InclusionProof { seq, leaf_hash, checkpoint: cp, path, public_key: souk.keys.signer().public_key() })
}

/// Every signed checkpoint, for export to an outside party.
pub async fn checkpoints(souk: &Souk) -> Result<Vec<Checkpoint>, CoreError> {
    let mut conn = souk.store.conn().await?;
    store::checkpoints(&mut conn).await?.iter().map(checkpoint_of).collect()
}

/// The audit log's public signing key.
#[must_use]
pub fn public_key(souk: &Souk) -> Vec<u8> {
    souk.keys.signer().public_key()
}

/// The moment an entry was made, for display.
#[must_use]
pub fn when(entry_at: i64) -> String {
    Timestamp::from_micros(entry_at).to_rfc3339()
}

/// The root of the log's first `size` entries, computed from their content; `None` if the
/// log is shorter.
pub async fn root_at(souk: &Souk, size: u64) -> Result<Option<Hash>, CoreError> {
    let mut tree = CompactTree::default();
    each_row(&souk.store, |r| {
        if u64_of(r.seq)? < size {
            tree.push(entry_of(r)?.entry.leaf_hash());
        }
        Ok(())
    })
    .await?;
    Ok((tree.size() == size).then(|| tree.root()))
}

/// A transaction for a security-relevant change: it commits only if the change's audit
/// events were recorded in it, so "changed but not recorded" cannot happen by omission.
pub struct AuditedTx<'s> {
    souk: &'s Souk,
    tx: sqlx::Transaction<'static, sqlx::Any>,
    recorded: bool,
}

impl std::fmt::Debug for AuditedTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditedTx").field("recorded", &self.recorded).finish_non_exhaustive()
    }
}

impl<'s> AuditedTx<'s> {
    /// A deferred transaction. One that reads before it writes, and may meet another
    /// writer, wants [`Self::begin_write`] on SQLite (or it fails with "database is locked"
    /// instead of waiting). Not the default: some use cases record an audit entry alone
    /// while their own transaction is open, which a lock held from the start would block.
    pub async fn begin(souk: &'s Souk) -> Result<Self, CoreError> {
        Ok(Self { souk, tx: souk.store.begin().await?, recorded: false })
    }

    /// A transaction that takes the write lock at once (see `Store::begin_write`), for
    /// changes that read then write under contention, like a checkout's stock reservation.
    pub async fn begin_write(souk: &'s Souk) -> Result<Self, CoreError> {
        Ok(Self { souk, tx: souk.store.begin_write().await?, recorded: false })
    }

    /// The connection, for the change itself.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Records the change's events in this transaction.
    pub async fn record(&mut self, events: &[Event]) -> Result<u64, CoreError> {
        let first = record(self.souk, &mut self.tx, events).await?;
        self.recorded = self.recorded || !events.is_empty();
        Ok(first)
    }

    /// Commits the change with its events; refuses (and rolls back) if none were recorded.
    pub async fn commit(self) -> Result<(), CoreError> {
        if !self.recorded {
            tracing::error!("refused to commit a security-relevant change without its audit entry");
            return Err(CoreError::Internal("a change was about to commit without its audit entry".into()));
        }
        self.tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }
}
