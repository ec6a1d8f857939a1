//! A buyer pays a checkout with a card token from the vault: the amount is the checkout's
//! total as stored (never the request's), the vault authorizes under a key derived from the
//! checkout (a retry never charges twice), an approval is captured and recorded as paid
//! (orders paid, money into escrow, audit entry: one transaction), a decline fails the
//! checkout with a neutral message, a 3-D Secure challenge goes back to the buyer, and a
//! timeout leaves the payment unknown until [`reconcile`] asks the vault.

use souk_domain::Money;
use souk_payments::connector::{
    ChallengeId, ConnectorError, IdempotencyKey, OperationStatus, Outcome, PaymentId,
};
use souk_store::orders::{self as store, CheckoutRow};
use souk_vault::{AuthorizeCard, CallContext, CardToken, VaultError};

use super::currency_of;
use crate::identity::{Client, Principal};
use crate::market::cart::require_shopper;
use crate::market::checkout::record_payment_as;
use crate::market::steps::PaymentState;
use crate::{CoreError, Souk};

/// What the buyer is told of a declined card: never the issuer's reason.
pub const DECLINED: &str = "The payment was declined. No money was taken.";

/// Where a payment stands after [`pay_checkout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentResult {
    /// Captured: the orders are paid.
    Paid,
    /// Declined (the orders are cancelled); the message is [`DECLINED`].
    Declined,
    /// The issuer wants the buyer to authenticate; answer with [`complete_challenge`].
    Challenge { payment: PaymentId, challenge: ChallengeId },
    /// The processor did not answer in time: unknown until reconciled.
    Pending,
}

fn key(kind: &str, checkout: &str) -> Result<IdempotencyKey, CoreError> {
    IdempotencyKey::new(&format!("{kind}.{checkout}")).map_err(|e| CoreError::Internal(Box::new(e)))
}

/// The authorization key of a checkout's payment attempt. A retry of the same attempt (a
/// lost answer, a double click) reuses it and the processor acts once; after a processing
/// error the attempt is over, and the next one, with any card, gets a key of its own. The
/// first attempt's key is the checkout's, as it always was.
fn authorize_key(checkout: &str, attempt: i64) -> Result<IdempotencyKey, CoreError> {
    if attempt == 0 { key("authorize", checkout) } else { key("authorize", &format!("{checkout}.{attempt}")) }
}

fn vault_error(e: VaultError) -> CoreError {
    match e {
        VaultError::UnknownToken | VaultError::InvalidCard(_) => {
            CoreError::invalid("card_token", "this card cannot be used; enter it again")
        }
        VaultError::RateLimited { retry_after_secs } => CoreError::Throttled { retry_after_secs },
        VaultError::Connector(ConnectorError::IdempotencyKeyReused) => {
            CoreError::Conflict("this checkout is already being paid with another card".into())
        }
        other => {
            tracing::error!(error = %other, "vault call failed");
            CoreError::Unavailable
        }
    }
}

/// The buyer's checkout, or not found (someone else's looks the same as none).
async fn buyers_checkout(souk: &Souk, principal: &Principal, id: &str) -> Result<CheckoutRow, CoreError> {
    require_shopper(principal)?;
    let mut conn = souk.store.conn().await?;
    let checkout = store::checkout(&mut conn, id).await?.ok_or(CoreError::NotFound("checkout"))?;
    if checkout.buyer != principal.account {
        return Err(CoreError::NotFound("checkout"));
    }
    Ok(checkout)
}

fn settled(checkout: &CheckoutRow) -> Option<PaymentResult> {
    if checkout.payment_state == PaymentState::Paid.as_str() {
        Some(PaymentResult::Paid)
    } else if checkout.payment_state == PaymentState::Failed.as_str() {
        Some(PaymentResult::Declined)
    } else {
        None
    }
}

fn ctx(principal: Option<&Principal>) -> CallContext {
    principal.map_or_else(
        || CallContext::new("system:reconcile"),
        |p| CallContext::new(format!("account:{}", p.account)),
    )
}

