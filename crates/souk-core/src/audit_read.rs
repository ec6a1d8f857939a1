//! Reading the audit log: for trust & safety and admins (a filtered, paged view) and for a
//! SIEM (an export as JSON lines). Every read is itself authorized by Cedar and recorded.
//! Client addresses are revealed for readers (they are sealed under the actor's key, so an
//! erased account's show as erased).

use std::collections::HashMap;

use souk_access::{Action, Resource};
use souk_crypto::{DataKey, FieldContext, Sealed, Subject};
use souk_store::audit::{self as store, AuditFilter, AuditRow};

use crate::audit::AuditedTx;
use crate::identity::{Client, Principal};
use crate::{CoreError, Souk};

/// The most entries one page holds.
pub const MAX_PAGE: u32 = 1000;

/// An entry as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntryView {
    pub seq: i64,
    /// RFC 3339, UTC.
    pub at: String,
    pub actor_kind: String,
    pub actor_id: String,
    pub actor_role: String,
    pub credential: String,
    /// The client address, revealed; `[erased]` when its account was erased.
    pub ip: Option<String>,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub outcome: String,
    pub request_id: String,
    pub detail: serde_json::Value,
    /// The entry's Merkle leaf hash (hex), to check against an inclusion proof.
    pub leaf_hash: String,
}

/// A page of entries and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPage {
    pub entries: Vec<EntryView>,
    /// Pass as `after` for the next page; `None` at the end.
    pub next_after: Option<i64>,
}

/// Checks the reader may perform `action` on the log, recording the decision (and the
/// query) in the log itself.
async fn authorize_read(
    souk: &Souk,
    principal: &Principal,
    action: Action,
    filter: &AuditFilter,
    client: &Client,
) -> Result<(), CoreError> {
    let mut tx = AuditedTx::begin(souk).await?;
    crate::authz::authorize(souk, &mut tx, principal, action, &Resource::AuditLog, client).await?;
    tx.record(&[crate::audit::Event {
        actor: principal.actor(client.ip),
        action: if action == Action::AuditExport { "audit.export" } else { "audit.read" },
        target_kind: "audit_log",
        target_id: String::new(),
        outcome: crate::audit::Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({
            "actor_id": filter.actor_id, "action": filter.action, "target_kind": filter.target_kind,
            "target_id": filter.target_id, "outcome": filter.outcome, "from": filter.from, "to": filter.to,
        }),
    }])
    .await?;
    tx.commit().await
}

/// Opens entries' sealed addresses, keeping each actor's data key for the page.
struct Revealer<'a> {
    souk: &'a Souk,
    keys: HashMap<String, Option<DataKey>>,
}

impl Revealer<'_> {
    async fn ip(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        row: &AuditRow,
    ) -> Result<Option<String>, CoreError> {
        let Some(sealed) = &row.ip_sealed else { return Ok(None) };
        if !self.keys.contains_key(&row.actor_id) {
            let subject = Subject { kind: "account", id: &row.actor_id };
            let key = self.souk.keys.data_key(conn, subject, false, self.souk.clock.now()).await?;
            self.keys.insert(row.actor_id.clone(), key);
        }
        let seq = row.seq.to_string();
        let ctx = FieldContext { table: "audit_log", column: "ip", row_id: &seq };
        Ok(Some(match self.keys.get(&row.actor_id).and_then(Option::as_ref) {
            None => "[erased]".to_owned(),
            Some(key) => key
                .open_text(&ctx, &Sealed::from_stored(sealed.clone()))
                .unwrap_or_else(|_| "[unreadable]".to_owned()),
        }))
    }
}

async fn page(
    souk: &Souk,
    filter: &AuditFilter,
    after: Option<i64>,
    limit: u32,
) -> Result<EntryPage, CoreError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let mut conn = souk.store.conn().await?;
    let rows = store::query(&mut conn, filter, after, limit).await?;
    let mut revealer = Revealer { souk, keys: HashMap::new() };
    let mut entries = Vec::with_capacity(rows.len());
    for r in &rows {
        let ip = revealer.ip(&mut conn, r).await?;
        entries.push(EntryView {
            seq: r.seq,
            at: souk_domain::Timestamp::from_micros(r.at).to_rfc3339(),
            actor_kind: r.actor_kind.clone(),
            actor_id: r.actor_id.clone(),
            actor_role: r.actor_role.clone(),
            credential: r.credential_id.clone(),
            ip,
            action: r.action.clone(),
            target_kind: r.target_kind.clone(),
            target_id: r.target_id.clone(),
            outcome: r.outcome.clone(),
            request_id: r.request_id.clone(),
            detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::String(r.detail.clone())),
            leaf_hash: souk_audit::hex(&r.leaf_hash),
        });
    }
    let next_after = (rows.len() == limit as usize).then(|| rows.last().map(|r| r.seq)).flatten();
    Ok(EntryPage { entries, next_after })
}

/// A page of entries matching `filter`, for a reader with `audit.read`.
pub async fn read(
    souk: &Souk,
    principal: &Principal,
    filter: &AuditFilter,
    after: Option<i64>,
    limit: u32,
    client: &Client,
) -> Result<EntryPage, CoreError> {
    authorize_read(souk, principal, Action::AuditRead, filter, client).await?;
    page(souk, filter, after, limit).await
}

/// An authorized export: pages of entries until the end, for a reader with `audit.export`.
#[derive(Debug)]
pub struct Export {
    souk: Souk,
    filter: AuditFilter,
    after: Option<i64>,
    done: bool,
}

impl Export {
    /// The next page, or `None` at the end.
    pub async fn next_page(&mut self) -> Result<Option<Vec<EntryView>>, CoreError> {
        if self.done {
            return Ok(None);
        }
        let p = page(&self.souk, &self.filter, self.after, MAX_PAGE).await?;
        self.after = p.next_after;
        self.done = p.next_after.is_none();
        Ok(if p.entries.is_empty() { None } else { Some(p.entries) })
    }
}

/// Starts an export of every entry matching `filter` (checked and recorded first).
pub async fn export(
    souk: &Souk,
    principal: &Principal,
    filter: AuditFilter,
    client: &Client,
) -> Result<Export, CoreError> {
    authorize_read(souk, principal, Action::AuditExport, &filter, client).await?;
    Ok(Export { souk: souk.clone(), filter, after: None, done: false })
}
