//! Seller verification: the owner uploads an identity document and submits legal details;
//! trust & safety reviews the queue, reads the sealed details and document (each read
//! recorded), and verifies or rejects with a reason; staff may suspend and reinstate.

use souk_access::{Action, Resource};
use souk_crypto::{FieldContext, Sealed};
use souk_domain::Timestamp;
use souk_domain::ids::{DocumentId, ShopId, VerificationId};
use souk_domain::shop::{ShopStatus, VerificationDetails, decision_reason};
use souk_store::shops as store;

use super::{LoadedShop, load_shop, notify, owner_subject, require_shop_session};
use crate::audit::{AuditedTx, Event, Outcome};
use crate::identity::{Client, Principal};
use crate::{CoreError, Souk};

fn event(
    principal: &Principal,
    client: &Client,
    action: &'static str,
    kind: &'static str,
    id: String,
    detail: serde_json::Value,
) -> Event {
    Event {
        actor: principal.actor(client.ip),
        action,
        target_kind: kind,
        target_id: id,
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail,
    }
}

fn document_ctx(id: &str) -> FieldContext<'_> {
    FieldContext { table: "shop_documents", column: "content", row_id: id }
}

fn verification_ctx<'a>(column: &'static str, id: &'a str) -> FieldContext<'a> {
    FieldContext { table: "shop_verifications", column, row_id: id }
}

/// Stores an identity document for the shop: checked by content (JPEG, PNG, WebP or PDF
/// without active content; images re-encoded so no metadata survives), sealed under the
/// owner's key.
pub async fn upload_document(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
    bytes: &[u8],
) -> Result<DocumentId, CoreError> {
    require_shop_session(souk, principal).await?;
    // Authorize before looking at the file: decoding an image costs CPU that a stranger
    // must not be able to spend, and it happens outside any transaction.
    let mut conn = souk.store.conn().await?;
    let LoadedShop { record, facts, .. } = load_shop(&mut conn, shop).await?;
    drop(conn);
    crate::authz::check(souk, principal, Action::ShopSubmitVerification, &Resource::Shop(&facts), client)
        .await?;
    let (media_type, clean) = clean_document(bytes).await?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let id = DocumentId::new(now, souk.entropy.as_ref());
    let row = id.to_string();
    let owner = record.owner.to_string();
    let sealed = souk.keys.seal(tx.conn(), owner_subject(&owner), &document_ctx(&row), &clean, now).await?;
    let doc = store::Document {
        id,
        shop,
        media_type: media_type.to_owned(),
        size_bytes: i64::try_from(clean.len()).unwrap_or(i64::MAX),
        content_sealed: sealed.as_bytes().to_vec(),
        uploaded_by: principal.account,
        uploaded_at: now,
    };
    store::insert_document(tx.conn(), &doc).await?;
    tx.record(&[event(
        principal,
        client,
        "shop.document_upload",
        "shop",
        shop.to_string(),
        serde_json::json!({ "document": row, "media_type": doc.media_type, "bytes": doc.size_bytes }),
    )])
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Checks a document by its content and cleans it: its media type and the bytes to store.
async fn clean_document(bytes: &[u8]) -> Result<(&'static str, Vec<u8>), CoreError> {
    let _turn = super::decode_permit().await?;
    let bytes = bytes.to_vec();
    // Decoding is CPU-bound and may allocate up to the limits: off the async workers, and a
    // panic in a decoder ends this task, not the server.
    let clean = tokio::task::spawn_blocking(move || {
        souk_media::check_document(&bytes, &souk_media::Limits::DOCUMENT)
    })
    .await
    .map_err(|_| CoreError::invalid("document", "the file could not be read"))?
    .map_err(|e| CoreError::invalid("document", e))?;
    Ok((clean.kind().mime(), clean.into_bytes()))
}

/// What the owner submits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submission {
    pub legal_name: String,
    pub address: String,
    pub registration_number: String,
    pub document: String,
}

