//! Image dimensions read straight from the file's header, before any decoder runs.
//!
//! This is the first line against decompression bombs: a few bytes that claim a
//! 100000x100000 image are refused here, having cost a few comparisons. The decoder checks
//! the same limits again (see `picture`), so a header this code misreads cannot slip past.

use crate::{MediaError, MediaKind};

/// The width and height that the header of an image of `kind` claims.
///
/// Also refuses a JPEG whose scan is not followed by an end-of-image marker: the JPEG
/// decoder is lenient and would fill a truncated image with grey instead of failing.
pub(crate) fn dimensions(kind: MediaKind, bytes: &[u8]) -> Result<(u32, u32), MediaError> {
    let dims = match kind {
        MediaKind::Png => png(bytes),
        MediaKind::Jpeg => jpeg(bytes),
        MediaKind::Webp => webp(bytes),
        MediaKind::Pdf => return Err(MediaError::UnsupportedType),
    };
    match dims {
        Some((width, height)) if width > 0 && height > 0 => Ok((width, height)),
        _ => Err(MediaError::Corrupt),
    }
}

fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    array(bytes, at).map(u16::from_be_bytes)
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    array(bytes, at).map(u32::from_be_bytes)
}

fn le16(bytes: &[u8], at: usize) -> Option<u16> {
    array(bytes, at).map(u16::from_le_bytes)
}

fn le24(bytes: &[u8], at: usize) -> Option<u32> {
    let [a, b, c] = array(bytes, at)?;
    Some(u32::from_le_bytes([a, b, c, 0]))
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    array(bytes, at).map(u32::from_le_bytes)
}

/// PNG: the signature, then the IHDR chunk, which the format requires to come first.
fn png(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    Some((be32(bytes, 16)?, be32(bytes, 20)?))
}

/// Start-of-frame markers (SOF0 to SOF15), less the three codes in that range that mean
/// something else: DHT (C4), JPG (C8) and DAC (CC).
fn is_start_of_frame(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// JPEG: walks the segments after SOI to the frame header. Exactly one frame header must
/// come before the first scan, and an end-of-image marker must follow the scan.
fn jpeg(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut pos = 2;
    let mut dims = None;
    loop {
        if *bytes.get(pos)? != 0xFF {
            return None;
        }
        // A marker may be preceded by any number of 0xFF fill bytes.
        while *bytes.get(pos)? == 0xFF {
            pos += 1;
        }
        let marker = *bytes.get(pos)?;
        pos += 1;
        match marker {
            // Markers that stand alone, without a length.
            0x01 | 0xD0..=0xD7 => continue,
            0xD8 | 0xD9 => return None,
            0xDA => {
                // Entropy-coded data escapes every 0xFF as FF 00, so FF D9 after the first
                // scan is the end-of-image marker and nothing else.
                let scans = bytes.get(pos..)?;
                return scans.windows(2).any(|pair| pair == [0xFF, 0xD9]).then_some(dims?);
            }
            _ => {}
        }
        let len = usize::from(be16(bytes, pos)?);
        if len < 2 {
            return None;
        }
        if is_start_of_frame(marker) {
            if dims.is_some() {
                return None;
            }
            // Length (2), sample precision (1), height (2), width (2).
            let height = be16(bytes, pos + 3)?;
            let width = be16(bytes, pos + 5)?;
            dims = Some((u32::from(width), u32::from(height)));
        }
        pos = pos.checked_add(len)?;
    }
}

/// WebP: the RIFF header (12 bytes), then the first chunk, whose kind says where the size is.
fn webp(bytes: &[u8]) -> Option<(u32, u32)> {
    match bytes.get(12..16)? {
        b"VP8 " => {
            // Lossy: a 3-byte frame tag, the start code, then 14-bit width and height (the
            // top two bits of each are a scaling hint, not part of the size).
            if bytes.get(23..26)? != [0x9D, 0x01, 0x2A] {
                return None;
            }
            Some((u32::from(le16(bytes, 26)? & 0x3FFF), u32::from(le16(bytes, 28)? & 0x3FFF)))
        }
        b"VP8L" => {
            // Lossless: a signature byte, then width - 1 and height - 1 in 14 bits each.
            if *bytes.get(20)? != 0x2F {
                return None;
            }
            let bits = le32(bytes, 21)?;
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => {
            // Extended: flags (4 bytes), then canvas width - 1 and height - 1 in 24 bits each.
            Some((le24(bytes, 24)? + 1, le24(bytes, 27)? + 1))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_header_is_read() {
        let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&7u32.to_be_bytes());
        assert_eq!(dimensions(MediaKind::Png, &png), Ok((100_000, 7)));
        assert_eq!(dimensions(MediaKind::Png, &png[..20]), Err(MediaError::Corrupt));
    }

    #[test]
    fn jpeg_needs_one_frame_before_the_scan_and_an_end_after_it() {
        let sof = [0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x0A, 0x00, 0x14, 0x01, 0x01, 0x11, 0x00];
        let sos = [0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x12, 0x34];
        let jpeg = |parts: &[&[u8]]| {
            let mut out = vec![0xFF, 0xD8];
            for part in parts {
                out.extend_from_slice(part);
            }
            out
        };
        let ok = jpeg(&[&sof, &sos, &[0xFF, 0xD9]]);
        assert_eq!(dimensions(MediaKind::Jpeg, &ok), Ok((20, 10)));
        // Truncated inside the scan: no end-of-image marker.
        assert_eq!(dimensions(MediaKind::Jpeg, &jpeg(&[&sof, &sos])), Err(MediaError::Corrupt));
        // A scan before any frame header.
        assert_eq!(dimensions(MediaKind::Jpeg, &jpeg(&[&sos, &[0xFF, 0xD9]])), Err(MediaError::Corrupt));
        // Two frame headers: which one a decoder believes is anyone's guess.
        assert_eq!(
            dimensions(MediaKind::Jpeg, &jpeg(&[&sof, &sof, &sos, &[0xFF, 0xD9]])),
            Err(MediaError::Corrupt)
        );
        // Fill bytes before a marker are allowed.
        let filled = jpeg(&[&[0xFF, 0xFF], &sof, &sos, &[0xFF, 0xD9]]);
        assert_eq!(dimensions(MediaKind::Jpeg, &filled), Ok((20, 10)));
    }

    #[test]
    fn webp_headers_of_each_flavour_are_read() {
        let riff = |chunk: &[u8]| {
            let mut out = b"RIFF\x00\x00\x00\x00WEBP".to_vec();
            out.extend_from_slice(chunk);
            out
        };
        let lossy = riff(b"VP8 \x00\x00\x00\x00\x00\x00\x00\x9D\x01\x2A\x14\x00\x0A\x00");
        assert_eq!(dimensions(MediaKind::Webp, &lossy), Ok((20, 10)));
        // (20 - 1) | (10 - 1) << 14 = 0x0002_4013
        let lossless = riff(b"VP8L\x00\x00\x00\x00\x2F\x13\x40\x02\x00");
        assert_eq!(dimensions(MediaKind::Webp, &lossless), Ok((20, 10)));
        let extended = riff(b"VP8X\x0A\x00\x00\x00\x00\x00\x00\x00\x9F\x86\x01\x09\x00\x00");
        assert_eq!(dimensions(MediaKind::Webp, &extended), Ok((100_000, 10)));
        assert_eq!(dimensions(MediaKind::Webp, &riff(b"ALPH")), Err(MediaError::Corrupt));
    }
}
