//! A buyer's cart: lines from several shops, shown with today's price and stock, each line
//! flagged when it can no longer be bought as it is. Nothing is reserved until checkout.

use souk_domain::catalog::ListingStatus;
use souk_domain::checkout::{self as rules, MAX_LINES};
use souk_domain::ids::{ShopId, VariantId};
use souk_domain::shop::ShopStatus;
use souk_domain::{Currency, Money};
use souk_store::cart::{self as store, CartLine};

use crate::identity::{Credential, Principal};
use crate::{CoreError, Souk};

/// One line as the buyer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineView {
    pub line: CartLine,
    pub unit_price: Money,
    pub line_total: Money,
    /// Why the line cannot be bought as it is (gone, sold out, fewer left), if so.
    pub problem: Option<String>,
}

/// One shop's part of the cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopGroup {
    pub shop: ShopId,
    pub shop_name: String,
    pub shop_slug: String,
    pub lines: Vec<LineView>,
    pub items_total: Money,
}

/// The whole cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartView {
    pub groups: Vec<ShopGroup>,
    pub items_total: Money,
    /// Whether every line can be bought as it is.
    pub ready: bool,
}

/// Carts and checkouts are for people shopping in a browser session, not staff accounts
/// or API keys.
pub(crate) fn require_shopper(principal: &Principal) -> Result<(), CoreError> {
    if principal.is_staff() || !matches!(principal.credential, Credential::Session { .. }) {
        return Err(CoreError::Forbidden);
    }
    Ok(())
}

/// Why a line cannot be bought as it is now, if so.
pub(crate) fn line_problem(
    line: &CartLine,
    buyer: souk_domain::ids::AccountId,
    currency: Currency,
) -> Option<String> {
    let on_sale = line.listing_status == ListingStatus::Active.as_str()
        && ShopStatus::parse(&line.shop_status).is_some_and(ShopStatus::can_sell)
        && !line.variant_archived;
    if !on_sale {
        return Some("no longer for sale".into());
    }
    if line.shop_owner == buyer {
        return Some("you cannot buy from your own shop".into());
    }
    if line.currency != currency.code() {
        return Some("not sold in the marketplace currency".into());
    }
    if line.stock <= 0 {
        return Some("sold out".into());
    }
    if line.quantity > line.stock {
        return Some(format!("only {} left", line.stock));
    }
    None
}

/// The buyer's cart with today's prices and stock.
pub async fn view(souk: &Souk, principal: &Principal) -> Result<CartView, CoreError> {
    require_shopper(principal)?;
    let mut conn = souk.store.conn().await?;
    let lines = store::lines(&mut conn, principal.account).await?;
    let currency = souk.market.currency;
    let zero = Money::new(0, currency);
    let mut groups: Vec<ShopGroup> = Vec::new();
    let mut total = zero;
    let mut ready = !lines.is_empty();
    for line in lines {
        let unit_price = Money::new(line.price_minor, currency);
        let qty = u32::try_from(line.quantity).unwrap_or(0);
        let line_total = unit_price.checked_mul(qty).map_err(|e| CoreError::invalid("cart", e))?;
        let problem = line_problem(&line, principal.account, currency);
        ready &= problem.is_none();
        if problem.is_none() {
            total = total.checked_add(line_total).map_err(|e| CoreError::invalid("cart", e))?;
        }
        let view = LineView { line, unit_price, line_total, problem };
        match groups.iter_mut().find(|g| g.shop == view.line.shop) {
            Some(g) => {
                if view.problem.is_none() {
                    g.items_total =
                        g.items_total.checked_add(line_total).map_err(|e| CoreError::invalid("cart", e))?;
                }
                g.lines.push(view);
            }
            None => groups.push(ShopGroup {
                shop: view.line.shop,
                shop_name: view.line.shop_name.clone(),
                shop_slug: view.line.shop_slug.clone(),
                items_total: if view.problem.is_none() { line_total } else { zero },
                lines: vec![view],
            }),
        }
    }
    Ok(CartView { groups, items_total: total, ready })
}

/// Sets how many of a variant are in the cart (0 removes the line).
pub async fn set(
    souk: &Souk,
    principal: &Principal,
    variant: VariantId,
    quantity: i64,
) -> Result<CartView, CoreError> {
    require_shopper(principal)?;
    let mut conn = souk.store.conn().await?;
    if quantity == 0 {
        store::remove_line(&mut conn, principal.account, variant).await?;
        drop(conn);
        return view(souk, principal).await;
    }
    let qty = rules::quantity(quantity).map_err(|e| CoreError::invalid("quantity", e))?;
    let lines = store::lines(&mut conn, principal.account).await?;
    if lines.len() >= MAX_LINES && !lines.iter().any(|l| l.variant == variant) {
        return Err(CoreError::Conflict(format!("a cart holds at most {MAX_LINES} lines")));
    }
    // The variant must be on sale now: the store's join gives the same facts a cart line has.
    let row =
        souk_store::listings::variant(&mut conn, variant).await?.ok_or(CoreError::NotFound("variant"))?;
    let listing =
        souk_store::listings::by_id(&mut conn, row.listing).await?.ok_or(CoreError::NotFound("variant"))?;
    let shop =
        souk_store::shops::by_id(&mut conn, listing.shop).await?.ok_or(CoreError::NotFound("variant"))?;
    let probe = CartLine {
        variant,
        quantity: i64::from(qty),
        added_at: souk.clock.now(),
        sku: row.sku,
        variant_name: row.name,
        price_minor: row.price_minor,
        currency: row.currency,
        stock: row.stock,
        variant_archived: row.archived,
        listing: listing.id,
        title: listing.title,
        listing_status: listing.status,
        shop: shop.id,
        shop_name: shop.name,
        shop_slug: shop.slug,
        shop_status: shop.status,
        shop_owner: shop.owner,
    };
    match line_problem(&probe, principal.account, souk.market.currency) {
        // Something that is not on sale is indistinguishable from something that never was.
        Some(p) if p == "no longer for sale" => return Err(CoreError::NotFound("variant")),
        Some(p) => return Err(CoreError::Conflict(p)),
        None => {}
    }
    store::set_line(&mut conn, principal.account, variant, qty, souk.clock.now()).await?;
    drop(conn);
    view(souk, principal).await
}
