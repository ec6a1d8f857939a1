//! Instants in time as stored and compared by Souk: microseconds since the Unix epoch, UTC.
//!
//! Both storage backends hold them as a 64-bit integer, so ordering and arithmetic are the
//! same everywhere and no time zone ever enters the database.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A UTC instant with microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const UNIX_EPOCH: Self = Self(0);

    #[must_use]
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    #[must_use]
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    #[must_use]
    pub fn from_datetime(at: OffsetDateTime) -> Self {
        // INVARIANT: i128 nanoseconds of any OffsetDateTime fit in i64 microseconds for
        // years -292,277..292,277; `time` limits years to ±9999, so this cannot saturate.
        let micros = at.unix_timestamp_nanos() / 1_000;
        Self(i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX }))
    }

    /// The instant as a date-time, or `None` outside the range `time` can represent.
    #[must_use]
    pub fn to_datetime(self) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000).ok()
    }

    /// `self + micros`, saturating at the ends of the range.
    #[must_use]
    pub const fn plus_micros(self, micros: i64) -> Self {
        Self(self.0.saturating_add(micros))
    }

    /// RFC 3339 text, as used in API responses.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .and_then(|dt| dt.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| self.0.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_datetime() {
        let t = Timestamp::from_micros(1_790_000_000_123_456);
        assert_eq!(Timestamp::from_datetime(t.to_datetime().unwrap()), t);
        assert_eq!(t.to_rfc3339(), "2026-09-21T14:13:20.123456Z");
    }
}
