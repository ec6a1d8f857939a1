//! The page models of the buyer's pages (search, cart, checkout, orders, messages): what
//! each template reads, already formatted. Nothing here reaches for data.

use askama::Template;

use super::views::{Card, Layout};

#[derive(Template)]
#[template(path = "search.html")]
pub(crate) struct SearchPage {
    pub layout: Layout,
    pub q: String,
    pub category: String,
    pub cards: Vec<Card>,
    pub next_url: Option<String>,
}

/// A variant as the listing page offers it.
pub(crate) struct VariantOption {
    pub id: String,
    pub name: String,
    pub price: String,
    pub stock: i64,
}

/// One line of the cart.
pub(crate) struct CartLineRow {
    pub variant: String,
    pub listing_url: String,
    pub title: String,
    pub variant_name: String,
    pub quantity: i64,
    pub unit_price: String,
    pub line_total: String,
    pub problem: String,
}

/// One shop's part of the cart: it becomes one order.
pub(crate) struct CartShop {
    pub shop_id: String,
    pub shop_name: String,
    pub shop_url: String,
    pub lines: Vec<CartLineRow>,
    pub subtotal: String,
}

#[derive(Template)]
#[template(path = "cart.html")]
pub(crate) struct CartPage {
    pub layout: Layout,
    pub csrf: String,
    pub error: String,
    pub notice: String,
    pub shops: Vec<CartShop>,
    pub total: String,
    pub ready: bool,
}

/// A shipping option in the checkout's choice per shop.
pub(crate) struct ShipChoice {
    pub code: &'static str,
    pub label: String,
    pub selected: bool,
}

/// One shop's part at checkout, with its shipping choice.
pub(crate) struct CheckoutShop {
    pub shop: CartShop,
    pub options: Vec<ShipChoice>,
}

/// The address fields, as typed (kept when the form is shown again).
#[derive(Default)]
pub(crate) struct AddressFields {
    pub name: String,
    pub line1: String,
    pub line2: String,
    pub postal_code: String,
    pub city: String,
    pub country: String,
}

#[derive(Template)]
#[template(path = "checkout.html")]
pub(crate) struct CheckoutPage {
    pub layout: Layout,
    pub csrf: String,
    pub error: String,
    pub notice: String,
    pub idempotency_key: String,
    pub shops: Vec<CheckoutShop>,
    pub address: AddressFields,
    pub items_total: String,
    /// The items' total in minor units (sent back, so a price change stops the checkout).
    pub items_minor: i64,
    /// Items plus the shipping chosen (standard unless another was picked).
    pub total: String,
    /// Shipping per option, for the explanation beside the choices.
    pub shipping_note: String,
    pub ready: bool,
}

/// An order as a row of a list.
pub(crate) struct OrderRowView {
    pub url: String,
    pub number: String,
    pub shop_name: String,
    pub status: String,
    pub status_label: String,
    pub total: String,
    pub placed_at: String,
}

#[derive(Template)]
#[template(path = "orders.html")]
pub(crate) struct OrdersPage {
    pub layout: Layout,
    pub heading: String,
    pub intro: String,
    pub awaiting_payment: bool,
    pub orders: Vec<OrderRowView>,
    pub next_url: Option<String>,
}

/// A line of an order.
pub(crate) struct OrderLineView {
    pub title: String,
    pub variant_name: String,
    pub quantity: i64,
    pub unit_price: String,
    pub total: String,
}

/// A step of an order's history.
pub(crate) struct HistoryStep {
    pub at: String,
    pub label: String,
    pub by: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "order.html")]
pub(crate) struct OrderPage {
    pub layout: Layout,
    pub csrf: String,
    pub error: String,
    pub notice: String,
    pub id: String,
    pub number: String,
    pub shop_name: String,
    pub status: String,
    pub status_label: String,
    /// The viewer's part: buyer, seller or staff (the message form is the buyer's).
    pub viewer: &'static str,
    pub lines: Vec<OrderLineView>,
    pub items: String,
    pub shipping: String,
    pub shipping_option: String,
    pub total: String,
    pub address: Vec<String>,
    pub tracking: Option<(String, String)>,
    pub history: Vec<HistoryStep>,
    pub can_cancel: bool,
    pub can_confirm: bool,
    pub can_review: bool,
    /// The buyer's review of this order, once written: (stars, text, the shop's reply).
    pub review: Option<(String, String, Option<String>)>,
}

/// A conversation as a row of the inbox.
pub(crate) struct ConversationItem {
    pub url: String,
    pub with: String,
    pub about: String,
    pub last_at: String,
}

#[derive(Template)]
#[template(path = "conversations.html")]
pub(crate) struct ConversationsPage {
    pub layout: Layout,
    pub conversations: Vec<ConversationItem>,
}

/// A safety warning shown beside a message.
pub(crate) struct WarningView {
    pub severity: String,
    pub text: String,
}

/// One message of a thread.
pub(crate) struct MessageItem {
    pub id: String,
    pub mine: bool,
    pub from: String,
    pub body: String,
    pub at: String,
    pub warnings: Vec<WarningView>,
}

#[derive(Template)]
#[template(path = "conversation.html")]
pub(crate) struct ConversationPage {
    pub layout: Layout,
    pub csrf: String,
    pub error: String,
    pub notice: String,
    pub id: String,
    pub with: String,
    pub about: String,
    pub about_url: String,
    pub messages: Vec<MessageItem>,
}

/// A 3-D Secure challenge the buyer answers on the checkout page.
pub(crate) struct ChallengeView {
    pub payment_id: String,
    pub challenge_id: String,
}

/// One checkout: its orders, and the card form while it awaits payment (the card goes to
/// the vault's endpoint; only the token comes back to the marketplace's form).
#[derive(Template)]
#[template(path = "checkout_placed.html")]
pub(crate) struct CheckoutPlacedPage {
    pub layout: Layout,
    pub id: String,
    pub intro: String,
    pub awaiting_payment: bool,
    pub paid: bool,
    pub total: String,
    pub message: String,
    pub challenge: Option<ChallengeView>,
    pub csrf: String,
    pub script: String,
    pub orders: Vec<OrderRowView>,
}
