//! Sign-in. In order: the per-address and per-network gate (before any hashing), the
//! graduated delay keyed by the email typed (identical for accounts that do not exist),
//! the password (or the decoy hash when there is no account or no password, so the time is
//! the same), then either a session or, when the account has a second factor, a pending
//! sign-in that a TOTP or recovery code completes. Staff accounts also lock for 30 minutes
//! after 10 failures (PCI DSS 8.3.4).

use secrecy::SecretString;
use souk_crypto::{FieldContext, Sealed, Subject};
use souk_domain::Timestamp;
use souk_identity::password::Verified;
use souk_identity::session::SessionToken;
use souk_identity::throttle::{Throttle, ThrottlePolicy};
use souk_identity::totp::TotpSecret;
use souk_store::identity::factors;
use souk_store::identity::signin::{self as store, AccountAuth, ThrottleRow};

use super::sessions::{IssuedSession, issue};
use super::{Client, internal};
use crate::audit::{Actor, AuditedTx, Event, Outcome};
use crate::{CoreError, Souk};

/// How long a pending sign-in waits for its second factor.
const PENDING_TTL_SECS: i64 = 10 * 60;
/// A password used without its second factor for this long triggers an alert.
pub const UNFINISHED_ALERT_SECS: i64 = 3 * 60;

/// What a correct password led to.
#[derive(Debug)]
pub enum LoginOutcome {
    SignedIn {
        session: IssuedSession,
        must_change_password: bool,
    },
    /// The account has a second factor: complete with [`complete_second_factor`].
    SecondFactor {
        pending: SessionToken,
        totp: bool,
        passkey: bool,
        recovery_codes: bool,
    },
}

fn throttle_of(row: &ThrottleRow) -> Throttle {
    Throttle {
        failures: u32::try_from(row.failures).unwrap_or(u32::MAX),
        last_failure_at: row.last_failure_at.map(Timestamp::from_micros),
        locked_until: row.locked_until.map(Timestamp::from_micros),
    }
}

fn row_of(t: &Throttle) -> ThrottleRow {
    ThrottleRow {
        failures: i64::from(t.failures),
        last_failure_at: t.last_failure_at.map(Timestamp::as_micros),
        locked_until: t.locked_until.map(Timestamp::as_micros),
    }
}

/// An actor with no account. Client addresses are sealed under an account's key; an
/// anonymous actor has none, so its address is not recorded (it would be personal data in
/// clear).
fn anonymous() -> Actor {
    Actor { kind: "anonymous", id: String::new(), role: String::new(), credential: String::new(), ip: None }
}

fn account_actor(a: &AccountAuth, client: &Client) -> Actor {
    Actor {
        kind: "account",
        id: a.id.to_string(),
        role: a.role.clone(),
        credential: String::new(),
        ip: client.ip,
    }
}

fn event(
    actor: Actor,
    action: &'static str,
    target: String,
    outcome: Outcome,
    client: &Client,
    detail: serde_json::Value,
) -> Event {
    Event {
        actor,
        action,
        target_kind: "account",
        target_id: target,
        outcome,
        request_id: client.request_id.clone(),
        detail,
    }
}

