//! Images: checked against the limits, decoded, and re-encoded to a fresh file.
//!
//! Re-encoding is the point. Only pixels cross from the upload to the stored file, so
//! whatever else the upload carried stays behind: EXIF (with the GPS position of the
//! seller's home), XMP, ICC profiles and their text, comments, bytes after the end of the
//! image, and the second file of a polyglot (an image that is also HTML or a ZIP).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::error::LimitErrorKind;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};

use crate::{Limits, MediaError, MediaKind, header, sniff};

/// JPEG quality of re-encoded photos: visually indistinguishable from the upload at a
/// fraction of a phone camera's file size.
const JPEG_QUALITY: u8 = 85;

/// The most bytes a decoded pixel takes: 16-bit RGBA from a PNG. The decoder's memory
/// budget is `max_pixels` times this.
const MAX_BYTES_PER_PIXEL: u64 = 8;

/// An image that [`clean_image`] (or [`thumbnail`]) produced: a fresh file holding only
/// pixels, within the limits it was cleaned with.
///
/// The fields are private so that holding a `CleanImage` means the bytes came from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanImage {
    kind: MediaKind,
    width: u32,
    height: u32,
    bytes: Vec<u8>,
}

impl CleanImage {
    /// The format of [`Self::bytes`]; see [`clean_image`] for which input gives which.
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    /// Width in pixels, after orientation and scaling.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels, after orientation and scaling.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The encoded file.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The encoded file, without copying it.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Checks an uploaded image and returns a clean copy of it.
///
/// In order:
/// 1. the upload must be non-empty and at most `limits.max_bytes`;
/// 2. its content (never its name) must be JPEG, PNG or WebP;
/// 3. the dimensions in its header must be within `max_width`, `max_height` and
///    `max_pixels`, checked before a single pixel is decoded;
/// 4. it is decoded under the same limits, also enforced by the decoder, with a memory
///    budget of 8 bytes a pixel;
/// 5. the EXIF orientation, if any, is applied to the pixels, since the tag that carried it
///    is about to go;
/// 6. images larger than `max_output_side` are scaled down (Catmull-Rom, a sharp cubic
///    filter) to fit it;
/// 7. the pixels are encoded to a new file: JPEG to JPEG (quality 85), PNG to PNG, WebP to
///    lossless WebP (the image crate encodes no lossy WebP). Samples are stored at 8 bits
///    (16-bit PNGs are reduced); grey stays grey, and transparency is kept by PNG and WebP.
///
/// No metadata is written, not even a colour profile: a wide-gamut photo is shown with
/// sRGB's colours, slightly less saturated. Of an animated WebP only the first frame is kept.
pub fn clean_image(bytes: &[u8], limits: &Limits) -> Result<CleanImage, MediaError> {
    check_size(bytes, limits.max_bytes)?;
    let kind = sniff(bytes).filter(|kind| kind.is_image()).ok_or(MediaError::UnsupportedType)?;
    let image = decode(bytes, kind, limits)?;
    encode(&fit(image, limits.max_output_side), kind)
}

/// A smaller copy of a cleaned image, for listing cards: at most `max_side` pixels on its
/// longest side (0 counts as 1), in the same format. An image that already fits is returned
/// as it is rather than encoded again, which would only lose quality.
pub fn thumbnail(image: &CleanImage, max_side: u32) -> Result<CleanImage, MediaError> {
    let max_side = max_side.max(1);
    if image.width <= max_side && image.height <= max_side {
        return Ok(image.clone());
    }
    // The bytes are our own output, but they are decoded under limits all the same: a
    // `CleanImage` is an ordinary value once it has been stored and read back.
    let limits = Limits {
        max_bytes: image.bytes.len(),
        max_width: image.width,
        max_height: image.height,
        max_pixels: u64::from(image.width) * u64::from(image.height),
        max_output_side: max_side,
    };
    let decoded = decode(&image.bytes, image.kind, &limits)?;
    encode(&fit(decoded, max_side), image.kind)
}

pub(crate) fn check_size(bytes: &[u8], max: usize) -> Result<(), MediaError> {
    if bytes.is_empty() {
        Err(MediaError::Empty)
    } else if bytes.len() > max {
        Err(MediaError::TooLarge { bytes: bytes.len(), max })
    } else {
        Ok(())
    }
}

fn check_dimensions(width: u32, height: u32, limits: &Limits) -> Result<(), MediaError> {
    let pixels = u64::from(width) * u64::from(height);
    if width > limits.max_width || height > limits.max_height || pixels > limits.max_pixels {
        Err(MediaError::DimensionsTooLarge { width, height })
    } else {
        Ok(())
    }
}

fn format(kind: MediaKind) -> Result<ImageFormat, MediaError> {
    match kind {
        MediaKind::Jpeg => Ok(ImageFormat::Jpeg),
        MediaKind::Png => Ok(ImageFormat::Png),
        MediaKind::Webp => Ok(ImageFormat::WebP),
        MediaKind::Pdf => Err(MediaError::UnsupportedType),
    }
}

/// Decodes `bytes`, already sniffed as `kind`, into upright pixels.
fn decode(bytes: &[u8], kind: MediaKind, limits: &Limits) -> Result<DynamicImage, MediaError> {
    let format = format(kind)?;
    let (width, height) = header::dimensions(kind, bytes)?;
    check_dimensions(width, height, limits)?;

    let budget = limits.max_pixels.saturating_mul(MAX_BYTES_PER_PIXEL);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_width);
    decoder_limits.max_image_height = Some(limits.max_height);
    decoder_limits.max_alloc = Some(budget);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(decoder_limits);
    let refused = |error| refusal(error, width, height);
    // Making the decoder reads the header only; no pixel is decoded yet.
    let mut decoder = reader.into_decoder().map_err(refused)?;
    // The decoder's own reading of the header must pass too, in case it differs from ours.
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    if decoder.total_bytes() > budget {
        return Err(MediaError::DimensionsTooLarge { width, height });
    }
    // A damaged orientation tag is no reason to refuse a photo: it is shown as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(refused)?;
    image.apply_orientation(orientation);
    Ok(eight_bit(image, kind != MediaKind::Jpeg))
}

