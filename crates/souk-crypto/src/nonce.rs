//! Nonces for AES-GCM: 96 random bits each, drawn from the instance's entropy source through
//! a per-thread buffer, so sealing a field costs neither a system call nor a lock.
//!
//! Uniqueness rests on randomness, not on a counter: a data key may seal from several
//! processes and threads, and nothing stores a counter per key. With 96 uniformly random
//! bits the chance that any two of `n` nonces under one key collide is below
//! `n² / 2⁹⁷`: 2⁻³³ after 2³² seals of one key (the bound NIST SP 800-38D sets for random
//! nonces). Each data key protects one subject's fields and seals a few hundred values in
//! its life, so the real figure is below 2⁻⁸⁰. Every byte handed out comes from the
//! source, is handed out once, and is wiped from the buffer when taken.
//!
//! The buffer belongs to the thread, not to the instance: it remembers which instance
//! filled it, and another instance on the same thread discards it and refills it from its
//! own source, so an instance never hands out bytes drawn from another's source. A process
//! that forked would copy its buffers into the child (as it would have copied the shared
//! buffer this replaces); Souk does not fork.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use souk_domain::Entropy;

pub const NONCE_LEN: usize = 12;
/// Bytes per refill: 341 nonces, so the system call is amortised to a few nanoseconds.
const BUFFER: usize = 4092;

/// Identifies a [`Nonces`] instance for the per-thread buffers. Zero means "no owner".
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One thread's unused random bytes.
struct ThreadBuffer {
    /// The instance whose source filled `bytes`; zero when empty.
    owner: u64,
    /// Where the next unused byte is; `BUFFER` when all are used.
    pos: usize,
    bytes: [u8; BUFFER],
}

impl ThreadBuffer {
    fn take(&mut self, owner: u64, source: &dyn Entropy) -> [u8; NONCE_LEN] {
        if self.owner != owner || self.pos + NONCE_LEN > BUFFER {
            source.fill(&mut self.bytes);
            self.owner = owner;
            self.pos = 0;
        }
        let mut nonce = [0u8; NONCE_LEN];
        if let Some(unused) = self.bytes.get_mut(self.pos..self.pos + NONCE_LEN) {
            nonce.copy_from_slice(unused);
            // Never hand out the same bytes twice.
            unused.fill(0);
        }
        self.pos += NONCE_LEN;
        nonce
    }
}

thread_local! {
    static BUFFERS: RefCell<ThreadBuffer> =
        const { RefCell::new(ThreadBuffer { owner: 0, pos: BUFFER, bytes: [0; BUFFER] }) };
}

/// A source of nonces, buffered per thread.
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

    /// The next nonce.
    pub fn next(&self) -> [u8; NONCE_LEN] {
        let from_buffer = BUFFERS.try_with(|cell| {
            cell.try_borrow_mut().ok().map(|mut buffer| buffer.take(self.id, &*self.source))
        });
        match from_buffer {
            Ok(Some(nonce)) => nonce,
            // The thread is exiting, or the source itself asked for a nonce: draw directly.
            Ok(None) | Err(_) => {
                let mut nonce = [0u8; NONCE_LEN];
                self.source.fill(&mut nonce);
                nonce
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use souk_domain::OsEntropy;
    use souk_domain::entropy::SeededEntropy;

    use super::*;

    #[test]
    fn nonces_do_not_repeat_across_refills() {
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
        // switch discards the buffer and refills it from the switching instance's own
        // source, so the two sequences agree; a shared buffer would make them differ.
        let a = Nonces::new(Box::new(SeededEntropy::new(9)));
        let b = Nonces::new(Box::new(SeededEntropy::new(9)));
        let mut from_a = Vec::new();
        let mut from_b = Vec::new();
        for _ in 0..3 {
            from_a.push(a.next());
            from_b.push(b.next());
        }
        assert_eq!(from_a, from_b);
        // And one instance hands out its source's bytes in order, each once.
        let mut expected = [0u8; 36];
        SeededEntropy::new(10).fill(&mut expected);
        let c = Nonces::new(Box::new(SeededEntropy::new(10)));
        let got: Vec<u8> = (0..3).flat_map(|_| c.next()).collect();
        assert_eq!(got, expected);
    }
}
