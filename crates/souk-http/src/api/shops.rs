//! The seller hub's API for shops: open and edit a shop, verification (document upload and
//! submission), the shop's staff and invitations; and trust & safety's review queue,
//! decisions and suspensions. Authorization is in the use cases.

use axum::Json;
use axum::body::Body as RawBody;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use serde::{Deserialize, Serialize};
use souk_core::market::shops::{self, ShopDetail, ShopInput, ShopView};
use souk_core::market::{members, verification};
use souk_domain::Timestamp;
use souk_domain::ids::{AccountId, DocumentId, InvitationId, ShopId, VerificationId};
use utoipa::{IntoParams, ToSchema};

use super::auth::Body;
use super::dto::ProblemDoc;
use crate::middleware::auth::{ClientInfo, Session};
use crate::{AppState, Problem};

/// The largest document or image upload accepted (the media checks apply their own,
/// equal or smaller, limits by kind).
pub(crate) const UPLOAD_LIMIT_BYTES: usize = 10 * 1024 * 1024;

fn id<T: std::str::FromStr>(raw: &str, what: &'static str) -> Result<T, Problem> {
    raw.parse().map_err(|_| Problem::of("not_found").with_detail(format!("No such {what}.")))
}

/// A shop's profile as sent by its seller.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopRequest {
    /// The storefront address: 2–60 of `a-z`, `0-9` and single hyphens. Only when opening.
    #[serde(default)]
    slug: Option<String>,
    name: String,
    #[serde(default)]
    tagline: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    return_policy: String,
    /// How buyers reach customer service (stored encrypted).
    contact: String,
    /// `individual` or `business`.
    seller_kind: String,
}

impl ShopRequest {
    fn input(&self) -> ShopInput {
        ShopInput {
            name: self.name.clone(),
            tagline: self.tagline.clone(),
            description: self.description.clone(),
            location: self.location.clone(),
            return_policy: self.return_policy.clone(),
            contact: self.contact.clone(),
            seller_kind: self.seller_kind.clone(),
        }
    }
}

/// A shop as its people see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShopPrivateDto {
    id: String,
    slug: String,
    name: String,
    tagline: String,
    description: String,
    location: String,
    return_policy: String,
    seller_kind: String,
    contact: String,
    /// unverified, submitted, verified, rejected or suspended.
    status: String,
    /// Why it was rejected or suspended.
    status_reason: String,
    created_at: String,
    /// The caller's role on the shop: owner, manager or fulfilment (in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<String>,
}

fn shop_dto(v: ShopView, role: Option<String>) -> ShopPrivateDto {
    ShopPrivateDto {
        id: v.id.to_string(),
        slug: v.slug,
        name: v.name,
        tagline: v.tagline,
        description: v.description,
        location: v.location,
        return_policy: v.return_policy,
        seller_kind: v.seller_kind,
        contact: v.contact,
        status: v.status.as_str().to_owned(),
        status_reason: v.status_reason,
        created_at: v.created_at.to_rfc3339(),
        role,
    }
}

/// Open your shop (sellers; one per account). Starts unverified, with limits.
#[utoipa::path(
    post, path = "/api/v1/seller/shops", tag = "seller", request_body = ShopRequest,
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 201, description = "The shop", body = ShopPrivateDto),
        (status = 400, description = "A field is not acceptable", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted, or a second factor is required", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Not a seller yet, already has a shop, or the address is taken", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn open_shop(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Body(req): Body<ShopRequest>,
) -> Result<(StatusCode, Json<ShopPrivateDto>), Problem> {
    let slug = req.slug.clone().unwrap_or_default();
    let view = shops::open(state.souk(), &s.principal, &client, &slug, &req.input()).await?;
    Ok((StatusCode::CREATED, Json(shop_dto(view, Some("owner".into())))))
}

/// The shops you own or work for.
#[utoipa::path(
    get, path = "/api/v1/seller/shops", tag = "seller",
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), (status = 200, description = "Your shops, with your role in each", body = [ShopPrivateDto])),
    security(("session" = []))
)]
pub async fn my_shops(
    State(state): State<AppState>,
    Session(s): Session,
) -> Result<Json<Vec<ShopPrivateDto>>, Problem> {
    let list = shops::mine(state.souk(), &s.principal).await?;
    Ok(Json(list.into_iter().map(|(v, role)| shop_dto(v, Some(role))).collect()))
}

/// A member of a shop's staff.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDto {
    account_id: String,
    handle: String,
    /// manager or fulfilment.
    role: String,
    added_at: String,
}