fn refusal(error: ImageError, width: u32, height: u32) -> MediaError {
    match error {
        ImageError::Limits(limit) => match limit.kind() {
            LimitErrorKind::DimensionError => MediaError::DimensionsTooLarge { width, height },
            // More memory than the dimensions justify: no sound image asks for that.
            _ => MediaError::Corrupt,
        },
        // A variant of the format the decoder does not implement (arithmetic-coded JPEG,
        // for one): as far as the uploader can tell, an unsupported type.
        ImageError::Unsupported(_) => MediaError::UnsupportedType,
        _ => MediaError::Corrupt,
    }
}

/// Converts to 8-bit samples, keeping grey as grey and alpha only when asked: smaller to
/// scale and to store, and every encoder here takes these four layouts.
fn eight_bit(image: DynamicImage, keep_alpha: bool) -> DynamicImage {
    let colour = image.color();
    match (colour.has_color(), keep_alpha && colour.has_alpha()) {
        (false, false) => DynamicImage::ImageLuma8(image.into_luma8()),
        (false, true) => DynamicImage::ImageLumaA8(image.into_luma_alpha8()),
        (true, false) => DynamicImage::ImageRgb8(image.into_rgb8()),
        (true, true) => DynamicImage::ImageRgba8(image.into_rgba8()),
    }
}

/// Scales `image` down to fit a `max_side` square, keeping its aspect ratio.
fn fit(image: DynamicImage, max_side: u32) -> DynamicImage {
    let max_side = max_side.max(1);
    if image.width() <= max_side && image.height() <= max_side {
        image
    } else {
        image.resize(max_side, max_side, FilterType::CatmullRom)
    }
}

fn encode(image: &DynamicImage, kind: MediaKind) -> Result<CleanImage, MediaError> {
    let mut bytes = Vec::new();
    let written = match kind {
        MediaKind::Jpeg => image.write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)),
        MediaKind::Png => image.write_with_encoder(PngEncoder::new_with_quality(
            &mut bytes,
            CompressionType::Default,
            PngFilter::Adaptive,
        )),
        MediaKind::Webp => image.write_with_encoder(WebPEncoder::new_lossless(&mut bytes)),
        MediaKind::Pdf => return Err(MediaError::UnsupportedType),
    };
    // Our encoders only fail on pixels they cannot represent, which came from the upload.
    written.map_err(|_| MediaError::Corrupt)?;
    Ok(CleanImage { kind, width: image.width(), height: image.height(), bytes })
}
