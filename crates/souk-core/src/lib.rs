//! Souk's use cases. Handlers call these and nothing else; each use case owns its
//! transaction and, as later layers arrive, its authorization, risk and audit steps.

pub mod accounts;
pub mod audit;
pub mod audit_read;
pub mod authz;
pub mod catalog;
pub mod demo;
mod error;
pub mod health;
pub mod idempotency;
pub mod identity;
pub mod keys;
pub mod mail;
pub mod market;
pub mod payments;
pub mod risk;
pub mod staff;
pub mod webhooks;

use std::sync::Arc;

use souk_domain::{Clock, Entropy};
use souk_store::Store;

pub use error::CoreError;

/// Everything a use case needs from the outside world, passed in rather than reached for.
#[derive(Debug, Clone)]
pub struct Souk {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub keys: Arc<keys::KeyService>,
    /// The audit tree's peaks up to the last checkpoint this process signed, so the next
    /// checkpoint reads only newer entries.
    pub audit_tree: Arc<tokio::sync::Mutex<souk_audit::compact::CompactTree>>,
    /// Sign-in, sessions and second factors: the hasher, derived keys, mailer, gate.
    pub identity: Arc<identity::Identity>,
    /// The Cedar policies that decide every action.
    pub access: Arc<souk_access::Access>,
    /// The operator's marketplace settings (currency, limits for unverified shops, fees).
    pub market: Arc<market::MarketConfig>,
    /// The checkout's risk step (velocity rules until the fraud engine plugs in).
    pub risk: Arc<dyn market::steps::RiskStep>,
    /// The checkout's payment step (awaiting payment until a connector plugs in).
    pub payment: Arc<dyn market::steps::PaymentStep>,
    /// The card vault: tokenizes cards and forwards payments to the processor; Souk holds
    /// tokens, never card numbers. [`payments::vault::NoVault`] until one is configured.
    pub vault: Arc<dyn souk_vault::VaultClient>,
    /// The bank that receives payouts (the simulator until a real bank plugs in); one per
    /// process, so its memory of payout keys is shared by every batch.
    pub bank: Arc<dyn payments::payouts::Bank>,
    /// Outbound webhooks: the settings and the client that delivers them.
    pub webhooks: Arc<webhooks::Webhooks>,
    /// The fraud model decisions are scored with (none: `:risk_score:` is absent).
    pub risk_engine: Arc<risk::Engine>,
}

impl Souk {
    /// Assembles the context. Identity uses `config` and `mailer`; the Cedar policies are
    /// loaded and validated against their schema here, so a bad policy stops the start.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        keys: Arc<keys::KeyService>,
        config: identity::IdentityConfig,
        mailer: mail::Mailer,
    ) -> Result<Self, CoreError> {
        let identity = Arc::new(identity::Identity::new(config, mailer, &keys, entropy.as_ref())?);
        let access = Arc::new(souk_access::Access::load().map_err(|e| CoreError::Internal(Box::new(e)))?);
        Ok(Self {
            store,
            clock,
            entropy,
            keys,
            audit_tree: Arc::default(),
            identity,
            access,
            market: Arc::new(market::MarketConfig::default()),
            risk: Arc::new(market::steps::VelocityRules::default()),
            payment: Arc::new(market::steps::AwaitPayment),
            vault: Arc::new(payments::vault::NoVault),
            bank: Arc::new(payments::payouts::SimulatedBank::default()),
            webhooks: Arc::new(webhooks::Webhooks::new(webhooks::WebhookConfig::default())?),
            risk_engine: Arc::new(risk::Engine::without_model()),
        })
    }

    /// Uses `vault` for cards and payments.
    #[must_use]
    pub fn with_vault(mut self, vault: Arc<dyn souk_vault::VaultClient>) -> Self {
        self.vault = vault;
        self
    }

    /// Pays shops through `bank`.
    #[must_use]
    pub fn with_bank(mut self, bank: Arc<dyn payments::payouts::Bank>) -> Self {
        self.bank = bank;
        self
    }

    /// Uses these webhook settings.
    pub fn with_webhooks(mut self, config: webhooks::WebhookConfig) -> Result<Self, CoreError> {
        self.webhooks = Arc::new(webhooks::Webhooks::new(config)?);
        Ok(self)
    }

    /// Scores risk decisions with `engine`'s model.
    #[must_use]
    pub fn with_risk_engine(mut self, engine: risk::Engine) -> Self {
        self.risk_engine = Arc::new(engine);
        self
    }

    /// Replaces the default marketplace settings.
    #[must_use]
    pub fn with_market(mut self, market: market::MarketConfig) -> Self {
        self.market = Arc::new(market);
        self
    }
}
