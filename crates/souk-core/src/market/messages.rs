//! Messages between a buyer and a shop, with safety built in: every message is scanned
//! when sent (card numbers are masked before storage; requests to pay off the platform,
//! contact details pushed off it and look-alike links are flagged), and the recipient sees
//! the warnings beside it. Anyone in a conversation can report a message; trust & safety
//! work the reports, reading the reported message (recorded).

use souk_access::{Action, Resource};
use souk_crypto::{FieldContext, Sealed};
use souk_domain::ids::{ListingId, OrderId, ShopId};
use souk_domain::messaging::{self, Flag};
use souk_store::messages::{self as store, ConversationRow, MessageRow, ReportRow};

use super::{LoadedShop, load_shop, owner_subject};
use crate::audit::{AuditedTx, Event, Outcome};
use crate::identity::{Client, Credential, Principal};
use crate::keys::Revealed;
use crate::{CoreError, Souk};

/// The most messages one account may send in ten minutes.
const MAX_PER_10_MINUTES: i64 = 30;

/// Which side of a conversation someone is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buyer,
    Shop,
}

impl Side {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Buyer => "buyer",
            Self::Shop => "shop",
        }
    }
}

/// A message as a participant sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView {
    pub id: String,
    pub side: String,
    pub mine: bool,
    pub body: String,
    pub flags: Vec<Flag>,
    pub created_at: souk_domain::Timestamp,
}

/// A conversation with its latest messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub conversation: ConversationRow,
    pub side: Side,
    pub messages: Vec<MessageView>,
}

fn body_ctx(message: &str) -> FieldContext<'_> {
    FieldContext { table: "messages", column: "body", row_id: message }
}

fn own_domains(souk: &Souk) -> Vec<String> {
    url::Url::parse(&souk.identity.config.public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .into_iter()
        .collect()
}

/// Where the principal stands in a conversation: its buyer, or one of the shop's people
/// (Cedar's `shop.message`). Outsiders get `NotFound`.
fn side_in(
    souk: &Souk,
    principal: &Principal,
    conversation: &ConversationRow,
    shop: &LoadedShop,
) -> Result<Side, CoreError> {
    if conversation.buyer == principal.account {
        return Ok(Side::Buyer);
    }
    if souk
        .access
        .decide(&principal.access_actor(), Action::ShopMessage, &Resource::Shop(&shop.facts))
        .allowed
    {
        return Ok(Side::Shop);
    }
    Err(CoreError::NotFound("conversation"))
}

fn require_person(principal: &Principal) -> Result<(), CoreError> {
    if principal.is_staff() || !matches!(principal.credential, Credential::Session { .. }) {
        return Err(CoreError::Forbidden);
    }
    Ok(())
}

/// What a new conversation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    Listing(ListingId),
    Order(OrderId),
}

/// Starts (or continues) the buyer's conversation with a shop about a listing or an order,
/// with a first message.
pub async fn start(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    topic: Topic,
    body: &str,
) -> Result<Thread, CoreError> {
    require_person(principal)?;
    let mut conn = souk.store.conn().await?;
    let (shop, listing, order) = match topic {
        Topic::Listing(id) => {
            let l = souk_store::catalog::listing_on_sale(&mut conn, id)
                .await?
                .ok_or(CoreError::NotFound("listing"))?;
            (l.shop_id, Some(id.to_string()), None)
        }
        Topic::Order(id) => {
            let o = souk_store::orders::order(&mut conn, &id.to_string())
                .await?
                .ok_or(CoreError::NotFound("order"))?;
            if o.buyer != principal.account {
                return Err(CoreError::NotFound("order"));
            }
            (o.shop, None, Some(o.id))
        }
    };
    let loaded = load_shop(&mut conn, shop).await?;
    if loaded.facts.owner == principal.account
        || loaded.facts.managers.contains(&principal.account)
        || loaded.facts.fulfilment.contains(&principal.account)
    {
        return Err(CoreError::Conflict("this is your own shop".into()));
    }
    let existing =
        store::find(&mut conn, principal.account, shop, listing.as_deref(), order.as_deref()).await?;
    drop(conn);
    let conversation = match existing {
        Some(c) => c,
        None => {
            let now = souk.clock.now();
            let c = ConversationRow {
                id: souk_domain::ids::new_uuid_v7(now, souk.entropy.as_ref()).to_string(),
                buyer: principal.account,
                buyer_handle: principal.handle.clone(),
                shop,
                shop_name: loaded.record.name.clone(),
                listing,
                order,
                created_at: now,
                last_message_at: now,
            };
            let mut conn = souk.store.conn().await?;
            match store::insert(&mut conn, &c).await {
                // Two first messages raced: use the one that won.
                Err(souk_store::StoreError::Conflict { .. }) => {
                    store::find(&mut conn, c.buyer, c.shop, c.listing.as_deref(), c.order.as_deref())
                        .await?
                        .ok_or(CoreError::NotFound("conversation"))?
                }
                other => {
                    other?;
                    c
                }
            }
        }
    };
    send_in(souk, principal, client, &conversation, &loaded, Side::Buyer, body).await?;
    thread(souk, principal, &conversation.id).await
}

