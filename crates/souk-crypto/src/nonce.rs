//! Nonces for AES-GCM: 96 random bits each. Field nonces come from a per-thread ChaCha20
//! generator seeded from the instance's entropy source (the OS in production), so sealing a
//! field costs neither a system call nor a lock; wrapped keys take theirs from the source
//! itself.
//!
//! Uniqueness rests on randomness, not on a counter: a data key seals from several
//! processes and threads, is loaded afresh for each request, and nothing stores a counter
//! per key. A counter per loaded key behind a random prefix would make the prefix the only
//! thing that separates the many loads of one key, and a 64-bit prefix drawn per load
//! collides after ~2³² loads; a full 96-bit random nonce needs no such bookkeeping. With 96
//! uniformly random bits the chance that any two of `n` nonces under one key collide is
//! below `n² / 2⁹⁷`: 2⁻³³ after 2³² seals of one key, the limit NIST SP 800-38D (§8.3)
//! sets for random nonces. Each data key protects one subject's fields and seals a few
//! hundred values in its life, so the real figure is about 2⁻⁸⁰.
//!
//! The generator's output stands in for uniform bits because ChaCha20 is a stream cipher
//! (from the `chacha20` crate, not written here): distinguishing its keystream from random
//! is as hard as breaking it. Every generator starts from its own 256-bit seed drawn from
//! the source, so two generators (other threads, other processes, after a reseed) produce
//! overlapping streams only if their seeds are equal, a 2⁻²⁵⁶ event per pair. Neither the
//! OS generator nor ChaCha20 is an SP 800-90A DRBG, so this is SP 800-38D's random
//! construction in shape, not a FIPS claim; it was the same with the OS bytes alone.
//!
//! A generator is reseeded from the source every [`RESEED_AFTER`] nonces. That bounds what
//! a copy of the process's memory repeats: a process that forked, or a virtual machine
//! restored twice from one snapshot, would hand out the same nonces from the copied state
//! until the next reseed, at most 256 per thread (the OS buffer this replaces repeated up
//! to 341). Souk does not fork.
//!
//! The generator belongs to the thread, not to the instance: it remembers which instance
//! seeded it, and another instance on the same thread reseeds it from its own source, so an
//! instance never hands out nonces derived from another's source (tests rely on this with
//! deterministic sources).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use chacha20::ChaCha20Rng;
use chacha20::rand_core::{Rng as _, SeedableRng as _};
use souk_domain::Entropy;
use zeroize::Zeroize as _;

pub const NONCE_LEN: usize = 12;
/// Nonces drawn from one seed before the generator is reseeded. A reseed is one system call
/// of ~0.4 µs, ~1.5 ns per nonce at this interval.
pub const RESEED_AFTER: u32 = 256;

/// Identifies a [`Nonces`] instance for the per-thread generators. Zero means "no owner".
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One thread's generator.
struct ThreadGenerator {
    /// The instance whose source seeded `rng`; zero when there is none.
    owner: u64,
    /// Nonces left before the next reseed.
    left: u32,
    rng: Option<ChaCha20Rng>,
}

impl ThreadGenerator {
    fn next(&mut self, owner: u64, source: &dyn Entropy) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        let rng = match &mut self.rng {
            Some(rng) if self.owner == owner && self.left > 0 => rng,
            slot => {
                let mut seed = [0u8; 32];
                source.fill(&mut seed);
                let rng = slot.insert(ChaCha20Rng::from_seed(seed));
                seed.zeroize();
                self.owner = owner;
                self.left = RESEED_AFTER;
                rng
            }
        };
        // Two words rather than `fill_bytes`, whose general loop costs more than the words.
        let (head, tail) = nonce.split_at_mut(8);
        head.copy_from_slice(&rng.next_u64().to_le_bytes());
        tail.copy_from_slice(&rng.next_u32().to_le_bytes());
        self.left -= 1;
        nonce
    }
}