/// Pays `checkout_id` with the card behind `card_token`. Only the checkout's buyer may.
/// The risk step decides first: block fails the checkout as a decline does (nothing is
/// charged), step_up asks the issuer for 3-D Secure, review charges but holds the orders.
pub async fn pay_checkout(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    checkout_id: &str,
    card_token: &str,
) -> Result<PaymentResult, CoreError> {
    let checkout = buyers_checkout(souk, principal, checkout_id).await?;
    if let Some(done) = settled(&checkout) {
        return Ok(done);
    }
    if checkout.expires_at < souk.clock.now() {
        return Err(CoreError::Conflict("the checkout expired; check out again".into()));
    }
    let token = CardToken::parse(card_token)
        .ok_or_else(|| CoreError::invalid("card_token", "this card cannot be used; enter it again"))?;
    let amount = Money::new(checkout.total_minor, currency_of(&checkout.currency)?);
    let mut conn = souk.store.conn().await?;
    let attempt = souk_store::finance::payment_attempt(&mut conn, &checkout.id).await?;
    drop(conn);
    let card = souk.vault.card(&ctx(Some(principal)), &token).await.map_err(vault_error)?;
    let risk = crate::risk::payment::assess(souk, principal, client, &checkout, &card).await?;
    if risk.action == souk_risk::Action::Block {
        // The buyer is told what a decline tells them; the rules that matched are for staff.
        let detail = serde_json::json!({ "declined": "risk", "risk_decision": risk.id });
        let actor = principal.actor(client.ip);
        record_payment_as(souk, &checkout.id, PaymentState::Failed, actor, detail).await?;
        crate::risk::payment::record_outcome(souk, &risk, &PaymentResult::Declined, amount.minor).await?;
        return Ok(PaymentResult::Declined);
    }
    let outcome = souk
        .vault
        .authorize(
            &ctx(Some(principal)),
            AuthorizeCard {
                token,
                cvc: None,
                amount,
                idempotency_key: authorize_key(&checkout.id, attempt)?,
                reference: checkout.id.clone(),
                // The risk step's step-up: the issuer authenticates the buyer (3-D Secure).
                require_challenge: risk.action == souk_risk::Action::StepUp,
            },
        )
        .await;
    if let Err(VaultError::Connector(ConnectorError::Processing)) = outcome {
        // The processor could not process it and nothing was charged: this attempt is over.
        let mut conn = souk.store.conn().await?;
        souk_store::finance::next_payment_attempt(&mut conn, &checkout.id, attempt).await?;
        return Err(CoreError::Conflict(
            "the payment could not be processed and nothing was charged; try again".into(),
        ));
    }
    let result = conclude(souk, Some(principal), &checkout, amount, outcome).await;
    let result = unknown_if_pending(souk, &checkout.id, result).await?;
    crate::risk::payment::record_outcome(souk, &risk, &result, amount.minor).await?;
    Ok(result)
}

/// A payment whose answer timed out is marked, so the reconciliation task asks the vault
/// about it (not only when the checkout expires).
async fn unknown_if_pending(
    souk: &Souk,
    checkout: &str,
    result: Result<PaymentResult, CoreError>,
) -> Result<PaymentResult, CoreError> {
    if matches!(result, Ok(PaymentResult::Pending)) {
        let mut conn = souk.store.conn().await?;
        souk_store::finance::mark_payment_unknown(&mut conn, checkout, souk.clock.now()).await?;
    }
    result
}

/// Reconciles every checkout whose payment's outcome is unknown (run by the server every
/// `payments.reconcile_interval_secs`); returns how many were settled. A checkout the
/// vault cannot answer for is left for the next round.
pub async fn reconcile_unknown(souk: &Souk) -> Result<usize, CoreError> {
    let mut conn = souk.store.conn().await?;
    let due = souk_store::finance::unknown_payments(&mut conn, 100).await?;
    drop(conn);
    let mut settled = 0;
    for id in due {
        match reconcile(souk, &id).await {
            Ok(Some(PaymentResult::Paid | PaymentResult::Declined)) => settled += 1,
            Ok(_) => {}
            Err(e) => tracing::warn!(checkout = %id, error = %e, "cannot reconcile a payment yet"),
        }
    }
    Ok(settled)
}