/// Sends a message in a conversation the principal is part of.
pub async fn send(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    conversation: &str,
    body: &str,
) -> Result<Thread, CoreError> {
    require_person(principal)?;
    let mut conn = souk.store.conn().await?;
    let c = store::by_id(&mut conn, conversation).await?.ok_or(CoreError::NotFound("conversation"))?;
    let shop = load_shop(&mut conn, c.shop).await?;
    drop(conn);
    let side = side_in(souk, principal, &c, &shop)?;
    send_in(souk, principal, client, &c, &shop, side, body).await?;
    thread(souk, principal, conversation).await
}

async fn send_in(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    c: &ConversationRow,
    shop: &LoadedShop,
    side: Side,
    body: &str,
) -> Result<(), CoreError> {
    let text = souk_domain::catalog::display_text("body", body, 1, 5_000)
        .map_err(|e| CoreError::invalid("body", e))?;
    if !shop.status.can_sell() && side == Side::Shop {
        return Err(CoreError::Forbidden);
    }
    let now = souk.clock.now();
    let mut conn = souk.store.conn().await?;
    if store::sent_since(&mut conn, principal.account, now.plus_micros(-600_000_000)).await?
        >= MAX_PER_10_MINUTES
    {
        return Err(CoreError::Throttled { retry_after_secs: 60 });
    }
    drop(conn);
    let domains = own_domains(souk);
    let own: Vec<&str> = domains.iter().map(String::as_str).collect();
    let scanned = messaging::scan(&text, &own);
    let id = souk_domain::ids::new_uuid_v7(now, souk.entropy.as_ref()).to_string();
    let buyer = c.buyer.to_string();
    let mut tx = AuditedTx::begin(souk).await?;
    let sealed = souk
        .keys
        .seal(tx.conn(), owner_subject(&buyer), &body_ctx(&id), scanned.body.as_bytes(), now)
        .await?;
    let flags = serde_json::to_string(&scanned.flags).map_err(|e| CoreError::Internal(Box::new(e)))?;
    store::insert_message(
        tx.conn(),
        &MessageRow {
            id: id.clone(),
            conversation: c.id.clone(),
            sender: principal.account,
            sender_side: side.as_str().to_owned(),
            body_sealed: sealed.as_bytes().to_vec(),
            flags,
            created_at: now,
        },
    )
    .await?;
    let mut signals = crate::risk::Signals::new(crate::risk::EventKind::Message);
    signals.subject = Some(c.id.clone());
    let signals = crate::risk::facts::of_account(souk, tx.conn(), principal.account, client, signals).await?;
    crate::risk::observe(souk, tx.conn(), &signals, false, &[("message", 0)]).await?;
    // Flagged messages are a trust signal: recorded (codes only, never the text).
    let codes: Vec<&str> = scanned.flags.iter().map(Flag::code).collect();
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "message.send",
        target_kind: "conversation",
        target_id: c.id.clone(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "message": id, "flags": codes }),
    }])
    .await?;
    tx.commit().await?;
    let to = if side == Side::Buyer { shop.record.owner } else { c.buyer };
    let note = if scanned.flags.is_empty() {
        String::new()
    } else {
        "\n\nSouk flagged this message: read the warning beside it before you act on it.".to_owned()
    };
    let text = format!(
        "You have a new message about your conversation with {}. Read and answer it on Souk (we never put message text in mail).{note}",
        if side == Side::Buyer { c.buyer_handle.as_str() } else { c.shop_name.as_str() }
    );
    super::notify(souk, to, "A new message on Souk", &text).await;
    Ok(())
}

/// A conversation with its latest 200 messages, for a participant.
pub async fn thread(souk: &Souk, principal: &Principal, conversation: &str) -> Result<Thread, CoreError> {
    let mut conn = souk.store.conn().await?;
    let c = store::by_id(&mut conn, conversation).await?.ok_or(CoreError::NotFound("conversation"))?;
    let shop = load_shop(&mut conn, c.shop).await?;
    let side = side_in(souk, principal, &c, &shop)?;
    let rows = store::messages(&mut conn, &c.id, 200).await?;
    let mut messages = Vec::with_capacity(rows.len());
    for m in rows {
        messages.push(view(souk, &mut conn, &c, &m, principal).await?);
    }
    Ok(Thread { conversation: c, side, messages })
}

async fn view(
    souk: &Souk,
    conn: &mut sqlx::AnyConnection,
    c: &ConversationRow,
    m: &MessageRow,
    principal: &Principal,
) -> Result<MessageView, CoreError> {
    let buyer = c.buyer.to_string();
    let body = match souk
        .keys
        .reveal(conn, owner_subject(&buyer), &body_ctx(&m.id), &Sealed::from_stored(m.body_sealed.clone()))
        .await?
    {
        Revealed::Text(t) => t,
        Revealed::Erased => "[erased]".to_owned(),
    };
    let flags: Vec<Flag> = serde_json::from_str(&m.flags).unwrap_or_default();
    Ok(MessageView {
        id: m.id.clone(),
        side: m.sender_side.clone(),
        mine: m.sender == principal.account,
        body,
        flags,
        created_at: m.created_at,
    })
}

