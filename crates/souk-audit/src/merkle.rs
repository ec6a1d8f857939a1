//! RFC 9162 §2.1 Merkle Tree Hash, audit paths and consistency proofs over SHA-256, with
//! domain separation (0x00 for leaves, 0x01 for interior nodes) so a leaf can never be
//! passed off as a node.

use sha2::{Digest as _, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// `MTH({d})` = SHA-256(0x00 ‖ d).
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new().chain_update([0x00]).chain_update(data).finalize().into()
}

/// SHA-256(0x01 ‖ left ‖ right).
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new().chain_update([0x01]).chain_update(left).chain_update(right).finalize().into()
}

/// `MTH({})`: SHA-256 of the empty string.
#[must_use]
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly less than `n` (`n` ≥ 2): RFC 9162's split point.
#[must_use]
pub const fn split(n: u64) -> u64 {
    1 << (n - 1).ilog2()
}

/// Splits a slice at RFC 9162's split point.
fn halves(leaves: &[Hash]) -> (&[Hash], &[Hash]) {
    let k = usize::try_from(split(leaves.len() as u64)).unwrap_or(usize::MAX).min(leaves.len());
    leaves.split_at(k)
}

/// The Merkle Tree Hash of a list of leaf hashes.
#[must_use]
pub fn root(leaves: &[Hash]) -> Hash {
    let mut tree = crate::compact::CompactTree::default();
    for leaf in leaves {
        tree.push(*leaf);
    }
    tree.root()
}

/// The audit path of leaf `index` in the tree of `leaves` (RFC 9162 `PATH(m, D[n])`).
/// `None` if `index` is out of range.
#[must_use]
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    path(index, leaves, &mut proof);
    Some(proof)
}

fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let (left, right) = halves(leaves);
    if m < left.len() {
        path(m, left, out);
        out.push(root(right));
    } else {
        path(m - left.len(), right, out);
        out.push(root(left));
    }
}

/// The consistency proof between the first `m` leaves and all of `leaves` (RFC 9162
/// `PROOF(m, D[n])`). `None` unless 0 < m ≤ n.
#[must_use]
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Option<Vec<Hash>> {
    if m == 0 || m > leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    subproof(m, leaves, true, &mut proof);
    Some(proof)
}

fn subproof(m: usize, leaves: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    if m == leaves.len() {
        if !whole {
            out.push(root(leaves));
        }
        return;
    }
    let (left, right) = halves(leaves);
    if m <= left.len() {
        subproof(m, left, whole, out);
        out.push(root(right));
    } else {
        subproof(m - left.len(), right, false, out);
        out.push(root(left));
    }
}

/// Verifies an audit path (RFC 9162 §2.1.3.2).
#[must_use]
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], expected_root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *expected_root
}

/// Verifies that the tree of size `second` with root `second_root` extends the tree of size
/// `first` with root `first_root` (RFC 9162 §2.1.4.2).
#[must_use]
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 {
        // Every tree extends the empty tree.
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((head, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*head, *head);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *first_root && sr == *second_root && s == 0
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn unhex(s: &str) -> Hash {
        let bytes: Vec<u8> =
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
        bytes.try_into().unwrap()
    }

    /// The reference leaves of the Certificate Transparency implementations' test data.
    fn ct_leaves() -> Vec<Hash> {
        let data: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
        ];
        data.iter().map(|d| leaf_hash(d)).collect()
    }

    /// Published tree heads for sizes 0 to 8.
    const CT_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn known_answer_roots() {
        let leaves = ct_leaves();
        assert_eq!(empty_root(), unhex(CT_ROOTS[0]));
        for n in 0..=8 {
            assert_eq!(root(&leaves[..n]), unhex(CT_ROOTS[n]), "size {n}");
        }
    }

    #[test]
    fn known_answer_inclusion_proofs() {
        let leaves = ct_leaves();
        let cases: [(usize, [&str; 3]); 2] = [
            (
                0,
                [
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                [
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        let root8 = unhex(CT_ROOTS[8]);
        for (index, expected) in cases {
            let expected: Vec<Hash> = expected.iter().map(|h| unhex(h)).collect();
            assert_eq!(inclusion_proof(&leaves, index).unwrap(), expected, "leaf {index}");
            assert!(verify_inclusion(&leaves[index], index as u64, 8, &expected, &root8));
        }
    }

    #[test]
    fn known_answer_consistency_proofs() {
        let leaves = ct_leaves();
        let cases: [(usize, usize, &[&str]); 3] = [
            (
                2,
                8,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (m, n, expected) in cases {
            let expected: Vec<Hash> = expected.iter().map(|h| unhex(h)).collect();
            assert_eq!(consistency_proof(&leaves[..n], m).unwrap(), expected, "{m} -> {n}");
            assert!(verify_consistency(
                m as u64,
                n as u64,
                &unhex(CT_ROOTS[m]),
                &unhex(CT_ROOTS[n]),
                &expected
            ));
        }
    }

    #[test]
    fn split_is_rfc_9162s() {
        for (n, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1000, 512)] {
            assert_eq!(split(n), k, "{n}");
        }
    }

    fn tree(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&(i as u64).to_be_bytes())).collect()
    }

    /// Every byte of every input to verification matters: flipping any one bit of the
    /// leaf, any proof element or the root makes the proof fail.
    #[test]
    fn every_proof_verifies_and_every_single_byte_change_breaks_it() {
        for n in 1..=33 {
            let leaves = tree(n);
            let r = root(&leaves);
            for i in 0..n {
                let proof = inclusion_proof(&leaves, i).unwrap();
                assert!(verify_inclusion(&leaves[i], i as u64, n as u64, &proof, &r), "{i}/{n}");
                assert!(!verify_inclusion(&leaves[i], i as u64 + 1, n as u64, &proof, &r) || i + 1 == n);
                for byte in 0..32 {
                    let mut leaf = leaves[i];
                    leaf[byte] ^= 1;
                    assert!(!verify_inclusion(&leaf, i as u64, n as u64, &proof, &r));
                    let mut bad_root = r;
                    bad_root[byte] ^= 0x80;
                    assert!(!verify_inclusion(&leaves[i], i as u64, n as u64, &proof, &bad_root));
                    for k in 0..proof.len() {
                        let mut bad = proof.clone();
                        bad[k][byte] ^= 1;
                        assert!(!verify_inclusion(&leaves[i], i as u64, n as u64, &bad, &r));
                    }
                }
            }
            for m in 1..=n {
                let proof = consistency_proof(&leaves, m).unwrap();
                let rm = root(&leaves[..m]);
                assert!(verify_consistency(m as u64, n as u64, &rm, &r, &proof), "{m}->{n}");
                for k in 0..proof.len() {
                    for byte in [0, 13, 31] {
                        let mut bad = proof.clone();
                        bad[k][byte] ^= 1;
                        assert!(!verify_consistency(m as u64, n as u64, &rm, &r, &bad), "{m}->{n} elem {k}");
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn a_rewritten_history_is_never_consistent(n in 2usize..200, m_seed in any::<usize>(), victim_seed in any::<usize>()) {
            let leaves = tree(n);
            let m = 1 + m_seed % (n - 1);
            let old_root = root(&leaves[..m]);
            // Rewrite one of the first m entries, then build the bigger tree from that.
            let mut forged = leaves.clone();
            let victim = victim_seed % m;
            forged[victim] = leaf_hash(b"forged");
            let forged_root = root(&forged);
            let proof = consistency_proof(&forged, m).unwrap();
            prop_assert!(!verify_consistency(m as u64, n as u64, &old_root, &forged_root, &proof));
        }
    }
}
