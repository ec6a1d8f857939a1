//! Why an upload was refused, in words a person can act on.

/// Why an upload was refused.
///
/// The messages end up in an RFC 9457 problem detail shown to the person who uploaded the
/// file, so they say what is wrong and, where it helps, what to do instead; they never echo
/// the file's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The upload has no bytes at all.
    #[error("the file is empty")]
    Empty,
    /// The upload is larger than the limit for its use.
    #[error("the file is {bytes} bytes; the largest accepted is {max} bytes")]
    TooLarge { bytes: usize, max: usize },
    /// The content is none of the accepted types (judged by content, never by name).
    #[error(
        "the file is not an accepted type: images must be JPEG, PNG or WebP, and documents may also be PDF"
    )]
    UnsupportedType,
    /// The image's header claims more pixels than accepted; refused before decoding.
    #[error("the image is {width}x{height} pixels, which is larger than accepted")]
    DimensionsTooLarge { width: u32, height: u32 },
    /// The file is truncated, damaged or not what its first bytes claim.
    #[error("the file is damaged or incomplete and cannot be read")]
    Corrupt,
    /// A PDF carries something that can act when the file is opened (the name says what).
    #[error(
        "the PDF contains active content ({0}), which is not accepted; upload a scan or photo, or a PDF without scripts, attachments or actions"
    )]
    ActiveContent(&'static str),
    /// A PDF is well formed but hides parts that cannot be checked (the text says why).
    #[error(
        "the PDF cannot be checked because {0}; upload a scan or photo, or a PDF saved without a password"
    )]
    Unverifiable(&'static str),
}