/// The principal's conversations (as a buyer and for the shops it works for).
pub async fn list(souk: &Souk, principal: &Principal) -> Result<Vec<ConversationRow>, CoreError> {
    require_person(principal)?;
    let mut conn = souk.store.conn().await?;
    Ok(store::of_account(&mut conn, principal.account, 100).await?)
}

/// Reports a message received in one's own conversation.
pub async fn report(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    message: &str,
    reason: &str,
) -> Result<String, CoreError> {
    require_person(principal)?;
    let reason = souk_domain::catalog::display_text("reason", reason, 3, 1_000)
        .map_err(|e| CoreError::invalid("reason", e))?;
    let mut conn = souk.store.conn().await?;
    let m = store::message(&mut conn, message).await?.ok_or(CoreError::NotFound("message"))?;
    let c = store::by_id(&mut conn, &m.conversation).await?.ok_or(CoreError::NotFound("message"))?;
    let shop = load_shop(&mut conn, c.shop).await?;
    drop(conn);
    let side = side_in(souk, principal, &c, &shop).map_err(|_| CoreError::NotFound("message"))?;
    if m.sender_side == side.as_str() {
        return Err(CoreError::Conflict("you can report messages you received".into()));
    }
    let now = souk.clock.now();
    let r = ReportRow {
        id: souk_domain::ids::new_uuid_v7(now, souk.entropy.as_ref()).to_string(),
        message: m.id.clone(),
        reporter: principal.account,
        reason,
        created_at: now,
        resolved_at: None,
        resolution: None,
    };
    let mut tx = AuditedTx::begin(souk).await?;
    match store::insert_report(tx.conn(), &r).await {
        Err(souk_store::StoreError::Conflict { .. }) => {
            return Err(CoreError::Conflict("you already reported this message".into()));
        }
        other => other?,
    }
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "message.report",
        target_kind: "message",
        target_id: m.id.clone(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "report": r.id }),
    }])
    .await?;
    tx.commit().await?;
    Ok(r.id)
}

/// A report as trust & safety see it: the reported message in clear, with its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportView {
    pub report: ReportRow,
    pub conversation: ConversationRow,
    pub message: MessageView,
}

/// Open reports, oldest first, with their messages (trust & safety; each read recorded).
pub async fn open_reports(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
) -> Result<Vec<ReportView>, CoreError> {
    crate::authz::require_staff_session(souk, principal)?;
    if !principal.is_staff() {
        return Err(CoreError::Forbidden);
    }
    let mut conn = souk.store.conn().await?;
    let reports = store::open_reports(&mut conn, 100).await?;
    drop(conn);
    let mut out = Vec::with_capacity(reports.len());
    let mut tx = AuditedTx::begin(souk).await?;
    for report in reports {
        let m = store::message(tx.conn(), &report.message).await?.ok_or(CoreError::NotFound("message"))?;
        let c = store::by_id(tx.conn(), &m.conversation).await?.ok_or(CoreError::NotFound("conversation"))?;
        let shop = load_shop(tx.conn(), c.shop).await?;
        if !souk
            .access
            .decide(&principal.access_actor(), Action::MessageReview, &Resource::Shop(&shop.facts))
            .allowed
        {
            continue;
        }
        let message = view(souk, tx.conn(), &c, &m, principal).await?;
        out.push(ReportView { report, conversation: c, message });
    }
    if out.is_empty() {
        // An empty queue and a queue this principal may not read look different: only
        // trust & safety get the (empty) answer.
        if !principal.staff_roles.contains(&souk_access::StaffRole::TrustSafety) {
            return Err(CoreError::Forbidden);
        }
        return Ok(out);
    }
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "message.reports_read",
        target_kind: "message_reports",
        target_id: String::new(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "reports": out.iter().map(|r| r.report.id.clone()).collect::<Vec<_>>() }),
    }])
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// Closes a report with what was done (trust & safety).
pub async fn resolve(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    report: &str,
    resolution: &str,
) -> Result<(), CoreError> {
    let resolution =
        souk_domain::shop::decision_reason(resolution).map_err(|e| CoreError::invalid("resolution", e))?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let r = store::report(tx.conn(), report).await?.ok_or(CoreError::NotFound("report"))?;
    let m = store::message(tx.conn(), &r.message).await?.ok_or(CoreError::NotFound("report"))?;
    let c = store::by_id(tx.conn(), &m.conversation).await?.ok_or(CoreError::NotFound("report"))?;
    let shop: ShopId = c.shop;
    let loaded = load_shop(tx.conn(), shop).await?;
    crate::authz::authorize(
        souk,
        &mut tx,
        principal,
        Action::MessageReview,
        &Resource::Shop(&loaded.facts),
        client,
    )
    .await?;
    if !store::resolve(tx.conn(), report, principal.account, &resolution, now).await? {
        return Err(CoreError::Conflict("the report is already resolved".into()));
    }
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "message.report_resolve",
        target_kind: "message",
        target_id: m.id,
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "report": report, "resolution": resolution }),
    }])
    .await?;
    tx.commit().await
}
