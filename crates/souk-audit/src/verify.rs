//! Verification of a stored log: stream the rows in order, recompute every leaf, rebuild
//! the tree, and check each signed checkpoint against it. Reports what was tampered with,
//! first finding first.
//!
//! What each kind of tampering looks like:
//! - an edited row: its recomputed leaf differs from its stored leaf hash (`Modified`);
//! - rows swapped or renumbered: the stored hash matches the content at another position
//!   (`Reordered`);
//! - rows deleted: a gap in the sequence, or fewer rows than the head says (`Deleted`);
//! - rows inserted: positions at or past the head's size (`Inserted`);
//! - a rewrite that also recomputed the stored hashes: the first signed checkpoint after it
//!   no longer matches the tree (`CheckpointMismatch`), bounding the change to the entries
//!   since the last checkpoint that still matches.

use crate::checkpoint::{self, Checkpoint};
use crate::compact::CompactTree;
use crate::entry::Entry;
use crate::merkle::Hash;

/// A row as read back from storage.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub entry: Entry,
    pub stored_leaf: Hash,
}

/// Something the verifier found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Modified { seq: u64 },
    Reordered { seq: u64, belongs_at: u64 },
    Deleted { from: u64, to: u64 },
    Inserted { seq: u64 },
    CheckpointMismatch { tree_size: u64, last_good: u64 },
    BadSignature { tree_size: u64 },
    CheckpointBeyondLog { tree_size: u64 },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Modified { seq } => write!(f, "entry {seq} was modified"),
            Self::Reordered { seq, belongs_at } => {
                write!(f, "entry {seq} holds the entry written at position {belongs_at} (reordered)")
            }
            Self::Deleted { from, to } if from == to => write!(f, "entry {from} was deleted"),
            Self::Deleted { from, to } => write!(f, "entries {from} to {to} were deleted"),
            Self::Inserted { seq } => write!(f, "entry {seq} was inserted (beyond the log's recorded size)"),
            Self::CheckpointMismatch { tree_size, last_good } => write!(
                f,
                "the signed checkpoint at size {tree_size} does not match the log: entries {last_good} to {} were rewritten",
                tree_size.saturating_sub(1)
            ),
            Self::BadSignature { tree_size } => {
                write!(f, "the checkpoint at size {tree_size} has an invalid signature")
            }
            Self::CheckpointBeyondLog { tree_size } => {
                write!(
                    f,
                    "a signed checkpoint covers {tree_size} entries but the log is shorter: entries were removed"
                )
            }
        }
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub entries: u64,
    pub checkpoints_verified: u64,
    pub findings: Vec<Finding>,
}

impl Report {
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// How far from its position a moved row is looked for.
const REORDER_WINDOW: u64 = 64;

/// Streams rows through verification.
#[derive(Debug)]
pub struct Verifier {
    public_key: Vec<u8>,
    head: u64,
    checkpoints: Vec<Checkpoint>,
    next_checkpoint: usize,
    tree: CompactTree,
    expected: u64,
    /// Once rows are missing, roots can no longer be recomputed.
    tree_broken: bool,
    last_good: u64,
    report: Report,
}

impl Verifier {
    /// `head` is the size the log records for itself; `checkpoints` may be in any order.
    #[must_use]
    pub fn new(public_key: Vec<u8>, head: u64, mut checkpoints: Vec<Checkpoint>) -> Self {
        checkpoints.sort_by_key(|c| c.tree_size);
        Self {
            public_key,
            head,
            checkpoints,
            next_checkpoint: 0,
            tree: CompactTree::default(),
            expected: 0,
            tree_broken: false,
            last_good: 0,
            report: Report::default(),
        }
    }

    fn find(&mut self, f: Finding) {
        self.report.findings.push(f);
    }

    /// Feeds the next row, in ascending `seq` order.
    pub fn feed(&mut self, row: &StoredRow) {
        let seq = row.entry.seq;
        if seq >= self.head {
            self.find(Finding::Inserted { seq });
            return;
        }
        if seq > self.expected {
            self.find(Finding::Deleted { from: self.expected, to: seq - 1 });
            self.tree_broken = true;
        }
        self.expected = seq + 1;
        let leaf = row.entry.leaf_hash();
        if leaf != row.stored_leaf {
            let moved_from = (seq.saturating_sub(REORDER_WINDOW)..=seq + REORDER_WINDOW)
                .filter(|k| *k != seq)
                .find(|k| Entry { seq: *k, ..row.entry.clone() }.leaf_hash() == row.stored_leaf);
            self.find(match moved_from {
                Some(k) => Finding::Reordered { seq, belongs_at: k },
                None => Finding::Modified { seq },
            });
        }
        self.report.entries += 1;
        if self.tree_broken {
            return;
        }
        self.tree.push(leaf);
        self.check_checkpoints_at(self.tree.size());
    }

    fn check_checkpoints_at(&mut self, size: u64) {
        while let Some(cp) = self.checkpoints.get(self.next_checkpoint) {
            if cp.tree_size > size {
                break;
            }
            let cp = cp.clone();
            self.next_checkpoint += 1;
            if cp.tree_size < size {
                continue; // Only reachable for a checkpoint of size 0.
            }
            if !checkpoint::verify(&self.public_key, &cp) {
                self.find(Finding::BadSignature { tree_size: cp.tree_size });
            } else if cp.root == self.tree.root() {
                self.report.checkpoints_verified += 1;
                self.last_good = cp.tree_size;
            } else {
                self.find(Finding::CheckpointMismatch { tree_size: cp.tree_size, last_good: self.last_good });
            }
        }
    }

