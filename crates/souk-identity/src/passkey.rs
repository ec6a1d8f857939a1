//! Passkeys (WebAuthn): registering a user's authenticators, signing in with them without a
//! username (discoverable credentials) and re-proving presence for a sensitive action
//! (step-up). A thin, typed layer over `webauthn-rs`, which does the cryptography and the
//! checks of the W3C specification; this module owns Souk's choices on top of it: user
//! verification always, discoverable credentials asked for, ceremony state that the server
//! keeps and that expires, and errors that tell the user nothing about why.
//!
//! Each ceremony spans two requests. `start_*` returns the options for the browser
//! (`navigator.credentials.create`/`get`) and a state; the caller keeps the state on the
//! server, sealed, under a random ceremony id, and hands it back to `finish_*` with the
//! browser's answer. Time comes from the caller. Challenges come from webauthn-rs (OpenSSL's
//! CSPRNG); they are not injectable, and nothing here depends on their value.
//!
//! What stays the caller's job, because it needs the store:
//! - deleting a ceremony state when it is used (`take`, not `get`): a state is single-use;
//! - refusing a new passkey whose credential id is registered to any account already;
//! - storing what `refresh` changed after a sign-in.

use serde::{Deserialize, Serialize};
use souk_domain::Timestamp;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, PasskeyAuthentication, PasskeyRegistration, Url, Webauthn,
    WebauthnBuilder, WebauthnError,
};
use webauthn_rs_proto::ResidentKeyRequirement;

pub use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, CredentialID, Passkey, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse,
};

/// How long a ceremony may take, from `start_*` to `finish_*`. The browser is told the same
/// (it gives up and tells the user), so a later answer is a stale or replayed one.
pub const CEREMONY_SECS: i64 = 300;

/// Extra time for the answer to travel back, so a user who acts in the last second still gets in.
const GRACE_SECS: i64 = 30;

const MICROS: i64 = 1_000_000;

/// Why a passkey operation failed. The message (`Display`) is what a user may be shown and
/// never says why a check failed; the cause, when there is one, is kept as the error's
/// `source` for the server's logs only.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The relying party settings are unusable (bad origin, origin outside the RP id).
    #[error("passkeys are not configured correctly")]
    Config(&'static str),
    /// The browser's answer did not verify: wrong challenge, origin, RP, signature, a
    /// credential not on the account, no user verification, a duplicate, or garbage.
    #[error("the passkey could not be verified")]
    Rejected(#[source] Option<WebauthnError>),
    /// The signature counter went backwards: the credential may have been cloned. Shown to
    /// the user like `Rejected`; the caller should flag the passkey for review.
    #[error("the passkey could not be verified")]
    PossiblyCloned,
    /// The ceremony took longer than `CEREMONY_SECS`, or the clock ran backwards.
    #[error("that took too long; please try again")]
    Expired,
    /// A stored ceremony state could not be read back (corrupt, or of another kind).
    #[error("that took too long; please try again")]
    BadState,
    /// Step-up was asked of an account that has no passkey.
    #[error("this account has no passkey")]
    NoPasskeys,
    /// webauthn-rs could not start a ceremony (for instance the random source failed).
    #[error("passkeys are unavailable right now")]
    Unavailable(#[source] WebauthnError),
}

fn rejected(e: WebauthnError) -> PasskeyError {
    match e {
        WebauthnError::CredentialPossibleCompromise => PasskeyError::PossiblyCloned,
        other => PasskeyError::Rejected(Some(other)),
    }
}

/// A registration in progress, to keep server-side between `start_registration` and
/// `finish_registration`.
///
/// # SECURITY: the state holds the challenge. Kept by the client, it would let the client
/// pick its own challenge and replay an old answer; keep it on the server (sealed if it ever
/// leaves the process), and delete it when it is used.
#[derive(Debug, Serialize, Deserialize)]
pub struct RegistrationState {
    registration: PasskeyRegistration,
    user_id: uuid::Uuid,
    issued_at: Timestamp,
}

/// A step-up (non-discoverable) sign-in in progress; kept like `RegistrationState`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginState {
    login: PasskeyAuthentication,
    issued_at: Timestamp,
}

/// A passwordless (discoverable) sign-in in progress; kept like `RegistrationState`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DiscoverableState {
    discoverable: DiscoverableAuthentication,
    issued_at: Timestamp,
}