/// Signs in with email and password.
pub async fn login(
    souk: &Souk,
    email: &str,
    password: SecretString,
    client: &Client,
) -> Result<LoginOutcome, CoreError> {
    souk.identity.gate.check(client.ip).map_err(|s| CoreError::Throttled { retry_after_secs: s })?;
    let started = tokio::time::Instant::now();
    let now = souk.clock.now();
    let key = souk.keys.login_throttle_key(email);
    let mut conn = souk.store.conn().await?;
    let state = throttle_of(&store::throttle(&mut conn, &key).await?);
    ThrottlePolicy::MEMBER
        .check(&state, now)
        .map_err(|wait| CoreError::Throttled { retry_after_secs: wait.secs() })?;
    drop(conn);

    let account = match crate::accounts::find_by_email(souk, email).await? {
        Some(id) => {
            let mut conn = souk.store.conn().await?;
            store::account_auth(&mut conn, id).await?
        }
        None => None,
    };
    let stored = match &account {
        Some(a) => {
            let mut conn = souk.store.conn().await?;
            store::password(&mut conn, a.id).await?
        }
        None => None,
    };
    // Staff lockout (PCI DSS 8.3.4), kept per account.
    let staff_key = account.as_ref().filter(|a| a.role == "staff").map(staff_throttle_key);
    if let Some(k) = &staff_key {
        let mut conn = souk.store.conn().await?;
        let s = throttle_of(&store::throttle(&mut conn, k).await?);
        if let Err(wait) = ThrottlePolicy::STAFF.check(&s, now) {
            // The password is still checked (decoy) so a locked account answers as slowly.
            let _ = souk.identity.verify_password(password, None).await?;
            return Err(CoreError::Throttled { retry_after_secs: wait.secs() });
        }
    }
    let verified = souk
        .identity
        .verify_password(
            password.clone(),
            stored.as_ref().map(|p| souk_identity::PasswordHash::from_stored(p.phc.clone())),
        )
        .await?;
    let disabled = account.as_ref().is_some_and(|a| a.disabled_at.is_some());
    let (Verified::Yes { rehash }, Some(account), Some(stored), false) =
        (verified, account.as_ref(), stored.as_ref(), disabled)
    else {
        let refused =
            Refused { key: &key, state, staff_key: staff_key.as_deref(), account: account.as_ref() };
        let answer = refuse(souk, refused, client, now).await?;
        super::pad(started).await;
        return Err(answer);
    };
    if rehash {
        let fresh = souk.identity.hash_password(password, souk.entropy.clone()).await?;
        let mut conn = souk.store.conn().await?;
        store::rehash_password(&mut conn, account.id, fresh.as_str()).await?;
    }
    let accepted =
        accept(souk, account, email, &key, staff_key.as_deref(), stored.must_change, client, now).await;
    if matches!(accepted, Err(CoreError::Unauthenticated)) {
        // Refused by the risk step: answered as late as a wrong password is.
        super::pad(started).await;
    }
    accepted
}

/// A refused sign-in's facts.
struct Refused<'a> {
    key: &'a [u8],
    state: Throttle,
    staff_key: Option<&'a [u8]>,
    account: Option<&'a AccountAuth>,
}

/// Counts a failure against the throttles and records it; returns the error to answer.
async fn refuse(
    souk: &Souk,
    r: Refused<'_>,
    client: &Client,
    now: Timestamp,
) -> Result<CoreError, CoreError> {
    let mut tx = AuditedTx::begin(souk).await?;
    let next = ThrottlePolicy::MEMBER.record_failure(r.state, now);
    store::put_throttle(tx.conn(), r.key, &row_of(&next)).await?;
    if let Some(k) = r.staff_key {
        let s = throttle_of(&store::throttle(tx.conn(), k).await?);
        store::put_throttle(tx.conn(), k, &row_of(&ThrottlePolicy::STAFF.record_failure(s, now))).await?;
    }
    // Failed sign-ins feed the risk counters (per IP, network, device and account).
    let mut signals = crate::risk::Signals::new(crate::risk::EventKind::Login);
    signals.account = r.account.map(|a| a.id);
    signals.ip = client.ip;
    signals.device = client.device.as_ref().map(|d| d.key().0.to_vec());
    let keys = crate::risk::signals::Keys::of(souk, &signals);
    crate::risk::record_events(souk, tx.conn(), &keys, &[("login_failed", 0)]).await?;
    let (actor, target) = match r.account {
        Some(a) => (account_actor(a, client), a.id.to_string()),
        None => (anonymous(), String::new()),
    };
    tx.record(&[event(
        actor,
        "login.password",
        target,
        Outcome::Failure,
        client,
        serde_json::json!({ "failures": next.failures }),
    )])
    .await?;
    tx.commit().await?;
    Ok(CoreError::Unauthenticated)
}

