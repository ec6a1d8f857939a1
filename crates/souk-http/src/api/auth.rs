//! Identity over the JSON API: sign-up, email verification, sign-in (with a second
//! factor), sign-out, password reset, and the signed-in user's own security settings.
//! Browsers get the session in a `__Host-` cookie; cookie-authenticated calls that change
//! state send the `csrf_token` from the sign-in response as `X-CSRF-Token`.

use axum::Json;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use souk_core::identity::login::{LoginOutcome, SecondFactor};
use souk_core::identity::sessions::IssuedSession;
use souk_core::identity::{self, password, sessions, signup, status};
use souk_identity::session::{SameSite, SessionToken, clear_cookie};
use utoipa::ToSchema;

use super::dto::ProblemDoc;
use crate::middleware::auth::{Caller, ClientInfo, Session, device_cookie, ensure_device};
use crate::{AppState, Problem};

/// A JSON body whose rejections are problem documents.
pub(crate) struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(e) => {
                let code = match e.status() {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                    StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
                    StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
                    _ => "malformed_json",
                };
                Err(Problem::of(code).with_detail(e.body_text()))
            }
        }
    }
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    email: String,
    name: String,
    /// Omit for a passkey-only account: the verification link then signs you in to add one.
    #[schema(value_type = Option<String>, min_length = 15, max_length = 128)]
    password: Option<SecretString>,
    /// Your anti-phishing phrase: every mail from Souk will show it.
    phrase: Option<String>,
}

/// An accepted request whose outcome arrives by mail.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Always `check_your_email`: the answer never says whether an account exists.
    status: &'static str,
}

/// Sign up as a buyer.
#[utoipa::path(
    post, path = "/api/v1/auth/signup", tag = "identity", request_body = SignUpRequest,
    responses(
        (status = 202, description = "A verification link was mailed (or, if the address has an account, a notice to its owner)", body = Accepted),
        (status = 400, description = "A field is invalid (the password's feedback says why)", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn sign_up(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Body(req): Body<SignUpRequest>,
) -> Result<(StatusCode, Json<Accepted>), Problem> {
    signup::sign_up(
        state.souk(),
        signup::SignUp { email: req.email, name: req.name, password: req.password, phrase: req.phrase },
        &client,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { status: "check_your_email" })))
}

/// A single-use token from a mailed link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    token: String,
}

/// The signed-in session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    session_id: String,
    /// Send as `X-CSRF-Token` on state-changing calls made with the session cookie.
    csrf_token: String,
    /// The password must be changed before anything else (evidence of compromise).
    must_change_password: bool,
}

/// Sign-in needs a second factor.
#[derive(Debug, Serialize, ToSchema)]
#[allow(clippy::struct_excessive_bools, reason = "the wire format: one flag per factor")]
pub struct PendingSignIn {
    second_factor_required: bool,
    /// Present it to `/api/v1/auth/login/second-factor` within 10 minutes.
    pending_token: String,
    totp: bool,
    passkey: bool,
    recovery_codes: bool,
}

fn session_response(s: &IssuedSession, must_change: bool, new_device: Option<&SessionToken>) -> Response {
    let same_site = if s.staff { SameSite::Strict } else { SameSite::Lax };
    let max_age = if s.staff { 8 * 3600 } else { 7 * 86_400 };
    let mut res = Json(SessionResponse {
        session_id: s.id.clone(),
        csrf_token: s.csrf.clone(),
        must_change_password: must_change,
    })
    .into_response();
    append_cookie(&mut res, &s.token.set_cookie(same_site, max_age));
    if let Some(device) = new_device {
        append_cookie(&mut res, &device_cookie(device));
    }
    res
}

