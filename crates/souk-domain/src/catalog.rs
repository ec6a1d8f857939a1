//! The catalog's vocabulary: shops, listings, categories, and the rules their fields obey.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{ImageId, ListingId, ShopId};
use crate::{Money, Timestamp};

/// The fixed top-level categories of the storefront.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Home,
    Jewelry,
    Clothing,
    Art,
    Food,
    Books,
    Electronics,
    Toys,
}

impl Category {
    pub const ALL: [Self; 8] = [
        Self::Home,
        Self::Jewelry,
        Self::Clothing,
        Self::Art,
        Self::Food,
        Self::Books,
        Self::Electronics,
        Self::Toys,
    ];

    /// The stable slug used in URLs and storage.
    #[must_use]
    pub const fn slug(self) -> &'static str {
        match self {
            Self::Home => "home",
            Self::Jewelry => "jewelry",
            Self::Clothing => "clothing",
            Self::Art => "art",
            Self::Food => "food",
            Self::Books => "books",
            Self::Electronics => "electronics",
            Self::Toys => "toys",
        }
    }

    /// The label shown to people.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Home => "Home & living",
            Self::Jewelry => "Jewelry",
            Self::Clothing => "Clothing",
            Self::Art => "Art & prints",
            Self::Food => "Food & drink",
            Self::Books => "Books",
            Self::Electronics => "Electronics",
            Self::Toys => "Toys & games",
        }
    }

    #[must_use]
    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.slug() == slug)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Where a listing is in its life. Only `Active` listings are shown on the storefront.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingStatus {
    Draft,
    Active,
    Paused,
    /// Taken down by trust & safety staff.
    Removed,
}

impl ListingStatus {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Removed => "removed",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::Active, Self::Paused, Self::Removed].into_iter().find(|v| v.as_str() == s)
    }
}

/// A field of a catalog record was not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogFieldError {
    #[error("{field} must be between {min} and {max} characters")]
    Length { field: &'static str, min: usize, max: usize },
    #[error("{field} contains control characters")]
    ControlCharacters { field: &'static str },
    #[error("a slug may contain only lower-case letters, digits and single hyphens")]
    Slug,
    #[error("a price must be positive")]
    NonPositivePrice,
    #[error("a registration number has 4 to 32 letters and digits")]
    Registration,
}

/// Text shown to people: trimmed, within bounds, and free of control characters (which
/// could forge log lines or hide content).
pub fn display_text(
    field: &'static str,
    raw: &str,
    min: usize,
    max: usize,
) -> Result<String, CatalogFieldError> {
    let text = raw.trim();
    let chars = text.chars().count();
    if chars < min || chars > max {
        return Err(CatalogFieldError::Length { field, min, max });
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(CatalogFieldError::ControlCharacters { field });
    }
    Ok(text.to_owned())
}

/// A URL-safe name: `a-z`, `0-9`, single hyphens, 2 to 60 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, CatalogFieldError> {
        let ok_chars = raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let ok_shape = !raw.starts_with('-') && !raw.ends_with('-') && !raw.contains("--");
        if !(2..=60).contains(&raw.len()) || !ok_chars || !ok_shape {
            return Err(CatalogFieldError::Slug);
        }
        Ok(Self(raw.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A seller's storefront as the public sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shop {
    pub id: ShopId,
    pub slug: Slug,
    pub name: String,
    pub tagline: String,
    pub description: String,
    pub location: String,
    pub created_at: Timestamp,
}

/// An item for sale, with the name of the shop that sells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub id: ListingId,
    pub shop_id: ShopId,
    pub shop_slug: Slug,
    pub shop_name: String,
    pub title: String,
    pub description: String,
    pub category: Category,
    pub price: Money,
    pub stock: u32,
    pub status: ListingStatus,
    pub created_at: Timestamp,
    /// The first of its images, if it has any.
    pub cover_image: Option<ImageId>,
}

/// A new listing, validated and ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewListing {
    pub id: ListingId,
    pub shop_id: ShopId,
    pub title: String,
    pub description: String,
    pub category: Category,
    pub price: Money,
    pub stock: u32,
    pub status: ListingStatus,
    pub created_at: Timestamp,
}

impl NewListing {
    /// Checks every field; the store only ever receives listings that passed.
    #[expect(clippy::too_many_arguments, reason = "each argument is one validated field")]
    pub fn validate(
        id: ListingId,
        shop_id: ShopId,
        title: &str,
        description: &str,
        category: Category,
        price: Money,
        stock: u32,
        created_at: Timestamp,
    ) -> Result<Self, CatalogFieldError> {
        if price.minor <= 0 {
            return Err(CatalogFieldError::NonPositivePrice);
        }
        Ok(Self {
            id,
            shop_id,
            title: display_text("title", title, 3, 140)?,
            description: display_text("description", description, 0, 5_000)?,
            category,
            price,
            stock,
            status: ListingStatus::Active,
            created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_strict() {
        assert!(Slug::parse("atlas-ceramics").is_ok());
        for bad in ["", "a", "Atlas", "atlas--x", "-atlas", "atlas-", "atlas ceramics", "é"] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn display_text_rejects_controls_and_bounds() {
        assert_eq!(display_text("title", "  Mug  ", 3, 10).unwrap(), "Mug");
        assert!(display_text("title", "ab", 3, 10).is_err());
        assert!(display_text("title", "bad\u{1b}[31m", 3, 20).is_err());
        assert!(display_text("title", "01234567890", 3, 10).is_err());
    }

    #[test]
    fn category_slugs_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::from_slug(c.slug()), Some(c));
        }
        assert_eq!(Category::from_slug("weapons"), None);
    }
}
