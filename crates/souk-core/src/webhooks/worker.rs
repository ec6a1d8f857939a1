//! The delivery worker, started with the server: it claims due deliveries (several
//! processes may run it: a claim is exclusive and leased), checks the destination again
//! with the SSRF guard, signs the event's body with the endpoint's secret (and the previous
//! one during a rotation) and posts it. A 2xx settles the delivery; anything else is
//! retried with exponential backoff and jitter until the attempts run out, when the
//! delivery is given up, the endpoint disabled and the shop's owner mailed. Delivery is at
//! least once: a crash between the answer and its record sends the event again.

use secrecy::ExposeSecret as _;
use souk_domain::Timestamp;
use souk_store::webhooks::{self as store, Claimed};
use tokio::sync::watch;

use super::endpoints::{previous_ctx, reveal, secret_ctx};
use super::sender::Sent;
use super::{destination, retry, signature};
use crate::audit::{Actor, AuditedTx, Event, Outcome};
use crate::{CoreError, Souk};

/// How many deliveries one round claims.
const BATCH: u32 = 16;

/// Runs until `stop` turns true: delivers what is due, then waits for the next poll. A
/// round in progress completes first (each delivery is bounded by the timeout).
pub async fn run(souk: Souk, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let busy = match deliver_due(&souk).await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::warn!(error = %e, "could not deliver webhooks");
                false
            }
        };
        if busy {
            continue;
        }
        tokio::select! {
            _ = stop.changed() => {}
            () = tokio::time::sleep(souk.webhooks.config.poll_interval) => {}
        }
    }
}

fn random_u64(souk: &Souk) -> u64 {
    let mut bytes = [0_u8; 8];
    souk.entropy.fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

/// One round: claims the due deliveries and sends them concurrently. Returns how many.
pub async fn deliver_due(souk: &Souk) -> Result<usize, CoreError> {
    let now = souk.clock.now();
    let token = format!("{:016x}{:016x}", random_u64(souk), random_u64(souk));
    // The lease outlasts any attempt (bounded by the timeout) by a wide margin.
    let lease = i64::try_from(souk.webhooks.config.timeout.as_micros()).unwrap_or(i64::MAX / 4);
    let lease_until = now.plus_micros(lease.saturating_mul(4).max(120_000_000));
    let claimed = {
        let mut conn = souk.store.conn().await?;
        store::claim_due(&mut conn, &token, now, lease_until, BATCH).await?
    };
    let n = claimed.len();
    let mut tasks = tokio::task::JoinSet::new();
    for c in claimed {
        let souk = souk.clone();
        tasks.spawn(async move {
            let id = c.id.clone();
            if let Err(e) = deliver_one(&souk, c).await {
                tracing::warn!(error = %e, delivery = %id, "could not record a webhook delivery");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(n)
}

/// Signs and sends one claimed delivery and records the outcome.
async fn deliver_one(souk: &Souk, c: Claimed) -> Result<(), CoreError> {
    let config = &souk.webhooks.config;
    let attempt = c.attempts.saturating_add(1);
    let ep = &c.endpoint;
    let now = souk.clock.now();
    let (secret, previous) = {
        let mut conn = souk.store.conn().await?;
        let secret = reveal(souk, &mut conn, &ep.id, &ep.secret_sealed, &secret_ctx(&ep.id)).await?;
        let previous = match (&ep.previous_secret_sealed, ep.previous_secret_until) {
            (Some(sealed), Some(until)) if until > now => {
                Some(reveal(souk, &mut conn, &ep.id, sealed, &previous_ctx(&ep.id)).await?)
            }
            _ => None,
        };
        (secret, previous)
    };
    // SECURITY: the guard runs again at every delivery: the name may resolve elsewhere now.
    let sent = match destination::resolve(&ep.url, config.allow_private_destinations).await {
        Err(e) => Sent { status: None, error: format!("destination refused: {e}"), duration_ms: 0 },
        Ok(dest) => {
            let timestamp = now.as_micros().div_euclid(1_000_000);
            let mut secrets: Vec<&[u8]> = vec![secret.expose_secret().as_bytes()];
            if let Some(p) = &previous {
                secrets.push(p.expose_secret().as_bytes());
            }
            let header = signature::sign(&secrets, timestamp, c.event.payload.as_bytes());
            souk.webhooks.sender.post(&dest, &c.event.id, &header, c.event.payload.clone()).await
        }
    };
    let done = souk.clock.now();
    let failures = u32::try_from(attempt).unwrap_or(u32::MAX);
    let (status, next) = if sent.succeeded() {
        ("succeeded", done)
    } else if c.manual || failures >= config.max_attempts {
        // A manual redelivery is one attempt; the schedule's last failure gives up.
        ("failed", done)
    } else {
        ("pending", done.plus_micros(retry::delay_micros(config.first_retry, failures, random_u64(souk))))
    };
    let outcome = store::Outcome {
        http_status: sent.status.map(i64::from),
        error: sent.error.clone(),
        duration_ms: sent.duration_ms,
        status,
        next_attempt_at: next,
        manual: c.manual,
    };
    let mut tx = souk.store.begin().await?;
    if !store::finish_attempt(&mut tx, &c.id, &c.claim_token, attempt, &outcome, done).await? {
        // Another worker took the delivery over after our lease ran out; its record stands.
        return Ok(());
    }
    store::mark_health(&mut tx, &ep.id, sent.succeeded(), done).await?;
    tx.commit().await.map_err(souk_store::StoreError::from)?;
    tracing::info!(delivery = %c.id, endpoint = %ep.id, event = %c.event.event_type, attempt, status, http_status = ?sent.status, "webhook delivery");
    if status == "failed" && !c.manual {
        give_up(souk, ep, &c.id, done).await?;
    }
    Ok(())
}

/// After a delivery's last scheduled attempt failed: the endpoint is disabled (it failed
/// for the whole schedule, about three days) and the shop's owner is told.
async fn give_up(
    souk: &Souk,
    ep: &store::EndpointRow,
    delivery: &str,
    now: Timestamp,
) -> Result<(), CoreError> {
    let reason = "every attempt of a delivery failed";
    let mut tx = AuditedTx::begin(souk).await?;
    if !store::disable_failing(tx.conn(), &ep.id, reason, now).await? {
        return Ok(());
    }
    tx.record(&[Event {
        actor: Actor::system(),
        action: "webhook.endpoint.disable",
        target_kind: "webhook_endpoint",
        target_id: ep.id.clone(),
        outcome: Outcome::Success,
        request_id: String::new(),
        detail: serde_json::json!({ "reason": reason, "delivery": delivery }),
    }])
    .await?;
    tx.commit().await?;
    let mut conn = souk.store.conn().await?;
    let shop = souk_store::shops::by_id(&mut conn, ep.shop).await?;
    drop(conn);
    if let Some(shop) = shop {
        crate::market::notify(
            souk,
            shop.owner,
            "A webhook endpoint was disabled",
            &format!(
                "Souk could not deliver events to your webhook endpoint {} for several days, so it was disabled. \
                 Fix the endpoint, enable it again in the seller hub or the API, and redeliver the failed events \
                 from its delivery log.",
                ep.url
            ),
        )
        .await;
    }
    Ok(())
}
