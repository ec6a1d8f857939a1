//! Screening against passwords seen in breaches: offline and fail-closed. The list (one
//! million common passwords from real breaches, see `data/README.md`) is compiled into the
//! binary as sorted 32-bit hashes, so no network, file or service can be missing at runtime.

use ring::digest;
use unicode_normalization::UnicodeNormalization as _;

static HASHES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/breached.bin"));

/// How many distinct screen keys (breached passwords after case folding) there are.
#[must_use]
pub fn entries() -> usize {
    HASHES.len() / 4
}

fn key(password: &str) -> u32 {
    let normalized = zeroize::Zeroizing::new(password.nfkc().collect::<String>().to_lowercase());
    let d = digest::digest(&digest::SHA256, normalized.as_bytes());
    let b = d.as_ref();
    u32::from_be_bytes([
        b.first().copied().unwrap_or(0),
        b.get(1).copied().unwrap_or(0),
        b.get(2).copied().unwrap_or(0),
        b.get(3).copied().unwrap_or(0),
    ])
}

/// Whether the password (compared case-insensitively, after NFKC) is on the breached list.
#[must_use]
pub fn is_breached(password: &str) -> bool {
    let wanted = key(password);
    let (mut lo, mut hi) = (0usize, entries());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let at =
            HASHES.get(mid * 4..).and_then(<[u8]>::first_chunk::<4>).map_or(0, |b| u32::from_be_bytes(*b));
        match at.cmp(&wanted) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_compiled_in_and_large() {
        assert!(entries() >= 950_000, "{}", entries());
    }

    #[test]
    fn common_breached_passwords_are_found_in_any_case() {
        for pw in [
            "password", "123456", "qwerty", "iloveyou", "dragon", "PASSWORD", "QwErTy", "letmein", "sunshine",
        ] {
            assert!(is_breached(pw), "{pw}");
        }
    }

    #[test]
    fn strong_random_passwords_are_not() {
        let misses = ["vT9#pQ2!xL7@wR4$", "correct horse battery staple souk", "zq8-KD3m-pw0x-77aa"]
            .iter()
            .filter(|p| is_breached(p))
            .count();
        assert_eq!(misses, 0);
    }
}
