//! Shop persistence as sellers and trust & safety see it: the full record (status, sealed
//! contact), the shop's staff and invitations, identity documents and verification
//! submissions. The storefront's public reads stay in [`crate::catalog`].

use souk_domain::Timestamp;
use souk_domain::ids::{AccountId, DocumentId, InvitationId, ShopId, VerificationId};
use sqlx::AnyConnection;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::StoreError;
use crate::identity::account_id;

fn typed<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<T, StoreError> {
    let raw: String = row.try_get(column)?;
    raw.parse::<T>().map_err(|_| StoreError::corrupt(format!("{column}: {raw:?}")))
}

/// A shop as stored, with what only its people and staff may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopRecord {
    pub id: ShopId,
    pub owner: AccountId,
    pub slug: String,
    pub name: String,
    pub tagline: String,
    pub description: String,
    pub location: String,
    pub return_policy: String,
    pub seller_kind: String,
    pub contact_sealed: Option<Vec<u8>>,
    pub status: String,
    pub status_reason: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const SHOP_COLUMNS: &str = "s.id, s.owner_id, s.slug, s.name, s.tagline, s.description, s.location, \
     s.return_policy, s.seller_kind, s.contact_sealed, s.status, s.status_reason, s.created_at, s.updated_at";

fn shop_of(row: &AnyRow) -> Result<ShopRecord, StoreError> {
    Ok(ShopRecord {
        id: typed(row, "id")?,
        owner: account_id(row, "owner_id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        tagline: row.try_get("tagline")?,
        description: row.try_get("description")?,
        location: row.try_get("location")?,
        return_policy: row.try_get("return_policy")?,
        seller_kind: row.try_get("seller_kind")?,
        contact_sealed: row.try_get("contact_sealed")?,
        status: row.try_get("status")?,
        status_reason: row.try_get("status_reason")?,
        created_at: Timestamp::from_micros(row.try_get("created_at")?),
        updated_at: Timestamp::from_micros(row.try_get("updated_at")?),
    })
}

/// Creates a shop. The slug and the owner are unique: `Conflict` names which.
pub async fn insert(conn: &mut AnyConnection, shop: &ShopRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO shops (id, slug, owner_id, name, tagline, description, location, return_policy, \
         seller_kind, contact_sealed, status, status_reason, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(shop.id.to_string())
    .bind(shop.slug.as_str())
    .bind(shop.owner.to_string())
    .bind(shop.name.as_str())
    .bind(shop.tagline.as_str())
    .bind(shop.description.as_str())
    .bind(shop.location.as_str())
    .bind(shop.return_policy.as_str())
    .bind(shop.seller_kind.as_str())
    .bind(shop.contact_sealed.as_deref())
    .bind(shop.status.as_str())
    .bind(shop.status_reason.as_str())
    .bind(shop.created_at.as_micros())
    .bind(shop.updated_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

async fn one(
    conn: &mut AnyConnection,
    filter: &'static str,
    value: String,
) -> Result<Option<ShopRecord>, StoreError> {
    let sql = format!("SELECT {SHOP_COLUMNS} FROM shops s WHERE {filter} = $1");
    // SAFETY of the SQL: built only from constants of this module.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).fetch_optional(conn).await?;
    row.as_ref().map(shop_of).transpose()
}

pub async fn by_id(conn: &mut AnyConnection, id: ShopId) -> Result<Option<ShopRecord>, StoreError> {
    one(conn, "s.id", id.to_string()).await
}

pub async fn by_slug(conn: &mut AnyConnection, slug: &str) -> Result<Option<ShopRecord>, StoreError> {
    one(conn, "s.slug", slug.to_owned()).await
}

pub async fn owned_by(conn: &mut AnyConnection, owner: AccountId) -> Result<Option<ShopRecord>, StoreError> {
    one(conn, "s.owner_id", owner.to_string()).await
}

/// The shops where the account is owner or a member, with its role there (`owner`,
/// `manager` or `fulfilment`).
pub async fn shops_of(
    conn: &mut AnyConnection,
    account: AccountId,
) -> Result<Vec<(ShopRecord, String)>, StoreError> {
    let sql = format!(
        "SELECT {SHOP_COLUMNS}, 'owner' AS member_role FROM shops s WHERE s.owner_id = $1 \
         UNION ALL SELECT {SHOP_COLUMNS}, m.role AS member_role FROM shops s \
         JOIN shop_members m ON m.shop_id = s.id WHERE m.account_id = $1 ORDER BY name"
    );
    // SAFETY of the SQL: built only from constants of this module.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account.to_string()).fetch_all(conn).await?;
    rows.iter().map(|r| Ok((shop_of(r)?, r.try_get("member_role")?))).collect()
}

/// The editable profile of a shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileUpdate<'a> {
    pub name: &'a str,
    pub tagline: &'a str,
    pub description: &'a str,
    pub location: &'a str,
    pub return_policy: &'a str,
    pub seller_kind: &'a str,
    pub contact_sealed: &'a [u8],
}

pub async fn update_profile(
    conn: &mut AnyConnection,
    id: ShopId,
    p: &ProfileUpdate<'_>,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE shops SET name = $1, tagline = $2, description = $3, location = $4, return_policy = $5, \
         seller_kind = $6, contact_sealed = $7, updated_at = $8 WHERE id = $9",
    )
    .bind(p.name)
    .bind(p.tagline)
    .bind(p.description)
    .bind(p.location)
    .bind(p.return_policy)
    .bind(p.seller_kind)
    .bind(p.contact_sealed)
    .bind(now.as_micros())
    .bind(id.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves the shop from `from` to `to`; false (nothing changed) if it was no longer in
/// `from`, so two reviewers racing cannot both decide.
pub async fn change_status(
    conn: &mut AnyConnection,
    id: ShopId,
    from: &str,
    to: &str,
    reason: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE shops SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4 AND status = $5",
    )
    .bind(to)
    .bind(reason)
    .bind(now.as_micros())
    .bind(id.to_string())
    .bind(from)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A member of a shop's staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub account: AccountId,
    pub handle: String,
    pub role: String,
    pub added_at: Timestamp,
}

pub async fn members(conn: &mut AnyConnection, shop: ShopId) -> Result<Vec<Member>, StoreError> {
    let rows = sqlx::query(
        "SELECT m.account_id, a.handle, m.role, m.added_at FROM shop_members m \
         JOIN accounts a ON a.id = m.account_id WHERE m.shop_id = $1 ORDER BY m.added_at, m.account_id",
    )
    .bind(shop.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Member {
                account: account_id(r, "account_id")?,
                handle: r.try_get("handle")?,
                role: r.try_get("role")?,
                added_at: Timestamp::from_micros(r.try_get("added_at")?),
            })
        })
        .collect()
}

/// Adds a member, or changes the role of one already there.
pub async fn upsert_member(
    conn: &mut AnyConnection,
    shop: ShopId,
    account: AccountId,
    role: &str,
    by: AccountId,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO shop_members (shop_id, account_id, role, added_by, added_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (shop_id, account_id) DO UPDATE SET role = excluded.role",
    )
    .bind(shop.to_string())
    .bind(account.to_string())
    .bind(role)
    .bind(by.to_string())
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn remove_member(
    conn: &mut AnyConnection,
    shop: ShopId,
    account: AccountId,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM shop_members WHERE shop_id = $1 AND account_id = $2")
        .bind(shop.to_string())
        .bind(account.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// An invitation to a shop's staff, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: InvitationId,
    pub shop: ShopId,
    pub email_index: Vec<u8>,
    pub role: String,
    pub invited_by: AccountId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

fn invitation_of(r: &AnyRow) -> Result<Invitation, StoreError> {
    Ok(Invitation {
        id: typed(r, "id")?,
        shop: typed(r, "shop_id")?,
        email_index: r.try_get("email_index")?,
        role: r.try_get("role")?,
        invited_by: account_id(r, "invited_by")?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
        expires_at: Timestamp::from_micros(r.try_get("expires_at")?),
        accepted_at: r.try_get::<Option<i64>, _>("accepted_at")?.map(Timestamp::from_micros),
        revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(Timestamp::from_micros),
    })
}

const INVITATION_COLUMNS: &str =
    "id, shop_id, email_index, role, invited_by, created_at, expires_at, accepted_at, revoked_at";

pub async fn insert_invitation(
    conn: &mut AnyConnection,
    i: &Invitation,
    token_hash: &[u8],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO shop_invitations (id, shop_id, token_hash, email_index, role, invited_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(i.id.to_string())
    .bind(i.shop.to_string())
    .bind(token_hash)
    .bind(i.email_index.as_slice())
    .bind(i.role.as_str())
    .bind(i.invited_by.to_string())
    .bind(i.created_at.as_micros())
    .bind(i.expires_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn invitation_by_token(
    conn: &mut AnyConnection,
    token_hash: &[u8],
) -> Result<Option<Invitation>, StoreError> {
    let sql = format!("SELECT {INVITATION_COLUMNS} FROM shop_invitations WHERE token_hash = $1");
    // SAFETY of the SQL: built only from constants of this module.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(token_hash).fetch_optional(conn).await?;
    row.as_ref().map(invitation_of).transpose()
}

pub async fn invitations(conn: &mut AnyConnection, shop: ShopId) -> Result<Vec<Invitation>, StoreError> {
    let sql = format!(
        "SELECT {INVITATION_COLUMNS} FROM shop_invitations WHERE shop_id = $1 ORDER BY created_at DESC, id LIMIT 200"
    );
    // SAFETY of the SQL: built only from constants of this module.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(shop.to_string()).fetch_all(conn).await?;
    rows.iter().map(invitation_of).collect()
}

/// Marks an open invitation accepted; false if it was already used, revoked or expired
/// (a link works once, even when two tabs race).
pub async fn accept_invitation(
    conn: &mut AnyConnection,
    id: InvitationId,
    by: AccountId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE shop_invitations SET accepted_at = $1, accepted_by = $2 WHERE id = $3 \
         AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
    )
    .bind(now.as_micros())
    .bind(by.to_string())
    .bind(id.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn revoke_invitation(
    conn: &mut AnyConnection,
    shop: ShopId,
    id: InvitationId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE shop_invitations SET revoked_at = $1 WHERE id = $2 AND shop_id = $3 \
         AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now.as_micros())
    .bind(id.to_string())
    .bind(shop.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An identity document as stored (its content sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: DocumentId,
    pub shop: ShopId,
    pub media_type: String,
    pub size_bytes: i64,
    pub content_sealed: Vec<u8>,
    pub uploaded_by: AccountId,
    pub uploaded_at: Timestamp,
}

pub async fn insert_document(conn: &mut AnyConnection, d: &Document) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO shop_documents (id, shop_id, media_type, size_bytes, content_sealed, uploaded_by, uploaded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(d.id.to_string())
    .bind(d.shop.to_string())
    .bind(d.media_type.as_str())
    .bind(d.size_bytes)
    .bind(d.content_sealed.as_slice())
    .bind(d.uploaded_by.to_string())
    .bind(d.uploaded_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// A shop's document; `None` when the id is not one of this shop's.
pub async fn document(
    conn: &mut AnyConnection,
    shop: ShopId,
    id: DocumentId,
) -> Result<Option<Document>, StoreError> {
    let row = sqlx::query(
        "SELECT id, shop_id, media_type, size_bytes, content_sealed, uploaded_by, uploaded_at \
         FROM shop_documents WHERE id = $1 AND shop_id = $2",
    )
    .bind(id.to_string())
    .bind(shop.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Document {
            id: typed(&r, "id")?,
            shop: typed(&r, "shop_id")?,
            media_type: r.try_get("media_type")?,
            size_bytes: r.try_get("size_bytes")?,
            content_sealed: r.try_get("content_sealed")?,
            uploaded_by: account_id(&r, "uploaded_by")?,
            uploaded_at: Timestamp::from_micros(r.try_get("uploaded_at")?),
        })
    })
    .transpose()
}

/// A verification submission as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub id: VerificationId,
    pub shop: ShopId,
    pub legal_name_sealed: Vec<u8>,
    pub address_sealed: Vec<u8>,
    pub registration_sealed: Vec<u8>,
    pub registration_index: Vec<u8>,
    pub document: DocumentId,
    pub submitted_by: AccountId,
    pub submitted_at: Timestamp,
    pub decision: Option<String>,
    pub reason: Option<String>,
    pub decided_by: Option<AccountId>,
    pub decided_at: Option<Timestamp>,
}

const VERIFICATION_COLUMNS: &str = "v.id, v.shop_id, v.legal_name_sealed, v.address_sealed, v.registration_sealed, \
     v.registration_index, v.document_id, v.submitted_by, v.submitted_at, v.decision, v.reason, v.decided_by, v.decided_at";

fn verification_of(r: &AnyRow) -> Result<Verification, StoreError> {
    let decided_by: Option<String> = r.try_get("decided_by")?;
    Ok(Verification {
        id: typed(r, "id")?,
        shop: typed(r, "shop_id")?,
        legal_name_sealed: r.try_get("legal_name_sealed")?,
        address_sealed: r.try_get("address_sealed")?,
        registration_sealed: r.try_get("registration_sealed")?,
        registration_index: r.try_get("registration_index")?,
        document: typed(r, "document_id")?,
        submitted_by: account_id(r, "submitted_by")?,
        submitted_at: Timestamp::from_micros(r.try_get("submitted_at")?),
        decision: r.try_get("decision")?,
        reason: r.try_get("reason")?,
        decided_by: decided_by.map(|d| d.parse().map_err(StoreError::corrupt)).transpose()?,
        decided_at: r.try_get::<Option<i64>, _>("decided_at")?.map(Timestamp::from_micros),
    })
}

pub async fn insert_verification(conn: &mut AnyConnection, v: &Verification) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO shop_verifications (id, shop_id, legal_name_sealed, address_sealed, registration_sealed, \
         registration_index, document_id, submitted_by, submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(v.id.to_string())
    .bind(v.shop.to_string())
    .bind(v.legal_name_sealed.as_slice())
    .bind(v.address_sealed.as_slice())
    .bind(v.registration_sealed.as_slice())
    .bind(v.registration_index.as_slice())
    .bind(v.document.to_string())
    .bind(v.submitted_by.to_string())
    .bind(v.submitted_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn verification(
    conn: &mut AnyConnection,
    id: VerificationId,
) -> Result<Option<Verification>, StoreError> {
    let sql = format!("SELECT {VERIFICATION_COLUMNS} FROM shop_verifications v WHERE v.id = $1");
    // SAFETY of the SQL: built only from constants of this module.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(conn).await?;
    row.as_ref().map(verification_of).transpose()
}

/// The shop's submissions, newest first.
pub async fn verifications_of(
    conn: &mut AnyConnection,
    shop: ShopId,
) -> Result<Vec<Verification>, StoreError> {
    let sql = format!(
        "SELECT {VERIFICATION_COLUMNS} FROM shop_verifications v WHERE v.shop_id = $1 \
         ORDER BY v.submitted_at DESC, v.id DESC LIMIT 50"
    );
    // SAFETY of the SQL: built only from constants of this module.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(shop.to_string()).fetch_all(conn).await?;
    rows.iter().map(verification_of).collect()
}

/// Undecided submissions, oldest first (the queue), after the cursor `(submitted_at, id)`.
pub async fn verification_queue(
    conn: &mut AnyConnection,
    after: Option<(Timestamp, VerificationId)>,
    limit: u16,
) -> Result<Vec<(Verification, String)>, StoreError> {
    let (at, id) = after.map_or((i64::MIN, String::new()), |(t, i)| (t.as_micros(), i.to_string()));
    let sql = format!(
        "SELECT {VERIFICATION_COLUMNS}, s.name AS shop_name FROM shop_verifications v JOIN shops s ON s.id = v.shop_id \
         WHERE v.decision IS NULL AND (v.submitted_at > $1 OR (v.submitted_at = $1 AND v.id > $2)) \
         ORDER BY v.submitted_at, v.id LIMIT $3"
    );
    // SAFETY of the SQL: built only from constants of this module.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(at)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| Ok((verification_of(r)?, r.try_get("shop_name")?))).collect()
}

/// Records a reviewer's decision on an undecided submission; false if someone decided first.
pub async fn decide_verification(
    conn: &mut AnyConnection,
    id: VerificationId,
    decision: &str,
    reason: &str,
    by: AccountId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE shop_verifications SET decision = $1, reason = $2, decided_by = $3, decided_at = $4 \
         WHERE id = $5 AND decision IS NULL",
    )
    .bind(decision)
    .bind(reason)
    .bind(by.to_string())
    .bind(now.as_micros())
    .bind(id.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Other shops whose submissions carried the same registration number (by blind index;
/// a shared index is a lead for the reviewer, not proof: the index is truncated).
pub async fn shops_sharing_registration(
    conn: &mut AnyConnection,
    index: &[u8],
    except: ShopId,
) -> Result<Vec<(ShopId, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT DISTINCT s.id, s.name FROM shop_verifications v JOIN shops s ON s.id = v.shop_id \
         WHERE v.registration_index = $1 AND v.shop_id <> $2 ORDER BY s.name LIMIT 20",
    )
    .bind(index)
    .bind(except.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((typed(r, "id")?, r.try_get("name")?))).collect()
}

/// How many listings of the shop are active (the unverified limit counts them).
pub async fn active_listing_count(conn: &mut AnyConnection, shop: ShopId) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM listings WHERE shop_id = $1 AND status = 'active'")
        .bind(shop.to_string())
        .fetch_one(conn)
        .await?
        .try_get("n")?)
}
