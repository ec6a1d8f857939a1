//! A compact Merkle tree: the roots of the perfect subtrees ("peaks") of the leaves seen so
//! far, at most one per height. Appending is O(1) amortized and the RFC 9162 root of the
//! current size is the right-to-left fold of the peaks, so a verifier computes the root at
//! every checkpoint of a million-entry log in a single pass with O(log n) memory.

use crate::merkle::{Hash, empty_root, node_hash};

/// Peaks of a growing tree, highest (leftmost) first.
#[derive(Debug, Clone, Default)]
pub struct CompactTree {
    size: u64,
    peaks: Vec<Hash>,
}

impl CompactTree {
    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        // Each trailing 1 bit of the old size is a peak that now merges with its right twin.
        let mut size = self.size;
        while size & 1 == 1 {
            let Some(left) = self.peaks.pop() else { break };
            hash = node_hash(&left, &hash);
            size >>= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    #[must_use]
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// The Merkle Tree Hash of the leaves so far.
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return empty_root();
        };
        peaks.fold(*last, |acc, peak| node_hash(peak, &acc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    /// The recursive definition from RFC 9162, for comparison.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = usize::try_from(crate::merkle::split(n as u64)).unwrap();
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn matches_the_recursive_definition_at_every_size() {
        let leaves: Vec<Hash> = (0u32..300).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut tree = CompactTree::default();
        assert_eq!(tree.root(), empty_root());
        for (i, leaf) in leaves.iter().enumerate() {
            tree.push(*leaf);
            assert_eq!(tree.root(), reference_root(&leaves[..=i]), "size {}", i + 1);
        }
        assert!(tree.peaks.len() <= 9, "one peak per set bit of the size");
    }
}
