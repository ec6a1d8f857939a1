//! Buyer–shop messages with their safety warnings, reports, and trust & safety's report
//! queue; reviews of completed orders, the shop's reply, removals and reputation.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use souk_core::market::messages::{self, Thread, Topic};
use souk_core::market::reviews;
use souk_domain::Timestamp;
use utoipa::{IntoParams, ToSchema};

use super::auth::Body;
use super::dto::ProblemDoc;
use crate::middleware::auth::{ClientInfo, Session};
use crate::{AppState, Problem};

/// A safety warning attached to a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct WarningDto {
    /// off_platform_payment, contact_details, lookalike_domain, card_number or external_link.
    code: String,
    /// warning or notice.
    severity: String,
    /// What the risk is, in words for the recipient.
    message: String,
}

/// A message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDto {
    id: String,
    /// buyer or shop.
    from: String,
    mine: bool,
    /// As stored: card numbers are masked.
    body: String,
    warnings: Vec<WarningDto>,
    sent_at: String,
}

/// A conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationDto {
    id: String,
    shop_id: String,
    shop_name: String,
    buyer: String,
    listing_id: Option<String>,
    order_id: Option<String>,
    /// Your side: buyer or shop.
    #[serde(skip_serializing_if = "Option::is_none")]
    you_are: Option<String>,
    last_message_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<MessageDto>>,
}

fn conversation_dto(c: souk_store::messages::ConversationRow) -> ConversationDto {
    ConversationDto {
        id: c.id,
        shop_id: c.shop.to_string(),
        shop_name: c.shop_name,
        buyer: c.buyer_handle,
        listing_id: c.listing,
        order_id: c.order,
        you_are: None,
        last_message_at: c.last_message_at.to_rfc3339(),
        messages: None,
    }
}

fn thread_dto(t: Thread) -> ConversationDto {
    let messages = t
        .messages
        .into_iter()
        .map(|m| MessageDto {
            id: m.id,
            from: m.side,
            mine: m.mine,
            body: m.body,
            // Warnings are for the recipient; the sender sees them too, as a nudge.
            warnings: m
                .flags
                .iter()
                .map(|f| WarningDto {
                    code: f.code().to_owned(),
                    severity: format!("{:?}", f.severity()).to_lowercase(),
                    message: f.warning(),
                })
                .collect(),
            sent_at: m.created_at.to_rfc3339(),
        })
        .collect();
    let mut dto = conversation_dto(t.conversation);
    dto.you_are = Some(t.side.as_str().to_owned());
    dto.messages = Some(messages);
    dto
}

/// A first message to a shop, about a listing or an order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// Exactly one of listing_id and order_id.
    #[serde(default)]
    listing_id: Option<String>,
    #[serde(default)]
    order_id: Option<String>,
    body: String,
}