/// Finishes a 3-D Secure challenge with the code the buyer brought back.
pub async fn complete_challenge(
    souk: &Souk,
    principal: &Principal,
    checkout_id: &str,
    payment: &str,
    challenge: &str,
    response: &str,
) -> Result<PaymentResult, CoreError> {
    let checkout = buyers_checkout(souk, principal, checkout_id).await?;
    if let Some(done) = settled(&checkout) {
        return Ok(done);
    }
    if response.len() > 64 {
        return Err(CoreError::invalid("response", "too long"));
    }
    let amount = Money::new(checkout.total_minor, currency_of(&checkout.currency)?);
    let outcome = souk
        .vault
        .complete_challenge(
            &ctx(Some(principal)),
            &PaymentId::new(payment),
            &ChallengeId::new(challenge),
            response,
            &key("challenge", &checkout.id)?,
        )
        .await;
    let result = conclude(souk, Some(principal), &checkout, amount, outcome).await;
    unknown_if_pending(souk, &checkout.id, result).await
}

/// Acts on the processor's answer: capture an approval, fail a decline, pass a challenge on.
async fn conclude(
    souk: &Souk,
    principal: Option<&Principal>,
    checkout: &CheckoutRow,
    amount: Money,
    outcome: Result<Outcome, VaultError>,
) -> Result<PaymentResult, CoreError> {
    let actor = principal.map_or_else(crate::audit::Actor::system, |p| p.actor(None));
    match outcome {
        Ok(Outcome::Authorized { payment, .. }) => {
            let captured =
                souk.vault.capture(&ctx(principal), &payment, amount, &key("capture", &checkout.id)?).await;
            match captured {
                Ok(Outcome::Captured { .. }) => {
                    let detail =
                        serde_json::json!({ "payment": payment.as_str(), "amount_minor": amount.minor });
                    record_payment_as(souk, &checkout.id, PaymentState::Paid, actor, detail).await?;
                    Ok(PaymentResult::Paid)
                }
                Err(VaultError::Connector(ConnectorError::Timeout)) => Ok(PaymentResult::Pending),
                Ok(other) => Err(CoreError::Internal(format!("unexpected capture outcome {other:?}").into())),
                Err(e) => Err(vault_error(e)),
            }
        }
        Ok(Outcome::Captured { payment, .. }) => {
            let detail = serde_json::json!({ "payment": payment.as_str(), "amount_minor": amount.minor });
            record_payment_as(souk, &checkout.id, PaymentState::Paid, actor, detail).await?;
            Ok(PaymentResult::Paid)
        }
        Ok(Outcome::Declined { reason }) => {
            // The issuer's reason is kept for the audit log, never shown to the buyer.
            let detail = serde_json::json!({ "declined": reason.as_str() });
            record_payment_as(souk, &checkout.id, PaymentState::Failed, actor, detail).await?;
            Ok(PaymentResult::Declined)
        }
        Ok(Outcome::ChallengeRequired { payment, challenge }) => {
            Ok(PaymentResult::Challenge { payment, challenge })
        }
        Err(VaultError::Connector(ConnectorError::Timeout)) => Ok(PaymentResult::Pending),
        Ok(other) => Err(CoreError::Internal(format!("unexpected payment outcome {other:?}").into())),
        Err(e) => Err(vault_error(e)),
    }
}

/// Resolves a checkout whose payment outcome is unknown by asking the vault what became of
/// its authorization and capture. Run by the system (housekeeping) or an operator.
pub async fn reconcile(souk: &Souk, checkout_id: &str) -> Result<Option<PaymentResult>, CoreError> {
    let mut conn = souk.store.conn().await?;
    let checkout = store::checkout(&mut conn, checkout_id).await?.ok_or(CoreError::NotFound("checkout"))?;
    drop(conn);
    if let Some(done) = settled(&checkout) {
        return Ok(Some(done));
    }
    let amount = Money::new(checkout.total_minor, currency_of(&checkout.currency)?);
    let ctx = ctx(None);
    let mut conn = souk.store.conn().await?;
    let attempt = souk_store::finance::payment_attempt(&mut conn, &checkout.id).await?;
    drop(conn);
    let mut keys = vec![key("capture", &checkout.id)?, key("challenge", &checkout.id)?];
    for n in (0..=attempt).rev() {
        keys.push(authorize_key(&checkout.id, n)?);
    }
    for k in &keys {
        match souk.vault.status(&ctx, k).await.map_err(vault_error)? {
            OperationStatus::Completed(outcome) => {
                return conclude(souk, None, &checkout, amount, Ok(outcome)).await.map(Some);
            }
            OperationStatus::NotReceived | OperationStatus::Failed(_) => {}
        }
    }
    Ok(None)
}