pub(crate) fn append_cookie(res: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Confirm an email address with the token from the mailed link.
#[utoipa::path(
    post, path = "/api/v1/auth/verify-email", tag = "identity", request_body = TokenRequest,
    responses(
        (status = 200, description = "Verified; a passkey-only account is signed in (session cookie set)", body = Object),
        (status = 400, description = "The link is invalid, used or expired", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn verify_email(
    State(state): State<AppState>,
    ClientInfo(mut client): ClientInfo,
    Body(req): Body<TokenRequest>,
) -> Result<Response, Problem> {
    let device = ensure_device(&mut client, state.souk().entropy.as_ref());
    let done = signup::verify_email(state.souk(), &req.token, &client).await?;
    Ok(match done.session {
        Some(s) => session_response(&s, false, device.as_ref()),
        None => Json(serde_json::json!({ "verified": true })).into_response(),
    })
}

/// Credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    #[schema(value_type = String)]
    password: SecretString,
}

/// Sign in with email and password.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "identity", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in (session cookie set), or a second factor is required", body = SessionResponse),
        (status = 202, description = "Second factor required (never for a wrong password)", body = PendingSignIn),
        (status = 401, description = "Not accepted (one answer for every reason)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts; see Retry-After", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientInfo(mut client): ClientInfo,
    Body(req): Body<LoginRequest>,
) -> Result<Response, Problem> {
    let device = ensure_device(&mut client, state.souk().entropy.as_ref());
    match identity::login::login(state.souk(), &req.email, req.password, &client).await? {
        LoginOutcome::SignedIn { session, must_change_password } => {
            Ok(session_response(&session, must_change_password, device.as_ref()))
        }
        LoginOutcome::SecondFactor { pending, totp, passkey, recovery_codes } => {
            use secrecy::ExposeSecret as _;
            Ok((
                StatusCode::ACCEPTED,
                Json(PendingSignIn {
                    second_factor_required: true,
                    pending_token: pending.expose().expose_secret().to_owned(),
                    totp,
                    passkey,
                    recovery_codes,
                }),
            )
                .into_response())
        }
    }
}

/// The second step of a sign-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorRequest {
    pending_token: String,
    /// A 6-digit code from the authenticator app.
    totp_code: Option<String>,
    /// One of the recovery codes (each works once).
    #[schema(value_type = Option<String>)]
    recovery_code: Option<SecretString>,
}

/// Complete a sign-in with a TOTP or recovery code.
#[utoipa::path(
    post, path = "/api/v1/auth/login/second-factor", tag = "identity", request_body = SecondFactorRequest,
    responses(
        (status = 200, description = "Signed in (session cookie set)", body = SessionResponse),
        (status = 401, description = "Not accepted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Three wrong codes: wait for the next 30-second step", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn second_factor(
    State(state): State<AppState>,
    ClientInfo(mut client): ClientInfo,
    Body(req): Body<SecondFactorRequest>,
) -> Result<Response, Problem> {
    let device = ensure_device(&mut client, state.souk().entropy.as_ref());
    let factor = match (req.totp_code, req.recovery_code) {
        (Some(code), None) => SecondFactor::Totp(code),
        (None, Some(code)) => SecondFactor::RecoveryCode(code),
        _ => {
            return Err(Problem::of("invalid_parameter")
                .with_detail("Send exactly one of totp_code or recovery_code."));
        }
    };
    let session =
        identity::login::complete_second_factor(state.souk(), &req.pending_token, factor, &client).await?;
    Ok(session_response(&session, false, device.as_ref()))
}

/// Sign out of this session.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "identity",
    responses((status = 204, description = "Signed out; the cookie is cleared"))
)]
pub async fn logout(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
) -> Result<Response, Problem> {
    sessions::sign_out(state.souk(), &s.principal, &client).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    append_cookie(&mut res, &clear_cookie(SameSite::Lax));
    Ok(res)
}

/// An email address.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    email: String,
}

/// Ask for a password reset link.
#[utoipa::path(
    post, path = "/api/v1/auth/password-reset", tag = "identity", request_body = EmailRequest,
    responses((status = 202, description = "If the address has an account, a link was mailed", body = Accepted))
)]
pub async fn request_reset(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Body(req): Body<EmailRequest>,
) -> Result<(StatusCode, Json<Accepted>), Problem> {
    password::request_reset(state.souk(), &req.email, &client).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { status: "check_your_email" })))
}

/// A new password with its reset link's token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    token: String,
    #[schema(value_type = String)]
    password: SecretString,
}