/// Submits the shop for verification (owner only, from `unverified` or `rejected`).
pub async fn submit(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
    input: &Submission,
) -> Result<VerificationId, CoreError> {
    require_shop_session(souk, principal).await?;
    let details =
        VerificationDetails::validate(&input.legal_name, &input.address, &input.registration_number)
            .map_err(|e| CoreError::invalid("verification", e))?;
    let document: DocumentId =
        input.document.parse().map_err(|_| CoreError::invalid("document", "not a document id"))?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let LoadedShop { record, facts, status } = load_shop(tx.conn(), shop).await?;
    crate::authz::authorize(
        souk,
        &mut tx,
        principal,
        Action::ShopSubmitVerification,
        &Resource::Shop(&facts),
        client,
    )
    .await?;
    if !status.may_submit() {
        return Err(CoreError::Conflict(format!(
            "a shop that is {} cannot submit verification now",
            status.as_str()
        )));
    }
    // The document must be one uploaded for this shop: an id from another shop is
    // indistinguishable from one that does not exist.
    store::document(tx.conn(), shop, document).await?.ok_or(CoreError::NotFound("document"))?;
    let id = VerificationId::new(now, souk.entropy.as_ref());
    let row = id.to_string();
    let owner = record.owner.to_string();
    let subject = owner_subject(&owner);
    let keys = &souk.keys;
    let legal_name = keys
        .seal(tx.conn(), subject, &verification_ctx("legal_name", &row), details.legal_name.as_bytes(), now)
        .await?;
    let address = keys
        .seal(tx.conn(), subject, &verification_ctx("address", &row), details.address.as_bytes(), now)
        .await?;
    let registration = keys
        .seal(
            tx.conn(),
            subject,
            &verification_ctx("registration", &row),
            details.registration_number.as_bytes(),
            now,
        )
        .await?;
    let v = store::Verification {
        id,
        shop,
        legal_name_sealed: legal_name.as_bytes().to_vec(),
        address_sealed: address.as_bytes().to_vec(),
        registration_sealed: registration.as_bytes().to_vec(),
        registration_index: keys.registration_index(&details.registration_number),
        document,
        submitted_by: principal.account,
        submitted_at: now,
        decision: None,
        reason: None,
        decided_by: None,
        decided_at: None,
    };
    store::insert_verification(tx.conn(), &v).await?;
    if !store::change_status(tx.conn(), shop, status.as_str(), ShopStatus::Submitted.as_str(), "", now)
        .await?
    {
        return Err(CoreError::Conflict("the shop changed meanwhile; try again".into()));
    }
    tx.record(&[event(
        principal,
        client,
        "shop.verification_submit",
        "shop",
        shop.to_string(),
        serde_json::json!({ "verification": row, "document": document.to_string() }),
    )])
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// One waiting submission in the review queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    pub verification: VerificationId,
    pub shop: ShopId,
    pub shop_name: String,
    pub submitted_at: Timestamp,
}

/// The undecided submissions this reviewer may decide, oldest first. Shops the reviewer
/// owns or manages are left out (nobody verifies their own shop).
pub async fn queue(
    souk: &Souk,
    principal: &Principal,
    after: Option<(Timestamp, VerificationId)>,
    limit: u16,
) -> Result<Vec<QueueItem>, CoreError> {
    crate::authz::require_staff_session(souk, principal)?;
    if !principal.is_staff() {
        return Err(CoreError::Forbidden);
    }
    let mut conn = souk.store.conn().await?;
    let rows = store::verification_queue(&mut conn, after, limit.clamp(1, 200)).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (v, shop_name) in rows {
        let LoadedShop { facts, .. } = load_shop(&mut conn, v.shop).await?;
        if souk.access.decide(&principal.access_actor(), Action::ShopVerify, &Resource::Shop(&facts)).allowed
        {
            out.push(QueueItem { verification: v.id, shop: v.shop, shop_name, submitted_at: v.submitted_at });
        }
    }
    if out.is_empty() && !principal.staff_roles.contains(&souk_access::StaffRole::TrustSafety) {
        return Err(CoreError::Forbidden);
    }
    Ok(out)
}

/// A submission opened for review: the sealed details in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub verification: VerificationId,
    pub shop: super::shops::ShopView,
    pub legal_name: String,
    pub address: String,
    pub registration_number: String,
    pub document: DocumentId,
    pub document_type: String,
    pub submitted_at: Timestamp,
    pub decision: Option<String>,
    pub reason: Option<String>,
    /// Other shops whose submissions carried the same registration number (a lead: one
    /// person behind several shops, or a borrowed number).
    pub same_registration: Vec<(ShopId, String)>,
}

