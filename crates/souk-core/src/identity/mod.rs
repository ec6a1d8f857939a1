//! Identity use cases: sign-up, email verification, sign-in with graduated delays and a
//! second factor, sessions, password reset and change, and the login alerts. Everything
//! that could tell an attacker whether an account exists answers the same way, in the same
//! time, either way.

pub mod api_keys;
pub mod email;
pub mod gate;
pub mod login;
pub mod mfa;
pub mod passkeys;
pub mod password;
pub mod seller;
pub mod sessions;
pub mod signup;
pub mod status;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use souk_domain::ids::AccountId;
use souk_identity::PasswordHasher;
pub use souk_identity::PasswordPolicy;
use souk_identity::csrf::CsrfKey;
use souk_identity::password::{HashError, PasswordHash, Verified};
use souk_identity::session::SessionToken;
use tokio::sync::Semaphore;

use crate::CoreError;
use crate::keys::KeyService;
use crate::mail::Mailer;

/// Identity settings, validated by the CLI.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// The origin links in mail point at (`https://shop.example`), no trailing slash.
    pub public_url: String,
    pub password_policy: PasswordPolicy,
    /// argon2id memory (KiB), passes and lanes.
    pub argon_memory_kib: u32,
    pub argon_passes: u32,
    pub argon_lanes: u32,
    /// Mix a pepper from the key hierarchy into every password hash.
    pub pepper: bool,
    /// How long an email verification link lives.
    pub verify_link_ttl: Duration,
    /// How long a password reset link lives.
    pub reset_link_ttl: Duration,
    /// Sellers must enrol a second factor.
    pub sellers_need_mfa: bool,
    /// Staff must sign in with a passkey.
    pub staff_need_passkey: bool,
    /// Sign-in attempts per minute from one address (IPv6: /64), before any hashing.
    pub login_per_address_per_minute: u32,
    /// Sign-in attempts per minute from one network (IPv4 /24, IPv6 /48).
    pub login_per_network_per_minute: u32,
    /// Password hashes computed at once; 0 means one fewer than the cores (at least one),
    /// so a sign-in flood always leaves a core for everything else.
    pub hash_concurrency: usize,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            public_url: "https://localhost:8443".into(),
            password_policy: PasswordPolicy::default(),
            argon_memory_kib: 19_456,
            argon_passes: 2,
            argon_lanes: 1,
            pepper: true,
            verify_link_ttl: Duration::from_hours(24),
            reset_link_ttl: Duration::from_mins(30),
            sellers_need_mfa: true,
            staff_need_passkey: true,
            login_per_address_per_minute: 20,
            login_per_network_per_minute: 120,
            hash_concurrency: 0,
        }
    }
}

/// Identity's long-lived parts: the password hasher, the keys derived for CSRF and
/// recovery codes, the mailer, and the gate that bounds sign-in work per address.
pub struct Identity {
    pub config: IdentityConfig,
    hasher: Arc<PasswordHasher>,
    csrf: CsrfKey,
    pub mailer: Mailer,
    /// Bounds concurrent argon2 work (cores - 1 by default), so a flood queues instead of
    /// taking every core from the other requests.
    hash_slots: Arc<Semaphore>,
    pub gate: gate::LoginGate,
    pub(crate) recovery_key: souk_crypto::KeyBytes,
    pub passkeys: souk_identity::passkey::Passkeys,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("config", &self.config)
            .field("mailer", &self.mailer)
            .finish_non_exhaustive()
    }
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> CoreError {
    CoreError::Internal(Box::new(e))
}

