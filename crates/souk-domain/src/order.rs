//! The order state machine: the statuses an order moves through, which transitions each
//! status accepts and who may make them, and the shipment tracking a seller attaches.
//!
//! One order is one shop's part of a checkout, so every order has exactly one buyer and one
//! seller. The table below is the whole rule: `apply` refuses everything it does not list,
//! and pages read the same table (`allowed`, `available_to`) to show only the buttons that
//! would succeed.

use std::fmt;

use serde::{Deserialize, Serialize};

use self::Actor::{Buyer, Seller, Staff, System};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Checked out, awaiting payment.
    Placed,
    /// The payment was captured; the seller must ship.
    Paid,
    Shipped,
    Delivered,
    /// The sale is final: the seller's payout may be released.
    Completed,
    Cancelled,
    Refunded,
    /// The buyer opened a dispute; staff decide it.
    Disputed,
}

/// Who asks for a transition. `System` is Souk itself: the payments layer and timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    Buyer,
    Seller,
    Staff,
    System,
}

/// A step an order can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Pay,
    Cancel,
    Ship,
    ConfirmDelivery,
    /// Delivery confirmed by a timer because the buyer did not confirm in time.
    AutoConfirmDelivery,
    Complete,
    OpenDispute,
    /// Staff found for the seller: the order returns to `Delivered` and completes normally.
    ResolveForSeller,
    /// Staff found for the buyer: the order is refunded.
    ResolveForBuyer,
    Refund,
}

/// One row of the table: from the status it belongs to, `transition` by any of `actors`
/// leads to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    pub transition: Transition,
    pub actors: &'static [Actor],
    pub to: OrderStatus,
}

/// Why a transition was refused. The two cases are different answers to the client: the
/// order is in the wrong state whoever asks (409 Conflict), or the step exists but this
/// actor may not take it (403 Forbidden).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTransition {
    #[error("cannot {transition} an order that is {from} (asked by the {actor})")]
    NotAllowed { from: OrderStatus, transition: Transition, actor: Actor },
    #[error("the {actor} may not {transition} an order that is {from}")]
    Forbidden { from: OrderStatus, transition: Transition, actor: Actor },
}

impl InvalidTransition {
    #[must_use]
    pub const fn from(&self) -> OrderStatus {
        match *self {
            Self::NotAllowed { from, .. } | Self::Forbidden { from, .. } => from,
        }
    }

    #[must_use]
    pub const fn transition(&self) -> Transition {
        match *self {
            Self::NotAllowed { transition, .. } | Self::Forbidden { transition, .. } => transition,
        }
    }

    #[must_use]
    pub const fn actor(&self) -> Actor {
        match *self {
            Self::NotAllowed { actor, .. } | Self::Forbidden { actor, .. } => actor,
        }
    }
}

const fn row(transition: Transition, actors: &'static [Actor], to: OrderStatus) -> Allowed {
    Allowed { transition, actors, to }
}

// INVARIANT: a transition appears at most once per status, so `apply` has one answer.
// A test checks it.
const FROM_PLACED: &[Allowed] = &[
    row(Transition::Pay, &[System], OrderStatus::Paid),
    row(Transition::Cancel, &[Buyer, Seller, Staff, System], OrderStatus::Cancelled),
];
// Cancelling a paid order is allowed to both parties before shipping; the payments layer
// refunds the captured payment when it sees the order cancelled.
const FROM_PAID: &[Allowed] = &[
    row(Transition::Cancel, &[Buyer, Seller, Staff], OrderStatus::Cancelled),
    row(Transition::Ship, &[Seller], OrderStatus::Shipped),
    row(Transition::Refund, &[Seller, Staff], OrderStatus::Refunded),
];
const FROM_SHIPPED: &[Allowed] = &[
    row(Transition::ConfirmDelivery, &[Buyer], OrderStatus::Delivered),
    row(Transition::AutoConfirmDelivery, &[System], OrderStatus::Delivered),
    row(Transition::OpenDispute, &[Buyer], OrderStatus::Disputed),
    row(Transition::Refund, &[Seller, Staff], OrderStatus::Refunded),
];
const FROM_DELIVERED: &[Allowed] = &[
    row(Transition::Complete, &[System, Staff], OrderStatus::Completed),
    row(Transition::OpenDispute, &[Buyer], OrderStatus::Disputed),
    row(Transition::Refund, &[Seller, Staff], OrderStatus::Refunded),
];
// A dispute found for the seller goes back to `Delivered` rather than straight to
// `Completed`, so payout still happens through the one completion path.
const FROM_DISPUTED: &[Allowed] = &[
    row(Transition::ResolveForSeller, &[Staff], OrderStatus::Delivered),
    row(Transition::ResolveForBuyer, &[Staff], OrderStatus::Refunded),
];

