//! Shops as their sellers run them: the profile, the verification states, the shop's own
//! staff roles, and the rules their fields obey.

use serde::{Deserialize, Serialize};

use crate::catalog::{CatalogFieldError, display_text};

/// Where a shop stands with trust & safety. Only `Suspended` stops a shop from selling;
/// shops that are not `Verified` sell within the operator's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShopStatus {
    Unverified,
    /// Verification details and a document are waiting for a reviewer.
    Submitted,
    Verified,
    /// A reviewer refused the submission, with a reason; the owner may submit again.
    Rejected,
    /// Taken off the storefront by trust & safety; nothing can be sold.
    Suspended,
}

impl ShopStatus {
    pub const ALL: [Self; 5] =
        [Self::Unverified, Self::Submitted, Self::Verified, Self::Rejected, Self::Suspended];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unverified => "unverified",
            Self::Submitted => "submitted",
            Self::Verified => "verified",
            Self::Rejected => "rejected",
            Self::Suspended => "suspended",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether the shop may list and sell at all.
    #[must_use]
    pub const fn can_sell(self) -> bool {
        !matches!(self, Self::Suspended)
    }

    /// Whether the owner may (re)submit verification details now. A verified shop has
    /// nothing to submit; a submitted one waits for its answer; a suspended one talks to
    /// trust & safety instead.
    #[must_use]
    pub const fn may_submit(self) -> bool {
        matches!(self, Self::Unverified | Self::Rejected)
    }
}

/// Whether the seller trades as a person or as a registered business (which decides what
/// the registration number is: a national id or tax number, or a company number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SellerKind {
    Individual,
    Business,
}

impl SellerKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Individual => "individual",
            Self::Business => "business",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Individual, Self::Business].into_iter().find(|v| v.as_str() == s)
    }
}

/// A role on one shop's staff. The owner is not a member: ownership is the shop's own field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShopRole {
    /// Runs the shop's listings and orders, but not its staff or payouts.
    Manager,
    /// Sees and ships the shop's orders.
    Fulfilment,
}

impl ShopRole {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Manager => "manager",
            Self::Fulfilment => "fulfilment",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Manager, Self::Fulfilment].into_iter().find(|v| v.as_str() == s)
    }
}

/// A shop's public profile, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopProfile {
    pub name: String,
    pub tagline: String,
    pub description: String,
    pub location: String,
    pub return_policy: String,
    /// How buyers reach the shop's customer service (an address or a phone number). It is
    /// personal data for an individual seller, so it is stored sealed.
    pub contact: String,
    pub kind: SellerKind,
}

impl ShopProfile {
    pub fn validate(
        name: &str,
        tagline: &str,
        description: &str,
        location: &str,
        return_policy: &str,
        contact: &str,
        kind: SellerKind,
    ) -> Result<Self, CatalogFieldError> {
        Ok(Self {
            name: display_text("name", name, 2, 80)?,
            tagline: display_text("tagline", tagline, 0, 140)?,
            description: display_text("description", description, 0, 5_000)?,
            location: display_text("location", location, 0, 120)?,
            return_policy: display_text("return_policy", return_policy, 0, 5_000)?,
            contact: display_text("contact", contact, 3, 200)?,
            kind,
        })
    }
}

/// What an owner submits to have the shop verified, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationDetails {
    pub legal_name: String,
    pub address: String,
    /// A tax or company registration number, normalised (upper case, no spaces, dots or
    /// dashes) so that the same number typed two ways is recognised as one.
    pub registration_number: String,
}

impl VerificationDetails {
    pub fn validate(
        legal_name: &str,
        address: &str,
        registration_number: &str,
    ) -> Result<Self, CatalogFieldError> {
        let registration: String = registration_number
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '/'))
            .flat_map(char::to_uppercase)
            .collect();
        if !(4..=32).contains(&registration.len()) || !registration.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(CatalogFieldError::Registration);
        }
        Ok(Self {
            legal_name: display_text("legal_name", legal_name, 2, 200)?,
            address: display_text("address", address, 5, 500)?,
            registration_number: registration,
        })
    }
}

/// Why a reviewer refused or suspended: a reason is required and shown to the owner.
pub fn decision_reason(raw: &str) -> Result<String, CatalogFieldError> {
    display_text("reason", raw, 3, 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_rules_hold() {
        for s in ShopStatus::ALL {
            assert_eq!(ShopStatus::parse(s.as_str()), Some(s));
        }
        assert!(!ShopStatus::Suspended.can_sell());
        assert!(ShopStatus::Unverified.can_sell());
        assert!(ShopStatus::Rejected.may_submit());
        assert!(!ShopStatus::Submitted.may_submit());
        assert!(!ShopStatus::Verified.may_submit());
        assert!(!ShopStatus::Suspended.may_submit());
    }

    #[test]
    fn registration_numbers_are_normalised() {
        let d = VerificationDetails::validate("Atlas SARL", "12 rue X, 75001 Paris", "fr 12-345.678 901")
            .unwrap();
        assert_eq!(d.registration_number, "FR12345678901");
        assert!(VerificationDetails::validate("Atlas", "12 rue X", "12").is_err());
        assert!(VerificationDetails::validate("Atlas", "12 rue X", "12345<script>").is_err());
    }

    #[test]
    fn profiles_are_bounded() {
        let ok = ShopProfile::validate("Atlas", "", "", "", "", "help@atlas.example", SellerKind::Business);
        assert!(ok.is_ok());
        let long = "x".repeat(81);
        assert!(
            ShopProfile::validate(&long, "", "", "", "", "help@atlas.example", SellerKind::Business).is_err()
        );
        assert!(ShopProfile::validate("Atlas", "", "", "", "", "", SellerKind::Individual).is_err());
    }
}