/// Write to a shop about a listing or one of your orders. Messages are scanned: card
/// numbers are masked, and risky content carries a warning for the recipient.
#[utoipa::path(
    post, path = "/api/v1/conversations", tag = "messages", request_body = StartRequest,
    responses(
        (status = 201, description = "The conversation", body = ConversationDto),
        (status = 400, description = "Bad body or topic", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such listing or order of yours", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Too many messages", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn start(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Body(req): Body<StartRequest>,
) -> Result<(StatusCode, Json<ConversationDto>), Problem> {
    let bad = || Problem::of("invalid_parameter").with_detail("Send exactly one of listing_id and order_id.");
    let topic = match (req.listing_id.as_deref(), req.order_id.as_deref()) {
        (Some(l), None) => Topic::Listing(l.parse().map_err(|_| Problem::of("not_found"))?),
        (None, Some(o)) => Topic::Order(o.parse().map_err(|_| Problem::of("not_found"))?),
        _ => return Err(bad()),
    };
    let t = messages::start(state.souk(), &s.principal, &client, topic, &req.body).await?;
    Ok((StatusCode::CREATED, Json(thread_dto(t))))
}

/// Your conversations, most recent first.
#[utoipa::path(
    get, path = "/api/v1/conversations", tag = "messages",
    responses(
        (status = 200, description = "Conversations", body = [ConversationDto]),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    Session(s): Session,
) -> Result<Json<Vec<ConversationDto>>, Problem> {
    let list = messages::list(state.souk(), &s.principal).await?;
    Ok(Json(list.into_iter().map(conversation_dto).collect()))
}

/// One conversation with its messages and their warnings.
#[utoipa::path(
    get, path = "/api/v1/conversations/{id}", tag = "messages", params(("id" = String, Path, description = "The conversation id")),
    responses(
        (status = 200, description = "The conversation", body = ConversationDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such conversation of yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    Session(s): Session,
    Path(id): Path<String>,
) -> Result<Json<ConversationDto>, Problem> {
    Ok(Json(thread_dto(messages::thread(state.souk(), &s.principal, &id).await?)))
}

/// A message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    body: String,
}

/// Answer in a conversation (its buyer or the shop's people).
#[utoipa::path(
    post, path = "/api/v1/conversations/{id}/messages", tag = "messages", request_body = SendRequest,
    params(("id" = String, Path, description = "The conversation id")),
    responses(
        (status = 201, description = "The conversation", body = ConversationDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such conversation of yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn send(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
    Body(req): Body<SendRequest>,
) -> Result<(StatusCode, Json<ConversationDto>), Problem> {
    let t = messages::send(state.souk(), &s.principal, &client, &id, &req.body).await?;
    Ok((StatusCode::CREATED, Json(thread_dto(t))))
}

/// Why something is reported, or what was done.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextRequest {
    text: String,
}

/// A created record's id.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdDto {
    id: String,
}

/// Report a message you received (it goes to trust & safety).
#[utoipa::path(
    post, path = "/api/v1/messages/{id}/report", tag = "messages", operation_id = "report_message", request_body = TextRequest,
    params(("id" = String, Path, description = "The message id")),
    responses(
        (status = 201, description = "Reported", body = IdDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such message of yours", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Already reported, or your own message", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn report(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
    Body(req): Body<TextRequest>,
) -> Result<(StatusCode, Json<IdDto>), Problem> {
    let id = messages::report(state.souk(), &s.principal, &client, &id, &req.text).await?;
    Ok((StatusCode::CREATED, Json(IdDto { id })))
}

/// A report in the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportDto {
    id: String,
    reason: String,
    reported_at: String,
    conversation: ConversationDto,
    message: MessageDto,
}

/// Open message reports, oldest first (trust & safety; the read is recorded).
#[utoipa::path(
    get, path = "/api/v1/staff/message-reports", tag = "staff",
    responses(
        (status = 200, description = "Open reports", body = [ReportDto]),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn reports(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
) -> Result<Json<Vec<ReportDto>>, Problem> {
    let list = messages::open_reports(state.souk(), &s.principal, &client).await?;
    Ok(Json(
        list.into_iter()
            .map(|r| {
                let m = r.message;
                ReportDto {
                    id: r.report.id,
                    reason: r.report.reason,
                    reported_at: r.report.created_at.to_rfc3339(),
                    conversation: conversation_dto(r.conversation),
                    message: MessageDto {
                        id: m.id,
                        from: m.side,
                        mine: false,
                        body: m.body,
                        warnings: m
                            .flags
                            .iter()
                            .map(|f| WarningDto {
                                code: f.code().to_owned(),
                                severity: format!("{:?}", f.severity()).to_lowercase(),
                                message: f.warning(),
                            })
                            .collect(),
                        sent_at: m.created_at.to_rfc3339(),
                    },
                }
            })
            .collect(),
    ))
}

/// Close a report with what was done (trust & safety).
#[utoipa::path(
    post, path = "/api/v1/staff/message-reports/{id}/resolution", tag = "staff", request_body = TextRequest,
    params(("id" = String, Path, description = "The report id")),
    responses(
        (status = 204, description = "Resolved"),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Already resolved", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn resolve(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
    Body(req): Body<TextRequest>,
) -> Result<StatusCode, Problem> {
    messages::resolve(state.souk(), &s.principal, &client, &id, &req.text).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A review of a completed order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// 1 to 5.
    rating: i64,
    #[serde(default)]
    body: String,
}

/// A review.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewDto {
    id: String,
    rating: i64,
    body: String,
    buyer: String,
    created_at: String,
    reply: Option<String>,
    replied_at: Option<String>,
}

fn review_dto(r: souk_store::reviews::ReviewRow) -> ReviewDto {
    ReviewDto {
        id: r.id,
        rating: r.rating,
        body: r.body,
        buyer: r.buyer_handle,
        created_at: r.created_at.to_rfc3339(),
        reply: r.reply,
        replied_at: r.replied_at.map(Timestamp::to_rfc3339),
    }
}

/// Review one of your completed orders (once; a verified purchase).
#[utoipa::path(
    post, path = "/api/v1/orders/{id}/review", tag = "orders", operation_id = "review_order", request_body = ReviewRequest,
    params(("id" = String, Path, description = "The order id")),
    responses(
        (status = 201, description = "Reviewed", body = ReviewDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such order of yours", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Not completed, or already reviewed", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn review(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
    Body(req): Body<ReviewRequest>,
) -> Result<(StatusCode, Json<ReviewDto>), Problem> {
    let order: souk_domain::ids::OrderId = id.parse().map_err(|_| Problem::of("not_found"))?;
    let r = reviews::create(state.souk(), &s.principal, &client, &order.to_string(), req.rating, &req.body)
        .await?;
    Ok((StatusCode::CREATED, Json(review_dto(r))))
}

/// The shop's one reply to a review (owner and managers).
#[utoipa::path(
    post, path = "/api/v1/reviews/{id}/reply", tag = "seller", request_body = TextRequest,
    params(("id" = String, Path, description = "The review id")),
    responses(
        (status = 204, description = "Replied"),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not your shop's", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Already replied", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn reply(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
    Body(req): Body<TextRequest>,
) -> Result<StatusCode, Problem> {
    reviews::reply(state.souk(), &s.principal, &client, &id, &req.text).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove an abusive review, with a reason (trust & safety).
#[utoipa::path(
    post, path = "/api/v1/staff/reviews/{id}/removal", tag = "staff", request_body = TextRequest,
    params(("id" = String, Path, description = "The review id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Already removed", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn remove_review(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
    Body(req): Body<TextRequest>,
) -> Result<StatusCode, Problem> {
    reviews::remove(state.souk(), &s.principal, &client, &id, &req.text).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Paging of reviews.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewsQuery {
    /// The `next` value of the previous page.
    after: Option<String>,
    /// 1–100, default 20.
    limit: Option<u16>,
}

/// A shop's reputation and a page of its reviews.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewsPage {
    /// How many reviews stand.
    count: i64,
    /// The average rating, e.g. "4.67" (absent without reviews).
    average: Option<String>,
    /// How many reviews gave 1, 2, 3, 4 and 5 stars.
    by_rating: [i64; 5],
    completed_orders: i64,
    items: Vec<ReviewDto>,
    next: Option<String>,
}

/// A shop's reputation and reviews, newest first.
#[utoipa::path(
    get, path = "/api/v1/shops/{slug}/reviews", tag = "catalog", params(("slug" = String, Path, description = "The shop's slug"), ReviewsQuery),
    responses(
        (status = 200, description = "Reputation and reviews", body = ReviewsPage),
        (status = 404, description = "No such shop", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn shop_reviews(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<ReviewsQuery>,
) -> Result<Json<ReviewsPage>, Problem> {
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let after = q
        .after
        .as_deref()
        .map(|raw| {
            let bad = || Problem::of("invalid_parameter").with_detail("after: not a cursor from this API");
            let (at, id) = raw.split_once('_').ok_or_else(bad)?;
            let id: souk_domain::ids::OrderId = id.parse().map_err(|_| bad())?;
            Ok::<_, Problem>((Timestamp::from_micros(at.parse().map_err(|_| bad())?), id.to_string()))
        })
        .transpose()?;
    let (_, rep, items) = reviews::of_shop(state.souk(), &slug, after, limit).await?;
    let next = (items.len() == usize::from(limit))
        .then(|| items.last().map(|r| format!("{}_{}", r.created_at.as_micros(), r.id)))
        .flatten();
    Ok(Json(ReviewsPage {
        count: rep.count,
        average: (rep.count > 0)
            .then(|| format!("{}.{:02}", rep.average_centi / 100, rep.average_centi % 100)),
        by_rating: rep.by_rating,
        completed_orders: rep.completed_orders,
        items: items.into_iter().map(review_dto).collect(),
        next,
    }))
}
