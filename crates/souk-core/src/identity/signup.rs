//! Sign-up and email verification. Sign-up answers "check your inbox" whether or not the
//! address already has an account, after the same work (a password hash either way); the
//! owner of an existing address gets a mail saying someone tried, never the attacker.

use secrecy::SecretString;
use souk_crypto::{FieldContext, Sealed, Subject};
use souk_domain::ids::AccountId;
use souk_identity::session::SessionToken;
use souk_store::identity::signin as store;
use sqlx::AnyConnection;

use super::sessions::IssuedSession;
use super::{Client, internal};
use crate::audit::{Actor, AuditedTx, Event, Outcome};
use crate::keys::Revealed;
use crate::mail::Mail;
use crate::{CoreError, Souk};

/// What a new member gives.
#[derive(Debug)]
pub struct SignUp {
    pub email: String,
    pub name: String,
    /// Absent for a passkey-only account: the verification link signs them in to add one.
    pub password: Option<SecretString>,
    /// The anti-phishing phrase every mail will carry.
    pub phrase: Option<String>,
}

/// The longest display name and anti-phishing phrase accepted.
const MAX_NAME: usize = 100;
const MAX_PHRASE: usize = 64;

/// Checks an email address's shape (RFC 5321 limits; lettre's parser).
pub fn valid_email(email: &str) -> Result<String, CoreError> {
    let trimmed = email.trim();
    if trimmed.len() > 254 || trimmed.parse::<lettre::Address>().is_err() {
        return Err(CoreError::invalid("email", "enter an email address like name@example.com"));
    }
    Ok(trimmed.to_owned())
}

