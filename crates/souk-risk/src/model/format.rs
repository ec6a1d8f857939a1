//! The model file: a small binary format of our own, little-endian, every field read with a
//! bounds check and every tree checked (children after their parent, features in range), so
//! a damaged or hostile file is refused with a reason, never followed into a loop or panic.
//!
//! ```text
//! "SOUKGBT1"  u32 feature count  { u16 length, UTF-8 name }*  f32 base
//! u32 tree count  { u32 node count  { u32 feature, f32 threshold, u32 left, u32 right, f32 value }* }*
//! 32-byte SHA-256 of everything before it
//! ```

use sha2::{Digest, Sha256};

use super::{LEAF, Model, Node};

const MAGIC: &[u8; 8] = b"SOUKGBT1";
/// Far above any real model; bounds what a hostile header can make us allocate.
const MAX_NODES: usize = 1 << 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("not a Souk model file")]
    Magic,
    #[error("the model file is damaged: its checksum does not match")]
    Checksum,
    #[error("the model file ends early, at byte {0}")]
    Truncated(usize),
    #[error("the model file is malformed: {0}")]
    Malformed(&'static str),
}

pub(super) fn encode(model: &Model) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + model.trees.iter().map(|t| t.len() * 20).sum::<usize>());
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, model.features.len());
    for f in &model.features {
        let bytes = f.as_bytes();
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(bytes.get(..usize::from(len)).unwrap_or(bytes));
    }
    out.extend_from_slice(&model.base.to_le_bytes());
    put_u32(&mut out, model.trees.len());
    for tree in &model.trees {
        put_u32(&mut out, tree.len());
        for n in tree {
            out.extend_from_slice(&n.feature.to_le_bytes());
            out.extend_from_slice(&n.threshold.to_le_bytes());
            out.extend_from_slice(&n.left.to_le_bytes());
            out.extend_from_slice(&n.right.to_le_bytes());
            out.extend_from_slice(&n.value.to_le_bytes());
        }
    }
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], FormatError> {
        let end = self.at.checked_add(n).ok_or(FormatError::Truncated(self.at))?;
        let slice = self.bytes.get(self.at..end).ok_or(FormatError::Truncated(self.at))?;
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn f32(&mut self) -> Result<f32, FormatError> {
        Ok(f32::from_le_bytes(self.array()?))
    }
}

pub(super) fn decode(bytes: &[u8]) -> Result<Model, FormatError> {
    if bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
        return Err(FormatError::Magic);
    }
    let body_len = bytes.len().checked_sub(32).ok_or(FormatError::Truncated(bytes.len()))?;
    let (body, digest) = bytes.split_at(body_len);
    if !Sha256::digest(body).iter().eq(digest.iter()) {
        return Err(FormatError::Checksum);
    }
    let mut r = Reader { bytes: body, at: MAGIC.len() };
    let feature_count = r.u32()? as usize;
    if feature_count > u16::MAX as usize {
        return Err(FormatError::Malformed("too many features"));
    }
    let mut features = Vec::with_capacity(feature_count);
    for _ in 0..feature_count {
        let len = u16::from_le_bytes(r.array()?);
        let name = std::str::from_utf8(r.take(usize::from(len))?)
            .map_err(|_| FormatError::Malformed("a feature name is not UTF-8"))?;
        features.push(name.to_owned());
    }
    let base = r.f32()?;
    let tree_count = r.u32()? as usize;
    let mut trees = Vec::new();
    let mut total = 0usize;
    for _ in 0..tree_count {
        let node_count = r.u32()? as usize;
        total = total.saturating_add(node_count);
        if node_count == 0 || total > MAX_NODES {
            return Err(FormatError::Malformed("a tree is empty or the model is too large"));
        }
        let mut tree = Vec::with_capacity(node_count.min(4096));
        for i in 0..node_count {
            let node = Node {
                feature: r.u32()?,
                threshold: r.f32()?,
                left: r.u32()?,
                right: r.u32()?,
                value: r.f32()?,
            };
            if !node.value.is_finite() {
                return Err(FormatError::Malformed("a node value is not finite"));
            }
            if node.feature != LEAF {
                // Children strictly after the parent: the walk always moves forward and ends.
                let in_tree = |c: u32| (c as usize) > i && (c as usize) < node_count;
                if node.feature as usize >= feature_count || !in_tree(node.left) || !in_tree(node.right) {
                    return Err(FormatError::Malformed("a split points outside its tree"));
                }
                if node.threshold.is_nan() {
                    return Err(FormatError::Malformed("a split threshold is not a number"));
                }
            }
            tree.push(node);
        }
        trees.push(tree);
    }
    if r.at != body.len() {
        return Err(FormatError::Malformed("bytes after the last tree"));
    }
    if !base.is_finite() {
        return Err(FormatError::Malformed("the base margin is not finite"));
    }
    Ok(Model { features, base, trees })
}