impl Identity {
    pub fn new(
        config: IdentityConfig,
        mailer: Mailer,
        keys: &KeyService,
        entropy: &dyn souk_domain::Entropy,
    ) -> Result<Self, CoreError> {
        let params =
            argon2::Params::new(config.argon_memory_kib, config.argon_passes, config.argon_lanes, None)
                .map_err(|e| CoreError::invalid("identity.argon", e))?;
        let pepper = config.pepper.then(|| keys.identity_key("password-pepper"));
        let hasher = PasswordHasher::new(params, pepper.as_ref().map(|p| &p.expose()[..]), entropy)
            .map_err(internal)?;
        let origin =
            url::Url::parse(&config.public_url).map_err(|e| CoreError::invalid("server.public_url", e))?;
        let rp_id = origin.host_str().unwrap_or("localhost").trim_matches(['[', ']']).to_owned();
        let passkeys = souk_identity::passkey::Passkeys::new(&rp_id, &config.public_url, "Souk")
            .map_err(|e| CoreError::invalid("server.public_url", e))?;
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let slots = match config.hash_concurrency {
            0 => cores.saturating_sub(1).max(1),
            n => n,
        };
        Ok(Self {
            gate: gate::LoginGate::new(
                config.login_per_address_per_minute,
                config.login_per_network_per_minute,
            ),
            config,
            hasher: Arc::new(hasher),
            csrf: CsrfKey::new(keys.identity_key("csrf").expose()),
            mailer,
            hash_slots: Arc::new(Semaphore::new(slots)),
            recovery_key: keys.identity_key("recovery-codes"),
            passkeys,
        })
    }

    /// The CSRF token of a session (for forms and the `X-CSRF-Token` header).
    #[must_use]
    pub fn csrf_token(&self, session: &souk_identity::session::SessionKey) -> String {
        self.csrf.token(session)
    }

    #[must_use]
    pub fn csrf_valid(&self, session: &souk_identity::session::SessionKey, token: &str) -> bool {
        self.csrf.verify(session, token)
    }

    /// Hashes a new password off the async workers.
    pub(crate) async fn hash_password(
        &self,
        password: SecretString,
        entropy: Arc<dyn souk_domain::Entropy>,
    ) -> Result<PasswordHash, CoreError> {
        let _slot = self.hash_slots.acquire().await.map_err(internal)?;
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || hasher.hash(&password, entropy.as_ref()))
            .await
            .map_err(internal)?
            .map_err(hash_error)
    }

    /// Checks a password against a stored hash, or against the decoy when there is none, so
    /// both take the same time.
    pub(crate) async fn verify_password(
        &self,
        password: SecretString,
        stored: Option<PasswordHash>,
    ) -> Result<Verified, CoreError> {
        let _slot = self.hash_slots.acquire().await.map_err(internal)?;
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || match stored {
            Some(h) => hasher.verify(&password, &h),
            None => hasher.verify_decoy(&password),
        })
        .await
        .map_err(internal)?
        .map_err(hash_error)
    }

    /// Sends mail in the background: the answer to the request never waits for (or reveals
    /// by its timing) whether a message was sent.
    pub(crate) fn send_later(&self, mail: crate::mail::Mail) {
        let mailer = self.mailer.clone();
        tokio::spawn(async move {
            if let Err(e) = mailer.send(&mail).await {
                tracing::warn!(error = %e, subject = %mail.subject, "mail not sent");
            }
        });
    }

    pub(crate) fn link(&self, path: &str, token: &SessionToken) -> String {
        use secrecy::ExposeSecret as _;
        format!("{}{path}?token={}", self.config.public_url, token.expose().expose_secret())
    }
}

/// Whether the account has a second factor (confirmed TOTP or a passkey), which lowers the
/// minimum password length from 15 to 8 (NIST SP 800-63B rev 4).
pub(crate) async fn factors_enrolled(
    conn: &mut sqlx::AnyConnection,
    account: AccountId,
) -> Result<bool, CoreError> {
    use souk_store::identity::factors;
    let totp = factors::totp(conn, account).await?.is_some_and(|t| t.confirmed_at.is_some());
    Ok(totp || !factors::passkeys_of(conn, account).await?.is_empty())
}

/// Credentials (passkeys, an authenticator app, API keys) are added only to an account
/// whose address is confirmed, or by the first admin right after the setup link. Otherwise
/// someone could create an account in a victim's name, add a passkey, and keep it after
/// the victim takes the account over by confirming the address (pre-hijacking).
pub fn require_confirmed_owner(principal: &Principal) -> Result<(), CoreError> {
    let setup = matches!(&principal.credential, Credential::Session { method, .. } if method == "setup_link");
    if principal.email_verified || setup {
        Ok(())
    } else {
        Err(CoreError::invalid("email", "confirm your email address first (use the link we mailed you)"))
    }
}