/// Set a new password with a reset link (signs out every session).
#[utoipa::path(
    post, path = "/api/v1/auth/password-reset/confirm", tag = "identity", request_body = ResetRequest,
    responses(
        (status = 204, description = "Password set; every session was revoked"),
        (status = 400, description = "The link is invalid or expired, or the password is refused", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn confirm_reset(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Body(req): Body<ResetRequest>,
) -> Result<StatusCode, Problem> {
    password::reset(state.souk(), &req.token, req.password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account and what protects it.
#[derive(Debug, Serialize, ToSchema)]
#[allow(clippy::struct_excessive_bools, reason = "the wire format: one flag per protection")]
pub struct MeResponse {
    id: String,
    handle: String,
    role: String,
    staff_roles: Vec<String>,
    email: String,
    name: String,
    email_verified: bool,
    has_password: bool,
    must_change_password: bool,
    totp: bool,
    passkeys: usize,
    recovery_codes_left: usize,
    anti_phishing_phrase: Option<String>,
    mfa_required_missing: bool,
    advice: Vec<&'static str>,
}

/// The signed-in account's profile and security status.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "identity",
    responses(
        (status = 200, description = "The account", body = MeResponse),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn me(State(state): State<AppState>, Session(s): Session) -> Result<Json<MeResponse>, Problem> {
    let p = &s.principal;
    let st = status::status(state.souk(), p).await?;
    Ok(Json(MeResponse {
        id: p.account.to_string(),
        handle: p.handle.clone(),
        role: p.role.clone(),
        staff_roles: p.staff_roles.iter().map(|r| r.as_str().to_owned()).collect(),
        advice: st.advice(),
        email: st.email,
        name: st.name,
        email_verified: st.email_verified,
        has_password: st.has_password,
        must_change_password: st.must_change_password,
        totp: st.totp,
        passkeys: st.passkeys,
        recovery_codes_left: st.recovery_codes_left,
        anti_phishing_phrase: st.phrase,
        mfa_required_missing: st.mfa_required_missing,
    }))
}

/// One signed-in device.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDto {
    id: String,
    device: String,
    /// The network the session signed in from (IPv4 /24, IPv6 /48).
    place: String,
    method: String,
    created_at: String,
    last_seen_at: String,
    current: bool,
}

/// The account's signed-in devices.
#[utoipa::path(
    get, path = "/api/v1/me/sessions", tag = "identity",
    responses(
        (status = 200, description = "Live sessions, most recent first", body = [SessionDto]),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    Session(s): Session,
) -> Result<Json<Vec<SessionDto>>, Problem> {
    let list = sessions::list(state.souk(), &s.principal).await?;
    Ok(Json(
        list.into_iter()
            .map(|v| SessionDto {
                id: v.id,
                device: v.device,
                place: v.place,
                method: v.method,
                created_at: v.created_at.to_rfc3339(),
                last_seen_at: v.last_seen_at.to_rfc3339(),
                current: v.current,
            })
            .collect(),
    ))
}

/// Sign out one device.
#[utoipa::path(
    delete, path = "/api/v1/me/sessions/{id}", tag = "identity",
    params(("id" = String, Path, description = "A session id from the list")),
    responses(
        (status = 204, description = "Revoked; it stops working on its next request"),
        (status = 404, description = "No such session of yours", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_session(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    sessions::revoke(state.souk(), &s.principal, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sign out every other device.
#[utoipa::path(
    post, path = "/api/v1/me/sessions/revoke-others", tag = "identity",
    responses((status = 200, description = "How many sessions were revoked", body = Object))
)]
pub async fn revoke_others(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
) -> Result<Json<serde_json::Value>, Problem> {
    let n = sessions::revoke_others(state.souk(), &s.principal, &client).await?;
    Ok(Json(serde_json::json!({ "revoked": n })))
}

/// A password, to confirm it is you.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    #[schema(value_type = String)]
    password: SecretString,
}

/// Confirm it is you (step-up) before a sensitive action; valid for 5 minutes.
#[utoipa::path(
    post, path = "/api/v1/me/reauthenticate", tag = "identity", request_body = PasswordRequest,
    responses(
        (status = 204, description = "Confirmed"),
        (status = 401, description = "Not accepted", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn reauthenticate(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Body(req): Body<PasswordRequest>,
) -> Result<StatusCode, Problem> {
    sessions::reauthenticate_with_password(state.souk(), &s.principal, req.password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPasswordRequest {
    #[schema(value_type = String)]
    new_password: SecretString,
}

/// Change the password (needs a step-up within 5 minutes; signs out other devices).
#[utoipa::path(
    put, path = "/api/v1/me/password", tag = "identity", request_body = NewPasswordRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "The password is refused (feedback in detail)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Step-up required", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Body(req): Body<NewPasswordRequest>,
) -> Result<StatusCode, Problem> {
    password::change(state.souk(), &s.principal, req.new_password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An anti-phishing phrase.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhraseRequest {
    phrase: String,
}

/// Set the anti-phishing phrase every mail from Souk will show.
#[utoipa::path(
    put, path = "/api/v1/me/anti-phishing-phrase", tag = "identity", request_body = PhraseRequest,
    responses((status = 204, description = "Set"))
)]
pub async fn set_phrase(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Body(req): Body<PhraseRequest>,
) -> Result<StatusCode, Problem> {
    signup::set_phrase(state.souk(), &s.principal, &req.phrase, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A started WebAuthn ceremony.
#[derive(Debug, Serialize, ToSchema)]
pub struct CeremonyResponse {
    /// Send back with the browser's answer, within 5 minutes; it works once.
    ceremony_id: String,
    /// Pass `options.publicKey` to `navigator.credentials.create()` (registration) or
    /// `.get()` (sign-in), after decoding its base64url fields.
    #[schema(value_type = Object)]
    options: serde_json::Value,
}

fn ceremony(c: souk_core::identity::passkeys::Ceremony) -> Json<CeremonyResponse> {
    use secrecy::ExposeSecret as _;
    Json(CeremonyResponse { ceremony_id: c.id.expose().expose_secret().to_owned(), options: c.options })
}

/// Start a passwordless sign-in with a passkey.
#[utoipa::path(
    post, path = "/api/v1/auth/passkey/start", tag = "identity",
    responses(
        (status = 200, description = "Options for navigator.credentials.get()", body = CeremonyResponse),
        (status = 429, description = "Too many attempts from this address", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn passkey_login_start(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
) -> Result<Json<CeremonyResponse>, Problem> {
    Ok(ceremony(identity::passkeys::start_login(state.souk(), &client).await?))
}

/// The browser's answer to a passkey sign-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyLoginRequest {
    ceremony_id: String,
    /// The `PublicKeyCredential` as JSON (base64url binary fields).
    #[schema(value_type = Object)]
    credential: souk_identity::passkey::PublicKeyCredential,
}

/// Finish a passwordless sign-in.
#[utoipa::path(
    post, path = "/api/v1/auth/passkey/finish", tag = "identity", request_body = PasskeyLoginRequest,
    responses(
        (status = 200, description = "Signed in (session cookie set)", body = SessionResponse),
        (status = 401, description = "Not accepted", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn passkey_login_finish(
    State(state): State<AppState>,
    ClientInfo(mut client): ClientInfo,
    Body(req): Body<PasskeyLoginRequest>,
) -> Result<Response, Problem> {
    let device = ensure_device(&mut client, state.souk().entropy.as_ref());
    let session =
        identity::passkeys::finish_login(state.souk(), &req.ceremony_id, &req.credential, &client).await?;
    Ok(session_response(&session, false, device.as_ref()))
}

/// Start adding a passkey to your account (needs a sign-in within 5 minutes).
#[utoipa::path(
    post, path = "/api/v1/me/passkeys/start", tag = "identity",
    responses(
        (status = 200, description = "Options for navigator.credentials.create()", body = CeremonyResponse),
        (status = 403, description = "Step-up required", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn passkey_register_start(
    State(state): State<AppState>,
    Session(s): Session,
) -> Result<Json<CeremonyResponse>, Problem> {
    Ok(ceremony(identity::passkeys::start_registration(state.souk(), &s.principal).await?))
}

/// The browser's answer to a passkey registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegisterRequest {
    ceremony_id: String,
    /// A name to tell your passkeys apart ("Work laptop").
    name: String,
    #[schema(value_type = Object)]
    credential: souk_identity::passkey::RegisterPublicKeyCredential,
}

/// One of your passkeys.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyDto {
    id: String,
    name: String,
    created_at: String,
    last_used_at: Option<String>,
}

impl From<identity::passkeys::PasskeyView> for PasskeyDto {
    fn from(v: identity::passkeys::PasskeyView) -> Self {
        Self {
            id: v.id,
            name: v.name,
            created_at: v.created_at.to_rfc3339(),
            last_used_at: v.last_used_at.map(souk_domain::Timestamp::to_rfc3339),
        }
    }
}

/// Finish adding a passkey.
#[utoipa::path(
    post, path = "/api/v1/me/passkeys", tag = "identity", request_body = PasskeyRegisterRequest,
    responses(
        (status = 201, description = "Added", body = PasskeyDto),
        (status = 401, description = "The answer did not verify", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Already registered", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn passkey_register_finish(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Body(req): Body<PasskeyRegisterRequest>,
) -> Result<(StatusCode, Json<PasskeyDto>), Problem> {
    let view = identity::passkeys::finish_registration(
        state.souk(),
        &s.principal,
        &req.ceremony_id,
        &req.name,
        &req.credential,
        &client,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// Your passkeys.
#[utoipa::path(
    get, path = "/api/v1/me/passkeys", tag = "identity",
    responses(
        (status = 200, description = "Your passkeys", body = [PasskeyDto]),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn list_passkeys(
    State(state): State<AppState>,
    Session(s): Session,
) -> Result<Json<Vec<PasskeyDto>>, Problem> {
    let list = identity::passkeys::list(state.souk(), &s.principal).await?;
    Ok(Json(list.into_iter().map(PasskeyDto::from).collect()))
}

/// Remove a passkey (needs a sign-in within 5 minutes; never your last way to sign in).
#[utoipa::path(
    delete, path = "/api/v1/me/passkeys/{id}", tag = "identity",
    params(("id" = String, Path, description = "The passkey's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such passkey of yours", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "It is your only way to sign in", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn remove_passkey(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    identity::passkeys::remove(state.souk(), &s.principal, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What to add to an authenticator app.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrolmentDto {
    /// For typing in by hand (base32).
    secret: String,
    /// The `otpauth://` URL (what the QR code holds).
    otpauth_url: String,
    /// An SVG QR code of `otpauth_url`.
    qr_svg: String,
}

/// Start adding an authenticator app (TOTP); needs a sign-in within 5 minutes.
#[utoipa::path(
    post, path = "/api/v1/me/totp", tag = "identity",
    responses(
        (status = 200, description = "The secret; confirm with a first code", body = TotpEnrolmentDto),
        (status = 403, description = "Step-up required", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "An app is already set up", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn totp_start(State(state): State<AppState>, Session(s): Session) -> Result<Response, Problem> {
    use secrecy::ExposeSecret as _;
    let e = identity::mfa::start_totp(state.souk(), &s.principal).await?;
    let mut res = Json(TotpEnrolmentDto {
        secret: e.secret_base32.expose_secret().to_owned(),
        otpauth_url: e.otpauth_url.expose_secret().to_owned(),
        qr_svg: e.qr_svg,
    })
    .into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    code: String,
}

/// Recovery codes: shown once, each works once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesDto {
    recovery_codes: Vec<String>,
}

fn codes(list: &[SecretString]) -> Json<RecoveryCodesDto> {
    use secrecy::ExposeSecret as _;
    Json(RecoveryCodesDto { recovery_codes: list.iter().map(|c| c.expose_secret().to_owned()).collect() })
}

/// Confirm the authenticator app with its first code.
#[utoipa::path(
    post, path = "/api/v1/me/totp/confirm", tag = "identity", request_body = CodeRequest,
    responses(
        (status = 200, description = "On; recovery codes issued if the account had none", body = RecoveryCodesDto),
        (status = 400, description = "Wrong code", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn totp_confirm(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Body(req): Body<CodeRequest>,
) -> Result<Json<RecoveryCodesDto>, Problem> {
    Ok(codes(&identity::mfa::confirm_totp(state.souk(), &s.principal, &req.code, &client).await?))
}

/// Remove the authenticator app (needs a sign-in within 5 minutes).
#[utoipa::path(
    delete, path = "/api/v1/me/totp", tag = "identity",
    responses((status = 204, description = "Removed"))
)]
pub async fn totp_disable(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
) -> Result<StatusCode, Problem> {
    identity::mfa::disable_totp(state.souk(), &s.principal, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the recovery codes (needs a sign-in within 5 minutes and a second factor).
#[utoipa::path(
    post, path = "/api/v1/me/recovery-codes", tag = "identity",
    responses(
        (status = 200, description = "Ten new codes; the old ones stop working", body = RecoveryCodesDto),
        (status = 409, description = "No second factor yet", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn recovery_codes(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
) -> Result<Json<RecoveryCodesDto>, Problem> {
    Ok(codes(&identity::mfa::regenerate_recovery_codes(state.souk(), &s.principal, &client).await?))
}

/// Who the caller is: a signed-in person or an API key.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    account_id: String,
    handle: String,
    role: String,
    /// `session` or `api_key`.
    credential: &'static str,
    /// The key's id, for an API key.
    api_key_id: Option<String>,
    /// The key's scopes, for an API key.
    scopes: Vec<String>,
}

/// Who is calling (works with an API key: use it to check one).
#[utoipa::path(
    get, path = "/api/v1/whoami", tag = "identity",
    responses(
        (status = 200, description = "The caller", body = WhoAmI),
        (status = 401, description = "Not signed in and no valid API key", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("session" = []))
)]
pub async fn whoami(Caller(p): Caller) -> Json<WhoAmI> {
    let (credential, api_key_id, scopes) = match &p.credential {
        identity::Credential::Session { .. } => ("session", None, Vec::new()),
        identity::Credential::ApiKey { id, scopes } => ("api_key", Some(id.clone()), scopes.clone()),
    };
    Json(WhoAmI {
        account_id: p.account.to_string(),
        handle: p.handle.clone(),
        role: p.role.clone(),
        credential,
        api_key_id,
        scopes,
    })
}

/// A new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKeyRequest {
    /// A name to recognise it by ("Inventory sync").
    name: String,
    /// Space-separated: listings:read listings:write orders:read orders:write shop:read
    /// payouts:read webhooks:manage (buyers may grant orders:read only).
    scopes: String,
    /// 1 to 365 (default 90).
    expires_in_days: Option<u32>,
}

/// An API key (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyDto {
    id: String,
    name: String,
    scopes: Vec<String>,
    created_at: String,
    expires_at: String,
    last_used_at: Option<String>,
    revoked: bool,
}

impl From<identity::api_keys::ApiKeyView> for ApiKeyDto {
    fn from(v: identity::api_keys::ApiKeyView) -> Self {
        Self {
            id: v.id,
            name: v.name,
            scopes: v.scopes,
            created_at: v.created_at.to_rfc3339(),
            expires_at: v.expires_at.to_rfc3339(),
            last_used_at: v.last_used_at.map(souk_domain::Timestamp::to_rfc3339),
            revoked: v.revoked,
        }
    }
}

/// A created key with its token, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKeyDto {
    /// `souk_sk_…`: store it now; Souk keeps only its hash.
    token: String,
    key: ApiKeyDto,
}

/// Create an API key (needs a sign-in within 5 minutes).
#[utoipa::path(
    post, path = "/api/v1/me/api-keys", tag = "identity", request_body = NewApiKeyRequest,
    responses(
        (status = 201, description = "Created; the token is shown once", body = CreatedApiKeyDto),
        (status = 400, description = "A scope your account cannot grant, or a bad expiry", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Step-up required, or a seller without a second factor", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn create_api_key(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Body(req): Body<NewApiKeyRequest>,
) -> Result<Response, Problem> {
    use secrecy::ExposeSecret as _;
    let created = identity::api_keys::create(
        state.souk(),
        &s.principal,
        &req.name,
        &req.scopes,
        req.expires_in_days.unwrap_or(90),
        &client,
    )
    .await?;
    let mut res = (
        StatusCode::CREATED,
        Json(CreatedApiKeyDto { token: created.token.expose_secret().to_owned(), key: created.key.into() }),
    )
        .into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// Your API keys.
#[utoipa::path(
    get, path = "/api/v1/me/api-keys", tag = "identity",
    responses(
        (status = 200, description = "Your keys, newest first", body = [ApiKeyDto]),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn list_api_keys(
    State(state): State<AppState>,
    Session(s): Session,
) -> Result<Json<Vec<ApiKeyDto>>, Problem> {
    let list = identity::api_keys::list(state.souk(), &s.principal).await?;
    Ok(Json(list.into_iter().map(ApiKeyDto::from).collect()))
}

/// Revoke an API key; it stops working on its next request.
#[utoipa::path(
    delete, path = "/api/v1/me/api-keys/{id}", tag = "identity",
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such key of yours", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    identity::api_keys::revoke(state.souk(), &s.principal, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start confirming it is you with one of your passkeys (step-up).
#[utoipa::path(
    post, path = "/api/v1/me/reauthenticate/passkey/start", tag = "identity",
    responses(
        (status = 200, description = "Options for navigator.credentials.get()", body = CeremonyResponse),
        (status = 400, description = "The account has no passkey", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn reauth_passkey_start(
    State(state): State<AppState>,
    Session(s): Session,
) -> Result<Json<CeremonyResponse>, Problem> {
    Ok(ceremony(identity::passkeys::start_reauthentication(state.souk(), &s.principal).await?))
}

/// Finish a passkey step-up; valid for 5 minutes.
#[utoipa::path(
    post, path = "/api/v1/me/reauthenticate/passkey/finish", tag = "identity", request_body = PasskeyLoginRequest,
    responses(
        (status = 204, description = "Confirmed"),
        (status = 401, description = "Not accepted", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn reauth_passkey_finish(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Body(req): Body<PasskeyLoginRequest>,
) -> Result<StatusCode, Problem> {
    identity::passkeys::finish_reauthentication(
        state.souk(),
        &s.principal,
        &req.ceremony_id,
        &req.credential,
        &client,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ask to change your email address (needs a sign-in within 5 minutes). A link goes to the
/// new address; the change happens when it is followed.
#[utoipa::path(
    put, path = "/api/v1/me/email", tag = "identity", request_body = EmailRequest,
    responses(
        (status = 202, description = "A confirmation link was mailed to the new address", body = Accepted),
        (status = 400, description = "Not an address, or already yours", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Step-up required", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn change_email(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Body(req): Body<EmailRequest>,
) -> Result<(StatusCode, Json<Accepted>), Problem> {
    identity::email::request_change(state.souk(), &s.principal, &req.email, &client).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { status: "check_your_email" })))
}

/// Confirm a new email address with the token from the mailed link. Signs out every device.
#[utoipa::path(
    post, path = "/api/v1/auth/confirm-email", tag = "identity", request_body = TokenRequest,
    responses(
        (status = 204, description = "Changed; every session was revoked"),
        (status = 400, description = "The link is invalid, used or expired", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn confirm_email(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Body(req): Body<TokenRequest>,
) -> Result<StatusCode, Problem> {
    identity::email::confirm_change(state.souk(), &req.token, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Become a seller (needs a confirmed address, a second factor and a sign-in within 5
/// minutes). Every session ends; this call's answer carries the new one.
#[utoipa::path(
    post, path = "/api/v1/me/seller", tag = "identity",
    responses(
        (status = 200, description = "Now a seller; a new session cookie is set", body = SessionResponse),
        (status = 403, description = "Step-up or a second factor required", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Already a seller", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn become_seller(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
) -> Result<Response, Problem> {
    let session = identity::seller::become_seller(state.souk(), &s.principal, &client).await?;
    Ok(session_response(&session, false, None))
}
