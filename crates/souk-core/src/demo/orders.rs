//! Demo orders and reviews: each demo buyer has bought from two shops; the orders went all
//! the way (paid, shipped, delivered, completed) and the buyers reviewed them, so shop pages
//! show a reputation. Written straight to the store like the rest of the demo, with the
//! shipping addresses sealed under the buyers' keys as a real checkout would.

use souk_crypto::FieldContext;
use souk_domain::Timestamp;
use souk_domain::checkout::ShippingAddress;
use souk_domain::ids::AccountId;
use souk_domain::order::OrderStatus;
use souk_store::orders::{self as store, CheckoutRow, OrderEvent, OrderLine, OrderRow};

use super::demo_uuid;
use crate::{CoreError, Souk};

const REVIEWS: &[(i64, &str)] = &[
    (5, "Beautifully made and carefully packed. It looks even better than in the photos."),
    (5, "Arrived quickly, with a handwritten note. Will buy again."),
    (4, "Lovely piece; shipping took a few days longer than I hoped, but the seller kept me posted."),
    (5, "Exactly as described. The quality is excellent."),
    (4, "Very nice, the colour is slightly darker than on my screen. Happy with it."),
    (5, "A perfect gift. The seller answered my questions within the hour."),
];

/// One demo purchase: which buyer, which listing, and how long ago.
pub(super) struct Purchase<'a> {
    pub buyer: AccountId,
    pub buyer_handle: &'a str,
    pub buyer_name: &'a str,
    pub address: &'a str,
    pub listing: souk_store::listings::ListingRow,
    pub variant: souk_store::listings::VariantRow,
    pub days_ago: i64,
    pub review: usize,
}

/// Writes a completed order (and its review) unless it exists. Returns whether it was new.
#[expect(clippy::too_many_lines, reason = "one order's records, written in order")]
pub(super) async fn purchase(
    souk: &Souk,
    tx: &mut sqlx::AnyConnection,
    p: &Purchase<'_>,
    now: Timestamp,
) -> Result<bool, CoreError> {
    let key = format!("{}/{}", p.buyer_handle, p.listing.id);
    let order_id = demo_uuid("order", &key).to_string();
    if store::order(tx, &order_id).await?.is_some() {
        return Ok(false);
    }
    let checkout_id = demo_uuid("checkout", &key).to_string();
    let day = 86_400_000_000i64;
    let placed_at = now.plus_micros(-p.days_ago * day);
    let currency = souk.market.currency;
    let address = ShippingAddress {
        name: p.buyer_name.to_owned(),
        line1: p.address.split(',').next().unwrap_or(p.address).trim().to_owned(),
        line2: String::new(),
        postal_code: "00000".into(),
        city: p.address.split(',').nth(1).unwrap_or("").trim().to_owned(),
        country: "FR".into(),
    };
    let buyer = p.buyer.to_string();
    let json = serde_json::to_vec(&address).map_err(|e| CoreError::Internal(Box::new(e)))?;
    let ctx = FieldContext { table: "checkouts", column: "shipping_address", row_id: &checkout_id };
    let sealed = souk
        .keys
        .seal(tx, souk_crypto::Subject { kind: "account", id: &buyer }, &ctx, &json, placed_at)
        .await?;
    let shipping = 490;
    let items = p.variant.price_minor;
    store::insert_checkout(
        tx,
        &CheckoutRow {
            id: checkout_id.clone(),
            buyer: p.buyer,
            currency: currency.code().to_owned(),
            items_minor: items,
            shipping_minor: shipping,
            total_minor: items + shipping,
            shipping_address_sealed: sealed.as_bytes().to_vec(),
            payment_state: "paid".into(),
            risk_decision: "allow".into(),
            created_at: placed_at,
            expires_at: placed_at.plus_micros(1_800_000_000),
        },
    )
    .await?;
    let fee =
        i64::try_from(i128::from(items) * i128::from(souk.market.platform_fee_bps) / 10_000).unwrap_or(0);
    store::insert_order(
        tx,
        &OrderRow {
            id: order_id.clone(),
            number: format!("DEMO-{}", &order_id[..8].to_ascii_uppercase()),
            checkout: checkout_id,
            shop: p.listing.shop,
            buyer: p.buyer,
            status: OrderStatus::Placed.as_str().to_owned(),
            currency: currency.code().to_owned(),
            items_minor: items,
            shipping_minor: shipping,
            total_minor: items + shipping,
            platform_fee_minor: fee,
            shipping_option: "standard".into(),
            carrier: None,
            tracking_number: None,
            created_at: placed_at,
            updated_at: placed_at,
            shop_name: String::new(),
        },
    )
    .await?;
    store::insert_line(
        tx,
        &order_id,
        &OrderLine {
            line_no: 1,
            listing: p.listing.id,
            variant: p.variant.id,
            title: p.listing.title.clone(),
            variant_name: p.variant.name.clone(),
            sku: p.variant.sku.clone(),
            unit_price_minor: items,
            quantity: 1,
            total_minor: items,
        },
    )
    .await?;
    let steps = [
        ("", "placed", "place", 0),
        ("placed", "paid", "pay", 0),
        ("paid", "shipped", "ship", 1),
        ("shipped", "delivered", "confirm_delivery", 4),
        ("delivered", "completed", "complete", 18),
    ];
    for (from, to, transition, days) in steps {
        let event = OrderEvent {
            from: from.to_owned(),
            to: to.to_owned(),
            transition: transition.to_owned(),
            actor_kind: "system".into(),
            actor_id: "demo".into(),
            note: if to == "shipped" { "la_poste 6A1234567890".into() } else { String::new() },
            at: placed_at.plus_micros(days * day),
        };
        if from.is_empty() {
            store::insert_event(tx, &order_id, &event).await?;
        } else {
            store::transition(tx, &order_id, &event).await?;
        }
    }
    store::set_tracking(tx, &order_id, "la_poste", "6A1234567890").await?;
    let (rating, body) = REVIEWS.get(p.review % REVIEWS.len()).copied().unwrap_or((5, "Lovely."));
    souk_store::reviews::insert(
        tx,
        &souk_store::reviews::ReviewRow {
            id: demo_uuid("review", &key).to_string(),
            order: order_id,
            shop: p.listing.shop,
            buyer: p.buyer,
            buyer_handle: p.buyer_handle.to_owned(),
            rating,
            body: body.to_owned(),
            created_at: placed_at.plus_micros(19 * day),
            reply: None,
            replied_at: None,
            removed: false,
            removal_reason: None,
        },
    )
    .await?;
    Ok(true)
}
