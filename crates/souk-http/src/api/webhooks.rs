//! A shop's webhook endpoints under `/api/v1/webhook-endpoints`: register (the signing
//! secret is in this answer only), list, read, change, delete, rotate the secret, read the
//! delivery log and redeliver. For the shop's owner and managers (API keys need
//! `webhooks:manage`); everyone else gets 404. A URL the SSRF guard refuses is a 422
//! `destination_refused` naming the reason.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use souk_core::webhooks::deliveries::{self, DeliveryLog};
use souk_core::webhooks::endpoints::{self, Created, EndpointInput, EndpointView};
use souk_domain::ids::ShopId;
use souk_store::webhooks::{AttemptRow, DeliveryRow};
use utoipa::{IntoParams, ToSchema};

use super::auth::Body;
use super::dto::ProblemDoc;
use crate::middleware::auth::{Caller, ClientInfo};
use crate::{AppState, Problem};

/// A webhook endpoint (its secret is never shown again after creation or rotation).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointDto {
    id: String,
    shop_id: String,
    url: String,
    description: String,
    /// The event types it receives: order.paid, order.shipped, order.refunded, payout.sent.
    events: Vec<String>,
    enabled: bool,
    /// Why it is disabled (by the shop, or after every attempt of a delivery failed).
    disabled_reason: String,
    /// After a rotation, until when the previous secret still signs (RFC 3339).
    previous_secret_until: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<EndpointView> for WebhookEndpointDto {
    fn from(v: EndpointView) -> Self {
        Self {
            id: v.id,
            shop_id: v.shop.to_string(),
            url: v.url,
            description: v.description,
            events: v.events,
            enabled: v.enabled,
            disabled_reason: v.disabled_reason,
            previous_secret_until: v.previous_secret_until.map(souk_domain::Timestamp::to_rfc3339),
            created_at: v.created_at.to_rfc3339(),
            updated_at: v.updated_at.to_rfc3339(),
        }
    }
}

/// An endpoint with its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointWithSecretDto {
    /// `whsec_…`: the HMAC-SHA256 key of the `Souk-Signature` header (its UTF-8 bytes).
    /// Store it now; it is not shown again.
    secret: String,
    endpoint: WebhookEndpointDto,
}

fn with_secret(status: StatusCode, created: Created) -> Response {
    let body = WebhookEndpointWithSecretDto {
        secret: created.secret.expose_secret().to_owned(),
        endpoint: created.endpoint.into(),
    };
    let mut res = (status, Json(body)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookEndpointRequest {
    /// The shop whose events it receives.
    shop_id: String,
    /// An `https://` URL whose host resolves only to public addresses.
    url: String,
    events: Vec<String>,
    description: Option<String>,
    /// Defaults to true.
    enabled: Option<bool>,
}

/// Changes to an endpoint; omitted fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointChanges {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    /// Enabling again clears the reason it was disabled.
    enabled: Option<bool>,
}

fn shop_id(raw: &str) -> Result<ShopId, Problem> {
    raw.parse().map_err(|_| Problem::of("not_found").with_detail("No such shop."))
}

/// Register a webhook endpoint for a shop (its owner or managers).
#[utoipa::path(
    post, path = "/api/v1/webhook-endpoints", tag = "seller", request_body = NewWebhookEndpointRequest,
    responses(
        (status = 201, description = "Registered; the secret is shown once", body = WebhookEndpointWithSecretDto),
        (status = 400, description = "A field is not acceptable", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such shop, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The URL may not be called (SSRF guard); the detail says why", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn create_webhook_endpoint(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Body(req): Body<NewWebhookEndpointRequest>,
) -> Result<Response, Problem> {
    let input = EndpointInput {
        url: Some(req.url),
        description: req.description,
        events: Some(req.events),
        enabled: req.enabled,
    };
    let created =
        endpoints::create(state.souk(), &principal, &client, shop_id(&req.shop_id)?, &input).await?;
    Ok(with_secret(StatusCode::CREATED, created))
}

/// Which shop's endpoints to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebhookEndpointsQuery {
    /// The shop id.
    shop_id: String,
}

/// A shop's webhook endpoints.
#[utoipa::path(
    get, path = "/api/v1/webhook-endpoints", tag = "seller", params(WebhookEndpointsQuery),
    responses(
        (status = 200, description = "The shop's endpoints, oldest first", body = [WebhookEndpointDto]),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such shop, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn list_webhook_endpoints(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Query(q): Query<WebhookEndpointsQuery>,
) -> Result<Json<Vec<WebhookEndpointDto>>, Problem> {
    let list = endpoints::list(state.souk(), &principal, &client, shop_id(&q.shop_id)?).await?;
    Ok(Json(list.into_iter().map(WebhookEndpointDto::from).collect()))
}

/// One webhook endpoint.
#[utoipa::path(
    get, path = "/api/v1/webhook-endpoints/{id}", tag = "seller",
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookEndpointDto),
        (status = 404, description = "No such endpoint, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn get_webhook_endpoint(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookEndpointDto>, Problem> {
    Ok(Json(endpoints::get(state.souk(), &principal, &client, &id).await?.into()))
}

/// Change a webhook endpoint (a new URL is checked again).
#[utoipa::path(
    patch, path = "/api/v1/webhook-endpoints/{id}", tag = "seller", request_body = WebhookEndpointChanges,
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookEndpointDto),
        (status = 400, description = "A field is not acceptable", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The URL may not be called (SSRF guard)", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn update_webhook_endpoint(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(id): Path<String>,
    Body(req): Body<WebhookEndpointChanges>,
) -> Result<Json<WebhookEndpointDto>, Problem> {
    let input = EndpointInput {
        url: req.url,
        description: req.description,
        events: req.events,
        enabled: req.enabled,
    };
    Ok(Json(endpoints::update(state.souk(), &principal, &client, &id, &input).await?.into()))
}

