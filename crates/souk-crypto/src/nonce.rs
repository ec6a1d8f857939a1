//! Nonces for AES-GCM: 96 random bits each, drawn from a buffer refilled from the entropy
//! source, so sealing a field does not cost a system call. Random nonces are safe here
//! because each key seals few messages (one subject's fields), far below the 2^32 bound.

use std::sync::{Mutex, PoisonError};

use souk_domain::Entropy;

pub const NONCE_LEN: usize = 12;
const BUFFER: usize = 4096;

/// A buffered source of nonces.
#[derive(Debug)]
pub struct Nonces {
    source: Box<dyn Entropy>,
    state: Mutex<(Box<[u8; BUFFER]>, usize)>,
}

impl Nonces {
    #[must_use]
    pub fn new(source: Box<dyn Entropy>) -> Self {
        Self { source, state: Mutex::new((Box::new([0; BUFFER]), BUFFER)) }
    }

    /// The next nonce.
    pub fn next(&self) -> [u8; NONCE_LEN] {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (buf, pos) = &mut *guard;
        if *pos + NONCE_LEN > BUFFER {
            self.source.fill(&mut buf[..]);
            *pos = 0;
        }
        let mut nonce = [0u8; NONCE_LEN];
        if let Some(src) = buf.get(*pos..*pos + NONCE_LEN) {
            nonce.copy_from_slice(src);
        }
        // Never hand out the same bytes twice.
        if let Some(used) = buf.get_mut(*pos..*pos + NONCE_LEN) {
            used.fill(0);
        }
        *pos += NONCE_LEN;
        nonce
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use souk_domain::OsEntropy;

    use super::*;

    #[test]
    fn nonces_do_not_repeat_across_refills() {
        let n = Nonces::new(Box::new(OsEntropy::new()));
        let seen: HashSet<[u8; 12]> = (0..10_000).map(|_| n.next()).collect();
        assert_eq!(seen.len(), 10_000);
    }
}
