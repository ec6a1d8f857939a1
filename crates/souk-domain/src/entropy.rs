//! Where randomness comes from. Identifiers, tokens and keys draw from an `Entropy`
//! passed in, so production uses the OS generator and tests can use a fixed sequence.

use std::sync::Mutex;

use ring::rand::{SecureRandom, SystemRandom};

/// A source of random bytes.
pub trait Entropy: Send + Sync + std::fmt::Debug {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's cryptographically secure generator.
#[derive(Debug)]
pub struct OsEntropy(SystemRandom);

impl Default for OsEntropy {
    fn default() -> Self {
        Self::new()
    }
}

impl OsEntropy {
    #[must_use]
    pub fn new() -> Self {
        Self(SystemRandom::new())
    }
}

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) {
        // SECURITY: the OS generator failing is unrecoverable; continuing with predictable
        // bytes would mint guessable ids and tokens, so the process stops instead.
        assert!(self.0.fill(buf).is_ok(), "the operating system's random generator failed");
    }
}

/// A deterministic generator for tests: SplitMix64 from a seed. Never for production.
#[derive(Debug)]
pub struct SeededEntropy(Mutex<u64>);

impl SeededEntropy {
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(seed))
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, buf: &mut [u8]) {
        let mut state = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for chunk in buf.chunks_mut(8) {
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            for (dst, src) in chunk.iter_mut().zip(z.to_le_bytes()) {
                *dst = src;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_entropy_repeats_and_os_entropy_varies() {
        let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
        SeededEntropy::new(7).fill(&mut a);
        SeededEntropy::new(7).fill(&mut b);
        assert_eq!(a, b);
        let os = OsEntropy::new();
        os.fill(&mut a);
        os.fill(&mut b);
        assert_ne!(a, b);
    }
}