/// Serialises ceremony states for the server-side store. (The states are not `Clone`:
/// `finish_*` takes them, so within one process each is used once; across requests, the
/// store's delete-on-read does the same.) The three kinds have distinct field
/// names, so a state of one kind never reads back as another.
macro_rules! json_state {
    ($t:ty) => {
        impl $t {
            /// The state as JSON bytes, to store server-side.
            pub fn to_json(&self) -> Result<Vec<u8>, PasskeyError> {
                serde_json::to_vec(self).map_err(|_| PasskeyError::BadState)
            }

            /// A state read back from the store.
            pub fn from_json(bytes: &[u8]) -> Result<Self, PasskeyError> {
                serde_json::from_slice(bytes).map_err(|_| PasskeyError::BadState)
            }

            /// When the ceremony started.
            pub fn issued_at(&self) -> Timestamp {
                self.issued_at
            }
        }
    };
}
json_state!(RegistrationState);
json_state!(LoginState);
json_state!(DiscoverableState);

impl RegistrationState {
    /// The account the passkey is being added to. The caller checks it is the signed-in user
    /// of the request that finishes the ceremony, so one user cannot finish another's.
    pub fn user_id(&self) -> uuid::Uuid {
        self.user_id
    }
}

/// Who a discoverable answer claims to be, read before verifying it so the caller can load
/// that account's passkeys. Nothing here is verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The user handle: the `user_unique_id` given at registration.
    pub user_id: uuid::Uuid,
    pub credential_id: Vec<u8>,
}

/// How the browser offers discoverable credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mediation {
    /// In the username field's autofill list (conditional mediation), started on page load.
    Autofill,
    /// In a dialog, when the user presses "Sign in with a passkey".
    Modal,
}

/// What `refresh` did to a stored passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Nothing to store.
    Unchanged,
    /// The counter or backup state moved: store the passkey again.
    Changed,
    /// The sign-in used another credential.
    OtherCredential,
}

/// Souk's relying party: one per site origin.
#[derive(Debug, Clone)]
pub struct Passkeys {
    webauthn: Webauthn,
}

impl Passkeys {
    /// `rp_id` is the domain passkeys are bound to (`souk.example`); `rp_origin` the exact
    /// origin pages run on (`https://souk.example`); `rp_name` what authenticators show.
    pub fn new(rp_id: &str, rp_origin: &str, rp_name: &str) -> Result<Self, PasskeyError> {
        let origin = Url::parse(rp_origin).map_err(|_| PasskeyError::Config("origin is not a URL"))?;
        // SECURITY: browsers only run WebAuthn on secure origins; accepting `http:` for a real
        // host would only hide a deployment mistake. `http://localhost` is for development.
        let local = origin.scheme() == "http" && origin.host_str() == Some("localhost");
        if origin.scheme() != "https" && !local {
            return Err(PasskeyError::Config("origin must be https"));
        }
        if origin.path() != "/" || origin.query().is_some() || origin.fragment().is_some() {
            return Err(PasskeyError::Config("origin must have no path, query or fragment"));
        }
        let secs = u64::try_from(CEREMONY_SECS).unwrap_or(300);
        // SECURITY: no subdomains and no other ports: an answer made on another origin, even
        // a sibling host under the same RP id, is refused (webauthn-rs's defaults, pinned).
        let webauthn = WebauthnBuilder::new(rp_id, &origin)
            .map_err(|_| PasskeyError::Config("origin is outside the RP id"))?
            .rp_name(rp_name)
            .allow_subdomains(false)
            .allow_any_port(false)
            .timeout(std::time::Duration::from_secs(secs))
            .build()
            .map_err(|_| PasskeyError::Config("webauthn settings refused"))?;
        Ok(Self { webauthn })
    }

