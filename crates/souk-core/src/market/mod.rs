//! The marketplace's seller side: shops, their verification and staff. Every use case here
//! loads the shop's facts (owner, staff, status), asks Cedar, and records what it changed.

pub mod cart;
pub mod checkout;
pub mod listings;
pub mod members;
pub mod messages;
pub mod orders;
pub mod reviews;
pub mod shops;
pub mod steps;
pub mod verification;

use souk_access::ShopFacts;
use souk_domain::Currency;
use souk_domain::ids::{AccountId, ShopId};
use souk_domain::shop::ShopStatus;
use souk_store::shops::{self as store, ShopRecord};
use sqlx::AnyConnection;

use crate::identity::{Credential, Principal};
use crate::{CoreError, Souk};

/// The operator's marketplace settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketConfig {
    /// The one currency the marketplace prices and sells in.
    pub currency: Currency,
    /// How many listings an unverified shop may have active at once.
    pub unverified_max_active_listings: u32,
    /// The largest order (items and shipping, minor units) an unverified shop may take.
    pub unverified_max_order_minor: i64,
    /// Whether an unverified shop's payouts are held until it is verified.
    pub unverified_payouts_held: bool,
    /// The platform's commission on each order, in basis points (1000 = 10 %), shown to
    /// sellers and never to buyers.
    pub platform_fee_bps: u32,
    /// How long a shop staff invitation stays valid.
    pub invitation_ttl: std::time::Duration,
    /// Words and phrases no listing may contain (whole words, any case).
    pub prohibited_keywords: Vec<String>,
    /// How long after delivery a buyer may still open a dispute; the order completes
    /// (and its escrow can be released) once it has passed.
    pub dispute_window: std::time::Duration,
    /// A shipped order the buyer never confirms counts as delivered after this long.
    pub auto_confirm_after: std::time::Duration,
    /// How long payouts wait after a shop sets its first bank account while it is owed
    /// money (a replacement always waits `payments::payouts::BANK_CHANGE_PAYOUT_HOLD`).
    pub first_bank_account_hold: std::time::Duration,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self {
            currency: Currency::EUR,
            unverified_max_active_listings: 5,
            unverified_max_order_minor: 50_000,
            unverified_payouts_held: true,
            platform_fee_bps: 1_000,
            invitation_ttl: std::time::Duration::from_hours(7 * 24),
            prohibited_keywords: souk_domain::listing::default_prohibited(),
            dispute_window: std::time::Duration::from_hours(14 * 24),
            auto_confirm_after: std::time::Duration::from_hours(21 * 24),
            first_bank_account_hold: std::time::Duration::from_hours(7 * 24),
        }
    }
}

/// The shop's record and the facts Cedar decides on.
pub(crate) struct LoadedShop {
    pub record: ShopRecord,
    pub facts: ShopFacts,
    pub status: ShopStatus,
}

/// Loads a shop and its staff, or `NotFound`.
pub(crate) async fn load_shop(conn: &mut AnyConnection, id: ShopId) -> Result<LoadedShop, CoreError> {
    let record = store::by_id(conn, id).await?.ok_or(CoreError::NotFound("shop"))?;
    let members = store::members(conn, id).await?;
    let pick = |role: &str| members.iter().filter(|m| m.role == role).map(|m| m.account).collect::<Vec<_>>();
    let status = ShopStatus::parse(&record.status)
        .ok_or_else(|| CoreError::Internal(format!("shop status {:?}", record.status).into()))?;
    let facts = ShopFacts {
        id,
        owner: record.owner,
        managers: pick("manager"),
        fulfilment: pick("fulfilment"),
        status: record.status.clone(),
    };
    Ok(LoadedShop { record, facts, status })
}

/// Seller actions that change a shop happen in a browser session (an API key may list and
/// fulfil, not run the shop), by an account that meets the MFA policy.
pub(crate) async fn require_shop_session(souk: &Souk, principal: &Principal) -> Result<(), CoreError> {
    if !matches!(principal.credential, Credential::Session { .. }) {
        return Err(CoreError::Forbidden);
    }
    crate::identity::require_mfa_policy(souk, principal).await
}

/// The subject whose data key seals a shop's personal data: its owner's account, so that
/// erasing the owner erases the shop's contact, legal details and documents with it.
pub(crate) fn owner_subject(owner: &str) -> souk_crypto::Subject<'_> {
    souk_crypto::Subject { kind: "account", id: owner }
}

/// At most this many uploads are decoded at once: one large image may take hundreds of MB
/// while it is decoded, so the cap bounds memory whatever the number of uploaders.
static DECODES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Waits for a turn to decode an upload.
pub(crate) async fn decode_permit() -> Result<tokio::sync::SemaphorePermit<'static>, CoreError> {
    DECODES.acquire().await.map_err(|_| CoreError::Unavailable)
}

/// Mails an account after the change committed; a failure to compose is logged, not fatal.
pub(crate) async fn notify(souk: &Souk, account: AccountId, subject: &str, body: &str) {
    match crate::identity::signup::compose(souk, account, subject, body).await {
        Ok(mail) => souk.identity.send_later(mail),
        Err(e) => tracing::warn!(error = %e, "could not compose a shop notice"),
    }
}
