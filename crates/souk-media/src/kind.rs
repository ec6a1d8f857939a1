//! What a file is, judged by its first bytes only.

/// The kinds of file Souk accepts. Anything else (GIF, SVG, HTML, TIFF, HEIC, text) is
/// refused: each accepted kind is one more parser exposed to uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Jpeg,
    Png,
    Webp,
    Pdf,
}

impl MediaKind {
    /// The media type to serve the file with.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Pdf => "application/pdf",
        }
    }

    /// The file name extension to store or offer the file under, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Pdf => "pdf",
        }
    }

    /// Whether the kind is an image that [`crate::clean_image`] re-encodes.
    pub fn is_image(self) -> bool {
        !matches!(self, Self::Pdf)
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Tells what `bytes` are from their magic bytes.
///
/// Never from a file name or the client's Content-Type: both are whatever the uploader
/// chose. `None` means no accepted kind. A match only says what the file claims to be;
/// [`crate::clean_image`] and [`crate::check_document`] check that it really is.
///
/// A PDF must start with `%PDF-` at the very first byte. Readers tolerate junk before it,
/// but that tolerance is exactly what polyglot files (an HTML page that is also a PDF) use.
pub fn sniff(bytes: &[u8]) -> Option<MediaKind> {
    // Three bytes, not two: `FF D8` alone starts too many non-JPEG files; every JPEG
    // continues with the marker byte of its first segment.
    if bytes.starts_with(b"\xFF\xD8\xFF") {
        Some(MediaKind::Jpeg)
    } else if bytes.starts_with(PNG_SIGNATURE) {
        Some(MediaKind::Png)
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP".as_slice()) {
        Some(MediaKind::Webp)
    } else if bytes.starts_with(b"%PDF-") {
        Some(MediaKind::Pdf)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_recognised_by_its_magic_bytes() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), Some(MediaKind::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), Some(MediaKind::Png));
        assert_eq!(sniff(b"RIFF\x24\x00\x00\x00WEBPVP8 "), Some(MediaKind::Webp));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(MediaKind::Pdf));
    }

    #[test]
    fn other_content_is_not_accepted() {
        for bytes in [
            b"".as_slice(),
            b"hello, world",
            b"<!DOCTYPE html><html><script>alert(1)</script>",
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            b"<svg onload=\"alert(1)\"/>",
            b"GIF89a\x01\x00\x01\x00",
            b"II*\x00\x08\x00\x00\x00",
            b"BM\x3a\x00\x00\x00",
            b"RIFF\x24\x00\x00\x00WAVEfmt ",
            b"PK\x03\x04",
            b"\xFF\xD8",
            b"\x89PNG\r\n",
            b" %PDF-1.7",
            b"\xEF\xBB\xBF%PDF-1.7",
        ] {
            assert_eq!(sniff(bytes), None, "{bytes:?}");
        }
    }

    #[test]
    fn mime_and_extension_agree() {
        for (kind, mime, ext) in [
            (MediaKind::Jpeg, "image/jpeg", "jpg"),
            (MediaKind::Png, "image/png", "png"),
            (MediaKind::Webp, "image/webp", "webp"),
            (MediaKind::Pdf, "application/pdf", "pdf"),
        ] {
            assert_eq!(kind.mime(), mime);
            assert_eq!(kind.extension(), ext);
            assert_eq!(kind.is_image(), kind != MediaKind::Pdf);
        }
    }
}