impl OrderStatus {
    pub const ALL: [Self; 8] = [
        Self::Placed,
        Self::Paid,
        Self::Shipped,
        Self::Delivered,
        Self::Completed,
        Self::Cancelled,
        Self::Refunded,
        Self::Disputed,
    ];

    /// The stable name used in storage and URLs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Placed => "placed",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
            Self::Disputed => "disputed",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// A terminal order accepts no transition at all. `Disputed` is not terminal: staff
    /// still have to decide it.
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled | Self::Refunded)
    }

    /// Every transition this status accepts, with who may make it and where it leads.
    #[must_use]
    pub const fn allowed(self) -> &'static [Allowed] {
        match self {
            Self::Placed => FROM_PLACED,
            Self::Paid => FROM_PAID,
            Self::Shipped => FROM_SHIPPED,
            Self::Delivered => FROM_DELIVERED,
            Self::Disputed => FROM_DISPUTED,
            Self::Completed | Self::Cancelled | Self::Refunded => &[],
        }
    }

    /// The transitions `by` may make from this status: the buttons a page shows them.
    pub fn available_to(self, by: Actor) -> impl Iterator<Item = Transition> {
        self.allowed().iter().filter(move |r| r.actors.contains(&by)).map(|r| r.transition)
    }

    #[must_use]
    pub fn can(self, transition: Transition, by: Actor) -> bool {
        self.apply(transition, by).is_ok()
    }

    /// The status after `transition` by `by`, or why it is refused. Whether the step exists
    /// in this status is checked first, so the answer about state does not depend on who
    /// asks.
    pub fn apply(self, transition: Transition, by: Actor) -> Result<Self, InvalidTransition> {
        let Some(rule) = self.allowed().iter().find(|r| r.transition == transition) else {
            return Err(InvalidTransition::NotAllowed { from: self, transition, actor: by });
        };
        if rule.actors.contains(&by) {
            Ok(rule.to)
        } else {
            Err(InvalidTransition::Forbidden { from: self, transition, actor: by })
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Actor {
    pub const ALL: [Self; 4] = [Self::Buyer, Self::Seller, Self::Staff, Self::System];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Buyer => "buyer",
            Self::Seller => "seller",
            Self::Staff => "staff",
            Self::System => "system",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Transition {
    pub const ALL: [Self; 10] = [
        Self::Pay,
        Self::Cancel,
        Self::Ship,
        Self::ConfirmDelivery,
        Self::AutoConfirmDelivery,
        Self::Complete,
        Self::OpenDispute,
        Self::ResolveForSeller,
        Self::ResolveForBuyer,
        Self::Refund,
    ];

    /// The stable name used in storage, audit records and form values.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pay => "pay",
            Self::Cancel => "cancel",
            Self::Ship => "ship",
            Self::ConfirmDelivery => "confirm_delivery",
            Self::AutoConfirmDelivery => "auto_confirm_delivery",
            Self::Complete => "complete",
            Self::OpenDispute => "open_dispute",
            Self::ResolveForSeller => "resolve_for_seller",
            Self::ResolveForBuyer => "resolve_for_buyer",
            Self::Refund => "refund",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The carriers a seller can pick when marking an order shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    Dhl,
    Ups,
    Fedex,
    Usps,
    RoyalMail,
    LaPoste,
    Postnl,
    Other,
}

impl Carrier {
    pub const ALL: [Self; 8] = [
        Self::Dhl,
        Self::Ups,
        Self::Fedex,
        Self::Usps,
        Self::RoyalMail,
        Self::LaPoste,
        Self::Postnl,
        Self::Other,
    ];

    /// The stable name used in storage and form values.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Dhl => "dhl",
            Self::Ups => "ups",
            Self::Fedex => "fedex",
            Self::Usps => "usps",
            Self::RoyalMail => "royal_mail",
            Self::LaPoste => "la_poste",
            Self::Postnl => "postnl",
            Self::Other => "other",
        }
    }

    /// The carrier's name as people write it.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Dhl => "DHL",
            Self::Ups => "UPS",
            Self::Fedex => "FedEx",
            Self::Usps => "USPS",
            Self::RoyalMail => "Royal Mail",
            Self::LaPoste => "La Poste",
            Self::Postnl => "PostNL",
            Self::Other => "Other carrier",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A tracking number was not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackingError {
    #[error("unknown carrier")]
    UnknownCarrier,
    #[error("a tracking number must be between {min} and {max} characters")]
    Length { min: usize, max: usize },
    #[error("a tracking number may contain only letters, digits and inner hyphens")]
    Characters,
}

/// A validated shipment reference: a known carrier and a tracking number made only of
/// ASCII letters, digits and hyphens.
///
/// SECURITY: the number is shown in pages and sent in mails, so it is restricted to
/// characters that need no escaping anywhere and cannot carry markup, links or lookalike
/// text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "TrackingParts", into = "TrackingParts")]
pub struct Tracking {
    carrier: Carrier,
    number: String,
}

/// The stored shape of a [`Tracking`]; deserializing goes through [`Tracking::parse`] so a
/// stored or submitted value is checked like a typed one.
#[derive(Serialize, Deserialize)]
struct TrackingParts {
    carrier: String,
    number: String,
}

impl Tracking {
    pub const MIN_LEN: usize = 4;
    pub const MAX_LEN: usize = 40;

    /// Checks a carrier name (as in [`Carrier::as_str`]) and a tracking number. The number is
    /// trimmed and upper-cased: carriers print them in capitals and match them without
    /// regard to case, and one spelling per parcel keeps comparisons and links simple.
    pub fn parse(carrier: &str, number: &str) -> Result<Self, TrackingError> {
        let carrier = Carrier::parse(carrier).ok_or(TrackingError::UnknownCarrier)?;
        let number = number.trim();
        // Counted in chars, so a multi-byte character is reported as a bad character rather
        // than as a length problem.
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&number.chars().count()) {
            return Err(TrackingError::Length { min: Self::MIN_LEN, max: Self::MAX_LEN });
        }
        let ok_chars = number.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        // No carrier's numbers start or end with a hyphen; refusing them also refuses "----".
        if !ok_chars || number.starts_with('-') || number.ends_with('-') {
            return Err(TrackingError::Characters);
        }
        Ok(Self { carrier, number: number.to_ascii_uppercase() })
    }

    #[must_use]
    pub const fn carrier(&self) -> Carrier {
        self.carrier
    }

    #[must_use]
    pub fn number(&self) -> &str {
        &self.number
    }
}

impl TryFrom<TrackingParts> for Tracking {
    type Error = TrackingError;

    fn try_from(parts: TrackingParts) -> Result<Self, Self::Error> {
        Self::parse(&parts.carrier, &parts.number)
    }
}

impl From<Tracking> for TrackingParts {
    fn from(t: Tracking) -> Self {
        Self { carrier: t.carrier.as_str().to_owned(), number: t.number }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use OrderStatus::{Cancelled, Completed, Delivered, Disputed, Paid, Placed, Refunded, Shipped};
    use Transition::{
        AutoConfirmDelivery, Cancel, Complete, ConfirmDelivery, OpenDispute, Pay, Refund, ResolveForBuyer,
        ResolveForSeller, Ship,
    };

    /// The specification, written out row by row independently of the implementation's
    /// per-status tables: (from, transition, actors allowed, to).
    const SPEC: &[(OrderStatus, Transition, &[Actor], OrderStatus)] = &[
        (Placed, Pay, &[System], Paid),
        (Placed, Cancel, &[Buyer, Seller, Staff, System], Cancelled),
        (Paid, Cancel, &[Buyer, Seller, Staff], Cancelled),
        (Paid, Ship, &[Seller], Shipped),
        (Paid, Refund, &[Seller, Staff], Refunded),
        (Shipped, ConfirmDelivery, &[Buyer], Delivered),
        (Shipped, AutoConfirmDelivery, &[System], Delivered),
        (Shipped, OpenDispute, &[Buyer], Disputed),
        (Shipped, Refund, &[Seller, Staff], Refunded),
        (Delivered, Complete, &[System, Staff], Completed),
        (Delivered, OpenDispute, &[Buyer], Disputed),
        (Delivered, Refund, &[Seller, Staff], Refunded),
        (Disputed, ResolveForSeller, &[Staff], Delivered),
        (Disputed, ResolveForBuyer, &[Staff], Refunded),
    ];

    /// What the specification says about one request.
    fn reference(from: OrderStatus, t: Transition, by: Actor) -> Result<OrderStatus, InvalidTransition> {
        match SPEC.iter().find(|(f, tt, _, _)| *f == from && *tt == t) {
            None => Err(InvalidTransition::NotAllowed { from, transition: t, actor: by }),
            Some((_, _, actors, to)) if actors.contains(&by) => Ok(*to),
            Some(_) => Err(InvalidTransition::Forbidden { from, transition: t, actor: by }),
        }
    }

    #[test]
    fn every_row_of_the_table_is_accepted_for_its_actors_only() {
        for (from, t, actors, to) in SPEC {
            for by in Actor::ALL {
                let got = from.apply(*t, by);
                if actors.contains(&by) {
                    assert_eq!(got, Ok(*to), "{from} --{t}[{by}]");
                    assert!(from.can(*t, by));
                } else {
                    assert_eq!(
                        got,
                        Err(InvalidTransition::Forbidden { from: *from, transition: *t, actor: by }),
                        "{from} --{t}[{by}] must be forbidden"
                    );
                    assert!(!from.can(*t, by));
                }
            }
        }
    }

    #[test]
    fn everything_outside_the_table_is_not_allowed_in_that_state() {
        let mut refused = 0;
        for from in OrderStatus::ALL {
            for t in Transition::ALL {
                if SPEC.iter().any(|(f, tt, _, _)| *f == from && *tt == t) {
                    continue;
                }
                for by in Actor::ALL {
                    assert_eq!(
                        from.apply(t, by),
                        Err(InvalidTransition::NotAllowed { from, transition: t, actor: by })
                    );
                    refused += 1;
                }
            }
        }
        // 8 statuses × 10 transitions − 14 rows, by 4 actors.
        assert_eq!(refused, (80 - SPEC.len()) * 4);
    }

    #[test]
    fn the_published_table_matches_the_specification_and_has_one_row_per_transition() {
        let mut published = Vec::new();
        for from in OrderStatus::ALL {
            let rows = from.allowed();
            for (i, r) in rows.iter().enumerate() {
                assert!(
                    rows.iter().skip(i + 1).all(|other| other.transition != r.transition),
                    "{from} lists {} twice",
                    r.transition
                );
                published.push((from, r.transition, r.actors, r.to));
            }
        }
        assert_eq!(published.len(), SPEC.len());
        for row in SPEC {
            assert!(published.contains(row), "missing {row:?}");
        }
    }

    #[test]
    fn the_buttons_shown_are_the_transitions_that_would_succeed() {
        for from in OrderStatus::ALL {
            for by in Actor::ALL {
                let shown: Vec<_> = from.available_to(by).collect();
                let succeed: Vec<_> = Transition::ALL.into_iter().filter(|t| from.can(*t, by)).collect();
                assert_eq!(shown.len(), succeed.len(), "{from}/{by}");
                assert!(shown.iter().all(|t| succeed.contains(t)));
            }
        }
        assert_eq!(Paid.available_to(Seller).collect::<Vec<_>>(), [Cancel, Ship, Refund]);
        assert_eq!(Paid.available_to(Buyer).collect::<Vec<_>>(), [Cancel]);
        assert_eq!(Shipped.available_to(Buyer).collect::<Vec<_>>(), [ConfirmDelivery, OpenDispute]);
        assert_eq!(Completed.available_to(Staff).count(), 0);
    }

    #[test]
    fn terminal_statuses_accept_nothing_and_disputed_is_not_terminal() {
        let terminal: Vec<_> = OrderStatus::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, [Completed, Cancelled, Refunded]);
        for s in terminal {
            assert!(s.allowed().is_empty());
        }
        assert!(!Disputed.is_terminal());
    }

    #[test]
    fn errors_say_what_was_refused_and_why() {
        let conflict = Placed.apply(Ship, Seller).unwrap_err();
        assert_eq!(conflict.to_string(), "cannot ship an order that is placed (asked by the seller)");
        assert_eq!((conflict.from(), conflict.transition(), conflict.actor()), (Placed, Ship, Seller));
        let forbidden = Paid.apply(Ship, Buyer).unwrap_err();
        assert_eq!(forbidden.to_string(), "the buyer may not ship an order that is paid");
        assert!(matches!(forbidden, InvalidTransition::Forbidden { .. }));
        // The payment provider's callback is the only way to pay: a buyer cannot mark it paid.
        assert!(matches!(Placed.apply(Pay, Buyer), Err(InvalidTransition::Forbidden { .. })));
        // Nobody but staff settles a dispute, not even the seller it concerns.
        assert!(matches!(Disputed.apply(ResolveForSeller, Seller), Err(InvalidTransition::Forbidden { .. })));
        // Once shipped, a buyer can no longer cancel; they open a dispute instead.
        assert!(matches!(Shipped.apply(Cancel, Buyer), Err(InvalidTransition::NotAllowed { .. })));
    }

    #[test]
    fn names_round_trip_through_text_and_serde() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        for t in Transition::ALL {
            assert_eq!(Transition::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{}\"", t.as_str()));
        }
        for a in Actor::ALL {
            assert_eq!(Actor::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{}\"", a.as_str()));
        }
        for c in Carrier::ALL {
            assert_eq!(Carrier::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.as_str()));
        }
        assert_eq!(OrderStatus::parse("Paid"), None);
        assert_eq!(OrderStatus::parse("canceled"), None);
    }

    #[test]
    fn tracking_numbers_are_plain_and_bounded() {
        let t = Tracking::parse("royal_mail", "  rr123456789gb ").unwrap();
        assert_eq!((t.carrier(), t.number()), (Carrier::RoyalMail, "RR123456789GB"));
        assert_eq!(Tracking::parse("ups", "1Z999AA10123456784").unwrap().number(), "1Z999AA10123456784");
        assert!(Tracking::parse("la_poste", "6A-1234-5678").is_ok());
        assert!(Tracking::parse("other", "ABCD").is_ok());
        assert!(Tracking::parse("other", &"A".repeat(40)).is_ok());

        for carrier in ["DHL", "dpd", "", "royal mail", "la-poste"] {
            assert_eq!(
                Tracking::parse(carrier, "ABCD1234"),
                Err(TrackingError::UnknownCarrier),
                "{carrier:?}"
            );
        }
        for short_or_long in ["", "   ", "ABC", &"A".repeat(41)] {
            assert!(matches!(Tracking::parse("dhl", short_or_long), Err(TrackingError::Length { .. })));
        }
        for bad in [
            "AB CD 1234",
            "<script>",
            "1234\n5678",
            "https://x.y",
            "ABCD_1234",
            "ÄBCD1234",
            "１２３４５",
            "-ABCD",
            "ABCD-",
            "----",
        ] {
            assert_eq!(Tracking::parse("dhl", bad), Err(TrackingError::Characters), "{bad:?}");
        }
    }

    #[test]
    fn tracking_deserializes_only_through_the_same_checks() {
        let t = Tracking::parse("postnl", "3SABCD1234567").unwrap();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"carrier":"postnl","number":"3SABCD1234567"}"#);
        assert_eq!(serde_json::from_str::<Tracking>(&json).unwrap(), t);
        assert!(serde_json::from_str::<Tracking>(r#"{"carrier":"postnl","number":"<b>x</b>"}"#).is_err());
        assert!(serde_json::from_str::<Tracking>(r#"{"carrier":"pigeon","number":"ABCD"}"#).is_err());
    }

    /// A step of a random sequence: either any (transition, actor) pair, or (when
    /// `follow` is set) one of the pairs the current status accepts, picked by `pick`.
    /// Following the table often is what lets sequences reach `Delivered` and `Completed`;
    /// uniformly random pairs almost never get past `Paid`.
    fn any_step() -> impl Strategy<Value = (bool, usize, Transition, Actor)> {
        (
            prop::bool::weighted(0.6),
            any::<usize>(),
            prop::sample::select(Transition::ALL.to_vec()),
            prop::sample::select(Actor::ALL.to_vec()),
        )
    }

    proptest! {
        #[test]
        fn random_sequences_follow_the_specification(steps in prop::collection::vec(any_step(), 0..40)) {
            let mut status = Placed;
            // The statuses this order actually went through, in order.
            let mut history = vec![Placed];
            for (follow, pick, t, by) in steps {
                let accepted: Vec<_> = SPEC
                    .iter()
                    .filter(|(f, _, _, _)| *f == status)
                    .flat_map(|(_, t, actors, _)| actors.iter().map(move |a| (*t, *a)))
                    .collect();
                let (t, by) = if follow && !accepted.is_empty() { accepted[pick % accepted.len()] } else { (t, by) };
                let expected = reference(status, t, by);
                let got = status.apply(t, by);
                prop_assert_eq!(got, expected);
                if status.is_terminal() {
                    prop_assert!(got.is_err(), "{} accepted {} by {}", status, t, by);
                }
                if let Ok(next) = got {
                    prop_assert!(OrderStatus::ALL.contains(&next));
                    prop_assert_eq!(OrderStatus::parse(next.as_str()), Some(next));
                    status = next;
                    history.push(next);
                }
                let seen = |s: OrderStatus| history.iter().position(|h| *h == s);
                if status == Shipped {
                    prop_assert!(seen(Paid).is_some_and(|p| Some(p) < seen(Shipped)));
                }
                if status == Completed {
                    let (paid, shipped, delivered) = (seen(Paid), seen(Shipped), seen(Delivered));
                    prop_assert!(paid.is_some() && paid < shipped && shipped < delivered, "{:?}", history);
                }
            }
        }
    }
}
