//! Sign-up, sign-in, password reset and the account pages (security centre, devices),
//! server-rendered. Every form that acts on a session carries its CSRF token; sign-in
//! forms are protected by the Origin check of the auth middleware. Links from mail open a
//! page with a button (a POST), so mail scanners that follow links cannot use them up.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use souk_core::CoreError;
use souk_core::identity::login::{LoginOutcome, SecondFactor};
use souk_core::identity::sessions::{Authenticated, IssuedSession};
use souk_core::identity::{login, mfa, password, sessions, signup, status};
use souk_identity::session::{SameSite, SessionToken, clear_cookie};

use super::account_views::{
    ApiKeyItem, ApiKeysPage, ConfirmLinkPage, DevMailPage, LoginPage, MessagePage, PasskeyItem, ReauthPage,
    RecoveryCodesPage, ResetPage, SecondFactorPage, SecurityPage, SessionRow, SessionsPage, SetupPage,
    SignUpPage, TotpSetupPage,
};
use super::forms::{SignedInForm, check_csrf, csrf_field, require};
use super::views::Layout;
use super::{page_with_status, render};
use crate::api::auth::append_cookie;
use crate::middleware::auth::{
    ClientInfo, MaybeSession, PENDING_COOKIE, cookie, device_cookie, ensure_device,
};
use crate::{AppState, Problem};

