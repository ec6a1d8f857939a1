//! Listings as sellers write them: the editable fields, variants with SKU, price and stock,
//! the statuses a seller may choose, and the prohibited-item check.

use crate::catalog::{CatalogFieldError, Category, ListingStatus, display_text};
use crate::{Currency, Money};

/// The most a single variant may cost (in minor units): a typo guard and an overflow
/// guard for totals (a cart of 100 lines of 1,000 units each stays far from `i64::MAX`).
pub const MAX_PRICE_MINOR: i64 = 100_000_000;
/// The most units of one variant a shop may hold.
pub const MAX_STOCK: u32 = 1_000_000;
/// The most variants of one listing.
pub const MAX_VARIANTS: usize = 50;

/// Why a listing was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    #[error(transparent)]
    Field(#[from] CatalogFieldError),
    #[error("a listing has between 1 and {MAX_VARIANTS} variants")]
    VariantCount,
    #[error("SKU {0:?} appears twice")]
    DuplicateSku(String),
    #[error("a SKU has 1 to 64 letters, digits, '-', '_' or '.'")]
    Sku,
    #[error("a price is between 0.01 and {max} in the marketplace currency")]
    Price { max: String },
    #[error("the marketplace sells in {expected}, not {got}")]
    Currency { expected: String, got: String },
    #[error("stock is between 0 and {MAX_STOCK}")]
    Stock,
    #[error("a seller may set a listing to draft, active or paused")]
    Status,
    #[error("{0:?} is on the list of prohibited items")]
    Prohibited(String),
}

/// One variant as typed by the seller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantInput {
    pub sku: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
    pub stock: i64,
}

/// A checked variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantDraft {
    pub sku: String,
    pub name: String,
    pub price: Money,
    pub stock: u32,
}

/// A checked listing, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingDraft {
    pub title: String,
    pub description: String,
    pub category: Category,
    pub status: ListingStatus,
    pub variants: Vec<VariantDraft>,
}

impl ListingDraft {
    /// The lowest variant price ("from …") shown on cards.
    #[must_use]
    pub fn from_price(&self) -> Option<Money> {
        self.variants.iter().map(|v| v.price).min_by_key(|m| m.minor)
    }

    /// All variants' stock together.
    #[must_use]
    pub fn total_stock(&self) -> u64 {
        self.variants.iter().map(|v| u64::from(v.stock)).sum()
    }
}