/// Opens a submission for review (`shop.read_documents`, recorded). The owner may read
/// their own.
pub async fn review(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: VerificationId,
) -> Result<Review, CoreError> {
    let mut tx = AuditedTx::begin(souk).await?;
    let v = store::verification(tx.conn(), id).await?.ok_or(CoreError::NotFound("verification"))?;
    let LoadedShop { record, facts, .. } = load_shop(tx.conn(), v.shop).await?;
    crate::authz::authorize(
        souk,
        &mut tx,
        principal,
        Action::ShopReadDocuments,
        &Resource::Shop(&facts),
        client,
    )
    .await?;
    let row = id.to_string();
    let owner = record.owner.to_string();
    let subject = owner_subject(&owner);
    let mut open = async |column: &'static str, bytes: &[u8]| -> Result<String, CoreError> {
        Ok(souk
            .keys
            .reveal(tx.conn(), subject, &verification_ctx(column, &row), &Sealed::from_stored(bytes.to_vec()))
            .await?
            .display()
            .to_owned())
    };
    let legal_name = open("legal_name", &v.legal_name_sealed).await?;
    let address = open("address", &v.address_sealed).await?;
    let registration_number = open("registration", &v.registration_sealed).await?;
    let same_registration =
        store::shops_sharing_registration(tx.conn(), &v.registration_index, v.shop).await?;
    let doc = store::document(tx.conn(), v.shop, v.document).await?.ok_or(CoreError::NotFound("document"))?;
    let shop = super::shops::view_of(souk, tx.conn(), &record).await?;
    tx.record(&[event(
        principal,
        client,
        "shop.verification_read",
        "shop",
        v.shop.to_string(),
        serde_json::json!({ "verification": row }),
    )])
    .await?;
    tx.commit().await?;
    Ok(Review {
        verification: id,
        shop,
        legal_name,
        address,
        registration_number,
        document: v.document,
        document_type: doc.media_type,
        submitted_at: v.submitted_at,
        decision: v.decision,
        reason: v.reason,
        same_registration,
    })
}

/// The latest submission of a shop, for its owner's hub (status and reason only).
pub async fn latest(souk: &Souk, shop: ShopId) -> Result<Option<store::Verification>, CoreError> {
    let mut conn = souk.store.conn().await?;
    Ok(store::verifications_of(&mut conn, shop).await?.into_iter().next())
}

/// A document's bytes, for its shop's owner and trust & safety (recorded).
pub async fn document(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
    id: DocumentId,
) -> Result<(String, zeroize::Zeroizing<Vec<u8>>), CoreError> {
    let mut tx = AuditedTx::begin(souk).await?;
    let LoadedShop { record, facts, .. } = load_shop(tx.conn(), shop).await?;
    crate::authz::authorize(
        souk,
        &mut tx,
        principal,
        Action::ShopReadDocuments,
        &Resource::Shop(&facts),
        client,
    )
    .await?;
    let doc = store::document(tx.conn(), shop, id).await?.ok_or(CoreError::NotFound("document"))?;
    let row = id.to_string();
    let owner = record.owner.to_string();
    let bytes = souk
        .keys
        .reveal_bytes(
            tx.conn(),
            owner_subject(&owner),
            &document_ctx(&row),
            &Sealed::from_stored(doc.content_sealed),
        )
        .await?
        .ok_or(CoreError::NotFound("document"))?;
    tx.record(&[event(
        principal,
        client,
        "shop.document_read",
        "shop",
        shop.to_string(),
        serde_json::json!({ "document": row }),
    )])
    .await?;
    tx.commit().await?;
    Ok((doc.media_type, bytes))
}

/// A reviewer's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Verify,
    Reject,
}

