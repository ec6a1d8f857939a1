//! Errors on the way out: a [`Problem`] is what a handler returns when it cannot answer.
//!
//! A handler never renders an error itself. `Problem::into_response` only tags the response;
//! `middleware::errors` renders every tagged or bare error response in one place, as RFC 9457
//! `application/problem+json` for API paths and as an HTML page for the web, with the
//! request id, and logs internal causes without ever returning them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use souk_core::CoreError;

/// An error response: status, a stable machine-readable code and a human sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    /// Stable code clients can match on, e.g. `rate_limited`. Listed at `/api/docs#problems`.
    pub code: &'static str,
    /// A short, fixed summary of the problem type.
    pub title: &'static str,
    /// Specific to this occurrence; safe to show (never an internal cause).
    pub detail: Option<String>,
    /// Seconds the client should wait before retrying, sent as `Retry-After`.
    pub retry_after: Option<u64>,
    /// Where in the submitted text the problem is (`line`, `column`, both 1-based), sent as
    /// extension members: a risk rule that does not type-check.
    pub position: Option<(usize, usize)>,
}

/// Every problem code the server emits, with its status and title. The API docs page lists
/// this table so clients can rely on it.
pub const PROBLEMS: &[(&str, u16, &str)] = &[
    ("bad_request", 400, "The request is malformed"),
    ("invalid_parameter", 400, "A parameter has an invalid value"),
    ("malformed_json", 400, "The request body is not valid JSON"),
    ("unauthorized", 401, "Authentication is required"),
    ("invalid_credentials", 401, "The email or password is not right"),
    ("forbidden", 403, "You may not do this"),
    ("csrf_failed", 403, "The request did not come from a Souk page"),
    ("step_up_required", 403, "Confirm it is you first"),
    ("passkey_required", 403, "Sign in with a passkey for this"),
    ("mfa_required", 403, "Add a second factor first"),
    ("https_required", 403, "This must be sent over HTTPS"),
    ("not_found", 404, "Not found"),
    ("method_not_allowed", 405, "Method not allowed"),
    ("not_acceptable", 406, "Not acceptable"),
    ("request_timeout", 408, "The request took too long to arrive"),
    ("conflict", 409, "The request conflicts with the current state"),
    ("checkout_declined", 403, "This checkout cannot be completed"),
    ("idempotency_key_reused", 422, "This Idempotency-Key was used with another request"),
    ("idempotency_in_progress", 409, "A request with this Idempotency-Key is still being processed"),
    ("payload_too_large", 413, "The request body is too large"),
    ("uri_too_long", 414, "The URI is too long"),
    ("unsupported_media_type", 415, "Unsupported content type"),
    ("unprocessable", 422, "The request could not be processed"),
    ("amount_refused", 422, "The balances do not allow this amount"),
    ("destination_refused", 422, "This destination may not be called"),
    ("invalid_rule", 422, "A risk rule does not parse or type-check"),
    ("rate_limited", 429, "Too many requests"),
    ("too_many_attempts", 429, "Too many attempts; wait before trying again"),
    ("headers_too_large", 431, "The request headers are too large"),
    ("internal", 500, "Something went wrong on our side"),
    ("unavailable", 503, "Temporarily unavailable"),
    ("timeout", 503, "The server took too long to answer"),
];

impl Problem {
    /// The problem for a code in [`PROBLEMS`]; an unknown code falls back to `internal`.
    #[must_use]
    pub fn of(code: &'static str) -> Self {
        let (code, status, title) = PROBLEMS.iter().copied().find(|(c, _, _)| *c == code).unwrap_or((
            "internal",
            500,
            PROBLEMS_INTERNAL,
        ));
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            title,
            detail: None,
            retry_after: None,
            position: None,
        }
    }

    /// The generic problem for a status the server did not tag itself (framework rejections).
    #[must_use]
    pub fn for_status(status: StatusCode) -> Self {
        let code = match status.as_u16() {
            400 => "bad_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            406 => "not_acceptable",
            408 => "request_timeout",
            409 => "conflict",
            413 => "payload_too_large",
            414 => "uri_too_long",
            415 => "unsupported_media_type",
            422 => "unprocessable",
            429 => "rate_limited",
            431 => "headers_too_large",
            503 => "unavailable",
            _ => "internal",
        };
        let mut p = Self::of(code);
        // Keep the real status for 4xx codes without an entry of their own.
        if code == "internal" && status.is_client_error() {
            p = Self { status, code: "bad_request", title: "The request is malformed", ..p };
        }
        p
    }

    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    #[must_use]
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

const PROBLEMS_INTERNAL: &str = "Something went wrong on our side";

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        res.extensions_mut().insert(self);
        res
    }
}

impl From<CoreError> for Problem {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound(what) => Self::of("not_found").with_detail(format!("No such {what}.")),
            CoreError::Invalid { field, reason } => {
                Self::of("invalid_parameter").with_detail(format!("{field}: {reason}"))
            }
            CoreError::InvalidRule { line, column, message } => {
                let mut p = Self::of("invalid_rule").with_detail(format!("rule {line}, column {column}: {message}"));
                p.position = Some((line, column));
                p
            }
            CoreError::Unavailable => Self::of("unavailable").retry_after(5),
            CoreError::Unauthenticated => Self::of("invalid_credentials")
                .with_detail("The email or password is not right, or the code was not accepted."),
            CoreError::Throttled { retry_after_secs } => Self::of("too_many_attempts")
                .retry_after(retry_after_secs.max(1))
                .with_detail(format!("Too many attempts; try again in {} s.", retry_after_secs.max(1))),
            CoreError::Unacceptable { field, reason } => {
                Self::of("destination_refused").with_detail(format!("{field}: {reason}"))
            }
            CoreError::Forbidden => Self::of("forbidden"),
            CoreError::MfaRequired => Self::of("mfa_required").with_detail(
                "Your role requires a passkey or an authenticator app: add one in your security centre (/account/security).",
            ),
            CoreError::PasskeyRequired => Self::of("passkey_required").with_detail(
                "Staff actions need a session signed in with a passkey: add one in your security centre, then sign in with it.",
            ),
            CoreError::StepUpRequired => Self::of("step_up_required").with_detail(
                "This action needs a fresh sign-in: confirm your password (POST /api/v1/me/reauthenticate) and retry within 5 minutes.",
            ),
            CoreError::Conflict(detail) => Self::of("conflict").with_detail(detail),
            CoreError::Refused(detail) => Self::of("amount_refused").with_detail(detail),
            CoreError::Declined => Self::of("checkout_declined").with_detail(
                "The checkout could not be completed. If you think this is a mistake, contact support.",
            ),
            CoreError::Internal(cause) => {
                // SECURITY: the cause goes to the log (with the request id from the span),
                // never to the client.
                tracing::error!(error = %cause, source = ?cause, "use case failed");
                Self::of("internal")
            }
        }
    }
}

/// The fallback for paths no route matches.
pub async fn not_found() -> Problem {
    Problem::of("not_found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_code_maps_to_itself() {
        for (code, status, _) in PROBLEMS {
            let p = Problem::of(code);
            assert_eq!(p.code, *code);
            assert_eq!(p.status.as_u16(), *status);
        }
    }

    #[test]
    fn unknown_client_statuses_stay_client_errors() {
        let p = Problem::for_status(StatusCode::IM_A_TEAPOT);
        assert_eq!(p.status, StatusCode::IM_A_TEAPOT);
        assert_eq!(p.code, "bad_request");
    }
}