/// What a failed form shows inline; anything else becomes the error page.
fn inline(e: CoreError) -> Result<String, Problem> {
    match e {
        CoreError::Invalid { field, reason } => Ok(format!("{}: {reason}.", capitalize(field))),
        CoreError::Unauthenticated => {
            Ok("The email or password is not right, or the code was not accepted.".into())
        }
        CoreError::Throttled { retry_after_secs } => {
            Ok(format!("Too many attempts. Wait {} seconds, then try again.", retry_after_secs.max(1)))
        }
        CoreError::MfaRequired => {
            Ok("Your role requires a passkey or an authenticator app: add one first.".into())
        }
        CoreError::Conflict(reason) => Ok(reason),
        other => Err(other.into()),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// Only a path on this site, never `//host` or `/\host` (open redirects).
fn safe_next(next: Option<&str>) -> String {
    match next {
        // Browsers drop tabs and newlines inside URLs and read `\` as `/`, so `/\t/evil` would
        // become `//evil`: any control character or backslash is refused outright.
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains(|c: char| c.is_control() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => "/account/security".to_owned(),
    }
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn signed_in(s: &IssuedSession, next: &str, device: Option<&SessionToken>) -> Response {
    let mut res = see_other(next);
    let (same_site, max_age) =
        if s.staff { (SameSite::Strict, 8 * 3600) } else { (SameSite::Lax, 7 * 86_400) };
    append_cookie(&mut res, &s.token.set_cookie(same_site, max_age));
    append_cookie(
        &mut res,
        &format!("{PENDING_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    if let Some(d) = device {
        append_cookie(&mut res, &device_cookie(d));
    }
    res
}

fn min_length(state: &AppState) -> usize {
    state.souk().identity.config.password_policy.min_single_factor
}

// ---- sign-up -----------------------------------------------------------------------------

pub(crate) async fn signup_form(State(state): State<AppState>) -> Result<Html<String>, Problem> {
    render(&SignUpPage {
        layout: Layout::new("Create an account"),
        error: String::new(),
        notice: String::new(),
        email: String::new(),
        name: String::new(),
        phrase: String::new(),
        min_length: min_length(&state),
    })
}

#[derive(Deserialize)]
pub(crate) struct SignUpForm {
    email: String,
    name: String,
    password: SecretString,
    #[serde(default)]
    phrase: String,
}

pub(crate) async fn signup(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Form(f): Form<SignUpForm>,
) -> Result<Response, Problem> {
    let password = (!f.password.expose_secret().is_empty()).then_some(f.password);
    let req = signup::SignUp {
        email: f.email.clone(),
        name: f.name.clone(),
        password,
        phrase: (!f.phrase.trim().is_empty()).then(|| f.phrase.clone()),
    };
    match signup::sign_up(state.souk(), req, &client).await {
        Ok(()) => Ok(render(&MessagePage {
            layout: Layout::new("Check your inbox"),
            heading: "Check your inbox".into(),
            paragraphs: vec![
                format!("We sent a mail to {} with a link to confirm the address. It works once, within 24 hours.", f.email),
                "The mail starts with your anti-phishing phrase, if you chose one.".into(),
            ],
            link: "/login".into(),
            link_label: "Go to sign in".into(),
        })?
        .into_response()),
        Err(e) => {
            let error = inline(e)?;
            let page = SignUpPage {
                layout: Layout::new("Create an account"),
                error,
                notice: String::new(),
                email: f.email,
                name: f.name,
                phrase: f.phrase,
                min_length: min_length(&state),
            };
            page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    token: Option<String>,
}

pub(crate) async fn verify_email_page(Query(q): Query<TokenQuery>) -> Result<Html<String>, Problem> {
    render(&ConfirmLinkPage {
        layout: Layout::new("Confirm your email"),
        error: String::new(),
        notice: String::new(),
        heading: "Confirm your email address".into(),
        action: "/verify-email".into(),
        token: q.token.unwrap_or_default(),
        ask_password: false,
        min_length: 0,
        button: "Confirm my address".into(),
    })
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    token: String,
}

pub(crate) async fn verify_email(
    State(state): State<AppState>,
    ClientInfo(mut client): ClientInfo,
    Form(f): Form<TokenForm>,
) -> Result<Response, Problem> {
    let device = ensure_device(&mut client, state.souk().entropy.as_ref());
    match signup::verify_email(state.souk(), &f.token, &client).await {
        Ok(done) => Ok(match done.session {
            // A passkey-only account: signed in by the link, to add its passkey.
            Some(s) => signed_in(&s, "/account/security?welcome=1", device.as_ref()),
            None => see_other("/login?verified=1"),
        }),
        Err(e) => {
            let error = inline(e)?;
            Ok(render(&MessagePage {
                layout: Layout::new("Link not valid"),
                heading: "This link cannot be used".into(),
                paragraphs: vec![error],
                link: "/login".into(),
                link_label: "Go to sign in".into(),
            })?
            .into_response())
        }
    }
}

// ---- sign-in -----------------------------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    verified: Option<String>,
    reset: Option<String>,
}

fn login_page(error: String, notice: String, email: String, next: String) -> LoginPage {
    LoginPage {
        layout: Layout::new("Sign in"),
        error,
        notice,
        email,
        next,
        script: crate::assets::url("passkey.js"),
    }
}

pub(crate) async fn login_form(Query(q): Query<LoginQuery>) -> Result<Html<String>, Problem> {
    let notice = if q.verified.is_some() {
        "Your email address is confirmed. Sign in to continue."
    } else if q.reset.is_some() {
        "Your password was changed and your other devices were signed out. Sign in with the new one."
    } else {
        ""
    };
    render(&login_page(String::new(), notice.into(), String::new(), safe_next(q.next.as_deref())))
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    email: String,
    password: SecretString,
    next: Option<String>,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    ClientInfo(mut client): ClientInfo,
    Form(f): Form<LoginForm>,
) -> Result<Response, Problem> {
    let next = safe_next(f.next.as_deref());
    let device = ensure_device(&mut client, state.souk().entropy.as_ref());
    match login::login(state.souk(), &f.email, f.password, &client).await {
        Ok(LoginOutcome::SignedIn { session, .. }) => Ok(signed_in(&session, &next, device.as_ref())),
        Ok(LoginOutcome::SecondFactor { pending, .. }) => {
            let mut res = see_other(&format!("/login/second-factor?next={next}"));
            append_cookie(
                &mut res,
                &format!(
                    "{PENDING_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=600",
                    pending.expose().expose_secret()
                ),
            );
            if let Some(d) = &device {
                append_cookie(&mut res, &device_cookie(d));
            }
            Ok(res)
        }
        Err(e) => {
            let status = match &e {
                CoreError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            let error = inline(e)?;
            page_with_status(status, &login_page(error, String::new(), f.email, next))
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

pub(crate) async fn second_factor_form(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<NextQuery>,
) -> Result<Response, Problem> {
    if cookie(&headers, PENDING_COOKIE).is_none_or(str::is_empty) {
        return Ok(see_other("/login"));
    }
    let _ = &state;
    Ok(render(&SecondFactorPage {
        layout: Layout::new("One more step"),
        error: String::new(),
        notice: String::new(),
        next: safe_next(q.next.as_deref()),
        totp: true,
        script: crate::assets::url("passkey.js"),
    })?
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct SecondFactorForm {
    totp_code: Option<String>,
    recovery_code: Option<SecretString>,
    next: Option<String>,
}

pub(crate) async fn second_factor(
    State(state): State<AppState>,
    ClientInfo(mut client): ClientInfo,
    headers: axum::http::HeaderMap,
    Form(f): Form<SecondFactorForm>,
) -> Result<Response, Problem> {
    let next = safe_next(f.next.as_deref());
    let Some(pending) = cookie(&headers, PENDING_COOKIE).filter(|p| !p.is_empty()) else {
        return Ok(see_other("/login"));
    };
    let factor = match (f.totp_code, f.recovery_code) {
        (Some(code), _) => SecondFactor::Totp(code),
        (None, Some(code)) => SecondFactor::RecoveryCode(code),
        (None, None) => return Err(Problem::of("invalid_parameter").with_detail("Enter a code.")),
    };
    let device = ensure_device(&mut client, state.souk().entropy.as_ref());
    match login::complete_second_factor(state.souk(), pending, factor, &client).await {
        Ok(session) => Ok(signed_in(&session, &next, device.as_ref())),
        Err(e) => {
            let error = inline(e)?;
            let page = SecondFactorPage {
                layout: Layout::new("One more step"),
                error,
                notice: String::new(),
                next,
                totp: true,
                script: crate::assets::url("passkey.js"),
            };
            page_with_status(StatusCode::UNAUTHORIZED, &page)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    csrf: String,
}

csrf_field!(CsrfForm, PhraseForm, NewPasswordForm, ReauthForm, CodeForm, NewKeyForm, ChangeEmailForm);

pub(crate) async fn logout(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Problem> {
    if let Some(s) = session {
        check_csrf(&state, &s, &f.csrf)?;
        sessions::sign_out(state.souk(), &s.principal, &client).await?;
    }
    let mut res = see_other("/");
    append_cookie(&mut res, &clear_cookie(SameSite::Lax));
    Ok(res)
}

// ---- password reset ----------------------------------------------------------------------

pub(crate) async fn reset_form() -> Result<Html<String>, Problem> {
    render(&ResetPage {
        layout: Layout::new("Reset your password"),
        error: String::new(),
        notice: String::new(),
    })
}

#[derive(Deserialize)]
pub(crate) struct EmailForm {
    email: String,
}

pub(crate) async fn reset(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Form(f): Form<EmailForm>,
) -> Result<Response, Problem> {
    match password::request_reset(state.souk(), &f.email, &client).await {
        Ok(()) => Ok(render(&MessagePage {
            layout: Layout::new("Check your inbox"),
            heading: "Check your inbox".into(),
            paragraphs: vec![
                "If an account uses that address, we mailed it a link to choose a new password. It works once, within 30 minutes.".into(),
                "The mail starts with your anti-phishing phrase. If it does not, it is not from us.".into(),
            ],
            link: String::new(),
            link_label: String::new(),
        })?
        .into_response()),
        Err(e) => {
            let page = ResetPage { layout: Layout::new("Reset your password"), error: inline(e)?, notice: String::new() };
            page_with_status(StatusCode::TOO_MANY_REQUESTS, &page)
        }
    }
}

pub(crate) async fn reset_confirm_page(
    State(state): State<AppState>,
    Query(q): Query<TokenQuery>,
) -> Result<Html<String>, Problem> {
    render(&ConfirmLinkPage {
        layout: Layout::new("Choose a new password"),
        error: String::new(),
        notice: String::new(),
        heading: "Choose a new password".into(),
        action: "/reset/confirm".into(),
        token: q.token.unwrap_or_default(),
        ask_password: true,
        min_length: min_length(&state),
        button: "Set password".into(),
    })
}

#[derive(Deserialize)]
pub(crate) struct ResetConfirmForm {
    token: String,
    password: SecretString,
}

pub(crate) async fn reset_confirm(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Form(f): Form<ResetConfirmForm>,
) -> Result<Response, Problem> {
    match password::reset(state.souk(), &f.token, f.password, &client).await {
        Ok(()) => Ok(see_other("/login?reset=1")),
        Err(e) => {
            let page = ConfirmLinkPage {
                layout: Layout::new("Choose a new password"),
                error: inline(e)?,
                notice: String::new(),
                heading: "Choose a new password".into(),
                action: "/reset/confirm".into(),
                token: f.token,
                ask_password: true,
                min_length: min_length(&state),
                button: "Set password".into(),
            };
            page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

// ---- account pages -----------------------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct NoticeQuery {
    done: Option<String>,
    welcome: Option<String>,
}

async fn security_page(
    state: &AppState,
    s: &Authenticated,
    error: String,
    notice: String,
) -> Result<SecurityPage, Problem> {
    let st = status::status(state.souk(), &s.principal).await?;
    let day = |t: souk_domain::Timestamp| t.to_rfc3339().chars().take(10).collect::<String>();
    let passkey_list = souk_core::identity::passkeys::list(state.souk(), &s.principal)
        .await?
        .into_iter()
        .map(|p| PasskeyItem {
            id: p.id,
            name: p.name,
            created_at: day(p.created_at),
            last_used_at: p.last_used_at.map(day).unwrap_or_default(),
        })
        .collect();
    Ok(SecurityPage {
        passkey_list,
        script: crate::assets::url("passkey.js"),
        layout: Layout::new("Security centre"),
        error,
        notice,
        csrf: s.csrf.clone(),
        advice: st.advice(),
        email: st.email,
        email_verified: st.email_verified,
        has_password: st.has_password,
        passkeys: st.passkeys,
        totp: st.totp,
        recovery_codes_left: st.recovery_codes_left,
        phrase: st.phrase.unwrap_or_default(),
        mfa_required_missing: st.mfa_required_missing,
        min_length: min_length(state),
    })
}

pub(crate) async fn security(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = match require(session, "/account/security") {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    let notice = match (q.done.as_deref(), q.welcome.is_some()) {
        (_, true) => "Welcome! Your address is confirmed. Add a passkey below to be able to sign in again.",
        (Some("phrase"), _) => "Your anti-phishing phrase is saved.",
        (Some("password"), _) => "Your password was changed and your other devices were signed out.",
        (Some("passkey"), _) => "Your passkey was added. You can now sign in with it.",
        (Some("passkey-removed"), _) => "The passkey was removed.",
        (Some("totp"), _) => "Your authenticator app is on.",
        (Some("totp-removed"), _) => "The authenticator app was removed.",
        _ => "",
    };
    Ok(render(&security_page(&state, &s, String::new(), notice.into()).await?)?.into_response())
}

#[derive(Deserialize)]
pub(crate) struct PhraseForm {
    csrf: String,
    phrase: String,
}

pub(crate) async fn set_phrase(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, f): SignedInForm<PhraseForm>,
) -> Result<Response, Problem> {
    match signup::set_phrase(state.souk(), &s.principal, &f.phrase, &client).await {
        Ok(()) => Ok(see_other("/account/security?done=phrase")),
        Err(e) => {
            let page = security_page(&state, &s, inline(e)?, String::new()).await?;
            page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct NewPasswordForm {
    csrf: String,
    new_password: SecretString,
}

pub(crate) async fn change_password(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, f): SignedInForm<NewPasswordForm>,
) -> Result<Response, Problem> {
    match password::change(state.souk(), &s.principal, f.new_password, &client).await {
        Ok(()) => Ok(see_other("/account/security?done=password")),
        Err(CoreError::StepUpRequired) => Ok(see_other("/account/reauth?next=/account/security")),
        Err(e) => {
            let page = security_page(&state, &s, inline(e)?, String::new()).await?;
            page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

pub(crate) async fn reauth_form(
    MaybeSession(session): MaybeSession,
    Query(q): Query<NextQuery>,
) -> Result<Response, Problem> {
    let s = match require(session, "/account/security") {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    Ok(render(&ReauthPage {
        layout: Layout::new("Confirm it is you"),
        error: String::new(),
        notice: String::new(),
        csrf: s.csrf.clone(),
        next: safe_next(q.next.as_deref()),
        script: crate::assets::url("passkey.js"),
    })?
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct ReauthForm {
    csrf: String,
    password: SecretString,
    next: Option<String>,
}

pub(crate) async fn reauth(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, f): SignedInForm<ReauthForm>,
) -> Result<Response, Problem> {
    let next = safe_next(f.next.as_deref());
    match sessions::reauthenticate_with_password(state.souk(), &s.principal, f.password, &client).await {
        Ok(()) => Ok(see_other(&next)),
        Err(e) => {
            let page = ReauthPage {
                layout: Layout::new("Confirm it is you"),
                error: inline(e)?,
                notice: String::new(),
                csrf: s.csrf.clone(),
                next,
                script: crate::assets::url("passkey.js"),
            };
            page_with_status(StatusCode::UNAUTHORIZED, &page)
        }
    }
}

pub(crate) async fn sessions_page(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
) -> Result<Response, Problem> {
    let s = match require(session, "/account/sessions") {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    let list = sessions::list(state.souk(), &s.principal).await?;
    let when =
        |t: souk_domain::Timestamp| t.to_rfc3339().chars().take(16).collect::<String>().replace('T', " ");
    Ok(render(&SessionsPage {
        layout: Layout::new("Your devices"),
        error: String::new(),
        notice: String::new(),
        csrf: s.csrf.clone(),
        sessions: list
            .into_iter()
            .map(|v| SessionRow {
                created_at: when(v.created_at),
                last_seen_at: when(v.last_seen_at),
                id: v.id,
                device: v.device,
                place: v.place,
                method: v.method,
                current: v.current,
            })
            .collect(),
    })?
    .into_response())
}

pub(crate) async fn revoke_session(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(id): Path<String>,
    SignedInForm(s, _): SignedInForm<CsrfForm>,
) -> Result<Response, Problem> {
    sessions::revoke(state.souk(), &s.principal, &id, &client).await?;
    Ok(see_other("/account/sessions"))
}

pub(crate) async fn revoke_others(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, _): SignedInForm<CsrfForm>,
) -> Result<Response, Problem> {
    sessions::revoke_others(state.souk(), &s.principal, &client).await?;
    Ok(see_other("/account/sessions"))
}

pub(crate) async fn remove_passkey(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(id): Path<String>,
    SignedInForm(s, _): SignedInForm<CsrfForm>,
) -> Result<Response, Problem> {
    match souk_core::identity::passkeys::remove(state.souk(), &s.principal, &id, &client).await {
        Ok(()) => Ok(see_other("/account/security?done=passkey-removed")),
        Err(CoreError::StepUpRequired) => Ok(see_other("/account/reauth?next=/account/security")),
        Err(CoreError::Conflict(reason)) => {
            let page = security_page(&state, &s, reason, String::new()).await?;
            page_with_status(StatusCode::CONFLICT, &page)
        }
        Err(e) => Err(e.into()),
    }
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn codes_page(notice: &str, codes: &[SecretString]) -> Result<Response, Problem> {
    Ok(no_store(
        render(&RecoveryCodesPage {
            layout: Layout::new("Recovery codes"),
            notice: notice.to_owned(),
            codes: codes.iter().map(|c| c.expose_secret().to_owned()).collect(),
        })?
        .into_response(),
    ))
}

pub(crate) async fn totp_start(
    State(state): State<AppState>,
    SignedInForm(s, _): SignedInForm<CsrfForm>,
) -> Result<Response, Problem> {
    match mfa::start_totp(state.souk(), &s.principal).await {
        Ok(e) => Ok(no_store(
            render(&TotpSetupPage {
                layout: Layout::new("Add an authenticator app"),
                error: String::new(),
                notice: String::new(),
                csrf: s.csrf.clone(),
                qr_svg: e.qr_svg,
                secret: e.secret_base32.expose_secret().to_owned(),
            })?
            .into_response(),
        )),
        Err(CoreError::StepUpRequired) => Ok(see_other("/account/reauth?next=/account/security")),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    csrf: String,
    code: String,
}

pub(crate) async fn totp_confirm(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, f): SignedInForm<CodeForm>,
) -> Result<Response, Problem> {
    match mfa::confirm_totp(state.souk(), &s.principal, &f.code, &client).await {
        Ok(codes) if codes.is_empty() => Ok(see_other("/account/security?done=totp")),
        Ok(codes) => codes_page("Your authenticator app is on.", &codes),
        Err(e) => {
            let page = MessagePage {
                layout: Layout::new("Code not accepted"),
                heading: "That code was not accepted".into(),
                paragraphs: vec![inline(e)?, "Start again from the security centre.".into()],
                link: "/account/security".into(),
                link_label: "Back to the security centre".into(),
            };
            page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

pub(crate) async fn totp_disable(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, _): SignedInForm<CsrfForm>,
) -> Result<Response, Problem> {
    match mfa::disable_totp(state.souk(), &s.principal, &client).await {
        Ok(()) => Ok(see_other("/account/security?done=totp-removed")),
        Err(CoreError::StepUpRequired) => Ok(see_other("/account/reauth?next=/account/security")),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn recovery_codes(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, _): SignedInForm<CsrfForm>,
) -> Result<Response, Problem> {
    match mfa::regenerate_recovery_codes(state.souk(), &s.principal, &client).await {
        Ok(codes) => codes_page("New recovery codes: the old ones no longer work.", &codes),
        Err(CoreError::StepUpRequired) => Ok(see_other("/account/reauth?next=/account/security")),
        Err(e) => Err(e.into()),
    }
}

async fn api_keys_page(
    state: &AppState,
    s: &Authenticated,
    error: String,
    notice: String,
    token: String,
) -> Result<ApiKeysPage, Problem> {
    let day = |t: souk_domain::Timestamp| t.to_rfc3339().chars().take(10).collect::<String>();
    let keys = souk_core::identity::api_keys::list(state.souk(), &s.principal)
        .await?
        .into_iter()
        .map(|k| ApiKeyItem {
            scopes: k.scopes.join(" "),
            expires_at: day(k.expires_at),
            last_used_at: k.last_used_at.map_or_else(|| "never".to_owned(), day),
            id: k.id,
            name: k.name,
            revoked: k.revoked,
        })
        .collect();
    Ok(ApiKeysPage { layout: Layout::new("API keys"), error, notice, csrf: s.csrf.clone(), token, keys })
}

pub(crate) async fn api_keys(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
) -> Result<Response, Problem> {
    let s = match require(session, "/account/api-keys") {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    Ok(render(&api_keys_page(&state, &s, String::new(), String::new(), String::new()).await?)?
        .into_response())
}

#[derive(Deserialize)]
pub(crate) struct NewKeyForm {
    csrf: String,
    name: String,
    scopes: String,
    expires_in_days: String,
}

pub(crate) async fn create_api_key(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, f): SignedInForm<NewKeyForm>,
) -> Result<Response, Problem> {
    let days = f.expires_in_days.trim().parse::<u32>().unwrap_or(0);
    match souk_core::identity::api_keys::create(state.souk(), &s.principal, &f.name, &f.scopes, days, &client)
        .await
    {
        Ok(created) => {
            let token = created.token.expose_secret().to_owned();
            let page = api_keys_page(&state, &s, String::new(), "Key created.".into(), token).await?;
            Ok(no_store(render(&page)?.into_response()))
        }
        Err(CoreError::StepUpRequired) => Ok(see_other("/account/reauth?next=/account/api-keys")),
        Err(e) => {
            let page = api_keys_page(&state, &s, inline(e)?, String::new(), String::new()).await?;
            page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

pub(crate) async fn revoke_api_key(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(id): Path<String>,
    SignedInForm(s, _): SignedInForm<CsrfForm>,
) -> Result<Response, Problem> {
    souk_core::identity::api_keys::revoke(state.souk(), &s.principal, &id, &client).await?;
    Ok(see_other("/account/api-keys"))
}

#[derive(Deserialize)]
pub(crate) struct ChangeEmailForm {
    csrf: String,
    email: String,
}

pub(crate) async fn change_email(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, f): SignedInForm<ChangeEmailForm>,
) -> Result<Response, Problem> {
    match souk_core::identity::email::request_change(state.souk(), &s.principal, &f.email, &client).await {
        Ok(()) => Ok(render(&MessagePage {
            layout: Layout::new("Check the new inbox"),
            heading: "Check the new inbox".into(),
            paragraphs: vec![format!(
                "We mailed a link to {}. Your address changes when you open it (within 24 hours); then every device is signed out.",
                f.email
            )],
            link: "/account/security".into(),
            link_label: "Back to the security centre".into(),
        })?
        .into_response()),
        Err(CoreError::StepUpRequired) => Ok(see_other("/account/reauth?next=/account/security")),
        Err(e) => {
            let page = security_page(&state, &s, inline(e)?, String::new()).await?;
            page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

pub(crate) async fn confirm_email_page(Query(q): Query<TokenQuery>) -> Result<Html<String>, Problem> {
    render(&ConfirmLinkPage {
        layout: Layout::new("Confirm your new address"),
        error: String::new(),
        notice: String::new(),
        heading: "Confirm your new email address".into(),
        action: "/confirm-email".into(),
        token: q.token.unwrap_or_default(),
        ask_password: false,
        min_length: 0,
        button: "Confirm the new address".into(),
    })
}

pub(crate) async fn confirm_email(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Form(f): Form<TokenForm>,
) -> Result<Response, Problem> {
    let result = souk_core::identity::email::confirm_change(state.souk(), &f.token, &client).await;
    let (heading, text) = match result {
        Ok(()) => (
            "Address changed",
            "Your new address is confirmed. Every device was signed out: sign in again.".to_owned(),
        ),
        Err(e) => ("This link cannot be used", inline(e)?),
    };
    let mut res = render(&MessagePage {
        layout: Layout::new(heading),
        heading: heading.into(),
        paragraphs: vec![text],
        link: "/login".into(),
        link_label: "Sign in".into(),
    })?
    .into_response();
    append_cookie(&mut res, &clear_cookie(SameSite::Lax));
    Ok(res)
}

pub(crate) async fn setup_page(Query(q): Query<TokenQuery>) -> Result<Html<String>, Problem> {
    render(&SetupPage {
        layout: Layout::new("Set up Souk"),
        error: String::new(),
        notice: String::new(),
        token: q.token.unwrap_or_default(),
        email: String::new(),
        name: String::new(),
    })
}

#[derive(Deserialize)]
pub(crate) struct SetupForm {
    token: String,
    email: String,
    name: String,
}

pub(crate) async fn setup(
    State(state): State<AppState>,
    ClientInfo(mut client): ClientInfo,
    Form(f): Form<SetupForm>,
) -> Result<Response, Problem> {
    let device = ensure_device(&mut client, state.souk().entropy.as_ref());
    match souk_core::staff::complete_setup(state.souk(), &f.token, &f.email, &f.name, &client).await {
        Ok(session) => Ok(signed_in(&session, "/account/security?welcome=1", device.as_ref())),
        Err(e) => {
            let page = SetupPage {
                layout: Layout::new("Set up Souk"),
                error: match e {
                    CoreError::Conflict(reason) => reason,
                    other => inline(other)?,
                },
                notice: String::new(),
                token: f.token,
                email: f.email,
                name: f.name,
            };
            page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

/// The development outbox, for loopback clients while mail goes to the outbox folder: it
/// holds live single-use links, so nobody else may read it.
pub(crate) async fn dev_mail(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    headers: axum::http::HeaderMap,
) -> Result<Response, Problem> {
    let souk_core::mail::Mailer::Outbox(dir) = &state.souk().identity.mailer else {
        return Err(Problem::of("not_found"));
    };
    // SECURITY: behind a reverse proxy on the same host every request comes from loopback;
    // a request that passed through a proxy (it says so in its headers) is not this machine.
    let proxied = ["forwarded", "x-forwarded-for", "x-real-ip"].iter().any(|h| headers.contains_key(*h));
    if proxied || !client.ip.is_some_and(|ip| ip.is_loopback()) {
        return Err(Problem::of("not_found"));
    }
    let dir = dir.clone();
    let messages = tokio::task::spawn_blocking(move || souk_core::mail::read_outbox(&dir, 50))
        .await
        .map_err(|_| Problem::of("internal"))?
        .map_err(|_| Problem::of("internal"))?;
    let mut res = render(&DevMailPage { layout: Layout::new("Mail outbox"), messages })?.into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_only_ever_a_path_on_this_site() {
        assert_eq!(safe_next(Some("/account/sessions")), "/account/sessions");
        for evil in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "https://evil.example",
            "evil",
            "/a\\b",
        ] {
            assert_eq!(safe_next(Some(evil)), "/account/security", "{evil:?}");
        }
        assert_eq!(safe_next(None), "/account/security");
    }
}