/// The password was right: clears the throttles, then either asks for the second factor or
/// issues the session.
#[allow(clippy::too_many_arguments, reason = "the facts of one sign-in, passed once")]
async fn accept(
    souk: &Souk,
    account: &AccountAuth,
    email: &str,
    key: &[u8],
    staff_key: Option<&[u8]>,
    must_change_password: bool,
    client: &Client,
    now: Timestamp,
) -> Result<LoginOutcome, CoreError> {
    let mut tx = AuditedTx::begin(souk).await?;
    store::clear_throttle(tx.conn(), key).await?;
    if let Some(k) = staff_key {
        store::clear_throttle(tx.conn(), k).await?;
    }
    let totp = factors::totp(tx.conn(), account.id).await?.is_some_and(|t| t.confirmed_at.is_some());
    let passkey = !factors::passkeys_of(tx.conn(), account.id).await?.is_empty();
    let recovery_codes = !factors::unused_recovery_codes(tx.conn(), account.id).await?.is_empty();
    // The risk step: block refuses as a wrong password does; step_up requires the second
    // factor, so an account without one is refused too (it can sign in by email link).
    let mut signals = crate::risk::Signals::new(crate::risk::EventKind::Login);
    signals.email = Some(email.to_owned());
    let signals = crate::risk::facts::of_account(souk, tx.conn(), account.id, client, signals).await?;
    let risk = crate::risk::decide(souk, tx.conn(), &signals, false).await?;
    crate::risk::record_events(souk, tx.conn(), &risk.keys, &[("login", 0)]).await?;
    let refused = match risk.action {
        souk_risk::Action::Block => true,
        souk_risk::Action::StepUp => !(totp || passkey),
        souk_risk::Action::Allow | souk_risk::Action::Review => false,
    };
    if refused {
        tx.record(&[event(
            account_actor(account, client),
            "login.risk",
            account.id.to_string(),
            Outcome::Denied,
            client,
            serde_json::json!({ "risk_decision": risk.id, "action": risk.action.as_str() }),
        )])
        .await?;
        tx.commit().await?;
        return Err(CoreError::Unauthenticated);
    }
    if totp || passkey {
        let pending = SessionToken::generate(souk.entropy.as_ref());
        let expires = Timestamp::from_micros(now.as_micros() + PENDING_TTL_SECS * 1_000_000);
        store::insert_pending_login(tx.conn(), &pending.key().0, account.id, now, expires).await?;
        tx.record(&[event(
            account_actor(account, client),
            "login.password",
            account.id.to_string(),
            Outcome::Success,
            client,
            serde_json::json!({ "second_factor": "required" }),
        )])
        .await?;
        tx.commit().await?;
        return Ok(LoginOutcome::SecondFactor { pending, totp, passkey, recovery_codes });
    }
    let session = issue(souk, tx.conn(), account, "password", client).await?;
    let new_device = remember_device(souk, tx.conn(), account, client).await?;
    tx.record(&[event(
        account_actor(account, client),
        "login.success",
        account.id.to_string(),
        Outcome::Success,
        client,
        serde_json::json!({ "method": "password", "session": session.id, "new_device": new_device }),
    )])
    .await?;
    tx.commit().await?;
    if new_device {
        alert_new_device(souk, account, client).await;
    }
    Ok(LoginOutcome::SignedIn { session, must_change_password })
}

fn staff_throttle_key(a: &AccountAuth) -> Vec<u8> {
    let mut k = b"staff:".to_vec();
    k.extend_from_slice(a.id.to_string().as_bytes());
    k
}

