//! Checkout arithmetic and rules: quantities, shipping options, a shipping address, an
//! order's totals and the platform's fee, and order numbers. All money is integer minor
//! units; every sum is checked.

use crate::money::MoneyError;
use crate::{Currency, Entropy, Money, Timestamp};

/// The most units of one variant in one cart line.
pub const MAX_QUANTITY: u32 = 100;
/// The most lines in one cart.
pub const MAX_LINES: usize = 50;

/// Why a checkout input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutError {
    #[error("a quantity is between 1 and {MAX_QUANTITY}")]
    Quantity,
    #[error("a cart holds at most {MAX_LINES} lines")]
    TooManyLines,
    #[error("unknown shipping option {0:?}")]
    ShippingOption(String),
    #[error("{field}: {reason}")]
    Address { field: &'static str, reason: &'static str },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Checks a quantity a buyer typed.
pub fn quantity(raw: i64) -> Result<u32, CheckoutError> {
    u32::try_from(raw).ok().filter(|q| (1..=MAX_QUANTITY).contains(q)).ok_or(CheckoutError::Quantity)
}

/// A way a shop's order travels, chosen per shop at checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingOption {
    pub code: &'static str,
    pub label: &'static str,
    pub price_minor: i64,
    pub days: &'static str,
}

/// The marketplace's shipping options (per order, in the marketplace currency's minor units).
pub const SHIPPING_OPTIONS: &[ShippingOption] = &[
    ShippingOption { code: "standard", label: "Standard, tracked", price_minor: 490, days: "3–5 days" },
    ShippingOption {
        code: "express",
        label: "Express, tracked and signed",
        price_minor: 1290,
        days: "1–2 days",
    },
];

/// Finds a shipping option by code.
pub fn shipping_option(code: &str) -> Result<&'static ShippingOption, CheckoutError> {
    SHIPPING_OPTIONS
        .iter()
        .find(|o| o.code == code)
        .ok_or_else(|| CheckoutError::ShippingOption(code.to_owned()))
}

/// Where an order is shipped, checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShippingAddress {
    pub name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: String,
    pub postal_code: String,
    pub city: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
}

fn field(value: &str, name: &'static str, min: usize, max: usize) -> Result<String, CheckoutError> {
    let v = value.trim();
    let n = v.chars().count();
    if n < min || n > max {
        return Err(CheckoutError::Address { field: name, reason: "is missing or too long" });
    }
    if v.chars().any(char::is_control) {
        return Err(CheckoutError::Address { field: name, reason: "contains control characters" });
    }
    Ok(v.to_owned())
}

impl ShippingAddress {
    pub fn validate(&self) -> Result<Self, CheckoutError> {
        let country = self.country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(CheckoutError::Address {
                field: "country",
                reason: "use a two-letter ISO country code",
            });
        }
        Ok(Self {
            name: field(&self.name, "name", 2, 100)?,
            line1: field(&self.line1, "line1", 3, 200)?,
            line2: field(&self.line2, "line2", 0, 200)?,
            postal_code: field(&self.postal_code, "postal_code", 2, 16)?,
            city: field(&self.city, "city", 2, 100)?,
            country,
        })
    }
}

/// One shop's part of a checkout, in money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderTotals {
    pub items: Money,
    pub shipping: Money,
    pub total: Money,
    /// The platform's commission on the items (not on shipping), rounded down: shown to
    /// the seller, never added to what the buyer pays.
    pub platform_fee: Money,
}

/// Totals of one order from its lines (unit price, quantity) and its shipping.
pub fn order_totals(
    lines: &[(Money, u32)],
    shipping: Money,
    fee_bps: u32,
    currency: Currency,
) -> Result<OrderTotals, CheckoutError> {
    let mut items = Money::new(0, currency);
    for (price, qty) in lines {
        items = items.checked_add(price.checked_mul(*qty)?)?;
    }
    let total = items.checked_add(shipping)?;
    let fee = i128::from(items.minor) * i128::from(fee_bps.min(10_000)) / 10_000;
    let fee = i64::try_from(fee).map_err(|_| MoneyError::Overflow)?;
    Ok(OrderTotals { items, shipping, total, platform_fee: Money::new(fee, currency) })
}

/// A human-friendly order number: the UTC date and 8 characters from an alphabet without
/// look-alikes (`20261122-7KQ4M2ZD`), about 40 bits of randomness per day.
#[must_use]
pub fn order_number(now: Timestamp, entropy: &dyn Entropy) -> String {
    const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut raw = [0u8; 8];
    entropy.fill(&mut raw);
    let suffix: String =
        raw.iter().filter_map(|b| ALPHABET.get(usize::from(b & 31))).map(|c| char::from(*c)).collect();
    let date = now.to_rfc3339();
    let ymd: String = date.chars().take(10).filter(char::is_ascii_digit).collect();
    format!("{ymd}-{suffix}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;
    use crate::entropy::SeededEntropy;

    #[test]
    fn quantities_are_bounded() {
        assert!(quantity(0).is_err());
        assert!(quantity(-1).is_err());
        assert!(quantity(101).is_err());
        assert!(quantity(i64::MAX).is_err());
        assert_eq!(quantity(3).unwrap(), 3);
    }

    #[test]
    fn totals_add_up_and_the_fee_rounds_down() {
        let eur = |m| Money::new(m, Currency::EUR);
        let t = order_totals(&[(eur(2400), 2), (eur(999), 1)], eur(490), 1_000, Currency::EUR).unwrap();
        assert_eq!(t.items.minor, 5799);
        assert_eq!(t.total.minor, 6289);
        assert_eq!(t.platform_fee.minor, 579);
        let usd = Money::new(100, Currency::from_code("USD").unwrap());
        assert!(order_totals(&[(usd, 1)], eur(0), 0, Currency::EUR).is_err(), "currencies never mix");
        assert!(
            order_totals(&[(eur(i64::MAX / 2), 3)], eur(0), 0, Currency::EUR).is_err(),
            "overflow is an error"
        );
    }

    #[test]
    fn addresses_are_checked() {
        let a = ShippingAddress {
            name: "Amina K".into(),
            line1: "3 rue X".into(),
            line2: String::new(),
            postal_code: "69001".into(),
            city: "Lyon".into(),
            country: "fr".into(),
        };
        assert_eq!(a.validate().unwrap().country, "FR");
        let mut bad = a.clone();
        bad.country = "FRA".into();
        assert!(bad.validate().is_err());
        let mut bad = a;
        bad.city = "Ly\u{0}on".into();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn order_numbers_have_the_date_and_no_look_alikes() {
        let n = order_number(Timestamp::from_micros(1_795_000_000_000_000), &SeededEntropy::new(7));
        assert_eq!(n.len(), 17);
        assert!(n.starts_with("2026"));
        assert!(!n[9..].contains(['0', '1', 'O', 'I']));
    }
}