/// A shop's private side: profile, staff, and the limits that apply until it is verified.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShopDetailDto {
    shop: ShopPrivateDto,
    members: Vec<MemberDto>,
    active_listings: i64,
    /// The most listings it may have active while unverified (absent once verified).
    listing_limit: Option<u32>,
    /// The largest order it may take while unverified, in minor units (absent once verified).
    order_limit_minor: Option<i64>,
    payouts_held: bool,
}

fn detail_dto(d: ShopDetail) -> ShopDetailDto {
    ShopDetailDto {
        shop: shop_dto(d.shop, None),
        members: d
            .members
            .into_iter()
            .map(|m| MemberDto {
                account_id: m.account.to_string(),
                handle: m.handle,
                role: m.role,
                added_at: m.added_at.to_rfc3339(),
            })
            .collect(),
        active_listings: d.active_listings,
        listing_limit: d.listing_limit,
        order_limit_minor: d.order_limit_minor,
        payouts_held: d.payouts_held,
    }
}

/// A shop's private side (its people, support and trust & safety).
#[utoipa::path(
    get, path = "/api/v1/seller/shops/{id}", tag = "seller",
    params(("id" = String, Path, description = "The shop id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "The shop", body = ShopDetailDto),
        (status = 404, description = "No such shop, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn shop_detail(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(shop): Path<String>,
) -> Result<Json<ShopDetailDto>, Problem> {
    let d = shops::detail(state.souk(), &s.principal, &client, id(&shop, "shop")?).await?;
    Ok(Json(detail_dto(d)))
}

/// Edit a shop's profile (owner and managers).
#[utoipa::path(
    put, path = "/api/v1/seller/shops/{id}", tag = "seller", request_body = ShopRequest,
    params(("id" = String, Path, description = "The shop id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "The shop", body = ShopPrivateDto),
        (status = 400, description = "A field is not acceptable", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn update_shop(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(shop): Path<String>,
    Body(req): Body<ShopRequest>,
) -> Result<Json<ShopPrivateDto>, Problem> {
    if req.slug.is_some() {
        return Err(Problem::of("invalid_parameter").with_detail("A shop's address cannot change (slug)."));
    }
    let view = shops::update(state.souk(), &s.principal, &client, id(&shop, "shop")?, &req.input()).await?;
    Ok(Json(shop_dto(view, None)))
}

/// Reads a request body up to the upload limit.
pub(crate) async fn read_upload(body: RawBody) -> Result<Vec<u8>, Problem> {
    let limited = http_body_util::Limited::new(body, UPLOAD_LIMIT_BYTES);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes().to_vec()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Problem::of("payload_too_large")
            .with_detail(format!("At most {} MiB per file.", UPLOAD_LIMIT_BYTES / 1024 / 1024))),
        Err(_) => Err(Problem::of("bad_request").with_detail("The upload was cut off.")),
    }
}

/// An uploaded document's id, to cite in the submission.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentDto {
    document_id: String,
}

/// Upload an identity document (owner only): the raw file as the body. JPEG, PNG or WebP
/// photos (re-encoded; metadata such as GPS removed) or a PDF without active content; the
/// type is decided by content, never by name or `Content-Type`. Stored encrypted.
#[utoipa::path(
    post, path = "/api/v1/seller/shops/{id}/verification/documents", tag = "seller",
    params(("id" = String, Path, description = "The shop id")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 201, description = "Stored", body = DocumentDto),
        (status = 400, description = "Not an accepted file", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "Too large", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn upload_document(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(shop): Path<String>,
    body: RawBody,
) -> Result<(StatusCode, Json<DocumentDto>), Problem> {
    let shop: ShopId = id(&shop, "shop")?;
    let bytes = read_upload(body).await?;
    let doc = verification::upload_document(state.souk(), &s.principal, &client, shop, &bytes).await?;
    Ok((StatusCode::CREATED, Json(DocumentDto { document_id: doc.to_string() })))
}

/// Download an identity document (the shop's owner and trust & safety; recorded). Served
/// as an attachment in a sandbox, never rendered in the site's origin.
#[utoipa::path(
    get, path = "/api/v1/seller/shops/{id}/verification/documents/{document}", tag = "seller",
    params(("id" = String, Path, description = "The shop id"), ("document" = String, Path, description = "The document id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such document", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn download_document(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path((shop, document)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let shop: ShopId = id(&shop, "shop")?;
    let doc: DocumentId = id(&document, "document")?;
    let (media_type, bytes) = verification::document(state.souk(), &s.principal, &client, shop, doc).await?;
    Ok(document_response(&media_type, bytes.to_vec()))
}

pub(crate) fn document_response(media_type: &str, bytes: Vec<u8>) -> Response {
    let ext = match media_type {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/webp" => "webp",
        _ => "jpg",
    };
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"identity-document.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    res
}

/// What an owner submits for verification.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmissionRequest {
    legal_name: String,
    address: String,
    /// A tax or company registration number.
    registration_number: String,
    /// From the document upload.
    document_id: String,
}

/// A submission's state, for its owner.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionDto {
    verification_id: String,
    submitted_at: String,
    /// verified or rejected, once decided.
    decision: Option<String>,
    reason: Option<String>,
}

/// Submit the shop for verification (owner; from unverified or rejected).
#[utoipa::path(
    post, path = "/api/v1/seller/shops/{id}/verification", tag = "seller", request_body = SubmissionRequest,
    params(("id" = String, Path, description = "The shop id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 201, description = "Submitted; the shop is now `submitted`", body = SubmissionDto),
        (status = 400, description = "A field is not acceptable", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Not in a state that can submit", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn submit_verification(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(shop): Path<String>,
    Body(req): Body<SubmissionRequest>,
) -> Result<(StatusCode, Json<SubmissionDto>), Problem> {
    let shop: ShopId = id(&shop, "shop")?;
    let input = verification::Submission {
        legal_name: req.legal_name,
        address: req.address,
        registration_number: req.registration_number,
        document: req.document_id,
    };
    let v = verification::submit(state.souk(), &s.principal, &client, shop, &input).await?;
    let at = state.souk().clock.now();
    Ok((
        StatusCode::CREATED,
        Json(SubmissionDto {
            verification_id: v.to_string(),
            submitted_at: at.to_rfc3339(),
            decision: None,
            reason: None,
        }),
    ))
}

/// The shop's latest verification submission (its people).
#[utoipa::path(
    get, path = "/api/v1/seller/shops/{id}/verification", tag = "seller",
    params(("id" = String, Path, description = "The shop id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "The latest submission", body = SubmissionDto),
        (status = 404, description = "None yet, or not your shop", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn latest_verification(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(shop): Path<String>,
) -> Result<Json<SubmissionDto>, Problem> {
    let shop: ShopId = id(&shop, "shop")?;
    // Seeing the shop's private side is the permission to see its submission's state.
    shops::detail(state.souk(), &s.principal, &client, shop).await?;
    let v = verification::latest(state.souk(), shop).await?.ok_or(Problem::of("not_found"))?;
    Ok(Json(SubmissionDto {
        verification_id: v.id.to_string(),
        submitted_at: v.submitted_at.to_rfc3339(),
        decision: v.decision,
        reason: v.reason,
    }))
}

/// An invitation to a shop's staff.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    email: String,
    /// manager or fulfilment.
    role: String,
}

/// An invitation as its shop's owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationDto {
    id: String,
    role: String,
    created_at: String,
    expires_at: String,
    /// open, accepted, revoked or expired.
    state: String,
}

/// Invite someone to the shop's staff (owner only); the link is mailed to the address.
#[utoipa::path(
    post, path = "/api/v1/seller/shops/{id}/invitations", tag = "seller", request_body = InviteRequest,
    params(("id" = String, Path, description = "The shop id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 201, description = "Invited", body = InvitationDto),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn invite(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(shop): Path<String>,
    Body(req): Body<InviteRequest>,
) -> Result<(StatusCode, Json<InvitationDto>), Problem> {
    let shop: ShopId = id(&shop, "shop")?;
    let inv = members::invite(state.souk(), &s.principal, &client, shop, &req.email, &req.role).await?;
    let now = state.souk().clock.now();
    let list = members::invitations(state.souk(), &s.principal, &client, shop).await?;
    let found = list.into_iter().find(|i| i.id == inv).ok_or(Problem::of("not_found"))?;
    Ok((StatusCode::CREATED, Json(invitation_dto(&found, now))))
}

fn invitation_dto(i: &souk_store::shops::Invitation, now: Timestamp) -> InvitationDto {
    let state = if i.accepted_at.is_some() {
        "accepted"
    } else if i.revoked_at.is_some() {
        "revoked"
    } else if i.expires_at <= now {
        "expired"
    } else {
        "open"
    };
    InvitationDto {
        id: i.id.to_string(),
        role: i.role.clone(),
        created_at: i.created_at.to_rfc3339(),
        expires_at: i.expires_at.to_rfc3339(),
        state: state.to_owned(),
    }
}

/// The shop's invitations (owner only).
#[utoipa::path(
    get, path = "/api/v1/seller/shops/{id}/invitations", tag = "seller",
    params(("id" = String, Path, description = "The shop id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), (status = 200, description = "Invitations, newest first", body = [InvitationDto])),
    security(("session" = []))
)]
pub async fn list_invitations(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(shop): Path<String>,
) -> Result<Json<Vec<InvitationDto>>, Problem> {
    let shop: ShopId = id(&shop, "shop")?;
    let now = state.souk().clock.now();
    let list = members::invitations(state.souk(), &s.principal, &client, shop).await?;
    Ok(Json(list.iter().map(|i| invitation_dto(i, now)).collect()))
}

/// Revoke an open invitation (owner only).
#[utoipa::path(
    delete, path = "/api/v1/seller/shops/{id}/invitations/{invitation}", tag = "seller",
    params(("id" = String, Path, description = "The shop id"), ("invitation" = String, Path, description = "The invitation id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), (status = 204, description = "Revoked"), (status = 404, description = "No open invitation", body = ProblemDoc, content_type = "application/problem+json")),
    security(("session" = []))
)]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path((shop, invitation)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let shop: ShopId = id(&shop, "shop")?;
    let inv: InvitationId = id(&invitation, "invitation")?;
    members::revoke(state.souk(), &s.principal, &client, shop, inv).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a member of the shop's staff (owner only).
#[utoipa::path(
    delete, path = "/api/v1/seller/shops/{id}/members/{account}", tag = "seller",
    params(("id" = String, Path, description = "The shop id"), ("account" = String, Path, description = "The member's account id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), (status = 204, description = "Removed"), (status = 404, description = "Not a member", body = ProblemDoc, content_type = "application/problem+json")),
    security(("session" = []))
)]
pub async fn remove_member(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path((shop, account)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let shop: ShopId = id(&shop, "shop")?;
    let member: AccountId = id(&account, "member")?;
    members::remove(state.souk(), &s.principal, &client, shop, member).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An invitation link's token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    token: String,
}

/// The shop joined.
#[derive(Debug, Serialize, ToSchema)]
pub struct JoinedDto {
    shop_id: String,
}

/// Accept an invitation (signed in with the invited, confirmed address).
#[utoipa::path(
    post, path = "/api/v1/seller/invitations/accept", tag = "seller", request_body = AcceptRequest,
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "Joined", body = JoinedDto),
        (status = 400, description = "The link is not valid, or was sent to another address", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn accept_invitation(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Body(req): Body<AcceptRequest>,
) -> Result<Json<JoinedDto>, Problem> {
    let shop = members::accept(state.souk(), &s.principal, &client, &req.token).await?;
    Ok(Json(JoinedDto { shop_id: shop.to_string() }))
}

/// Where to continue the review queue.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// The `next` value of the previous page.
    after: Option<String>,
    /// 1–200, default 50.
    limit: Option<u16>,
}

/// A waiting submission.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueItemDto {
    verification_id: String,
    shop_id: String,
    shop_name: String,
    submitted_at: String,
}

/// A page of the review queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuePageDto {
    items: Vec<QueueItemDto>,
    /// Pass as `after` for the next page.
    next: Option<String>,
}

fn parse_queue_cursor(raw: &str) -> Result<(Timestamp, VerificationId), Problem> {
    let bad = || Problem::of("invalid_parameter").with_detail("after: not a cursor from this API");
    let (at, v) = raw.split_once('_').ok_or_else(bad)?;
    Ok((Timestamp::from_micros(at.parse().map_err(|_| bad())?), v.parse().map_err(|_| bad())?))
}

/// Shops waiting for verification, oldest first (trust & safety).
#[utoipa::path(
    get, path = "/api/v1/staff/verifications", tag = "staff", params(QueueQuery),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "The queue", body = QueuePageDto),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn verification_queue(
    State(state): State<AppState>,
    Session(s): Session,
    Query(q): Query<QueueQuery>,
) -> Result<Json<QueuePageDto>, Problem> {
    let after = q.after.as_deref().map(parse_queue_cursor).transpose()?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let items = verification::queue(state.souk(), &s.principal, after, limit).await?;
    let next = (items.len() == usize::from(limit))
        .then(|| items.last().map(|i| format!("{}_{}", i.submitted_at.as_micros(), i.verification)))
        .flatten();
    Ok(Json(QueuePageDto {
        items: items
            .into_iter()
            .map(|i| QueueItemDto {
                verification_id: i.verification.to_string(),
                shop_id: i.shop.to_string(),
                shop_name: i.shop_name,
                submitted_at: i.submitted_at.to_rfc3339(),
            })
            .collect(),
        next,
    }))
}

/// A submission opened for review.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewDto {
    verification_id: String,
    shop: ShopPrivateDto,
    legal_name: String,
    address: String,
    registration_number: String,
    document_id: String,
    document_type: String,
    /// Where to download the document.
    document_url: String,
    submitted_at: String,
    decision: Option<String>,
    reason: Option<String>,
    /// Other shops that submitted the same registration number.
    same_registration: Vec<QueueShopDto>,
}

/// A shop named in a review.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueShopDto {
    shop_id: String,
    name: String,
}

/// Open a submission (trust & safety, and the shop's owner; recorded).
#[utoipa::path(
    get, path = "/api/v1/staff/verifications/{id}", tag = "staff", operation_id = "verification_for_review",
    params(("id" = String, Path, description = "The verification id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "The submission in clear", body = ReviewDto),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such submission", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn review(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(v): Path<String>,
) -> Result<Response, Problem> {
    let r = verification::review(state.souk(), &s.principal, &client, id(&v, "verification")?).await?;
    let dto = ReviewDto {
        verification_id: r.verification.to_string(),
        document_url: format!("/api/v1/seller/shops/{}/verification/documents/{}", r.shop.id, r.document),
        shop: shop_dto(r.shop, None),
        legal_name: r.legal_name,
        address: r.address,
        registration_number: r.registration_number,
        document_id: r.document.to_string(),
        document_type: r.document_type,
        submitted_at: r.submitted_at.to_rfc3339(),
        decision: r.decision,
        reason: r.reason,
        same_registration: r
            .same_registration
            .into_iter()
            .map(|(id, name)| QueueShopDto { shop_id: id.to_string(), name })
            .collect(),
    };
    let mut res = Json(dto).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// A reviewer's decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// verify or reject.
    decision: String,
    /// Required to reject; shown to the owner.
    #[serde(default)]
    reason: String,
}

/// The shop's status after a decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusDto {
    status: String,
}

/// Verify or reject a submission (trust & safety; never one's own shop; recorded).
#[utoipa::path(
    post, path = "/api/v1/staff/verifications/{id}/decision", tag = "staff", request_body = DecisionRequest,
    params(("id" = String, Path, description = "The verification id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "Decided", body = StatusDto),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn decide(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(v): Path<String>,
    Body(req): Body<DecisionRequest>,
) -> Result<Json<StatusDto>, Problem> {
    let decision = match req.decision.as_str() {
        "verify" => verification::Decision::Verify,
        "reject" => verification::Decision::Reject,
        _ => return Err(Problem::of("invalid_parameter").with_detail("decision: use verify or reject")),
    };
    let status = verification::decide(
        state.souk(),
        &s.principal,
        &client,
        id(&v, "verification")?,
        decision,
        &req.reason,
    )
    .await?;
    Ok(Json(StatusDto { status: status.as_str().to_owned() }))
}

/// Why a shop is suspended or reinstated.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    reason: String,
}

/// Suspend a shop (trust & safety): it leaves the storefront and cannot sell.
#[utoipa::path(
    post, path = "/api/v1/staff/shops/{id}/suspension", tag = "staff", request_body = ReasonRequest,
    params(("id" = String, Path, description = "The shop id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "Suspended", body = StatusDto),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Already suspended", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn suspend(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(shop): Path<String>,
    Body(req): Body<ReasonRequest>,
) -> Result<Json<StatusDto>, Problem> {
    verification::suspend(state.souk(), &s.principal, &client, id(&shop, "shop")?, &req.reason).await?;
    Ok(Json(StatusDto { status: "suspended".into() }))
}

/// Lift a shop's suspension (trust & safety).
#[utoipa::path(
    post, path = "/api/v1/staff/shops/{id}/reinstatement", tag = "staff", request_body = ReasonRequest,
    params(("id" = String, Path, description = "The shop id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "Reinstated", body = StatusDto),
        (status = 409, description = "Not suspended", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn reinstate(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(shop): Path<String>,
    Body(req): Body<ReasonRequest>,
) -> Result<Json<StatusDto>, Problem> {
    let status =
        verification::reinstate(state.souk(), &s.principal, &client, id(&shop, "shop")?, &req.reason).await?;
    Ok(Json(StatusDto { status: status.as_str().to_owned() }))
}