    /// Starts adding a passkey to an account. `user_unique_id` is stored in the authenticator
    /// and comes back as the user handle at passwordless sign-in, so it must be the account's
    /// stable id (never its email or handle, which change). `existing` are the account's
    /// passkeys: the browser will not register the same authenticator twice, and the server
    /// refuses it if the browser does.
    pub fn start_registration(
        &self,
        user_unique_id: uuid::Uuid,
        user_name: &str,
        display_name: &str,
        existing: &[Passkey],
        now: Timestamp,
    ) -> Result<(CreationChallengeResponse, RegistrationState), PasskeyError> {
        let exclude: Vec<CredentialID> = existing.iter().map(|p| p.cred_id().clone()).collect();
        // start_passkey_registration asks for user verification (required, and enforced at
        // finish) and the credProtect extension, and takes every secure algorithm.
        let (mut options, registration) = self
            .webauthn
            .start_passkey_registration(user_unique_id, user_name, display_name, Some(exclude))
            .map_err(PasskeyError::Unavailable)?;
        // Passwordless sign-in needs a discoverable (resident) credential, which webauthn-rs
        // discourages by default to spare security keys with few slots. Souk asks for it:
        // platform authenticators and password managers (where most passkeys live) make one
        // anyway, and a security key without room says so at registration instead of failing
        // later at sign-in. The server cannot verify residency (authenticators do not sign
        // it), so this only changes the request; `reported_discoverable` reads the browser's
        // unsigned report.
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Required);
            selection.require_resident_key = true;
        }
        Ok((options, RegistrationState { registration, user_id: user_unique_id, issued_at: now }))
    }

    /// Finishes adding a passkey. The state is consumed: it is single-use (the caller also
    /// deletes its stored copy). Returns the passkey to store with the account, after the
    /// caller has checked its credential id is on no account yet.
    #[expect(clippy::needless_pass_by_value, reason = "taking the state makes it single-use in this process")]
    pub fn finish_registration(
        &self,
        response: &RegisterPublicKeyCredential,
        state: RegistrationState,
        now: Timestamp,
    ) -> Result<Passkey, PasskeyError> {
        fresh(state.issued_at, now)?;
        self.webauthn.finish_passkey_registration(response, &state.registration).map_err(rejected)
    }

    /// Starts a passwordless sign-in: the browser lets the user pick any passkey it holds
    /// for this RP, and the answer names the account (its user handle).
    pub fn start_discoverable_login(
        &self,
        mediation: Mediation,
        now: Timestamp,
    ) -> Result<(RequestChallengeResponse, DiscoverableState), PasskeyError> {
        let (mut options, discoverable) =
            self.webauthn.start_discoverable_authentication().map_err(PasskeyError::Unavailable)?;
        // webauthn-rs always asks for autofill; a dialog is the same request without it.
        if mediation == Mediation::Modal {
            options.mediation = None;
        }
        Ok((options, DiscoverableState { discoverable, issued_at: now }))
    }

    /// Reads who a discoverable answer claims to be, so the caller can load that account's
    /// passkeys for `finish_discoverable_login`. Unverified: use it for the lookup only.
    pub fn identify_discoverable_login(
        &self,
        response: &PublicKeyCredential,
    ) -> Result<Claimed, PasskeyError> {
        let (user_id, credential_id) =
            self.webauthn.identify_discoverable_authentication(response).map_err(rejected)?;
        Ok(Claimed { user_id, credential_id: credential_id.to_vec() })
    }

    /// Finishes a passwordless sign-in as `user_id` (from `identify_discoverable_login`),
    /// given that account's passkeys. The state is consumed: it is single-use.
    ///
    /// # SECURITY: the user handle is not signed. What binds the answer to the account is
    /// that the signing credential must be one of `user_passkeys`, so the caller must load
    /// the passkeys of `user_id` and nobody else's; the handle is checked against `user_id`
    /// here too, so a mix-up in the caller fails closed.
    pub fn finish_discoverable_login(
        &self,
        response: &PublicKeyCredential,
        state: DiscoverableState,
        user_id: uuid::Uuid,
        user_passkeys: &[Passkey],
        now: Timestamp,
    ) -> Result<AuthenticationResult, PasskeyError> {
        fresh(state.issued_at, now)?;
        if self.identify_discoverable_login(response)?.user_id != user_id {
            return Err(PasskeyError::Rejected(None));
        }
        let keys: Vec<DiscoverableKey> = user_passkeys.iter().map(DiscoverableKey::from).collect();
        self.webauthn
            .finish_discoverable_authentication(response, state.discoverable, &keys)
            .map_err(rejected)
    }

    /// Starts a sign-in with one of the given passkeys (the signed-in user's, for step-up
    /// before a sensitive action).
    pub fn start_login(
        &self,
        passkeys: &[Passkey],
        now: Timestamp,
    ) -> Result<(RequestChallengeResponse, LoginState), PasskeyError> {
        if passkeys.is_empty() {
            return Err(PasskeyError::NoPasskeys);
        }
        // User verification is required here too: step-up must prove the person, not just
        // that someone touched the key.
        let (options, login) =
            self.webauthn.start_passkey_authentication(passkeys).map_err(PasskeyError::Unavailable)?;
        Ok((options, LoginState { login, issued_at: now }))
    }

    /// Finishes a sign-in started by `start_login`. The state is consumed: it is single-use.
    #[expect(clippy::needless_pass_by_value, reason = "taking the state makes it single-use in this process")]
    pub fn finish_login(
        &self,
        response: &PublicKeyCredential,
        state: LoginState,
        now: Timestamp,
    ) -> Result<AuthenticationResult, PasskeyError> {
        fresh(state.issued_at, now)?;
        self.webauthn.finish_passkey_authentication(response, &state.login).map_err(rejected)
    }
}

