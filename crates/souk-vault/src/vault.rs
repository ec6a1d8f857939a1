//! The in-process vault: [`InProcessVault`] implements [`VaultClient`] over the vault's own
//! database and keys, and forwards cards to the [`PaymentConnector`].
//!
//! Keys: the vault's master keys (KEK) come from its own [`KeyProvider`] (its own key
//! directory, never the marketplace's). Two data keys live in `vault_keys`, wrapped by the
//! KEK: `cards` seals card numbers (AES-256-GCM envelopes bound to the row's token) and
//! `fingerprint` is the root of the HMAC key for fingerprints. A wrong master key cannot
//! unwrap them, so the vault refuses to open.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret as _;
use souk_crypto::blind_index::BlindIndexKey;
use souk_crypto::nonce::Nonces;
use souk_crypto::provider::KeyProvider;
use souk_crypto::{DataKey, FieldContext, KeyBytes, Keyring, Sealed, Subject, WrappedKey};
use souk_domain::{Clock, Entropy, Money, Timestamp};
use souk_payments::connector::card::{Brand, CardDetails, CardError, Cvc, Expiry, Pan};
use souk_payments::connector::simulator::TEST_CARDS;
use souk_payments::connector::{
    AuthorizeRequest, BoxFuture, ChallengeId, ConnectorError, IdempotencyKey, OperationStatus, Outcome,
    PaymentConnector, PaymentId,
};

use crate::VaultError;
use crate::audit::{VaultAuditEvent, VaultAuditSink, VaultOperation};
use crate::client::{AuthorizeCard, CallContext, NewCard, StoredCard, VaultClient};
use crate::limits::{Limiter, RateLimits};
use crate::store::{CardRow, KeyRow, VaultDatabase, VaultStore};
use crate::token::{CardFingerprint, CardToken};

/// Where a card number's envelope lives: bound into its authenticated data.
const PAN_TABLE: &str = "vault_cards";
const PAN_COLUMN: &str = "pan";
const PURPOSE_CARDS: &str = "cards";
const PURPOSE_FINGERPRINT: &str = "fingerprint";

/// The issuer country of a BIN (first six digits).
pub trait BinLookup: Send + Sync + std::fmt::Debug {
    fn country(&self, bin: &str) -> Option<String>;
}

/// Knows the simulator's test cards' BINs only; a BIN table from a card scheme or
/// processor replaces it in production.
#[derive(Debug, Default, Clone, Copy)]
pub struct TestCardBins;

impl BinLookup for TestCardBins {
    fn country(&self, bin: &str) -> Option<String> {
        TEST_CARDS.iter().find(|c| c.number.starts_with(bin)).map(|c| c.country.to_owned())
    }
}

/// How long a security code given at tokenization waits, in memory, for the token's first
/// authorization.
pub const PENDING_CVC_TTL: Duration = Duration::from_mins(10);

/// Security codes given at tokenization, by token, until their first authorization or
/// [`PENDING_CVC_TTL`]. `SecretString` zeroizes a code when it is dropped.
#[derive(Default)]
struct PendingCvcs(std::sync::Mutex<std::collections::HashMap<String, (secrecy::SecretString, Timestamp)>>);

impl std::fmt::Debug for PendingCvcs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingCvcs(..)")
    }
}

impl PendingCvcs {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (secrecy::SecretString, Timestamp)>>
    {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn expired(at: Timestamp, now: Timestamp) -> bool {
        let ttl = i64::try_from(PENDING_CVC_TTL.as_micros()).unwrap_or(i64::MAX);
        now.as_micros().saturating_sub(at.as_micros()) > ttl
    }

    fn hold(&self, token: &CardToken, cvc: secrecy::SecretString, now: Timestamp) {
        let mut map = self.lock();
        map.retain(|_, (_, at)| !Self::expired(*at, now));
        map.insert(token.as_str().to_owned(), (cvc, now));
    }