/// Remembers the browser's device cookie for the account; true when it is a new device
/// on an account that already had others (the first device is not news).
pub(crate) async fn remember_device(
    souk: &Souk,
    tx: &mut sqlx::AnyConnection,
    account: &AccountAuth,
    client: &Client,
) -> Result<bool, CoreError> {
    let Some(device) = &client.device else { return Ok(false) };
    let had_any = store::device_count(tx, account.id).await? > 0;
    let new = store::remember_device(tx, account.id, &device.key().0, souk.clock.now()).await?;
    Ok(new && had_any)
}

pub(crate) async fn alert_new_device(souk: &Souk, account: &AccountAuth, client: &Client) {
    let place = client.ip.map_or_else(|| "an unknown network".to_owned(), super::network_of);
    let body = format!(
        "Your Souk account was signed in from a new device: {} from {place}.\n\n\
         If this was you, there is nothing to do. If not, change your password now at {url}/account/security \
         and sign out the devices you do not recognize at {url}/account/sessions.",
        super::device_label(&client.user_agent),
        url = souk.identity.config.public_url
    );
    match super::signup::compose(souk, account.id, "New sign-in to your Souk account", &body).await {
        Ok(mail) => souk.identity.send_later(mail),
        Err(e) => tracing::warn!(error = %e, "could not compose a new-device alert"),
    }
}

/// A second factor presented to complete a pending sign-in.
#[derive(Debug)]
pub enum SecondFactor {
    Totp(String),
    RecoveryCode(SecretString),
}

fn totp_ctx(row: &str) -> FieldContext<'_> {
    FieldContext { table: "totp_factors", column: "secret", row_id: row }
}

/// The account's confirmed-or-not TOTP seed, revealed.
pub(crate) async fn totp_secret(
    souk: &Souk,
    conn: &mut sqlx::AnyConnection,
    account: souk_domain::ids::AccountId,
    sealed: Vec<u8>,
) -> Result<Option<TotpSecret>, CoreError> {
    let row = account.to_string();
    let subject = Subject { kind: "account", id: &row };
    let key = souk.keys.data_key(conn, subject, false, souk.clock.now()).await?;
    let Some(key) = key else { return Ok(None) };
    let bytes = key.open(&totp_ctx(&row), &Sealed::from_stored(sealed)).map_err(internal)?;
    Ok(TotpSecret::from_bytes(&bytes))
}

/// Checks a TOTP code for an account: once per time step, locked for the rest of the step
/// after three failures. Returns whether it was accepted.
pub(crate) async fn check_totp(
    souk: &Souk,
    tx: &mut sqlx::AnyConnection,
    account: souk_domain::ids::AccountId,
    code: &str,
    confirming: bool,
) -> Result<bool, CoreError> {
    let Some(row) = factors::totp(tx, account).await? else { return Ok(false) };
    if !confirming && row.confirmed_at.is_none() {
        return Ok(false);
    }
    let now = souk.clock.now();
    let step_now = souk_identity::totp::step_at(now).ok_or(CoreError::Unavailable)?;
    let step_now_i = i64::try_from(step_now).map_err(internal)?;
    if row.fail_step == Some(step_now_i)
        && !souk_identity::totp::totp_attempt_allowed(u32::try_from(row.fail_count).unwrap_or(u32::MAX))
    {
        return Err(CoreError::Throttled {
            retry_after_secs: u64::try_from(souk_identity::totp::STEP_SECS).unwrap_or(30),
        });
    }
    let Some(secret) = totp_secret(souk, tx, account, row.secret_sealed.clone()).await? else {
        return Ok(false);
    };
    let last = row.last_step.and_then(|s| u64::try_from(s).ok());
    match secret.verify(code, now, last) {
        Some(step) => {
            let step = i64::try_from(step).map_err(internal)?;
            // The conditional update is the replay guard: a concurrent use of the same code loses.
            Ok(factors::accept_totp_step(tx, account, step, confirming.then_some(now)).await?)
        }
        None => {
            factors::fail_totp(tx, account, step_now_i).await?;
            Ok(false)
        }
    }
}

