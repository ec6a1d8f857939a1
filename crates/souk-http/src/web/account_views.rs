//! Page models of the sign-up, sign-in and account pages.

use askama::Template;

use super::views::Layout;

#[derive(Template)]
#[template(path = "signup.html")]
pub(crate) struct SignUpPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub email: String,
    pub name: String,
    pub phrase: String,
    pub min_length: usize,
}

#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub email: String,
    pub next: String,
    pub script: String,
}

#[derive(Template)]
#[template(path = "second_factor.html")]
pub(crate) struct SecondFactorPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub next: String,
    pub totp: bool,
    pub script: String,
}

#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage {
    pub layout: Layout,
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub link: String,
    pub link_label: String,
}

#[derive(Template)]
#[template(path = "confirm_link.html")]
pub(crate) struct ConfirmLinkPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub heading: String,
    pub action: String,
    pub token: String,
    pub ask_password: bool,
    pub min_length: usize,
    pub button: String,
}

#[derive(Template)]
#[template(path = "reset.html")]
pub(crate) struct ResetPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
}

#[derive(Template)]
#[template(path = "reauth.html")]
pub(crate) struct ReauthPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub next: String,
}

#[derive(Template)]
#[template(path = "security.html")]
#[allow(clippy::struct_excessive_bools, reason = "a status is a list of independent yes/no facts")]
pub(crate) struct SecurityPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub email: String,
    pub email_verified: bool,
    pub has_password: bool,
    pub passkeys: usize,
    pub totp: bool,
    pub recovery_codes_left: usize,
    pub phrase: String,
    pub advice: Vec<&'static str>,
    pub mfa_required_missing: bool,
    pub min_length: usize,
    pub passkey_list: Vec<PasskeyItem>,
    pub script: String,
}

pub(crate) struct PasskeyItem {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: String,
}

pub(crate) struct SessionRow {
    pub id: String,
    pub device: String,
    pub place: String,
    pub method: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "sessions.html")]
pub(crate) struct SessionsPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub sessions: Vec<SessionRow>,
}

#[derive(Template)]
#[template(path = "dev_mail.html")]
pub(crate) struct DevMailPage {
    pub layout: Layout,
    pub messages: Vec<souk_core::mail::OutboxMessage>,
}
