//! Messages as pages: the inbox, a conversation with each message's safety warnings
//! (explained to the recipient), replies, new conversations about a listing or an order, and
//! reporting a received message. All through `souk_core::market::messages`, the same use
//! cases as the API; someone else's conversation answers 404.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use souk_core::CoreError;
use souk_core::identity::sessions::Authenticated;
use souk_core::market::messages::{self, Side, Thread, Topic};
use souk_domain::ids::{ListingId, OrderId};
use souk_domain::messaging::Severity;

use super::buyer::correctable;
use super::buyer_views::{ConversationItem, ConversationPage, ConversationsPage, MessageItem, WarningView};
use super::forms::{SignedInForm, csrf_field, require};
use super::views::Layout;
use super::{page_with_status, render};
use crate::middleware::auth::{ClientInfo, MaybeSession};
use crate::{AppState, Problem};

fn when(t: souk_domain::Timestamp) -> String {
    t.to_rfc3339().chars().take(16).collect::<String>().replace('T', " ")
}

fn about(listing: Option<&str>, order: Option<&str>) -> (String, String) {
    match (listing, order) {
        (_, Some(o)) => ("About an order".to_owned(), format!("/orders/{o}")),
        (Some(l), None) => ("About a listing".to_owned(), format!("/listings/{l}")),
        (None, None) => (String::new(), String::new()),
    }
}

/// `GET /messages`: the conversations of the signed-in person.
pub(crate) async fn inbox(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
) -> Result<Response, Problem> {
    let s = match require(session, "/messages") {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    let rows = messages::list(state.souk(), &s.principal).await?;
    let me = s.principal.account;
    Ok(render(&ConversationsPage {
        layout: Layout::new("Messages"),
        conversations: rows
            .into_iter()
            .map(|c| ConversationItem {
                url: format!("/messages/{}", c.id),
                with: if c.buyer == me { c.shop_name.clone() } else { c.buyer_handle.clone() },
                about: about(c.listing.as_deref(), c.order.as_deref()).0,
                last_at: when(c.last_message_at),
            })
            .collect(),
    })?
    .into_response())
}

fn thread_page(s: &Authenticated, t: Thread, error: String, notice: String) -> ConversationPage {
    let c = &t.conversation;
    let (about, mut about_url) = about(c.listing.as_deref(), c.order.as_deref());
    // The shop's people reach orders from their own pages, not the buyer's.
    if t.side == Side::Shop && c.order.is_some() {
        about_url = String::new();
    }
    let with = if t.side == Side::Buyer { c.shop_name.clone() } else { c.buyer_handle.clone() };
    ConversationPage {
        layout: Layout::new(format!("Conversation with {with}")),
        csrf: s.csrf.clone(),
        error,
        notice,
        id: c.id.clone(),
        about,
        about_url,
        messages: t
            .messages
            .into_iter()
            .map(|m| MessageItem {
                from: if m.mine {
                    "You".to_owned()
                } else if m.side == Side::Shop.as_str() {
                    c.shop_name.clone()
                } else {
                    c.buyer_handle.clone()
                },
                warnings: m
                    .flags
                    .iter()
                    .map(|f| WarningView {
                        severity: match f.severity() {
                            Severity::Warning => "warning".to_owned(),
                            Severity::Notice => "notice".to_owned(),
                        },
                        text: f.warning(),
                    })
                    .collect(),
                id: m.id,
                mine: m.mine,
                body: m.body,
                at: when(m.created_at),
            })
            .collect(),
        with,
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct DoneQuery {
    done: Option<String>,
}

/// `GET /messages/{id}`: one conversation (404 to anyone outside it).
pub(crate) async fn conversation(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, Problem> {
    let s = match require(session, "/messages") {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    let t = messages::thread(state.souk(), &s.principal, &id).await?;
    let notice = match q.done.as_deref() {
        Some("reported") => "Thank you: the message was reported to Souk's trust & safety team.",
        _ => "",
    };
    Ok(render(&thread_page(&s, t, String::new(), notice.to_owned()))?.into_response())
}

#[derive(Deserialize)]
pub(crate) struct NewConversationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    listing: String,
    #[serde(default)]
    order: String,
    #[serde(default)]
    body: String,
}

#[derive(Deserialize)]
pub(crate) struct ReplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
}

#[derive(Deserialize)]
pub(crate) struct ReportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

csrf_field!(NewConversationForm, ReplyForm, ReportForm);

/// `POST /messages/new`: writes to a shop about one of its listings or one of your orders.
pub(crate) async fn start(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, f): SignedInForm<NewConversationForm>,
) -> Result<Response, Problem> {
    let topic = if f.order.trim().is_empty() {
        Topic::Listing(f.listing.trim().parse::<ListingId>().map_err(|_| CoreError::NotFound("listing"))?)
    } else {
        Topic::Order(f.order.trim().parse::<OrderId>().map_err(|_| CoreError::NotFound("order"))?)
    };
    let t = messages::start(state.souk(), &s.principal, &client, topic, &f.body).await?;
    Ok(Redirect::to(&format!("/messages/{}", t.conversation.id)).into_response())
}

/// Shows the conversation again with why the message or report was refused.
async fn refused(state: &AppState, s: &Authenticated, id: &str, e: CoreError) -> Result<Response, Problem> {
    let msg = correctable(e)?;
    let t = messages::thread(state.souk(), &s.principal, id).await?;
    page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &thread_page(s, t, msg, String::new()))
}

/// `POST /messages/{id}`: a reply in the conversation.
pub(crate) async fn reply(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(id): Path<String>,
    SignedInForm(s, f): SignedInForm<ReplyForm>,
) -> Result<Response, Problem> {
    match messages::send(state.souk(), &s.principal, &client, &id, &f.body).await {
        Ok(_) => Ok(Redirect::to(&format!("/messages/{id}")).into_response()),
        Err(e) => refused(&state, &s, &id, e).await,
    }
}

/// `POST /messages/{id}/report/{message}`: reports a message received in the conversation.
pub(crate) async fn report(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path((id, message)): Path<(String, String)>,
    SignedInForm(s, f): SignedInForm<ReportForm>,
) -> Result<Response, Problem> {
    let reason =
        if f.reason.trim().is_empty() { "Reported from the conversation page".to_owned() } else { f.reason };
    match messages::report(state.souk(), &s.principal, &client, &message, &reason).await {
        Ok(_) => Ok(Redirect::to(&format!("/messages/{id}?done=reported")).into_response()),
        Err(e) => refused(&state, &s, &id, e).await,
    }
}