/// Completes a pending sign-in with a TOTP or recovery code.
pub async fn complete_second_factor(
    souk: &Souk,
    pending: &str,
    factor: SecondFactor,
    client: &Client,
) -> Result<IssuedSession, CoreError> {
    let pending = SessionToken::from_cookie(pending).ok_or(CoreError::Unauthenticated)?;
    let hash = pending.key().0;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let p = store::pending_login(tx.conn(), &hash).await?.ok_or(CoreError::Unauthenticated)?;
    if p.completed_at.is_some() || p.expires_at <= now.as_micros() || p.failures >= 10 {
        return Err(CoreError::Unauthenticated);
    }
    let account = store::account_auth(tx.conn(), p.account).await?.ok_or(CoreError::Unauthenticated)?;
    let (ok, method) = match &factor {
        SecondFactor::Totp(code) => {
            (check_totp(souk, tx.conn(), account.id, code, false).await?, "password+totp")
        }
        SecondFactor::RecoveryCode(code) => {
            (use_recovery_code(souk, tx.conn(), account.id, code).await?, "password+recovery_code")
        }
    };
    if !ok || !store::complete_pending_login(tx.conn(), &hash, now).await? {
        store::fail_pending_login(tx.conn(), &hash).await?;
        tx.record(&[event(
            account_actor(&account, client),
            "login.second_factor",
            account.id.to_string(),
            Outcome::Failure,
            client,
            serde_json::json!({ "method": method }),
        )])
        .await?;
        tx.commit().await?;
        return Err(CoreError::Unauthenticated);
    }
    let session = issue(souk, tx.conn(), &account, method, client).await?;
    let new_device = remember_device(souk, tx.conn(), &account, client).await?;
    tx.record(&[event(
        account_actor(&account, client),
        "login.success",
        account.id.to_string(),
        Outcome::Success,
        client,
        serde_json::json!({ "method": method, "session": session.id, "new_device": new_device }),
    )])
    .await?;
    tx.commit().await?;
    if new_device {
        alert_new_device(souk, &account, client).await;
    }
    Ok(session)
}

pub(crate) async fn use_recovery_code(
    souk: &Souk,
    tx: &mut sqlx::AnyConnection,
    account: souk_domain::ids::AccountId,
    code: &SecretString,
) -> Result<bool, CoreError> {
    use secrecy::ExposeSecret as _;
    let key = souk_identity::recovery::RecoveryKey::new(souk.identity.recovery_key.expose());
    let Some(hash) = key.hash(code.expose_secret()) else { return Ok(false) };
    Ok(factors::use_recovery_code(tx, account, &hash, souk.clock.now()).await?)
}

/// Mails the owners of accounts whose password was used without the second factor being
/// completed within three minutes. Run periodically; each sign-in is alerted on once.
pub async fn alert_unfinished_sign_ins(souk: &Souk) -> Result<usize, CoreError> {
    let now = souk.clock.now();
    let before = Timestamp::from_micros(now.as_micros() - UNFINISHED_ALERT_SECS * 1_000_000);
    let mut conn = souk.store.conn().await?;
    let stale = store::take_stale_pending_logins(&mut conn, before, now).await?;
    store::purge_expired(&mut conn, Timestamp::from_micros(now.as_micros() - 86_400_000_000)).await?;
    drop(conn);
    for (account, _) in &stale {
        let body = format!(
            "Someone entered the correct password for your Souk account but did not complete the second step.\n\n\
             If this was not you, your password is known to someone else: change it now at {}/account/security. \
             Your second factor stopped them.",
            souk.identity.config.public_url
        );
        match super::signup::compose(
            souk,
            *account,
            "Your Souk password was used without the second step",
            &body,
        )
        .await
        {
            Ok(mail) => souk.identity.send_later(mail),
            Err(e) => tracing::warn!(error = %e, "could not compose an unfinished sign-in alert"),
        }
    }
    Ok(stale.len())
}
