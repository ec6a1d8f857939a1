//! The card vault's endpoint, on its own path (`POST /vault/v1/cards`): the card form's
//! script (or a plain form post) sends the card here, never to a marketplace route; the
//! handler only calls `vault.tokenize` and answers the token, brand and last four. The body
//! is never logged nor echoed, not even in a parse error; the vault rate-limits per account.

use axum::extract::{FromRequest as _, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use souk_vault::{CallContext, NewCard, VaultError};

use crate::middleware::auth::MaybeSession;
use crate::{AppState, Problem};

/// The largest card request accepted: a card is a few dozen bytes.
pub(crate) const BODY_LIMIT_BYTES: usize = 1024;

/// A card as typed. `Debug` is not derived: it holds a card number.
#[derive(Deserialize)]
struct CardInput {
    number: String,
    exp_month: u8,
    exp_year: u16,
    #[serde(default)]
    cvc: String,
    /// The session's CSRF token, for plain form posts (scripts send `X-CSRF-Token`).
    #[serde(default)]
    csrf: String,
}

/// What the page keeps: nothing secret.
#[derive(Serialize)]
struct CardAnswer {
    token: String,
    brand: String,
    last4: String,
}

fn refused() -> Problem {
    Problem::of("invalid_parameter").with_detail("Check the card number, expiry date and security code.")
}

/// `POST /vault/v1/cards`: tokenizes a card for the signed-in buyer.
pub(crate) async fn tokenize(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    req: Request,
) -> Result<Response, Problem> {
    let Some(s) = session else {
        return Err(Problem::of("unauthorized").with_detail("Sign in first."));
    };
    let header_token = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_default();
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // SECURITY: parse errors are dropped whole: their text can quote the card number.
    let input: CardInput = if json {
        Json::<CardInput>::from_request(req, &state).await.map_err(|_| refused())?.0
    } else {
        Form::<CardInput>::from_request(req, &state).await.map_err(|_| refused())?.0
    };
    let sent = if header_token.is_empty() { input.csrf.as_str() } else { header_token.as_str() };
    if !state.souk().identity.csrf_valid(&s.key, sent) {
        return Err(
            Problem::of("csrf_failed").with_detail("This form has expired; reload the page and try again.")
        );
    }
    let cvc = (!input.cvc.is_empty()).then(|| SecretString::from(input.cvc));
    let card = NewCard {
        number: SecretString::from(input.number.split_whitespace().collect::<String>()),
        exp_month: input.exp_month,
        exp_year: input.exp_year,
        cvc,
    };
    drop(input.number);
    let ctx = CallContext::new(format!("account:{}", s.principal.account));
    match state.souk().vault.tokenize(&ctx, card).await {
        Ok(stored) => Ok(Json(CardAnswer {
            token: stored.token.as_str().to_owned(),
            brand: stored.brand.as_str().to_owned(),
            last4: stored.last4,
        })
        .into_response()),
        Err(VaultError::InvalidCard(_)) => Err(refused()),
        Err(VaultError::RateLimited { retry_after_secs }) => {
            Err(Problem::of("rate_limited").retry_after(retry_after_secs))
        }
        Err(e) => {
            tracing::error!(error = %e, "the vault could not tokenize a card");
            Err(Problem::of("unavailable").retry_after(5))
        }
    }
}