/// Refuses when policy requires this principal's role to have a second factor it lacks:
/// sellers (`identity.sellers_need_mfa`) and staff. Seller use cases call it first.
pub async fn require_mfa_policy(souk: &crate::Souk, principal: &Principal) -> Result<(), CoreError> {
    let required =
        principal.is_staff() || (principal.role == "seller" && souk.identity.config.sellers_need_mfa);
    if !required {
        return Ok(());
    }
    let mut conn = souk.store.conn().await?;
    if factors_enrolled(&mut conn, principal.account).await? { Ok(()) } else { Err(CoreError::MfaRequired) }
}

fn hash_error(e: HashError) -> CoreError {
    internal(e)
}

/// The least time an answer that could reveal whether an account exists takes: a failed
/// sign-in, a sign-up, a reset request. The same work is done either way (a password hash
/// or the decoy); this floor also hides the rest (database lookups, sealing, the audit
/// entry), which differ by a few milliseconds and would show under load.
pub const ANSWER_FLOOR: Duration = Duration::from_millis(250);

/// Waits until `ANSWER_FLOOR` has passed since `started`.
pub(crate) async fn pad(started: tokio::time::Instant) {
    tokio::time::sleep_until(started + ANSWER_FLOOR).await;
}

/// Where a request came from, for throttles, alerts, the sessions list and the audit log.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<IpAddr>,
    pub user_agent: String,
    /// The browser's long-lived device cookie, if it sent one.
    pub device: Option<SessionToken>,
    pub request_id: String,
}

/// Who is making an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub account: AccountId,
    pub handle: String,
    /// `buyer`, `seller` or `staff`.
    pub role: String,
    pub staff_roles: Vec<souk_access::StaffRole>,
    /// The session or API key used.
    pub credential: Credential,
    pub email_verified: bool,
}

/// How a request was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Session {
        id: String,
        authenticated_at: souk_domain::Timestamp,
        staff: bool,
        /// How the session signed in: `password`, `password+totp`, `passkey`, `email_link`…
        method: String,
    },
    ApiKey {
        id: String,
        scopes: Vec<String>,
    },
}

impl Principal {
    /// The audit log's view of this principal.
    #[must_use]
    pub fn actor(&self, ip: Option<IpAddr>) -> crate::audit::Actor {
        let credential = match &self.credential {
            Credential::Session { id, .. } => format!("session:{id}"),
            Credential::ApiKey { id, .. } => format!("api_key:{id}"),
        };
        crate::audit::Actor {
            kind: "account",
            id: self.account.to_string(),
            role: if self.staff_roles.is_empty() {
                self.role.clone()
            } else {
                self.staff_roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
            },
            credential,
            ip,
        }
    }

    /// Cedar's view of this principal.
    #[must_use]
    pub fn access_actor(&self) -> souk_access::Actor {
        souk_access::Actor { id: self.account, roles: self.staff_roles.clone() }
    }

    #[must_use]
    pub fn is_staff(&self) -> bool {
        self.role == "staff"
    }
}

/// Parses stored staff roles, skipping unknown ones (a role removed from the code grants
/// nothing).
#[must_use]
pub fn parse_staff_roles(stored: &str) -> Vec<souk_access::StaffRole> {
    stored
        .split(',')
        .filter_map(|r| souk_access::StaffRole::ALL.into_iter().find(|k| k.as_str() == r.trim()))
        .collect()
}

/// A short device label from a User-Agent ("Firefox on Linux"), for the sessions list.
#[must_use]
pub fn device_label(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(k, _)| user_agent.contains(k))
    .map_or("Unknown browser", |(_, v)| v);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(k, _)| user_agent.contains(k))
    .map_or("an unknown system", |(_, v)| v);
    format!("{browser} on {os}")
}

/// The approximate place of an address: its network (IPv4 /24, IPv6 /48). Souk ships no
/// geolocation database; the network is what can be shown without one.
#[must_use]
pub fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network_of(IpAddr::V4(v4)),
            None => {
                let [a, b, c, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}::/48")
            }
        },
    }
}