/// Whether the browser reported (unsigned, so for display only: "this key can't sign you in
/// without your email") that the new credential is discoverable. `None` when it did not say.
pub fn reported_discoverable(response: &RegisterPublicKeyCredential) -> Option<bool> {
    response.extensions.cred_props.as_ref().and_then(|p| p.rk)
}

/// Applies a successful sign-in to the stored passkey: a higher signature counter, a changed
/// backup state. `Changed` means the caller stores the passkey again.
pub fn refresh(stored: &mut Passkey, result: &AuthenticationResult) -> Refresh {
    match stored.update_credential(result) {
        None => Refresh::OtherCredential,
        Some(true) => Refresh::Changed,
        Some(false) => Refresh::Unchanged,
    }
}

/// A ceremony state is good for `CEREMONY_SECS` (plus travel time) after it was issued.
fn fresh(issued_at: Timestamp, now: Timestamp) -> Result<(), PasskeyError> {
    let age = now.as_micros().saturating_sub(issued_at.as_micros());
    if (0..=(CEREMONY_SECS + GRACE_SECS) * MICROS).contains(&age) {
        Ok(())
    } else {
        Err(PasskeyError::Expired)
    }
}

#[cfg(test)]
mod tests {
    use webauthn_authenticator_rs::WebauthnAuthenticator;
    use webauthn_authenticator_rs::softpasskey::SoftPasskey;
    use webauthn_rs_proto::{AllowCredentials, UserVerificationPolicy};

    use super::*;

    const RP: &str = "souk.test";
    const ORIGIN: &str = "https://souk.test";

    type Authenticator = WebauthnAuthenticator<SoftPasskey>;

