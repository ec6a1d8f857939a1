//! How big an upload may be, and how big the cleaned image comes out.

const MIB: usize = 1024 * 1024;

/// Size limits for one kind of upload.
///
/// `max_width`, `max_height` and `max_pixels` are checked against the image's header before
/// any pixel is decoded, and again by the decoder itself, so a small file that claims a huge
/// image (a decompression bomb) costs nothing. Only `max_bytes` applies to PDFs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest upload, in bytes.
    pub max_bytes: usize,
    /// The widest image accepted, in pixels.
    pub max_width: u32,
    /// The tallest image accepted, in pixels.
    pub max_height: u32,
    /// The most pixels accepted (width times height). Decoding holds the whole image in
    /// memory, up to 8 bytes a pixel for 16-bit PNGs, so this bounds a request's memory.
    pub max_pixels: u64,
    /// The longest side of the cleaned image: larger images are scaled down to it (never
    /// up), keeping their aspect ratio. 0 counts as 1.
    pub max_output_side: u32,
}

impl Limits {
    /// Listing photos: what phones produce (12 to 48 megapixels is common, so the largest are
    /// refused rather than decoded), served at most 2048 pixels on the longest side, which
    /// fills a desktop listing page at 2x density.
    pub const LISTING_IMAGE: Self = Self {
        max_bytes: 10 * MIB,
        max_width: 8000,
        max_height: 8000,
        max_pixels: 40_000_000,
        max_output_side: 2048,
    };

    /// Identity documents: the same input limits, but kept at up to 4096 pixels so the fine
    /// print of a full-page scan stays legible to the person who reviews it.
    pub const DOCUMENT: Self = Self { max_output_side: 4096, ..Self::LISTING_IMAGE };
}

impl Default for Limits {
    fn default() -> Self {
        Self::LISTING_IMAGE
    }
}
