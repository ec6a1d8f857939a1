//! Cursor pagination: a page size within bounds and an opaque cursor naming the last row
//! seen, so pages stay stable while rows are added (no OFFSET scans, no skipped rows).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::Timestamp;

/// How many rows a page holds: 1 to 100, 24 unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u16);

impl PageSize {
    pub const MAX: u16 = 100;
    pub const DEFAULT: Self = Self(24);

    pub fn new(n: u32) -> Result<Self, PageError> {
        u16::try_from(n)
            .ok()
            .filter(|n| (1..=Self::MAX).contains(n))
            .map(Self)
            .ok_or(PageError::Size { max: Self::MAX })
    }

    #[must_use]
    pub const fn get(self) -> u16 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The position after the last row of a page: rows are ordered newest first by
/// `(created_at, id)`, so the next page starts strictly after this pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: Timestamp,
    pub id: Uuid,
}

/// A paging parameter was not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("limit must be between 1 and {max}")]
    Size { max: u16 },
    #[error("the cursor is not one this server issued")]
    Cursor,
}

impl Cursor {
    /// The opaque text form handed to clients.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut raw = Vec::with_capacity(24);
        raw.extend_from_slice(&self.created_at.as_micros().to_be_bytes());
        raw.extend_from_slice(self.id.as_bytes());
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(text: &str) -> Result<Self, PageError> {
        if text.len() > 64 {
            return Err(PageError::Cursor);
        }
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| PageError::Cursor)?;
        let (micros, id) = raw.split_at_checked(8).ok_or(PageError::Cursor)?;
        let micros = i64::from_be_bytes(micros.try_into().map_err(|_| PageError::Cursor)?);
        let id = Uuid::from_slice(id).map_err(|_| PageError::Cursor)?;
        Ok(Self { created_at: Timestamp::from_micros(micros), id })
    }
}

/// One page of results and the cursor for the next one, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor { created_at: Timestamp::from_micros(42), id: Uuid::from_u128(7) };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "!!!", "AAAA", &"A".repeat(100)] {
            assert_eq!(Cursor::decode(bad), Err(PageError::Cursor), "{bad:?}");
        }
    }

    #[test]
    fn page_size_bounds() {
        assert!(PageSize::new(0).is_err());
        assert!(PageSize::new(101).is_err());
        assert!(PageSize::new(u32::MAX).is_err());
        assert_eq!(PageSize::new(100).unwrap().get(), 100);
    }
}
