//! The page models of the seller hub and the staff console, handed to their templates.

use askama::Template;

use super::views::Layout;

/// The fields of the "open a shop" form, kept when it is shown again.
#[derive(Default)]
pub(crate) struct OpenShopFields {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub contact: String,
    pub return_policy: String,
    pub seller_kind: String,
}

/// A shop's dashboard.
pub(crate) struct Dashboard {
    pub name: String,
    pub slug: String,
    pub status: String,
    pub status_reason: String,
    pub role: String,
    pub active_listings: i64,
    pub listing_limit: String,
    pub order_limit: String,
    pub payouts_held: bool,
    /// How many orders ("200+" past the first page).
    pub orders: String,
    pub awaiting_shipment: usize,
    pub members: usize,
}

#[derive(Template)]
#[template(path = "seller_home.html")]
pub(crate) struct SellerHomePage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub is_seller: bool,
    pub form: OpenShopFields,
    pub shop: Option<Dashboard>,
}

pub(crate) struct ListingLine {
    pub id: String,
    pub title: String,
    pub status: String,
    pub price: String,
    pub stock: i64,
    pub takedown_reason: String,
}

#[derive(Template)]
#[template(path = "seller_listings.html")]
pub(crate) struct SellerListingsPage {
    pub layout: Layout,
    pub notice: String,
    pub shop_name: String,
    pub listings: Vec<ListingLine>,
}

/// One variant row of the listing form, as typed.
#[derive(Default, Clone)]
pub(crate) struct VariantField {
    pub sku: String,
    pub name: String,
    pub price: String,
    pub stock: String,
}

pub(crate) struct ImageView {
    pub id: String,
    pub thumb: String,
    pub alt: String,
}

#[derive(Template)]
#[template(path = "seller_listing_form.html")]
pub(crate) struct ListingFormPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub heading: String,
    pub action: String,
    pub listing_id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub status: String,
    pub takedown_reason: String,
    pub currency: String,
    pub categories: Vec<(&'static str, &'static str)>,
    pub variants: Vec<VariantField>,
    pub images: Vec<ImageView>,
    /// Owners and managers edit listings; fulfilment staff only look.
    pub can_edit: bool,
}

#[derive(Template)]
#[template(path = "seller_verification.html")]
pub(crate) struct VerificationPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub status: String,
    pub status_reason: String,
    pub submitted_at: String,
    pub decision: String,
    pub decision_reason: String,
    pub can_submit: bool,
    pub legal_name: String,
    pub address: String,
    pub registration_number: String,
}

pub(crate) struct MemberLine {
    pub account: String,
    pub handle: String,
    pub role: String,
    pub added_at: String,
}

pub(crate) struct InvitationLine {
    pub role: String,
    pub state: String,
    pub expires_at: String,
}

#[derive(Template)]
#[template(path = "seller_staff.html")]
pub(crate) struct ShopStaffPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub is_owner: bool,
    pub members: Vec<MemberLine>,
    pub invitations: Vec<InvitationLine>,
    pub email: String,
    pub role: String,
}

#[derive(Template)]
#[template(path = "seller_accept.html")]
pub(crate) struct AcceptPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub token: String,
}

pub(crate) struct OrderLineView {
    pub id: String,
    pub number: String,
    pub created_at: String,
    pub status: String,
    pub total: String,
}

#[derive(Template)]
#[template(path = "seller_orders.html")]
pub(crate) struct SellerOrdersPage {
    pub layout: Layout,
    pub shop_name: String,
    pub status: String,
    pub statuses: Vec<&'static str>,
    pub orders: Vec<OrderLineView>,
}

pub(crate) struct ItemView {
    pub title: String,
    pub variant: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price: String,
    pub total: String,
}

pub(crate) struct EventView {
    pub at: String,
    pub to: String,
    pub by: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "seller_order.html")]
pub(crate) struct SellerOrderPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub id: String,
    pub number: String,
    pub currency: String,
    pub status: String,
    pub explain: String,
    pub items: Vec<ItemView>,
    pub items_total: String,
    pub shipping: String,
    pub total: String,
    pub fee: String,
    pub address: Vec<String>,
    pub carrier: String,
    pub tracking_number: String,
    pub can_ship: bool,
    pub can_cancel: bool,
    pub can_refund: bool,
    pub refund_key: String,
    pub carriers: Vec<(&'static str, &'static str)>,
    pub history: Vec<EventView>,
}

pub(crate) struct ReviewView {
    pub id: String,
    pub rating: i64,
    pub body: String,
    pub buyer: String,
    pub created_at: String,
    pub reply: String,
}

#[derive(Template)]
#[template(path = "seller_reviews.html")]
pub(crate) struct SellerReviewsPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub reviews: Vec<ReviewView>,
}

// ---- staff console ----------------------------------------------------------------------

pub(crate) struct QueueLine {
    pub id: String,
    pub shop_name: String,
    pub submitted_at: String,
}

#[derive(Template)]
#[template(path = "staff_verifications.html")]
pub(crate) struct StaffQueuePage {
    pub layout: Layout,
    pub notice: String,
    pub items: Vec<QueueLine>,
}

#[derive(Template)]
#[template(path = "staff_verification.html")]
pub(crate) struct StaffReviewPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub id: String,
    pub shop_id: String,
    pub shop_name: String,
    pub shop_slug: String,
    pub shop_status: String,
    pub seller_kind: String,
    pub legal_name: String,
    pub address: String,
    pub registration_number: String,
    pub document_type: String,
    pub document_url: String,
    pub submitted_at: String,
    pub decision: String,
    pub decision_reason: String,
    pub same_registration: Vec<(String, String)>,
    pub can_decide: bool,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "staff_takedown.html")]
pub(crate) struct StaffTakedownPage {
    pub layout: Layout,
    pub can_act: bool,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub id: String,
    pub reason: String,
}

pub(crate) struct ReportView {
    pub id: String,
    pub reason: String,
    pub reported_at: String,
    pub shop_name: String,
    pub buyer: String,
    pub from: String,
    pub body: String,
    pub warnings: Vec<String>,
}

#[derive(Template)]
#[template(path = "staff_reports.html")]
pub(crate) struct StaffReportsPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub reports: Vec<ReportView>,
}

#[derive(Template)]
#[template(path = "staff_review_removal.html")]
pub(crate) struct StaffReviewRemovalPage {
    pub layout: Layout,
    pub can_act: bool,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub id: String,
    pub reason: String,
}

// ---- webhooks -----------------------------------------------------------------------------

pub(crate) struct WebhookAttemptLine {
    pub at: String,
    pub http_status: String,
    pub error: String,
    pub duration_ms: i64,
    pub triggered_by: String,
}

pub(crate) struct WebhookDeliveryLine {
    pub id: String,
    pub event_type: String,
    pub status: String,
    pub created_at: String,
    pub attempts: Vec<WebhookAttemptLine>,
}

pub(crate) struct WebhookEndpointLine {
    pub id: String,
    pub url: String,
    pub events: String,
    pub enabled: bool,
    pub disabled_reason: String,
    pub deliveries: Vec<WebhookDeliveryLine>,
}

#[derive(Template)]
#[template(path = "seller_webhooks.html")]
pub(crate) struct SellerWebhooksPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub endpoints: Vec<WebhookEndpointLine>,
}
