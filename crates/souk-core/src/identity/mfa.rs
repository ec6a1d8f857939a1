//! Second factors an account enrols: TOTP (an authenticator app: a sealed seed, confirmed
//! by a first code) and the single-use recovery codes that come with a second factor.
//! Every change needs a fresh authentication (step-up), is audited and mailed to the owner.

use secrecy::{ExposeSecret as _, SecretString};
use souk_crypto::{FieldContext, Subject};
use souk_identity::recovery::RecoveryKey;
use souk_identity::totp::{TotpSecret, qr_svg};
use souk_store::identity::factors;

use super::sessions::require_recent;
use super::{Client, Principal, internal};
use crate::audit::{AuditedTx, Event, Outcome};
use crate::{CoreError, Souk};

/// What the user needs to add Souk to an authenticator app. Shown once.
pub struct TotpEnrolment {
    pub secret_base32: SecretString,
    pub otpauth_url: SecretString,
    /// The otpauth URL as an inline SVG QR code.
    pub qr_svg: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment(***)")
    }
}

fn event(principal: &Principal, client: &Client, action: &'static str, detail: serde_json::Value) -> Event {
    Event {
        actor: principal.actor(client.ip),
        action,
        target_kind: "account",
        target_id: principal.account.to_string(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail,
    }
}

async fn notify(souk: &Souk, principal: &Principal, what: &str) {
    let body = format!(
        "{what}\n\nIf this was not you, sign in and check your security centre at {}/account/security now.",
        souk.identity.config.public_url
    );
    match super::signup::compose(
        souk,
        principal.account,
        "A security setting of your Souk account changed",
        &body,
    )
    .await
    {
        Ok(mail) => souk.identity.send_later(mail),
        Err(e) => tracing::warn!(error = %e, "could not compose a security notice"),
    }
}

/// Starts TOTP enrolment: a new seed, sealed, unconfirmed until a first code is entered.
pub async fn start_totp(souk: &Souk, principal: &Principal) -> Result<TotpEnrolment, CoreError> {
    crate::authz::own_account(souk, principal, souk_access::Action::AccountUpdate, &Client::default())
        .await?;
    require_recent(souk, principal)?;
    super::require_confirmed_owner(principal)?;
    let mut conn = souk.store.conn().await?;
    if factors::totp(&mut conn, principal.account).await?.is_some_and(|t| t.confirmed_at.is_some()) {
        return Err(CoreError::Conflict("an authenticator app is already set up; remove it first".into()));
    }
    let secret = TotpSecret::generate(souk.entropy.as_ref());
    let row = principal.account.to_string();
    let sealed = souk
        .keys
        .seal(
            &mut conn,
            Subject { kind: "account", id: &row },
            &FieldContext { table: "totp_factors", column: "secret", row_id: &row },
            secret.as_bytes(),
            souk.clock.now(),
        )
        .await?;
    factors::put_unconfirmed_totp(&mut conn, principal.account, &sealed, souk.clock.now()).await?;
    let profile = crate::accounts::profile(souk, principal.account).await?;
    let url = secret.otpauth_url("Souk", profile.email.display());
    let qr =
        qr_svg(url.expose_secret()).ok_or_else(|| internal(std::io::Error::other("QR code too large")))?;
    Ok(TotpEnrolment { secret_base32: secret.to_base32(), otpauth_url: url, qr_svg: qr })
}

/// Confirms TOTP with a first code. Returns recovery codes when the account had none
/// (shown once).
pub async fn confirm_totp(
    souk: &Souk,
    principal: &Principal,
    code: &str,
    client: &Client,
) -> Result<Vec<SecretString>, CoreError> {
    let mut tx = AuditedTx::begin_write(souk).await?;
    let pending = factors::totp(tx.conn(), principal.account).await?;
    if pending.as_ref().is_none_or(|t| t.confirmed_at.is_some()) {
        return Err(CoreError::invalid("code", "start adding an authenticator app first"));
    }
    if !super::login::check_totp(souk, tx.conn(), principal.account, code, true).await? {
        // The failure count is part of the refusal: keep it.
        tx.record(&[Event {
            outcome: Outcome::Failure,
            ..event(principal, client, "mfa.totp.confirm", serde_json::json!({}))
        }])
        .await?;
        tx.commit().await?;
        return Err(CoreError::invalid(
            "code",
            "that code is not right; check your device's clock and try the next one",
        ));
    }
    let codes = if factors::unused_recovery_codes(tx.conn(), principal.account).await?.is_empty() {
        issue_recovery_codes(souk, tx.conn(), principal).await?
    } else {
        Vec::new()
    };
    tx.record(&[event(
        principal,
        client,
        "mfa.totp.enable",
        serde_json::json!({ "recovery_codes_issued": codes.len() }),
    )])
    .await?;
    tx.commit().await?;
    notify(souk, principal, "An authenticator app was added to your Souk account.").await;
    Ok(codes)
}

async fn issue_recovery_codes(
    souk: &Souk,
    tx: &mut sqlx::AnyConnection,
    principal: &Principal,
) -> Result<Vec<SecretString>, CoreError> {
    let key = RecoveryKey::new(souk.identity.recovery_key.expose());
    let codes = key.generate(souk.entropy.as_ref());
    factors::replace_recovery_codes(tx, principal.account, &codes.hashes, souk.clock.now()).await?;
    Ok(codes.shown)
}

/// Removes TOTP (step-up). With no second factor left, the recovery codes go too.
pub async fn disable_totp(souk: &Souk, principal: &Principal, client: &Client) -> Result<(), CoreError> {
    crate::authz::own_account(souk, principal, souk_access::Action::AccountUpdate, client).await?;
    require_recent(souk, principal)?;
    let mut tx = AuditedTx::begin(souk).await?;
    if !factors::delete_totp(tx.conn(), principal.account).await? {
        return Err(CoreError::NotFound("authenticator app"));
    }
    if factors::passkeys_of(tx.conn(), principal.account).await?.is_empty() {
        factors::delete_recovery_codes(tx.conn(), principal.account).await?;
    }
    tx.record(&[event(principal, client, "mfa.totp.disable", serde_json::json!({}))]).await?;
    tx.commit().await?;
    notify(souk, principal, "The authenticator app was removed from your Souk account.").await;
    Ok(())
}

/// Replaces the recovery codes with ten new ones (step-up; needs a second factor).
pub async fn regenerate_recovery_codes(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
) -> Result<Vec<SecretString>, CoreError> {
    require_recent(souk, principal)?;
    crate::authz::own_account(souk, principal, souk_access::Action::AccountUpdate, client).await?;
    let mut tx = AuditedTx::begin(souk).await?;
    if !super::factors_enrolled(tx.conn(), principal.account).await? {
        return Err(CoreError::Conflict("add a passkey or an authenticator app first".into()));
    }
    let codes = issue_recovery_codes(souk, tx.conn(), principal).await?;
    tx.record(&[event(principal, client, "mfa.recovery_codes.regenerate", serde_json::json!({}))]).await?;
    tx.commit().await?;
    notify(
        souk,
        principal,
        "New recovery codes were made for your Souk account; the old ones no longer work.",
    )
    .await;
    Ok(codes)
}