    /// Asserts the answer was refused, for the given cause (which users never see).
    #[track_caller]
    fn refused<T: std::fmt::Debug>(result: Result<T, PasskeyError>, cause: &str) {
        match result {
            Err(PasskeyError::Rejected(Some(e))) => assert_eq!(format!("{e:?}"), cause),
            other => panic!("expected a refusal for {cause}, got {other:?}"),
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_micros(secs * MICROS)
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn rp() -> Passkeys {
        Passkeys::new(RP, ORIGIN, "Souk").unwrap()
    }

    /// A software authenticator that performs user verification. (`SoftPasskey` cannot, so
    /// it is told to claim it: `falsify_uv`; the one built with `false` is the attacker's
    /// client that skips it.)
    fn authenticator() -> Authenticator {
        WebauthnAuthenticator::new(SoftPasskey::new(true))
    }

    fn user(n: u8) -> uuid::Uuid {
        uuid::Uuid::from_bytes([n; 16])
    }

    /// Stores a state the way the server does, and reads it back for the second request.
    fn stored<T: Serialize + for<'de> Deserialize<'de>>(state: &T) -> T {
        serde_json::from_slice(&serde_json::to_vec(state).unwrap()).unwrap()
    }

    /// The browser's side of registration. `SoftPasskey` keeps its keys in memory, which
    /// serves as resident storage, but refuses a request that insists on residency; the
    /// flag is lifted for it alone (the server cannot tell either way).
    fn create(
        auth: &mut Authenticator,
        origin: &str,
        mut options: CreationChallengeResponse,
    ) -> RegisterPublicKeyCredential {
        let selection = options.public_key.authenticator_selection.as_mut().unwrap();
        assert_eq!(selection.resident_key, Some(ResidentKeyRequirement::Required));
        selection.require_resident_key = false;
        auth.do_registration(url(origin), options).unwrap()
    }

    fn register(p: &Passkeys, auth: &mut Authenticator, id: uuid::Uuid, existing: &[Passkey]) -> Passkey {
        let (options, state) = p.start_registration(id, "amina@souk.test", "Amina", existing, at(0)).unwrap();
        let response = create(auth, ORIGIN, options);
        let state = RegistrationState::from_json(&state.to_json().unwrap()).unwrap();
        assert_eq!(state.user_id(), id);
        p.finish_registration(&response, state, at(10)).unwrap()
    }

    /// The browser's side of a discoverable sign-in. A real authenticator finds the
    /// credential by RP id and returns the user handle it stored; `SoftPasskey` needs the
    /// credential named and returns no handle, so both are supplied here. The handle is not
    /// signed by any authenticator, so setting it afterwards is exactly what a client could do.
    fn discover(
        auth: &mut Authenticator,
        origin: &str,
        mut options: RequestChallengeResponse,
        credential: &Passkey,
        handle: uuid::Uuid,
    ) -> PublicKeyCredential {
        assert!(options.public_key.allow_credentials.is_empty(), "nothing names the account");
        options.public_key.allow_credentials = vec![allow(credential)];
        let mut response = auth.do_authentication(url(origin), options).unwrap();
        response.response.user_handle = Some(handle.as_bytes().to_vec().into());
        response
    }

    fn allow(credential: &Passkey) -> AllowCredentials {
        AllowCredentials {
            type_: "public-key".into(),
            id: credential.cred_id().clone().into(),
            transports: None,
        }
    }

    fn passwordless(
        p: &Passkeys,
        auth: &mut Authenticator,
        credential: &Passkey,
        id: uuid::Uuid,
        passkeys: &[Passkey],
    ) -> Result<AuthenticationResult, PasskeyError> {
        let (options, state) = p.start_discoverable_login(Mediation::Modal, at(100)).unwrap();
        let response = discover(auth, ORIGIN, options, credential, id);
        let claimed = p.identify_discoverable_login(&response).unwrap();
        assert_eq!(claimed.credential_id, credential.cred_id().to_vec());
        p.finish_discoverable_login(&response, stored(&state), claimed.user_id, passkeys, at(110))
    }

    #[test]
    fn register_then_sign_in_passwordless_and_step_up() {
        let p = rp();
        let mut auth = authenticator();
        let (options, _) = p.start_registration(user(1), "amina", "Amina", &[], at(0)).unwrap();
        let selection = options.public_key.authenticator_selection.as_ref().unwrap();
        assert_eq!(selection.user_verification, UserVerificationPolicy::Required);
        assert!(selection.require_resident_key);
        assert_eq!(options.public_key.user.id.as_ref(), user(1).as_bytes());
        let key = register(&p, &mut auth, user(1), &[]);
        // Stored as JSON with the account and read back.
        let mut key: Passkey = stored(&key);

        let result = passwordless(&p, &mut auth, &key, user(1), std::slice::from_ref(&key)).unwrap();
        assert!(result.user_verified());
        assert_eq!(result.cred_id(), key.cred_id());
        assert_eq!(refresh(&mut key, &result), Refresh::Changed, "the counter moved from 0");
        assert_eq!(refresh(&mut key, &result), Refresh::Unchanged);

        // Step-up names the account's passkeys.
        let (options, state) = p.start_login(std::slice::from_ref(&key), at(200)).unwrap();
        assert_eq!(options.public_key.allow_credentials.len(), 1);
        assert_eq!(options.public_key.user_verification, UserVerificationPolicy::Required);
        let response = auth.do_authentication(url(ORIGIN), options).unwrap();
        let state = LoginState::from_json(&state.to_json().unwrap()).unwrap();
        let result = p.finish_login(&response, state, at(201)).unwrap();
        assert_eq!(refresh(&mut key, &result), Refresh::Changed);

        // Autofill asks for conditional mediation; a dialog does not.
        let (autofill, _) = p.start_discoverable_login(Mediation::Autofill, at(0)).unwrap();
        assert!(serde_json::to_string(&autofill).unwrap().contains("\"mediation\":\"conditional\""));
        let (modal, _) = p.start_discoverable_login(Mediation::Modal, at(0)).unwrap();
        assert!(!serde_json::to_string(&modal).unwrap().contains("mediation"));
        assert!(matches!(p.start_login(&[], at(0)), Err(PasskeyError::NoPasskeys)));
    }

    #[test]
    fn a_user_may_have_several_passkeys() {
        let p = rp();
        let (mut phone, mut laptop) = (authenticator(), authenticator());
        let first = register(&p, &mut phone, user(1), &[]);
        let (options, _) =
            p.start_registration(user(1), "amina", "Amina", std::slice::from_ref(&first), at(0)).unwrap();
        assert_eq!(options.public_key.exclude_credentials.as_ref().map(Vec::len), Some(1));
        let second = register(&p, &mut laptop, user(1), std::slice::from_ref(&first));
        assert_ne!(first.cred_id(), second.cred_id());
        let both = [first.clone(), second.clone()];

        let with_phone = passwordless(&p, &mut phone, &first, user(1), &both).unwrap();
        assert_eq!(with_phone.cred_id(), first.cred_id());
        let with_laptop = passwordless(&p, &mut laptop, &second, user(1), &both).unwrap();
        assert_eq!(with_laptop.cred_id(), second.cred_id());
        let mut stale = first.clone();
        assert_eq!(refresh(&mut stale, &with_laptop), Refresh::OtherCredential);

        // Step-up offers both; either answers.
        let (options, state) = p.start_login(&both, at(0)).unwrap();
        assert_eq!(options.public_key.allow_credentials.len(), 2);
        let response = laptop.do_authentication(url(ORIGIN), options).unwrap();
        assert_eq!(p.finish_login(&response, state, at(1)).unwrap().cred_id(), second.cred_id());
    }

    #[test]
    fn an_answer_replayed_against_a_new_challenge_fails() {
        let p = rp();
        let mut auth = authenticator();
        let key = register(&p, &mut auth, user(1), &[]);
        let keys = std::slice::from_ref(&key);

        let (options, _first) = p.start_login(keys, at(0)).unwrap();
        let captured = auth.do_authentication(url(ORIGIN), options).unwrap();
        let (_, second) = p.start_login(keys, at(1)).unwrap();
        refused(p.finish_login(&captured, second, at(2)), "MismatchedChallenge");

        let (options, _first) = p.start_discoverable_login(Mediation::Modal, at(0)).unwrap();
        let captured = discover(&mut auth, ORIGIN, options, &key, user(1));
        let (_, second) = p.start_discoverable_login(Mediation::Modal, at(1)).unwrap();
        refused(p.finish_discoverable_login(&captured, second, user(1), keys, at(2)), "MismatchedChallenge");

        // A registration answer replayed into another registration fails the same way.
        let (options, _first) = p.start_registration(user(2), "b", "B", &[], at(0)).unwrap();
        let captured = create(&mut authenticator(), ORIGIN, options);
        let (_, second) = p.start_registration(user(2), "b", "B", &[], at(1)).unwrap();
        refused(p.finish_registration(&captured, second, at(2)), "MismatchedChallenge");
    }

    #[test]
    fn answers_made_for_another_origin_or_rp_fail() {
        let p = rp();
        let mut auth = authenticator();
        let key = register(&p, &mut auth, user(1), &[]);
        let keys = std::slice::from_ref(&key);

        // A phishing site relays Souk's challenge under its own RP id; the authenticator
        // signs for that RP and the browser writes that origin.
        let (mut options, state) = p.start_login(keys, at(0)).unwrap();
        options.public_key.rp_id = "souk-login.example".into();
        let phished = auth.do_authentication(url("https://souk-login.example"), options).unwrap();
        refused(p.finish_login(&phished, state, at(1)), "InvalidRPOrigin");

        // A sibling host under the RP id (say, a taken-over subdomain) may ask for Souk's RP
        // id and the browser allows it; the server does not, nor another port. (Plain http
        // never gets this far: browsers refuse WebAuthn there.)
        for origin in ["https://evil.souk.test", "https://souk.test:8443"] {
            let (options, state) = p.start_discoverable_login(Mediation::Modal, at(0)).unwrap();
            let response = discover(&mut auth, origin, options, &key, user(1));
            refused(p.finish_discoverable_login(&response, state, user(1), keys, at(1)), "InvalidRPOrigin");
        }
        let (options, state) = p.start_registration(user(2), "b", "B", &[], at(0)).unwrap();
        let response = create(&mut authenticator(), "https://evil.souk.test", options);
        refused(p.finish_registration(&response, state, at(1)), "InvalidRPOrigin");

        // A passkey made for another site, presented here with the right challenge and origin.
        let other = Passkeys::new("other.test", "https://other.test", "Other").unwrap();
        let mut elsewhere = authenticator();
        let foreign = register_at(&other, "https://other.test", &mut elsewhere, user(1));
        let (options, state) = p.start_login(std::slice::from_ref(&foreign), at(0)).unwrap();
        let mut relayed = options.clone();
        relayed.public_key.rp_id = "other.test".into();
        let response = elsewhere.do_authentication(url("https://other.test"), relayed).unwrap();
        refused(p.finish_login(&response, state, at(1)), "InvalidRPOrigin");
    }

    fn register_at(p: &Passkeys, origin: &str, auth: &mut Authenticator, id: uuid::Uuid) -> Passkey {
        let (options, state) = p.start_registration(id, "x", "X", &[], at(0)).unwrap();
        let response = create(auth, origin, options);
        p.finish_registration(&response, state, at(1)).unwrap()
    }

    #[test]
    fn a_credential_not_on_the_account_fails() {
        let p = rp();
        let (mut victim, mut attacker) = (authenticator(), authenticator());
        let victims = register(&p, &mut victim, user(1), &[]);
        let attackers = register(&p, &mut attacker, user(2), &[]);
        let victim_keys = std::slice::from_ref(&victims);

        // The attacker's own passkey, with the victim's user handle.
        let (options, state) = p.start_discoverable_login(Mediation::Modal, at(0)).unwrap();
        let response = discover(&mut attacker, ORIGIN, options, &attackers, user(1));
        assert_eq!(p.identify_discoverable_login(&response).unwrap().user_id, user(1));
        refused(
            p.finish_discoverable_login(&response, state, user(1), victim_keys, at(1)),
            "CredentialNotFound",
        );

        // The attacker's own handle, but a caller that loaded the wrong account's passkeys.
        let (options, state) = p.start_discoverable_login(Mediation::Modal, at(0)).unwrap();
        let response = discover(&mut attacker, ORIGIN, options, &attackers, user(2));
        let both = [victims.clone(), attackers.clone()];
        assert!(matches!(
            p.finish_discoverable_login(&response, state, user(1), &both, at(1)),
            Err(PasskeyError::Rejected(None))
        ));

        // No user handle at all (a non-discoverable answer to a discoverable request).
        let (options, state) = p.start_discoverable_login(Mediation::Modal, at(0)).unwrap();
        let mut response = discover(&mut victim, ORIGIN, options, &victims, user(1));
        response.response.user_handle = None;
        assert!(matches!(p.identify_discoverable_login(&response), Err(PasskeyError::Rejected(_))));
        assert!(p.finish_discoverable_login(&response, state, user(1), victim_keys, at(1)).is_err());

        // Step-up for the victim, answered by a credential that was never offered.
        let (mut options, state) = p.start_login(victim_keys, at(0)).unwrap();
        options.public_key.allow_credentials = vec![allow(&attackers)];
        let response = attacker.do_authentication(url(ORIGIN), options).unwrap();
        refused(p.finish_login(&response, state, at(1)), "CredentialNotFound");
    }

    #[test]
    fn a_client_that_skips_user_verification_is_refused() {
        let p = rp();
        let mut lax = WebauthnAuthenticator::new(SoftPasskey::new(false));
        let (mut options, state) = p.start_registration(user(1), "a", "A", &[], at(0)).unwrap();
        options.public_key.authenticator_selection.as_mut().unwrap().user_verification =
            UserVerificationPolicy::Discouraged_DO_NOT_USE;
        let response = create(&mut lax, ORIGIN, options);
        refused(p.finish_registration(&response, state, at(1)), "UserNotVerified");

        // A passkey registered properly, then used by a client that skips verification.
        let mut auth = authenticator();
        let key = register(&p, &mut auth, user(1), &[]);
        let (mut options, state) = p.start_login(std::slice::from_ref(&key), at(0)).unwrap();
        options.public_key.user_verification = UserVerificationPolicy::Discouraged_DO_NOT_USE;
        let response = auth.do_authentication(url(ORIGIN), options).unwrap();
        refused(p.finish_login(&response, state, at(1)), "UserNotVerified");
        let (mut options, state) = p.start_discoverable_login(Mediation::Modal, at(0)).unwrap();
        options.public_key.user_verification = UserVerificationPolicy::Discouraged_DO_NOT_USE;
        let response = discover(&mut auth, ORIGIN, options, &key, user(1));
        refused(
            p.finish_discoverable_login(&response, state, user(1), std::slice::from_ref(&key), at(1)),
            "UserNotVerified",
        );
    }

    #[test]
    fn states_are_single_use_expire_and_do_not_mix() {
        let p = rp();
        let mut auth = authenticator();
        let mut key = register(&p, &mut auth, user(1), &[]);

        // A stored state used twice (a caller that forgot to delete it): webauthn-rs accepts
        // the same answer again as long as the stored counter has not moved, which is why the
        // caller must `take` the state. Once `refresh` has stored the counter, the replay is
        // caught as a possible clone.
        let (options, state) = p.start_discoverable_login(Mediation::Modal, at(0)).unwrap();
        let bytes = state.to_json().unwrap();
        let response = discover(&mut auth, ORIGIN, options, &key, user(1));
        let once = DiscoverableState::from_json(&bytes).unwrap();
        let result = p.finish_discoverable_login(&response, once, user(1), std::slice::from_ref(&key), at(1));
        assert_eq!(refresh(&mut key, &result.unwrap()), Refresh::Changed);
        let twice = DiscoverableState::from_json(&bytes).unwrap();
        assert!(matches!(
            p.finish_discoverable_login(&response, twice, user(1), std::slice::from_ref(&key), at(2)),
            Err(PasskeyError::PossiblyCloned)
        ));

        // Registration: a reused state would register the same credential again; the
        // caller's uniqueness check on credential ids is what refuses it.
        let (options, state) = p.start_registration(user(1), "a", "A", &[], at(0)).unwrap();
        let bytes = state.to_json().unwrap();
        let response = create(&mut auth, ORIGIN, options);
        let a =
            p.finish_registration(&response, RegistrationState::from_json(&bytes).unwrap(), at(1)).unwrap();
        let b =
            p.finish_registration(&response, RegistrationState::from_json(&bytes).unwrap(), at(2)).unwrap();
        assert_eq!(a.cred_id(), b.cred_id(), "same credential id: the caller's unique index refuses it");
        // An excluded credential is refused by the server, not only by the browser.
        let (_, excluding) =
            p.start_registration(user(1), "a", "A", std::slice::from_ref(&a), at(0)).unwrap();
        let mut excluding: serde_json::Value = serde_json::to_value(&excluding).unwrap();
        let challenge = serde_json::to_value(RegistrationState::from_json(&bytes).unwrap()).unwrap()
            ["registration"]["rs"]["challenge"]
            .clone();
        excluding["registration"]["rs"]["challenge"] = challenge;
        let excluding: RegistrationState = serde_json::from_value(excluding).unwrap();
        // (webauthn-rs 0.5 reports an excluded credential under this name.)
        refused(p.finish_registration(&response, excluding, at(1)), "CredentialAlteredAlgFromRequest");

        // Expiry, and a clock that runs backwards.
        let (options, state) = p.start_login(std::slice::from_ref(&key), at(1_000)).unwrap();
        let response = auth.do_authentication(url(ORIGIN), options).unwrap();
        let late = 1_000 + CEREMONY_SECS + GRACE_SECS + 1;
        let copy = || LoginState::from_json(&state.to_json().unwrap()).unwrap();
        assert!(matches!(p.finish_login(&response, copy(), at(late)), Err(PasskeyError::Expired)));
        assert!(matches!(p.finish_login(&response, copy(), at(999)), Err(PasskeyError::Expired)));
        assert!(p.finish_login(&response, state, at(late - 1)).is_ok());

        // One kind of state does not read back as another; garbage reads as nothing.
        let (_, login) = p.start_login(std::slice::from_ref(&key), at(0)).unwrap();
        let (_, discoverable) = p.start_discoverable_login(Mediation::Modal, at(0)).unwrap();
        let login = login.to_json().unwrap();
        assert!(matches!(DiscoverableState::from_json(&login), Err(PasskeyError::BadState)));
        assert!(matches!(RegistrationState::from_json(&login), Err(PasskeyError::BadState)));
        assert!(matches!(
            LoginState::from_json(&discoverable.to_json().unwrap()),
            Err(PasskeyError::BadState)
        ));
        assert!(matches!(LoginState::from_json(b"{\"login\":1}"), Err(PasskeyError::BadState)));
    }

    #[test]
    fn settings_are_checked() {
        assert!(Passkeys::new("localhost", "http://localhost:8080", "Souk dev").is_ok());
        for (id, origin) in [
            ("souk.test", "http://souk.test"),
            ("souk.test", "https://notsouk.test"),
            ("souk.test", "https://souk.test/login"),
            ("souk.test", "not a url"),
            ("sub.souk.test", "https://souk.test"),
        ] {
            assert!(matches!(Passkeys::new(id, origin, "Souk"), Err(PasskeyError::Config(_))), "{origin}");
        }
        assert!(
            Passkeys::new("souk.test", "https://app.souk.test", "Souk").is_ok(),
            "a subdomain of the RP id"
        );
    }

    #[test]
    fn errors_tell_users_nothing() {
        let p = rp();
        let (_, state) = p.start_login(&[register(&p, &mut authenticator(), user(1), &[])], at(0)).unwrap();
        let (options, _) = p.start_discoverable_login(Mediation::Modal, at(0)).unwrap();
        let mut auth = authenticator();
        let key = register(&p, &mut auth, user(3), &[]);
        let response = discover(&mut auth, ORIGIN, options, &key, user(3));
        let err = p.finish_login(&response, state, at(1)).unwrap_err();
        assert_eq!(err.to_string(), "the passkey could not be verified");
        assert!(std::error::Error::source(&err).is_some(), "the cause is kept for the logs");
    }
}
