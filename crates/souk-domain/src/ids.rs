//! Typed identifiers. Each kind of record has its own id type, so a shop id can never be
//! passed where a listing id is expected.
//!
//! Ids are UUID version 7: the first 48 bits are the creation time in milliseconds (so ids
//! sort roughly by age and index well) and the other 74 bits come from an [`Entropy`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Entropy, Timestamp};

/// Makes a fresh UUIDv7 from the given instant and entropy source.
#[must_use]
pub fn new_uuid_v7(now: Timestamp, entropy: &dyn Entropy) -> Uuid {
    let mut random = [0u8; 10];
    entropy.fill(&mut random);
    let millis = u64::try_from(now.as_micros() / 1_000).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// The text was not a well-formed identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid identifier")]
pub struct InvalidId;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            #[must_use]
            pub fn new(now: Timestamp, entropy: &dyn Entropy) -> Self {
                Self(new_uuid_v7(now, entropy))
            }

            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            #[must_use]
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                // Only the canonical hyphenated form is accepted, so one record has one URL.
                if s.len() != 36 {
                    return Err(InvalidId);
                }
                Uuid::parse_str(s).map(Self).map_err(|_| InvalidId)
            }
        }
    };
}

typed_id!(
    /// Identifies a shop (a seller's storefront).
    ShopId
);
typed_id!(
    /// Identifies a listing (an item for sale).
    ListingId
);
typed_id!(
    /// Identifies an account (a buyer, a seller or a staff member).
    AccountId
);
typed_id!(
    /// Identifies an uploaded document (a shop's identity document).
    DocumentId
);
typed_id!(
    /// Identifies one verification submission of a shop.
    VerificationId
);
typed_id!(
    /// Identifies an invitation to join a shop's staff.
    InvitationId
);
typed_id!(
    /// Identifies a variant of a listing (a size, a colour): what is bought and stocked.
    VariantId
);
typed_id!(
    /// Identifies an image of a listing.
    ImageId
);
typed_id!(
    /// Identifies an order (one shop's part of a checkout).
    OrderId
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    #[test]
    fn ids_are_version_7_and_sort_by_time() {
        let e = SeededEntropy::new(1);
        let a = ListingId::new(Timestamp::from_micros(1_000_000_000), &e);
        let b = ListingId::new(Timestamp::from_micros(2_000_000_000), &e);
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a < b);
        assert_eq!(a.to_string().parse::<ListingId>().unwrap(), a);
    }

    #[test]
    fn only_canonical_text_parses() {
        assert!("not-an-id".parse::<ShopId>().is_err());
        assert!("0192f0c0a1b27c3d8e9f0a1b2c3d4e5f".parse::<ShopId>().is_err());
        assert!("0192f0c0-a1b2-7c3d-8e9f-0a1b2c3d4e5f".parse::<ShopId>().is_ok());
    }
}