fn clean_text(field: &'static str, value: &str, max: usize, required: bool) -> Result<String, CoreError> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(CoreError::invalid(field, "this is required"));
    }
    if v.chars().count() > max {
        return Err(CoreError::invalid(field, format!("use at most {max} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(CoreError::invalid(field, "control characters are not allowed"));
    }
    Ok(v.to_owned())
}

/// The user-facing reason a password was refused, with zxcvbn's advice.
pub(crate) fn password_refusal(r: &souk_identity::Rejection) -> CoreError {
    let mut reason = r.to_string();
    if let souk_identity::Rejection::Guessable { warning, suggestions, .. } = r {
        for line in warning.iter().chain(suggestions) {
            reason.push_str(". ");
            reason.push_str(line.trim_end_matches('.'));
        }
    }
    CoreError::Invalid { field: "password", reason }
}

fn ctx<'a>(column: &'static str, row: &'a str) -> FieldContext<'a> {
    FieldContext { table: "accounts", column, row_id: row }
}

/// Signs up a buyer. The answer is the same whether or not the address is taken, and takes
/// at least [`super::ANSWER_FLOOR`] either way.
pub async fn sign_up(souk: &Souk, req: SignUp, client: &Client) -> Result<(), CoreError> {
    // Each sign-up may send a mail (to a new address or the owner of a taken one): the
    // sign-in budget per address and network keeps this from becoming a mail cannon.
    souk.identity.gate.check(client.ip).map_err(|s| CoreError::Throttled { retry_after_secs: s })?;
    let started = tokio::time::Instant::now();
    let result = sign_up_inner(souk, req, client).await;
    if result.is_ok() {
        super::pad(started).await;
    }
    result
}

/// The rest of a new account, in its transaction: the anti-phishing phrase, and the risk
/// step's decision on the sign-up (counted per IP, network and email domain).
async fn finish_account(
    souk: &Souk,
    conn: &mut sqlx::AnyConnection,
    id: AccountId,
    email: &str,
    phrase: Option<&str>,
    client: &Client,
) -> Result<(), CoreError> {
    if let Some(p) = phrase {
        set_phrase_in(souk, conn, id, p).await?;
    }
    let mut signals = crate::risk::Signals::new(crate::risk::EventKind::Signup);
    signals.email = Some(email.to_owned());
    let signals = crate::risk::facts::of_account(souk, conn, id, client, signals).await?;
    crate::risk::observe(souk, conn, &signals, false, &[("signup", 0)]).await?;
    Ok(())
}

async fn sign_up_inner(souk: &Souk, req: SignUp, client: &Client) -> Result<(), CoreError> {
    let email = valid_email(&req.email)?;
    let name = clean_text("name", &req.name, MAX_NAME, true)?;
    let phrase = match req.phrase.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => Some(clean_text("phrase", p, MAX_PHRASE, false)?),
        _ => None,
    };
    if let Some(pw) = &req.password {
        souk.identity
            .config
            .password_policy
            .check(pw, false, &[&email, &name])
            .map_err(|r| password_refusal(&r))?;
    }
    // The hash is computed whether or not the account exists, so timing tells nothing.
    let hash = match req.password {
        Some(pw) => Some(souk.identity.hash_password(pw, souk.entropy.clone()).await?),
        None => None,
    };
    if let Some(existing) = crate::accounts::find_by_email(souk, &email).await? {
        let mut tx = AuditedTx::begin(souk).await?;
        tx.record(&[Event {
            actor: Actor {
                kind: "anonymous",
                id: String::new(),
                role: String::new(),
                credential: String::new(),
                ip: None,
            },
            action: "account.sign_up_existing",
            target_kind: "account",
            target_id: existing.to_string(),
            outcome: Outcome::Denied,
            request_id: client.request_id.clone(),
            detail: serde_json::json!({}),
        }])
        .await?;
        tx.commit().await?;
        let mail = compose(
            souk,
            existing,
            "Someone tried to sign up with your address",
            &format!(
                "Someone (maybe you) tried to create a Souk account with this address, which already has one.\n\n\
                 If it was you, sign in at {url}/login, or reset your password at {url}/reset.\n\
                 If it was not you, you need do nothing: no account was created.",
                url = souk.identity.config.public_url
            ),
        )
        .await?;
        souk.identity.send_later(mail);
        return Ok(());
    }
    let now = souk.clock.now();
    let id = AccountId::new(now, souk.entropy.as_ref());
    let mut tx = AuditedTx::begin(souk).await?;
    let compact = id.to_string().replace('-', "");
    let handle = format!("member-{}", compact.get(20..).unwrap_or_default());
    store::insert_account(tx.conn(), id, &handle, "buyer", "", now).await?;
    crate::accounts::set_profile(souk, tx.conn(), id, &email, &name, None).await?;
    if let Some(hash) = &hash {
        store::set_password(tx.conn(), id, hash.as_str(), now).await?;
    }
    finish_account(souk, tx.conn(), id, &email, phrase.as_deref(), client).await?;
    let token =
        issue_token(souk, tx.conn(), id, "verify_email", souk.identity.config.verify_link_ttl).await?;
    tx.record(&[Event {
        actor: Actor {
            kind: "account",
            id: id.to_string(),
            role: "buyer".into(),
            credential: String::new(),
            ip: client.ip,
        },
        action: "account.sign_up",
        target_kind: "account",
        target_id: id.to_string(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "password": hash.is_some(), "phrase": phrase.is_some() }),
    }])
    .await?;
    tx.commit().await?;
    let link = souk.identity.link("/verify-email", &token);
    let mail = Mail {
        to: email,
        subject: "Confirm your email address for Souk".into(),
        body: with_phrase(
            phrase.as_deref(),
            &format!(
                "Welcome to Souk.\n\nConfirm your email address by opening this link (it works once, within {} hours):\n\n{link}\n\n\
                 If you did not sign up, ignore this mail; the account stays inactive.",
                souk.identity.config.verify_link_ttl.as_secs() / 3600
            ),
        ),
    };
    souk.identity.send_later(mail);
    Ok(())
}

/// A one-time token for a link, stored as its hash.
pub(crate) async fn issue_token(
    souk: &Souk,
    tx: &mut AnyConnection,
    account: AccountId,
    purpose: &str,
    ttl: std::time::Duration,
) -> Result<SessionToken, CoreError> {
    let token = SessionToken::generate(souk.entropy.as_ref());
    let now = souk.clock.now();
    let ttl_micros = i64::try_from(ttl.as_micros()).map_err(internal)?;
    let expires = souk_domain::Timestamp::from_micros(now.as_micros().saturating_add(ttl_micros));
    store::insert_token(tx, &token.key().0, purpose, Some(account), now, expires).await?;
    Ok(token)
}

pub(crate) async fn set_phrase_in(
    souk: &Souk,
    tx: &mut AnyConnection,
    id: AccountId,
    phrase: &str,
) -> Result<(), CoreError> {
    let row = id.to_string();
    let sealed = souk
        .keys
        .seal(
            tx,
            Subject { kind: "account", id: &row },
            &ctx("phrase", &row),
            phrase.as_bytes(),
            souk.clock.now(),
        )
        .await?;
    store::set_phrase(tx, id, &sealed).await?;
    Ok(())
}