    /// Takes the code held for `token` (single use), if it has not expired.
    fn take(&self, token: &CardToken, now: Timestamp) -> Option<secrecy::SecretString> {
        let (cvc, at) = self.lock().remove(token.as_str())?;
        (!Self::expired(at, now)).then_some(cvc)
    }
}

/// What the vault needs to open.
#[derive(Debug, Clone)]
pub struct VaultConfig {
    pub database: VaultDatabase,
    /// The vault's own master keys (e.g. `FileKeyProvider` on `data/vault-keys`), never the
    /// marketplace's.
    pub keys: Arc<dyn KeyProvider>,
    pub connector: Arc<dyn PaymentConnector>,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub audit: Arc<dyn VaultAuditSink>,
    pub limits: RateLimits,
    pub bins: Arc<dyn BinLookup>,
    /// How long the vault waits for the processor before answering
    /// `ConnectorError::Timeout` (outcome unknown: ask `status`).
    pub connector_timeout: Duration,
}

impl VaultConfig {
    /// The default wait for the processor.
    pub const DEFAULT_CONNECTOR_TIMEOUT: Duration = Duration::from_secs(30);
}

/// An `Entropy` shared with the nonce generator, which wants to own its source.
#[derive(Debug)]
struct SharedEntropy(Arc<dyn Entropy>);

impl Entropy for SharedEntropy {
    fn fill(&self, buf: &mut [u8]) {
        self.0.fill(buf);
    }
}

/// The card vault, running inside the marketplace's process.
#[derive(Debug)]
pub struct InProcessVault {
    store: VaultStore,
    cards_key: DataKey,
    fingerprint_key: BlindIndexKey,
    nonces: Nonces,
    connector: Arc<dyn PaymentConnector>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    audit: Arc<dyn VaultAuditSink>,
    limiter: Limiter,
    bins: Arc<dyn BinLookup>,
    connector_timeout: Duration,
    keys: Arc<dyn KeyProvider>,
    pending_cvcs: PendingCvcs,
}

/// Waits for a processor call at most `timeout`; past it the outcome is unknown.
async fn bounded<T>(
    timeout: Duration,
    call: BoxFuture<'_, Result<T, ConnectorError>>,
) -> Result<T, ConnectorError> {
    tokio::time::timeout(timeout, call).await.unwrap_or(Err(ConnectorError::Timeout))
}

fn subject(purpose: &'static str) -> Subject<'static> {
    Subject { kind: "vault", id: purpose }
}

fn version(v: i64) -> Result<u32, VaultError> {
    u32::try_from(v).map_err(|_| VaultError::Database("key version out of range".into()))
}

/// Unwraps the newest key of `purpose`, creating version 1 on first start.
async fn load_or_create_key(
    store: &VaultStore,
    keyring: &Keyring,
    purpose: &'static str,
    entropy: &dyn Entropy,
    nonces: &Nonces,
    now: Timestamp,
) -> Result<(u32, KeyBytes), VaultError> {
    if store.latest_key(purpose).await?.is_none() {
        let key = KeyBytes::generate(entropy);
        let wrapped = keyring.current()?.wrap(subject(purpose), 1, &key, nonces)?;
        let row = KeyRow { version: 1, kek_version: i64::from(wrapped.kek_version), wrapped: wrapped.bytes };
        if store.insert_key(purpose, &row, now.as_micros()).await? {
            return Ok((1, key));
        }
        // Another process created it first: use theirs.
    }
    let row = store.latest_key(purpose).await?.ok_or(VaultError::WrongKey)?;
    let dek_version = version(row.version)?;
    let wrapped = WrappedKey { kek_version: version(row.kek_version)?, bytes: row.wrapped };
    Ok((dek_version, keyring.unwrap_key(subject(purpose), dek_version, &wrapped)?))
}

fn outcome_label(outcome: &Result<Outcome, VaultError>) -> String {
    match outcome {
        Ok(Outcome::Authorized { .. }) => "authorized".into(),
        Ok(Outcome::Declined { reason }) => format!("declined:{}", reason.as_str()),
        Ok(Outcome::ChallengeRequired { .. }) => "challenge_required".into(),
        Ok(Outcome::Captured { .. }) => "captured".into(),
        Ok(Outcome::Voided { .. }) => "voided".into(),
        Ok(Outcome::Refunded { .. }) => "refunded".into(),
        Err(e) => error_label(e),
    }
}

pub(crate) fn error_label(e: &VaultError) -> String {
    match e {
        VaultError::InvalidCard(_) => "invalid_card".into(),
        VaultError::UnknownToken => "unknown_token".into(),
        VaultError::RateLimited { .. } => "rate_limited".into(),
        VaultError::Connector(c) => format!(
            "error:{}",
            match c {
                ConnectorError::Processing => "processing",
                ConnectorError::Timeout => "timeout",
                ConnectorError::IdempotencyKeyReused => "idempotency_key_reused",
                ConnectorError::UnknownPayment => "unknown_payment",
                ConnectorError::UnknownChallenge => "unknown_challenge",
                ConnectorError::InvalidState(_) => "invalid_state",
                ConnectorError::InvalidAmount => "invalid_amount",
                ConnectorError::AmountExceeds { .. } => "amount_exceeds",
                ConnectorError::Unavailable(_) => "unavailable",
            }
        ),
        VaultError::WrongKey | VaultError::Keys(_) => "error:keys".into(),
        VaultError::Database(_) => "error:database".into(),
        VaultError::Config(_) => "error:config".into(),
        VaultError::Refused(_) => "refused".into(),
        VaultError::Transport(_) => "error:transport".into(),
    }
}

fn payment_of(outcome: &Result<Outcome, VaultError>) -> Option<PaymentId> {
    match outcome {
        Ok(
            Outcome::Authorized { payment, .. }
            | Outcome::ChallengeRequired { payment, .. }
            | Outcome::Captured { payment, .. }
            | Outcome::Voided { payment }
            | Outcome::Refunded { payment, .. },
        ) => Some(payment.clone()),
        _ => None,
    }
}

impl InProcessVault {
    /// Opens the vault: its database (migrated), its master keys, its data keys (created on
    /// first start). Fails with [`VaultError::WrongKey`] if the master key is not the one
    /// that wrapped this database's data keys.
    pub async fn open(config: VaultConfig) -> Result<Self, VaultError> {
        let keyring = config.keys.load()?;
        let store = VaultStore::open(&config.database).await?;
        let nonces = Nonces::new(Box::new(SharedEntropy(Arc::clone(&config.entropy))));
        let now = config.clock.now();
        let opened = async {
            let (cards_version, cards) =
                load_or_create_key(&store, &keyring, PURPOSE_CARDS, &*config.entropy, &nonces, now).await?;
            let (_, root) =
                load_or_create_key(&store, &keyring, PURPOSE_FINGERPRINT, &*config.entropy, &nonces, now)
                    .await?;
            Ok::<_, VaultError>((
                DataKey::new(cards_version, &cards)?,
                BlindIndexKey::derive(&root, PAN_TABLE, "fingerprint"),
            ))
        }
        .await;
        let (cards_key, fingerprint_key) = match opened {
            Ok(keys) => keys,
            Err(e) => {
                store.close().await;
                return Err(e);
            }
        };
        Ok(Self {
            store,
            cards_key,
            fingerprint_key,
            nonces,
            connector: config.connector,
            clock: config.clock,
            entropy: config.entropy,
            audit: config.audit,
            limiter: Limiter::new(config.limits),
            bins: config.bins,
            connector_timeout: config.connector_timeout,
            keys: config.keys,
            pending_cvcs: PendingCvcs::default(),
        })
    }

    /// Whether a security code given at tokenization still waits for `token`'s first
    /// authorization.
    #[cfg(test)]
    pub(crate) fn holds_cvc_for(&self, token: &CardToken) -> bool {
        self.pending_cvcs.lock().contains_key(token.as_str())
    }

    #[cfg(test)]
    pub(crate) fn store_for_tests(&self) -> &VaultStore {
        &self.store
    }

    /// Re-wraps the vault's data keys under the newest master key version (after
    /// `create_version` on the vault's key provider), so older versions can be retired.
    /// Returns how many keys were re-wrapped. Card envelopes are untouched: they are
    /// sealed by the data keys, which do not change.
    pub async fn rewrap_keys(&self) -> Result<usize, VaultError> {
        let keyring = self.keys.load()?;
        let mut done = 0;
        for purpose in [PURPOSE_CARDS, PURPOSE_FINGERPRINT] {
            for row in self.store.keys(purpose).await? {
                let dek_version = version(row.version)?;
                let wrapped =
                    WrappedKey { kek_version: version(row.kek_version)?, bytes: row.wrapped.clone() };
                if let Some(new) = keyring.rewrap(subject(purpose), dek_version, &wrapped, &self.nonces)?
                    && self.store.rewrap_key(purpose, &row, i64::from(new.kek_version), &new.bytes).await?
                {
                    done += 1;
                }
            }
        }
        Ok(done)
    }

    /// The master key versions the vault's data keys are wrapped by (what must not be
    /// retired yet).
    pub async fn master_key_versions_in_use(&self) -> Result<Vec<u32>, VaultError> {
        let mut versions = Vec::new();
        for purpose in [PURPOSE_CARDS, PURPOSE_FINGERPRINT] {
            for row in self.store.keys(purpose).await? {
                versions.push(version(row.kek_version)?);
            }
        }
        versions.sort_unstable();
        versions.dedup();
        Ok(versions)
    }

    /// Closes the vault's database pool.
    pub async fn close(&self) {
        self.store.close().await;
    }

    fn event(&self, op: VaultOperation, ctx: &CallContext) -> VaultAuditEvent {
        VaultAuditEvent {
            at: self.clock.now(),
            operation: op,
            actor: ctx.actor.clone(),
            request_id: ctx.request_id.clone(),
            token: None,
            card: None,
            payment: None,
            idempotency_key: None,
            amount: None,
            result: "ok".into(),
        }
    }

    /// Takes a rate-limit token, recording a refusal.
    fn admit(&self, op: VaultOperation, ctx: &CallContext) -> Result<(), VaultError> {
        self.limiter.check(op, &ctx.actor, self.clock.now()).map_err(|retry_after_secs| {
            let mut event = self.event(op, ctx);
            event.result = "rate_limited".into();
            self.audit.record(event);
            VaultError::RateLimited { retry_after_secs }
        })
    }

    fn stored(row: &CardRow) -> Result<StoredCard, VaultError> {
        let corrupt = || VaultError::Database("a vault card row is malformed".into());
        Ok(StoredCard {
            token: CardToken::parse(&row.token).ok_or_else(corrupt)?,
            brand: Brand::from_name(&row.brand).ok_or_else(corrupt)?,
            last4: row.last4.clone(),
            exp_month: u8::try_from(row.exp_month).map_err(|_| corrupt())?,
            exp_year: u16::try_from(row.exp_year).map_err(|_| corrupt())?,
            bin_country: row.bin_country.clone(),
            fingerprint: CardFingerprint::from_mac(&row.fingerprint),
            created_at: Timestamp::from_micros(row.created_at),
        })
    }

    async fn do_tokenize(&self, card: NewCard) -> Result<StoredCard, VaultError> {
        let pan = Pan::parse(card.number.expose_secret())?;
        drop(card.number);
        let expiry = Expiry::new(card.exp_month, card.exp_year)?;
        let now = self.clock.now();
        if expiry.is_expired(now) {
            return Err(CardError::Expired.into());
        }
        // The code is checked now (its length depends on the brand) and held in memory only.
        let cvc = match card.cvc {
            Some(c) => {
                Cvc::parse(c.expose_secret(), pan.brand())?;
                Some(c)
            }
            None => None,
        };
        let token = CardToken::generate(&*self.entropy);
        let ctx = FieldContext { table: PAN_TABLE, column: PAN_COLUMN, row_id: token.as_str() };
        let sealed = self.cards_key.seal(&ctx, pan.expose_digits().as_bytes(), &self.nonces)?;
        let row = CardRow {
            token: token.as_str().to_owned(),
            pan_sealed: sealed.as_bytes().to_vec(),
            fingerprint: self.fingerprint_key.index(pan.expose_digits().as_bytes(), 256),
            brand: pan.brand().as_str().to_owned(),
            last4: pan.last4(),
            exp_month: i64::from(expiry.month()),
            exp_year: i64::from(expiry.year()),
            bin_country: self.bins.country(pan.bin()),
            created_at: now.as_micros(),
        };
        drop(pan);
        self.store.insert_card(&row).await?;
        if let Some(cvc) = cvc {
            self.pending_cvcs.hold(&token, cvc, now);
        }
        Self::stored(&row)
    }

    async fn row(&self, token: &CardToken) -> Result<CardRow, VaultError> {
        self.store.card(token.as_str()).await?.ok_or(VaultError::UnknownToken)
    }

    /// Opens a stored card for one authorization. The result zeroizes itself when dropped.
    fn open_card(
        &self,
        row: &CardRow,
        cvc: Option<&secrecy::SecretString>,
    ) -> Result<CardDetails, VaultError> {
        let ctx = FieldContext { table: PAN_TABLE, column: PAN_COLUMN, row_id: &row.token };
        let digits = self.cards_key.open(&ctx, &Sealed::from_stored(row.pan_sealed.clone()))?;
        let digits =
            std::str::from_utf8(&digits).map_err(|_| VaultError::Database("malformed card".into()))?;
        let pan = Pan::parse(digits)?;
        let card = Self::stored(row)?;
        let expiry = Expiry::new(card.exp_month, card.exp_year)?;
        let cvc = cvc.map(|c| Cvc::parse(c.expose_secret(), pan.brand())).transpose()?;
        Ok(CardDetails { pan, expiry, cvc })
    }

    async fn do_authorize(
        &self,
        request: &AuthorizeCard,
        event: &mut VaultAuditEvent,
    ) -> Result<Outcome, VaultError> {
        let row = self.row(&request.token).await?;
        event.card = Some(format!("{} {}", row.brand, row.last4));
        // A code given at tokenization serves the token's first authorization only.
        let held = self.pending_cvcs.take(&request.token, self.clock.now());
        let card = self.open_card(&row, request.cvc.as_ref().or(held.as_ref()))?;
        drop(held);
        let call = self.connector.authorize(AuthorizeRequest {
            card: &card,
            amount: request.amount,
            idempotency_key: &request.idempotency_key,
            reference: &request.reference,
            require_challenge: request.require_challenge,
        });
        let result = bounded(self.connector_timeout, call).await;
        // The card number and security code are wiped here, whatever the outcome.
        drop(card);
        Ok(result?)
    }

    /// Runs a payment follow-up (no card involved) with rate limit and audit.
    async fn follow_up(
        &self,
        op: VaultOperation,
        ctx: &CallContext,
        payment: &PaymentId,
        amount: Option<Money>,
        key: &IdempotencyKey,
        call: BoxFuture<'_, Result<Outcome, ConnectorError>>,
    ) -> Result<Outcome, VaultError> {
        self.admit(op, ctx)?;
        let result = bounded(self.connector_timeout, call).await.map_err(VaultError::from);
        let mut event = self.event(op, ctx);
        event.payment = Some(payment.clone());
        event.amount = amount;
        event.idempotency_key = Some(key.clone());
        event.result = outcome_label(&result);
        self.audit.record(event);
        result
    }
}

impl VaultClient for InProcessVault {
    fn tokenize<'a>(
        &'a self,
        ctx: &'a CallContext,
        card: NewCard,
    ) -> BoxFuture<'a, Result<StoredCard, VaultError>> {
        Box::pin(async move {
            let op = VaultOperation::Tokenize;
            self.admit(op, ctx)?;
            let result = self.do_tokenize(card).await;
            let mut event = self.event(op, ctx);
            match &result {
                Ok(card) => {
                    event.token = Some(card.token.clone());
                    event.card = Some(format!("{} {}", card.brand, card.last4));
                }
                Err(e) => event.result = error_label(e),
            }
            self.audit.record(event);
            result
        })
    }