fn sku(raw: &str) -> Result<String, ListingError> {
    let s = raw.trim();
    let ok = (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok { Ok(s.to_owned()) } else { Err(ListingError::Sku) }
}

/// Parses a status a seller may choose (`removed` is staff's alone).
pub fn seller_status(raw: &str) -> Result<ListingStatus, ListingError> {
    match ListingStatus::parse(raw) {
        Some(s @ (ListingStatus::Draft | ListingStatus::Active | ListingStatus::Paused)) => Ok(s),
        _ => Err(ListingError::Status),
    }
}

/// Checks a listing: every field, every variant, the currency, and the prohibited list.
pub fn validate(
    title: &str,
    description: &str,
    category: Category,
    status: ListingStatus,
    variants: &[VariantInput],
    currency: Currency,
    prohibited: &[String],
) -> Result<ListingDraft, ListingError> {
    let title = display_text("title", title, 3, 140)?;
    let description = display_text("description", description, 0, 5_000)?;
    if variants.is_empty() || variants.len() > MAX_VARIANTS {
        return Err(ListingError::VariantCount);
    }
    let mut out: Vec<VariantDraft> = Vec::with_capacity(variants.len());
    for v in variants {
        let sku = sku(&v.sku)?;
        if out.iter().any(|o| o.sku.eq_ignore_ascii_case(&sku)) {
            return Err(ListingError::DuplicateSku(sku));
        }
        if v.currency != currency.code() {
            return Err(ListingError::Currency {
                expected: currency.code().to_owned(),
                got: v.currency.clone(),
            });
        }
        if v.price_minor <= 0 || v.price_minor > MAX_PRICE_MINOR {
            return Err(ListingError::Price { max: Money::new(MAX_PRICE_MINOR, currency).to_string() });
        }
        let stock = u32::try_from(v.stock).ok().filter(|s| *s <= MAX_STOCK).ok_or(ListingError::Stock)?;
        let name =
            display_text("variant name", if v.name.trim().is_empty() { "Standard" } else { &v.name }, 1, 80)?;
        out.push(VariantDraft { sku, name, price: Money::new(v.price_minor, currency), stock });
    }
    if let Some(word) = prohibited_word(&[&title, &description], prohibited) {
        return Err(ListingError::Prohibited(word));
    }
    Ok(ListingDraft { title, description, category, status, variants: out })
}

/// The first prohibited keyword found in the texts, matched case-insensitively on word
/// boundaries (so "ivory" is caught but "ivorycoast-blue" in a colour name is not split,
/// and "gun" does not match "gunmetal"). Keywords may be several words.
#[must_use]
pub fn prohibited_word(texts: &[&str], keywords: &[String]) -> Option<String> {
    let words: Vec<Vec<String>> = texts.iter().map(|t| words_of(t)).collect();
    keywords.iter().find_map(|k| {
        let needle = words_of(k);
        if needle.is_empty() {
            return None;
        }
        words.iter().any(|w| w.windows(needle.len()).any(|win| win == needle.as_slice())).then(|| k.clone())
    })
}

fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// The keywords a fresh install refuses; the operator replaces them in the configuration.
#[must_use]
pub fn default_prohibited() -> Vec<String> {
    [
        "counterfeit",
        "replica",
        "fake designer",
        "ivory",
        "rhino horn",
        "firearm",
        "ammunition",
        "explosive",
        "cocaine",
        "heroin",
        "fentanyl",
        "stolen",
        "human remains",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    fn v(sku: &str, price: i64, stock: i64) -> VariantInput {
        VariantInput {
            sku: sku.into(),
            name: "Blue".into(),
            price_minor: price,
            currency: "EUR".into(),
            stock,
        }
    }

    fn check(variants: &[VariantInput], title: &str) -> Result<ListingDraft, ListingError> {
        validate(
            title,
            "",
            Category::Home,
            ListingStatus::Active,
            variants,
            Currency::EUR,
            &default_prohibited(),
        )
    }

    #[test]
    fn a_good_listing_passes_and_summarises() {
        let d = check(&[v("MUG-1", 2400, 3), v("MUG-2", 1800, 2)], "Stoneware mug").unwrap();
        assert_eq!(d.from_price().unwrap().minor, 1800);
        assert_eq!(d.total_stock(), 5);
    }

    #[test]
    fn bad_numbers_are_refused() {
        assert_eq!(
            check(&[v("A", 0, 1)], "Mug").unwrap_err(),
            ListingError::Price { max: "€1000000.00".into() }
        );
        assert!(matches!(check(&[v("A", -5, 1)], "Mug"), Err(ListingError::Price { .. })));
        assert!(matches!(check(&[v("A", MAX_PRICE_MINOR + 1, 1)], "Mug"), Err(ListingError::Price { .. })));
        assert_eq!(check(&[v("A", 100, -1)], "Mug").unwrap_err(), ListingError::Stock);
        assert_eq!(check(&[v("A", 100, i64::from(MAX_STOCK) + 1)], "Mug").unwrap_err(), ListingError::Stock);
        assert_eq!(check(&[], "Mug").unwrap_err(), ListingError::VariantCount);
        assert_eq!(
            check(&[v("A", 1, 1), v("a", 1, 1)], "Mug").unwrap_err(),
            ListingError::DuplicateSku("a".into())
        );
        assert_eq!(check(&[v("A B", 1, 1)], "Mug").unwrap_err(), ListingError::Sku);
        let mut usd = v("A", 100, 1);
        usd.currency = "USD".into();
        assert!(matches!(check(&[usd], "Mug"), Err(ListingError::Currency { .. })));
    }

    #[test]
    fn prohibited_words_match_whole_words_only() {
        let k = default_prohibited();
        assert_eq!(prohibited_word(&["Genuine IVORY carving"], &k), Some("ivory".into()));
        assert_eq!(prohibited_word(&["a Fake-Designer bag"], &k), Some("fake designer".into()));
        assert_eq!(prohibited_word(&["gunmetal grey stoneware"], &["gun".into()]), None);
        assert_eq!(prohibited_word(&["Ivorycoast blue"], &k), None);
        assert!(matches!(check(&[v("A", 100, 1)], "Replica watch"), Err(ListingError::Prohibited(_))));
    }

    #[test]
    fn sellers_cannot_choose_removed() {
        assert!(seller_status("removed").is_err());
        assert_eq!(seller_status("paused").unwrap(), ListingStatus::Paused);
    }
}