thread_local! {
    static GENERATORS: RefCell<ThreadGenerator> =
        const { RefCell::new(ThreadGenerator { owner: 0, left: 0, rng: None }) };
}

/// A source of nonces: a per-thread generator for fields, the source itself for keys.
#[derive(Debug)]
pub struct Nonces {
    source: Box<dyn Entropy>,
    id: u64,
}

impl Nonces {
    #[must_use]
    pub fn new(source: Box<dyn Entropy>) -> Self {
        Self { source, id: NEXT_ID.fetch_add(1, Ordering::Relaxed) }
    }

    /// The next nonce from this thread's generator (fields).
    pub fn next(&self) -> [u8; NONCE_LEN] {
        let generated = GENERATORS
            .try_with(|cell| cell.try_borrow_mut().ok().map(|mut g| g.next(self.id, &*self.source)));
        match generated {
            Ok(Some(nonce)) => nonce,
            // The thread is exiting, or the source itself asked for a nonce: draw directly.
            Ok(None) | Err(_) => self.next_from_source(),
        }
    }

    /// A nonce drawn from the source itself, one call each (wrapped keys: rare, and a
    /// master key seals for every subject, so its nonces depend on no process's state).
    pub fn next_from_source(&self) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        self.source.fill(&mut nonce);
        nonce
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use souk_domain::OsEntropy;
    use souk_domain::entropy::SeededEntropy;

    use super::*;

    #[test]
    fn nonces_do_not_repeat_across_reseeds() {
        let n = Nonces::new(Box::new(OsEntropy::new()));
        let seen: HashSet<[u8; 12]> = (0..10_000).map(|_| n.next()).collect();
        assert_eq!(seen.len(), 10_000);
    }

    #[test]
    fn nonces_do_not_repeat_across_threads() {
        let n = Nonces::new(Box::new(OsEntropy::new()));
        let seen: Vec<[u8; 12]> = std::thread::scope(|s| {
            let workers: Vec<_> =
                (0..4).map(|_| s.spawn(|| (0..2_000).map(|_| n.next()).collect::<Vec<_>>())).collect();
            workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
        });
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 8_000);
    }

    #[test]
    fn each_instance_draws_only_from_its_own_source() {
        // Two instances with equal deterministic sources, interleaved on one thread. Each
        // switch reseeds the thread's generator from the switching instance's own source,
        // so the two sequences agree; a shared generator would make them differ.
        let a = Nonces::new(Box::new(SeededEntropy::new(9)));
        let b = Nonces::new(Box::new(SeededEntropy::new(9)));
        let mut from_a = Vec::new();
        let mut from_b = Vec::new();
        for _ in 0..3 {
            from_a.push(a.next());
            from_b.push(b.next());
        }
        assert_eq!(from_a, from_b);
        // A generator is seeded with 32 bytes of its source, then reseeded with the next 32
        // every RESEED_AFTER nonces: the stream is ChaCha20's keystream under those seeds.
        let mut seeds = [0u8; 64];
        SeededEntropy::new(10).fill(&mut seeds);
        let (first, second) = seeds.split_at(32);
        let keystream = |seed: &[u8]| {
            let mut rng = ChaCha20Rng::from_seed(seed.try_into().unwrap());
            let mut bytes = vec![0u8; 12 * RESEED_AFTER as usize];
            rng.fill_bytes(&mut bytes);
            bytes
        };
        let mut expected = keystream(first);
        expected.extend(keystream(second));
        let c = Nonces::new(Box::new(SeededEntropy::new(10)));
        let got: Vec<u8> = (0..2 * RESEED_AFTER).flat_map(|_| c.next()).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn nonces_from_the_source_are_its_bytes_in_order() {
        let mut expected = [0u8; 12];
        SeededEntropy::new(11).fill(&mut expected);
        assert_eq!(Nonces::new(Box::new(SeededEntropy::new(11))).next_from_source(), expected);
    }
}