/// The account's anti-phishing phrase, if set and not erased.
pub async fn phrase(souk: &Souk, id: AccountId) -> Result<Option<String>, CoreError> {
    let mut conn = souk.store.conn().await?;
    let Some(sealed) = store::phrase(&mut conn, id).await? else { return Ok(None) };
    let row = id.to_string();
    Ok(
        match souk
            .keys
            .reveal(
                &mut conn,
                Subject { kind: "account", id: &row },
                &ctx("phrase", &row),
                &Sealed::from_stored(sealed),
            )
            .await?
        {
            Revealed::Text(t) => Some(t),
            Revealed::Erased => None,
        },
    )
}

/// Sets the anti-phishing phrase (audited).
pub async fn set_phrase(
    souk: &Souk,
    principal: &super::Principal,
    value: &str,
    client: &Client,
) -> Result<(), CoreError> {
    crate::authz::own_account(souk, principal, souk_access::Action::AccountUpdate, client).await?;
    let p = clean_text("phrase", value, MAX_PHRASE, true)?;
    let mut tx = AuditedTx::begin(souk).await?;
    set_phrase_in(souk, tx.conn(), principal.account, &p).await?;
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "account.set_phrase",
        target_kind: "account",
        target_id: principal.account.to_string(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({}),
    }])
    .await?;
    tx.commit().await
}

pub(crate) fn with_phrase(phrase: Option<&str>, body: &str) -> String {
    let banner = match phrase {
        Some(p) => format!(
            "Your anti-phishing phrase: {p}\n(Every mail from Souk shows it. A mail claiming to be from Souk without it is not from us.)"
        ),
        None => "You have not chosen an anti-phishing phrase yet. Choose one in your security centre: every mail from Souk \
                 will then show it, so you can tell our mail from phishing."
            .to_owned(),
    };
    format!(
        "{banner}\n\n{body}\n\nSouk never asks for your password, codes or card details by mail, and never asks you to pay outside Souk.\n"
    )
}

/// A mail to an account's own address, with its phrase.
pub(crate) async fn compose(
    souk: &Souk,
    account: AccountId,
    subject: &str,
    body: &str,
) -> Result<Mail, CoreError> {
    let profile = crate::accounts::profile(souk, account).await?;
    let Revealed::Text(to) = profile.email else { return Err(CoreError::NotFound("account")) };
    let phrase = phrase(souk, account).await?;
    Ok(Mail { to, subject: subject.to_owned(), body: with_phrase(phrase.as_deref(), body) })
}

/// What following a verification link did.
#[derive(Debug)]
pub struct Verified {
    pub account: AccountId,
    /// Issued when the account has no way to sign in yet (passkey-only sign-up): the link
    /// proved control of the address, and the user adds a passkey next.
    pub session: Option<IssuedSession>,
}

/// Follows an email verification link: once, before it expires.
pub async fn verify_email(souk: &Souk, token: &str, client: &Client) -> Result<Verified, CoreError> {
    let token =
        SessionToken::from_cookie(token).ok_or(CoreError::invalid("token", "this link is not valid"))?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let store::Consumed::Used(Some(account)) =
        store::consume_token(tx.conn(), &token.key().0, "verify_email", now).await?
    else {
        return Err(CoreError::invalid(
            "token",
            "this link has expired or was already used; sign in to get a new one",
        ));
    };
    store::mark_email_verified(tx.conn(), account, now).await?;
    let auth = store::account_auth(tx.conn(), account).await?.ok_or(CoreError::NotFound("account"))?;
    let has_password = store::password(tx.conn(), account).await?.is_some();
    let has_passkey = !souk_store::identity::factors::passkeys_of(tx.conn(), account).await?.is_empty();
    let session = if has_password || has_passkey {
        None
    } else {
        Some(super::sessions::issue(souk, tx.conn(), &auth, "email_link", client).await?)
    };
    tx.record(&[Event {
        actor: Actor {
            kind: "account",
            id: account.to_string(),
            role: auth.role.clone(),
            credential: String::new(),
            ip: client.ip,
        },
        action: "account.verify_email",
        target_kind: "account",
        target_id: account.to_string(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "signed_in": session.is_some() }),
    }])
    .await?;
    tx.commit().await?;
    Ok(Verified { account, session })
}
