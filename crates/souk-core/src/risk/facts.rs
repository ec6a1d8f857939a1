//! Facts about the person behind an event, read when a decision needs them: how old the
//! account is, whether its email is confirmed, whether it has a second factor, whether this
//! device is new to it, and how long ago its password changed.

use souk_domain::ids::AccountId;
use souk_risk::Value;
use souk_store::identity::{factors, signin};
use sqlx::AnyConnection;

use super::signals::Signals;
use crate::identity::Client;
use crate::{CoreError, Souk};

const MICROS_PER_HOUR: f64 = 3_600_000_000.0;

#[allow(clippy::cast_precision_loss, reason = "durations in microseconds are far below 2^52")]
fn hours(micros: i64) -> f64 {
    (micros as f64 / MICROS_PER_HOUR * 10.0).round() / 10.0
}

/// Adds the account's facts and the client's keys (IP, device) to `signals`.
pub async fn of_account(
    souk: &Souk,
    conn: &mut AnyConnection,
    account: AccountId,
    client: &Client,
    mut signals: Signals,
) -> Result<Signals, CoreError> {
    let now = souk.clock.now().as_micros();
    signals.account = Some(account);
    signals.ip = client.ip;
    signals.device = client.device.as_ref().map(|d| d.key().0.to_vec());
    if let Some(auth) = signin::account_auth(conn, account).await? {
        signals
            .facts
            .push(("account_age_days", Value::Number((hours(now - auth.created_at) / 24.0).floor())));
        signals.facts.push(("email_verified", Value::Bool(auth.email_verified_at.is_some())));
    }
    let totp = factors::totp(conn, account).await?.is_some_and(|t| t.confirmed_at.is_some());
    let passkey = !factors::passkeys_of(conn, account).await?.is_empty();
    signals.facts.push(("mfa_enabled", Value::Bool(totp || passkey)));
    if let Some(device) = &signals.device {
        let known = souk_store::risk::device_known(conn, &account.to_string(), device).await?;
        signals.facts.push(("new_device", Value::Bool(!known)));
    }
    if let Some(p) = signin::password(conn, account).await? {
        signals.facts.push(("hours_since_password_change", Value::Number(hours(now - p.set_at))));
    }
    Ok(signals)
}

/// The account's email address, if it can still be read (not erased).
pub async fn email_of(souk: &Souk, account: AccountId) -> Result<Option<String>, CoreError> {
    match crate::accounts::profile(souk, account).await {
        Ok(p) => Ok(match p.email {
            crate::keys::Revealed::Text(t) => Some(t),
            crate::keys::Revealed::Erased => None,
        }),
        Err(CoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