/// Delete a webhook endpoint with its delivery log.
#[utoipa::path(
    delete, path = "/api/v1/webhook-endpoints/{id}", tag = "seller",
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such endpoint, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn delete_webhook_endpoint(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    endpoints::delete(state.souk(), &principal, &client, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate the endpoint's signing secret: the new one is shown once; the previous one keeps
/// signing (a second `v1` in `Souk-Signature`) for 24 hours.
#[utoipa::path(
    post, path = "/api/v1/webhook-endpoints/{id}/rotate-secret", tag = "seller",
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 200, description = "Rotated; the new secret is shown once", body = WebhookEndpointWithSecretDto),
        (status = 404, description = "No such endpoint, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let created = endpoints::rotate_secret(state.souk(), &principal, &client, &id).await?;
    Ok(with_secret(StatusCode::OK, created))
}

/// One attempt to deliver an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAttemptDto {
    attempt: i64,
    at: String,
    /// The receiver's answer, if there was one.
    http_status: Option<i64>,
    error: String,
    duration_ms: i64,
    /// `automatic` or `manual` (a redelivery).
    triggered_by: String,
}

impl From<AttemptRow> for WebhookAttemptDto {
    fn from(a: AttemptRow) -> Self {
        Self {
            attempt: a.attempt,
            at: a.at.to_rfc3339(),
            http_status: a.http_status,
            error: a.error,
            duration_ms: a.duration_ms,
            triggered_by: a.triggered_by,
        }
    }
}

/// An event's delivery to an endpoint, with its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryDto {
    id: String,
    event_id: String,
    event_type: String,
    /// pending, delivering, succeeded or failed (given up).
    status: String,
    attempts: i64,
    /// When the next attempt is due (pending deliveries).
    next_attempt_at: Option<String>,
    last_http_status: Option<i64>,
    last_error: String,
    last_duration_ms: Option<i64>,
    created_at: String,
    log: Vec<WebhookAttemptDto>,
}

fn delivery_dto(d: DeliveryRow, log: Vec<AttemptRow>) -> WebhookDeliveryDto {
    WebhookDeliveryDto {
        next_attempt_at: (d.status == "pending").then(|| d.next_attempt_at.to_rfc3339()),
        id: d.id,
        event_id: d.event,
        event_type: d.event_type,
        status: d.status,
        attempts: d.attempts,
        last_http_status: d.last_http_status,
        last_error: d.last_error,
        last_duration_ms: d.last_duration_ms,
        created_at: d.created_at.to_rfc3339(),
        log: log.into_iter().map(WebhookAttemptDto::from).collect(),
    }
}

/// How many deliveries to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// 1 to 100 (default 50).
    limit: Option<u32>,
}

/// The endpoint's delivery log, newest first.
#[utoipa::path(
    get, path = "/api/v1/webhook-endpoints/{id}/deliveries", tag = "seller",
    params(("id" = String, Path, description = "The endpoint id"), DeliveriesQuery),
    responses(
        (status = 200, description = "Deliveries with their attempts", body = [WebhookDeliveryDto]),
        (status = 404, description = "No such endpoint, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn list_webhook_deliveries(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(id): Path<String>,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Json<Vec<WebhookDeliveryDto>>, Problem> {
    let logs = deliveries::list(state.souk(), &principal, &client, &id, q.limit.unwrap_or(50)).await?;
    Ok(Json(
        logs.into_iter().map(|DeliveryLog { delivery, attempts }| delivery_dto(delivery, attempts)).collect(),
    ))
}

/// Send a delivery again now (logged as manual; not retried automatically if it fails).
#[utoipa::path(
    post, path = "/api/v1/webhook-endpoints/{id}/deliveries/{delivery}/redeliver", tag = "seller",
    params(("id" = String, Path, description = "The endpoint id"), ("delivery" = String, Path, description = "The delivery id")),
    responses(
        (status = 202, description = "Queued; the worker sends it within a poll interval", body = WebhookDeliveryDto),
        (status = 404, description = "No such endpoint or delivery, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The endpoint is disabled, or the delivery is being sent right now", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn redeliver_webhook(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<(StatusCode, Json<WebhookDeliveryDto>), Problem> {
    let d = deliveries::redeliver(state.souk(), &principal, &client, &id, &delivery).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery_dto(d, Vec::new()))))
}