    /// Finishes: reports rows missing at the end and checkpoints past the end.
    #[must_use]
    pub fn finish(mut self) -> Report {
        if self.expected < self.head {
            self.find(Finding::Deleted { from: self.expected, to: self.head - 1 });
        }
        if !self.tree_broken {
            self.check_checkpoints_at(self.tree.size());
        }
        let beyond: Vec<u64> = self
            .checkpoints
            .iter()
            .skip(self.next_checkpoint)
            .map(|c| c.tree_size)
            .filter(|s| *s > self.tree.size())
            .collect();
        if !self.tree_broken {
            for tree_size in beyond {
                self.find(Finding::CheckpointBeyondLog { tree_size });
            }
        }
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Signer;
    use crate::merkle::root;

    fn entry(seq: u64) -> Entry {
        Entry {
            seq,
            at: 1_000 + i64::try_from(seq).unwrap(),
            actor_kind: "system".into(),
            actor_id: "souk".into(),
            actor_role: "operator".into(),
            credential_id: String::new(),
            ip_sealed: None,
            action: format!("test.{seq}"),
            target_kind: "thing".into(),
            target_id: seq.to_string(),
            outcome: "success".into(),
            request_id: String::new(),
            detail: "{}".into(),
        }
    }

    fn log(n: u64) -> (Vec<StoredRow>, Vec<Checkpoint>, Signer) {
        let rows: Vec<StoredRow> =
            (0..n).map(|s| StoredRow { stored_leaf: entry(s).leaf_hash(), entry: entry(s) }).collect();
        let signer = Signer::from_seed(&[3u8; 32], 1).unwrap();
        let leaves: Vec<Hash> = rows.iter().map(|r| r.stored_leaf).collect();
        let cps = [10u64, 20, 30, n]
            .iter()
            .map(|s| signer.sign(*s, &root(&leaves[..usize::try_from(*s).unwrap()]), 5))
            .collect();
        (rows, cps, signer)
    }

    fn run(rows: &[StoredRow], cps: Vec<Checkpoint>, signer: &Signer, head: u64) -> Report {
        let mut v = Verifier::new(signer.public_key(), head, cps);
        for r in rows {
            v.feed(r);
        }
        v.finish()
    }

    #[test]
    fn an_untouched_log_verifies() {
        let (rows, cps, signer) = log(40);
        let r = run(&rows, cps, &signer, 40);
        assert!(r.is_clean(), "{:?}", r.findings);
        assert_eq!((r.entries, r.checkpoints_verified), (40, 4));
    }

    #[test]
    fn each_kind_of_tampering_is_named() {
        let (rows, cps, signer) = log(40);
        // Edited content.
        let mut edited = rows.clone();
        edited[12].entry.outcome = "denied".into();
        let r = run(&edited, cps.clone(), &signer, 40);
        assert_eq!(r.findings.first(), Some(&Finding::Modified { seq: 12 }));
        // Edited content with the stored hash recomputed: caught by the next checkpoint.
        let mut forged = rows.clone();
        forged[15].entry.outcome = "denied".into();
        forged[15].stored_leaf = forged[15].entry.leaf_hash();
        let r = run(&forged, cps.clone(), &signer, 40);
        assert_eq!(r.findings.first(), Some(&Finding::CheckpointMismatch { tree_size: 20, last_good: 10 }));
        // Deleted in the middle, and at the end.
        let mut gap = rows.clone();
        gap.remove(7);
        assert_eq!(
            run(&gap, cps.clone(), &signer, 40).findings.first(),
            Some(&Finding::Deleted { from: 7, to: 7 })
        );
        let r = run(&rows[..35], cps.clone(), &signer, 40);
        assert_eq!(r.findings.first(), Some(&Finding::Deleted { from: 35, to: 39 }));
        // Reordered: two rows swap positions (their seq values swapped by SQL).
        let mut swapped = rows.clone();
        let (a, b) = (swapped[3].clone(), swapped[4].clone());
        swapped[3] = StoredRow { entry: Entry { seq: 3, ..b.entry }, stored_leaf: b.stored_leaf };
        swapped[4] = StoredRow { entry: Entry { seq: 4, ..a.entry }, stored_leaf: a.stored_leaf };
        assert_eq!(
            run(&swapped, cps.clone(), &signer, 40).findings.first(),
            Some(&Finding::Reordered { seq: 3, belongs_at: 4 })
        );
        // Inserted past the recorded head.
        let mut extra = rows.clone();
        extra.push(StoredRow { entry: entry(40), stored_leaf: entry(40).leaf_hash() });
        assert_eq!(
            run(&extra, cps.clone(), &signer, 40).findings.first(),
            Some(&Finding::Inserted { seq: 40 })
        );
        // A forged signature.
        let mut bad = cps.clone();
        bad[1].signature[0] ^= 1;
        assert_eq!(
            run(&rows, bad, &signer, 40).findings.first(),
            Some(&Finding::BadSignature { tree_size: 20 })
        );
        // The tail truncated and the head rewritten to match: the checkpoints remember.
        let r = run(&rows[..25], cps, &signer, 25);
        assert_eq!(r.findings.first(), Some(&Finding::CheckpointBeyondLog { tree_size: 30 }));
    }
}
