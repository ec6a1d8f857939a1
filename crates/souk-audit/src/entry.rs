//! An audit entry and its canonical encoding. The leaf hash covers every field, the entry's
//! position (`seq`) included, so editing, moving or renumbering a row changes its hash.

use crate::merkle::{Hash, leaf_hash};

/// One audit entry as stored. Personal data never appears in clear: the client IP is
/// sealed (under the actor's data key), and `detail` must hold no personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the log, from 0.
    pub seq: u64,
    /// Microseconds since the Unix epoch, from the injected clock.
    pub at: i64,
    /// `account`, `api_key`, `system` or `anonymous`.
    pub actor_kind: String,
    pub actor_id: String,
    /// The role the actor acted in (`buyer`, `seller`, `staff:finance`, `operator`…).
    pub actor_role: String,
    /// The session or API key id the actor used, if any.
    pub credential_id: String,
    pub ip_sealed: Option<Vec<u8>>,
    /// What was done, e.g. `keys.rotate`, `account.email.change`.
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    /// `success`, `denied` or `failure`.
    pub outcome: String,
    pub request_id: String,
    /// Extra facts as JSON, without personal data.
    pub detail: String,
}

const DOMAIN: &[u8] = b"souk-audit-entry/v1";

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    // Length-prefixed, so no two different entries share an encoding.
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
}

impl Entry {
    /// The canonical bytes the leaf hash covers.
    #[must_use]
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        field(&mut out, DOMAIN);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.at.to_be_bytes());
        for text in [&self.actor_kind, &self.actor_id, &self.actor_role, &self.credential_id] {
            field(&mut out, text.as_bytes());
        }
        match &self.ip_sealed {
            Some(ip) => {
                out.push(1);
                field(&mut out, ip);
            }
            None => out.push(0),
        }
        for text in
            [&self.action, &self.target_kind, &self.target_id, &self.outcome, &self.request_id, &self.detail]
        {
            field(&mut out, text.as_bytes());
        }
        out
    }

    /// The entry's Merkle leaf hash.
    #[must_use]
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.canonical())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(seq: u64) -> Entry {
        Entry {
            seq,
            at: 1_790_000_000_000_000,
            actor_kind: "account".into(),
            actor_id: "a1".into(),
            actor_role: "staff:finance".into(),
            credential_id: "s1".into(),
            ip_sealed: Some(vec![1, 2, 3]),
            action: "payout.release".into(),
            target_kind: "payout".into(),
            target_id: "p1".into(),
            outcome: "success".into(),
            request_id: "r1".into(),
            detail: "{}".into(),
        }
    }

    #[test]
    fn every_field_and_the_position_change_the_hash() {
        let base = sample(7);
        let h = base.leaf_hash();
        let mut variants = vec![Entry { seq: 8, ..base.clone() }, Entry { at: base.at + 1, ..base.clone() }];
        variants.push(Entry { ip_sealed: None, ..base.clone() });
        variants.push(Entry { actor_id: "a2".into(), ..base.clone() });
        variants.push(Entry { outcome: "denied".into(), ..base.clone() });
        variants.push(Entry { detail: "{ }".into(), ..base.clone() });
        // Moving a byte between adjacent fields must change the encoding too.
        variants.push(Entry { actor_kind: "accounta".into(), actor_id: "1".into(), ..base.clone() });
        for v in variants {
            assert_ne!(v.leaf_hash(), h, "{v:?}");
        }
        assert_eq!(sample(7).leaf_hash(), h);
    }
}
