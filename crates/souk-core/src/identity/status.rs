//! An account's security status, for the security centre and `GET /api/v1/me`: what
//! protects the account now and what the user should do next.

use souk_store::identity::{factors, signin};

use super::Principal;
use crate::{CoreError, Souk};

/// What protects an account.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools, reason = "a status is a list of independent yes/no facts")]
pub struct SecurityStatus {
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub has_password: bool,
    /// Set on evidence (breach-list hit, incident): the password must be changed.
    pub must_change_password: bool,
    pub totp: bool,
    pub passkeys: usize,
    pub recovery_codes_left: usize,
    pub phrase: Option<String>,
    /// Whether policy requires a second factor this account does not have yet.
    pub mfa_required_missing: bool,
}

impl SecurityStatus {
    #[must_use]
    pub fn has_mfa(&self) -> bool {
        self.totp || self.passkeys > 0
    }

    /// Next steps for the user, most important first.
    #[must_use]
    pub fn advice(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.must_change_password {
            out.push("Change your password: it must be replaced before you continue.");
        }
        if !self.email_verified {
            out.push("Confirm your email address with the link we sent, so you can recover your account.");
        }
        if !self.has_mfa() {
            out.push("Add a passkey or an authenticator app: a stolen password alone will then not open your account.");
        }
        if self.has_mfa() && self.recovery_codes_left < 3 {
            out.push("Generate new recovery codes: you have few left.");
        }
        if self.phrase.is_none() {
            out.push("Choose an anti-phishing phrase: every mail from Souk will show it.");
        }
        out
    }
}

/// The principal's own security status.
pub async fn status(souk: &Souk, principal: &Principal) -> Result<SecurityStatus, CoreError> {
    crate::authz::own_account(souk, principal, souk_access::Action::AccountView, &super::Client::default())
        .await?;
    let profile = crate::accounts::profile(souk, principal.account).await?;
    let phrase = super::signup::phrase(souk, principal.account).await?;
    let mut conn = souk.store.conn().await?;
    let password = signin::password(&mut conn, principal.account).await?;
    let totp = factors::totp(&mut conn, principal.account).await?.is_some_and(|t| t.confirmed_at.is_some());
    let passkeys = factors::passkeys_of(&mut conn, principal.account).await?.len();
    let recovery_codes_left = factors::unused_recovery_codes(&mut conn, principal.account).await?.len();
    let cfg = &souk.identity.config;
    let needs_mfa = (principal.role == "seller" && cfg.sellers_need_mfa) || principal.is_staff();
    Ok(SecurityStatus {
        email: profile.email.display().to_owned(),
        name: profile.name.display().to_owned(),
        email_verified: principal.email_verified,
        has_password: password.is_some(),
        must_change_password: password.as_ref().is_some_and(|p| p.must_change),
        totp,
        passkeys,
        recovery_codes_left,
        phrase,
        mfa_required_missing: needs_mfa && !(totp || passkeys > 0),
    })
}
