//! Identity documents: a photo or scan (cleaned like any image) or a PDF (screened).

use crate::picture::check_size;
use crate::{CleanImage, Limits, MediaError, MediaKind, clean_image, pdf, sniff};

/// An identity document that [`check_document`] accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanDocument {
    kind: MediaKind,
    dimensions: Option<(u32, u32)>,
    bytes: Vec<u8>,
}

impl CleanDocument {
    /// The format of [`Self::bytes`].
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    /// Width and height of an image document; `None` for a PDF.
    pub fn dimensions(&self) -> Option<(u32, u32)> {
        self.dimensions
    }

    /// The file to store: a cleaned image, or the PDF exactly as uploaded.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The file to store, without copying it.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl From<CleanImage> for CleanDocument {
    fn from(image: CleanImage) -> Self {
        Self {
            kind: image.kind(),
            dimensions: Some((image.width(), image.height())),
            bytes: image.into_bytes(),
        }
    }
}

/// Checks an uploaded identity document (pass [`Limits::DOCUMENT`]).
///
/// A JPEG, PNG or WebP photo or scan is cleaned exactly as [`clean_image`] cleans a listing
/// photo, so its EXIF block, with the GPS position of where it was taken, is gone.
///
/// A PDF is accepted only if
/// - it is non-empty and within `limits.max_bytes` (the other limits do not apply);
/// - it starts with `%PDF-1.` or `%PDF-2.` at the first byte;
/// - its last `%%EOF` is in the last kilobyte, with only whitespace after it, so nothing
///   is appended to it;
/// - it names no active content: `/JavaScript`, `/JS`, `/Launch`, `/EmbeddedFile(s)`,
///   `/RichMedia`, `/XFA`, `/AA`, `/GoToE`, `/GoToR`, `/SubmitForm`, `/ImportData`, or an
///   `/OpenAction` that does more than pick the first page shown (a destination, or a
///   go-to action to one, is allowed: producers such as LibreOffice and LaTeX write one).
///   Names are compared after decoding `#xx` escapes, wherever they stand outside stream
///   data, and compressed object streams are inflated and screened too;
/// - it is not encrypted, and none of its object streams uses a compression that cannot
///   be inflated here: either would hide what it contains.
///
/// A PDF is not re-encoded: it is returned byte for byte. It is a screen for active
/// content, not a sanitiser, which is why PDFs are stored encrypted and only ever served
/// as attachments (`Content-Disposition: attachment`, `X-Content-Type-Options: nosniff`),
/// never shown inline by Souk's own pages.
pub fn check_document(bytes: &[u8], limits: &Limits) -> Result<CleanDocument, MediaError> {
    check_size(bytes, limits.max_bytes)?;
    match sniff(bytes) {
        Some(MediaKind::Pdf) => {
            pdf::check(bytes, limits.max_bytes)?;
            Ok(CleanDocument { kind: MediaKind::Pdf, dimensions: None, bytes: bytes.to_vec() })
        }
        Some(_) => clean_image(bytes, limits).map(CleanDocument::from),
        None => Err(MediaError::UnsupportedType),
    }
}
