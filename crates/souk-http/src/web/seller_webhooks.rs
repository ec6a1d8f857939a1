//! The seller hub's webhooks page (`/seller/webhooks`): the shop's endpoints, each with its
//! recent deliveries and their attempts, and a redeliver button per delivery (a CSRF-checked
//! form). Registering and changing endpoints is done through the API, where the secret can
//! be handed over once; the page calls the same use cases, which decide who may see what.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use souk_core::identity::sessions::Authenticated;
use souk_core::webhooks::{deliveries, endpoints};

use super::forms::{SignedInForm, require};
use super::seller::{CsrfOnly, NoticeQuery, day, inline, see_other, shop_of, signed_in};
use super::seller_views::{SellerWebhooksPage, WebhookAttemptLine, WebhookDeliveryLine, WebhookEndpointLine};
use super::views::Layout;
use super::{page_with_status, render};
use crate::middleware::auth::{ClientInfo, MaybeSession};
use crate::{AppState, Problem};

/// How many deliveries of each endpoint the page shows.
const DELIVERIES_SHOWN: u32 = 20;

async fn page(
    state: &AppState,
    s: &Authenticated,
    client: &souk_core::identity::Client,
    error: String,
    notice: String,
) -> Result<SellerWebhooksPage, Problem> {
    let (shop, _) = shop_of(state, &s.principal).await?;
    let list = endpoints::list(state.souk(), &s.principal, client, shop.id).await?;
    let mut lines = Vec::with_capacity(list.len());
    for e in list {
        let log = deliveries::list(state.souk(), &s.principal, client, &e.id, DELIVERIES_SHOWN).await?;
        lines.push(WebhookEndpointLine {
            deliveries: log
                .into_iter()
                .map(|d| WebhookDeliveryLine {
                    id: d.delivery.id,
                    event_type: d.delivery.event_type,
                    status: d.delivery.status,
                    created_at: day(d.delivery.created_at),
                    attempts: d
                        .attempts
                        .into_iter()
                        .map(|a| WebhookAttemptLine {
                            at: day(a.at),
                            http_status: a.http_status.map_or_else(|| "none".to_owned(), |s| s.to_string()),
                            error: a.error,
                            duration_ms: a.duration_ms,
                            triggered_by: a.triggered_by,
                        })
                        .collect(),
                })
                .collect(),
            id: e.id,
            url: e.url,
            events: e.events.join(", "),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
        });
    }
    Ok(SellerWebhooksPage {
        layout: Layout::new("Webhooks"),
        error,
        notice,
        csrf: s.csrf.clone(),
        endpoints: lines,
    })
}

pub(crate) async fn webhooks_page(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/seller/webhooks");
    let notice = if q.done.as_deref() == Some("redelivered") {
        "The delivery is queued: it is sent again within a few seconds.".to_owned()
    } else {
        String::new()
    };
    Ok(render(&page(&state, &s, &client, String::new(), notice).await?)?.into_response())
}

pub(crate) async fn redeliver(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path((endpoint, delivery)): Path<(String, String)>,
    SignedInForm(s, _): SignedInForm<CsrfOnly>,
) -> Result<Response, Problem> {
    match deliveries::redeliver(state.souk(), &s.principal, &client, &endpoint, &delivery).await {
        Ok(_) => Ok(see_other("/seller/webhooks?done=redelivered")),
        Err(e) => {
            let (status, error) = inline(e)?;
            page_with_status(status, &page(&state, &s, &client, error, String::new()).await?)
        }
    }
}
