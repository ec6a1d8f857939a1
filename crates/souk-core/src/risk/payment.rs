//! The checkout payment's risk step: decided after the card is known and before the vault
//! is asked to charge it, with the card's fingerprint and issuing country, the shipping
//! address (its blind key and country), the amount and the buyer's facts. The counters move
//! once the processor answered: every attempt, every decline and every paid amount.

use souk_risk::Value;
use souk_store::orders::CheckoutRow;
use souk_vault::StoredCard;

use super::decide::{Decision, decide, record_events};
use super::signals::{EventKind, Signals};
use crate::identity::{Client, Principal};
use crate::payments::pay::PaymentResult;
use crate::{CoreError, Souk};

/// Decides on paying `checkout` with `card`, storing the decision (a `review` held open).
pub async fn assess(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    checkout: &CheckoutRow,
    card: &StoredCard,
) -> Result<Decision, CoreError> {
    let email = super::facts::email_of(souk, principal.account).await?;
    let mut conn = souk.store.conn().await?;
    let address = crate::market::checkout::shipping_address(souk, &mut conn, checkout).await?;
    drop(conn);
    let mut signals = Signals::new(EventKind::Payment);
    signals.subject = Some(checkout.id.clone());
    signals.card = Some(card.fingerprint.as_str().to_owned());
    signals.email = email;
    signals.amount = Some(checkout.total_minor);
    if let Some(country) = &card.bin_country {
        signals.facts.push(("card_country", Value::Text(country.to_ascii_uppercase())));
    }
    if let Some(a) = &address {
        signals.facts.push(("shipping_country", Value::Text(a.country.to_ascii_uppercase())));
        // The same place written alike: case and spacing do not make a new address.
        let normalized = [&a.line1, &a.line2, &a.postal_code, &a.city, &a.country]
            .iter()
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase())
            .collect::<Vec<_>>()
            .join("|");
        signals.address = Some(normalized);
    }
    let mut tx = souk.store.begin_write().await?;
    let signals = super::facts::of_account(souk, &mut tx, principal.account, client, signals).await?;
    let decision = decide(souk, &mut tx, &signals, true).await?;
    tx.commit().await.map_err(souk_store::StoreError::from)?;
    Ok(decision)
}

/// Moves the counters once the outcome is known: an attempt always; a decline or a paid
/// amount when there is one (a challenge is counted when it is answered).
pub async fn record_outcome(
    souk: &Souk,
    decision: &Decision,
    result: &PaymentResult,
    amount: i64,
) -> Result<(), CoreError> {
    let mut events: Vec<(&str, i64)> = vec![("payment", amount)];
    match result {
        PaymentResult::Declined => events.push(("payment_declined", amount)),
        PaymentResult::Paid => events.push(("payment_paid", amount)),
        PaymentResult::Challenge { .. } | PaymentResult::Pending => {}
    }
    let mut conn = souk.store.conn().await?;
    record_events(souk, &mut conn, &decision.keys, &events).await
}
