//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::ProblemDoc;
use crate::{AppState, Problem};

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeStatus {
    pub status: &'static str,
}

/// Liveness: the process is up and serving HTTP. Never touches the database.
#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is up", body = ProbeStatus))
)]
pub async fn healthz() -> Json<ProbeStatus> {
    Json(ProbeStatus { status: "ok" })
}

/// Readiness: the database answers and the process is not shutting down.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready for traffic", body = ProbeStatus),
        (status = 503, description = "Not ready: database unreachable or shutting down", body = ProblemDoc,
         content_type = "application/problem+json"),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<ProbeStatus>, Problem> {
    if state.is_draining() {
        return Err(Problem::of("unavailable").with_detail("Shutting down.").retry_after(5));
    }
    souk_core::health::readiness(state.souk())
        .await
        .map_err(|_| Problem::of("unavailable").with_detail("The database is unreachable.").retry_after(5))?;
    Ok(Json(ProbeStatus { status: "ready" }))
}