/// Decides a waiting submission (`shop.verify`; never on one's own shop). A rejection
/// needs a reason, which the owner sees. Two reviewers racing: the second gets `Conflict`.
pub async fn decide(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: VerificationId,
    decision: Decision,
    reason: &str,
) -> Result<ShopStatus, CoreError> {
    let reason = match decision {
        Decision::Reject => decision_reason(reason).map_err(|e| CoreError::invalid("reason", e))?,
        Decision::Verify => reason.trim().chars().take(1_000).collect(),
    };
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let v = store::verification(tx.conn(), id).await?.ok_or(CoreError::NotFound("verification"))?;
    let LoadedShop { record, facts, status } = load_shop(tx.conn(), v.shop).await?;
    crate::authz::authorize(souk, &mut tx, principal, Action::ShopVerify, &Resource::Shop(&facts), client)
        .await?;
    let (word, to) = match decision {
        Decision::Verify => ("verified", ShopStatus::Verified),
        Decision::Reject => ("rejected", ShopStatus::Rejected),
    };
    if !store::decide_verification(tx.conn(), id, word, &reason, principal.account, now).await? {
        return Err(CoreError::Conflict("this submission was already decided".into()));
    }
    // A shop suspended while its submission waited stays suspended; the decision is kept.
    let new_status = if status == ShopStatus::Submitted {
        if !store::change_status(tx.conn(), v.shop, status.as_str(), to.as_str(), &reason, now).await? {
            return Err(CoreError::Conflict("the shop changed meanwhile; try again".into()));
        }
        to
    } else {
        status
    };
    tx.record(&[event(
        principal,
        client,
        "shop.verification_decide",
        "shop",
        v.shop.to_string(),
        serde_json::json!({ "verification": id.to_string(), "decision": word, "reason": reason }),
    )])
    .await?;
    tx.commit().await?;
    let body = match decision {
        Decision::Verify => {
            format!("Your shop \"{}\" is verified. The limits on new shops no longer apply.", record.name)
        }
        Decision::Reject => format!(
            "Your shop \"{}\" could not be verified.\n\nReason: {reason}\n\nYou can correct the details and submit again from your seller hub.",
            record.name
        ),
    };
    notify(souk, record.owner, "Your shop's verification", &body).await;
    Ok(new_status)
}

/// Suspends a shop (trust & safety): it leaves the storefront and cannot sell.
pub async fn suspend(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
    reason: &str,
) -> Result<(), CoreError> {
    let reason = decision_reason(reason).map_err(|e| CoreError::invalid("reason", e))?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let LoadedShop { record, facts, status } = load_shop(tx.conn(), shop).await?;
    crate::authz::authorize(souk, &mut tx, principal, Action::ShopSuspend, &Resource::Shop(&facts), client)
        .await?;
    if status == ShopStatus::Suspended {
        return Err(CoreError::Conflict("the shop is already suspended".into()));
    }
    if !store::change_status(tx.conn(), shop, status.as_str(), ShopStatus::Suspended.as_str(), &reason, now)
        .await?
    {
        return Err(CoreError::Conflict("the shop changed meanwhile; try again".into()));
    }
    tx.record(&[event(
        principal,
        client,
        "shop.suspend",
        "shop",
        shop.to_string(),
        serde_json::json!({ "reason": reason, "was": status.as_str() }),
    )])
    .await?;
    tx.commit().await?;
    let body = format!(
        "Your shop \"{}\" has been suspended by Souk's trust & safety team and is no longer visible.\n\nReason: {reason}\n\nReply through the help centre if you believe this is a mistake.",
        record.name
    );
    notify(souk, record.owner, "Your shop is suspended", &body).await;
    Ok(())
}

/// Lifts a suspension: the shop returns to `verified` if a submission was accepted, else
/// to `unverified`.
pub async fn reinstate(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
    reason: &str,
) -> Result<ShopStatus, CoreError> {
    let reason = decision_reason(reason).map_err(|e| CoreError::invalid("reason", e))?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let LoadedShop { record, facts, status } = load_shop(tx.conn(), shop).await?;
    crate::authz::authorize(souk, &mut tx, principal, Action::ShopSuspend, &Resource::Shop(&facts), client)
        .await?;
    if status != ShopStatus::Suspended {
        return Err(CoreError::Conflict("the shop is not suspended".into()));
    }
    let verified = store::verifications_of(tx.conn(), shop)
        .await?
        .iter()
        .any(|v| v.decision.as_deref() == Some("verified"));
    let to = if verified { ShopStatus::Verified } else { ShopStatus::Unverified };
    if !store::change_status(tx.conn(), shop, status.as_str(), to.as_str(), "", now).await? {
        return Err(CoreError::Conflict("the shop changed meanwhile; try again".into()));
    }
    tx.record(&[event(
        principal,
        client,
        "shop.reinstate",
        "shop",
        shop.to_string(),
        serde_json::json!({ "reason": reason, "now": to.as_str() }),
    )])
    .await?;
    tx.commit().await?;
    notify(
        souk,
        record.owner,
        "Your shop is back",
        &format!("Your shop \"{}\" is visible again.", record.name),
    )
    .await;
    Ok(to)
}