    fn card<'a>(
        &'a self,
        ctx: &'a CallContext,
        token: &'a CardToken,
    ) -> BoxFuture<'a, Result<StoredCard, VaultError>> {
        Box::pin(async move {
            let op = VaultOperation::ReadCard;
            self.admit(op, ctx)?;
            let result = async { Self::stored(&self.row(token).await?) }.await;
            let mut event = self.event(op, ctx);
            event.token = Some(token.clone());
            if let Err(e) = &result {
                event.result = error_label(e);
            }
            self.audit.record(event);
            result
        })
    }

    fn forget<'a>(
        &'a self,
        ctx: &'a CallContext,
        token: &'a CardToken,
    ) -> BoxFuture<'a, Result<(), VaultError>> {
        Box::pin(async move {
            let op = VaultOperation::Forget;
            self.admit(op, ctx)?;
            let result = self.store.delete_card(token.as_str()).await;
            let mut event = self.event(op, ctx);
            event.token = Some(token.clone());
            event.result = match &result {
                Ok(true) => "ok".into(),
                Ok(false) => "unknown_token".into(),
                Err(e) => error_label(e),
            };
            self.audit.record(event);
            result.map(|_| ())
        })
    }

    fn authorize<'a>(
        &'a self,
        ctx: &'a CallContext,
        request: AuthorizeCard,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        Box::pin(async move {
            let op = VaultOperation::Authorize;
            self.admit(op, ctx)?;
            let mut event = self.event(op, ctx);
            event.token = Some(request.token.clone());
            event.amount = Some(request.amount);
            event.idempotency_key = Some(request.idempotency_key.clone());
            let result = self.do_authorize(&request, &mut event).await;
            // The security code is dropped (and zeroized) with the request, here.
            drop(request);
            event.payment = payment_of(&result);
            event.result = outcome_label(&result);
            self.audit.record(event);
            result
        })
    }

    fn complete_challenge<'a>(
        &'a self,
        ctx: &'a CallContext,
        payment: &'a PaymentId,
        challenge: &'a ChallengeId,
        response: &'a str,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        let call = self.connector.complete_challenge(payment, challenge, response, idempotency_key);
        Box::pin(self.follow_up(VaultOperation::CompleteChallenge, ctx, payment, None, idempotency_key, call))
    }

    fn capture<'a>(
        &'a self,
        ctx: &'a CallContext,
        payment: &'a PaymentId,
        amount: Money,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        let call = self.connector.capture(payment, amount, idempotency_key);
        Box::pin(self.follow_up(VaultOperation::Capture, ctx, payment, Some(amount), idempotency_key, call))
    }

    fn void<'a>(
        &'a self,
        ctx: &'a CallContext,
        payment: &'a PaymentId,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        let call = self.connector.void(payment, idempotency_key);
        Box::pin(self.follow_up(VaultOperation::Void, ctx, payment, None, idempotency_key, call))
    }

    fn refund<'a>(
        &'a self,
        ctx: &'a CallContext,
        payment: &'a PaymentId,
        amount: Money,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        let call = self.connector.refund(payment, amount, idempotency_key);
        Box::pin(self.follow_up(VaultOperation::Refund, ctx, payment, Some(amount), idempotency_key, call))
    }

    fn status<'a>(
        &'a self,
        ctx: &'a CallContext,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<OperationStatus, VaultError>> {
        Box::pin(async move {
            let op = VaultOperation::Status;
            self.admit(op, ctx)?;
            let call = self.connector.status(idempotency_key);
            let result = bounded(self.connector_timeout, call).await.map_err(VaultError::from);
            let mut event = self.event(op, ctx);
            event.idempotency_key = Some(idempotency_key.clone());
            event.result = match &result {
                Ok(OperationStatus::NotReceived) => "not_received".into(),
                Ok(OperationStatus::Completed(o)) => format!("completed:{}", outcome_label(&Ok(o.clone()))),
                Ok(OperationStatus::Failed(_)) => "failed".into(),
                Err(e) => error_label(e),
            };
            self.audit.record(event);
            result
        })
    }
}
