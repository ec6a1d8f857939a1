//! Checks and cleans uploaded files: listing images and identity documents.
//!
//! Pure and synchronous: bytes in, bytes or a refusal out, no I/O. Cleaning a large photo
//! takes a while (about half a second for 24 megapixels in a release build, on one core),
//! so async callers run these functions on a blocking thread and bound how many run at once.
//!
//! Every decision is made from the file's content ([`sniff`]), never from its name or the
//! Content-Type the client sent. Images are always re-encoded ([`clean_image`]) so that
//! only pixels are stored; PDFs are screened and kept as uploaded ([`check_document`]).

mod document;
mod error;
mod header;
mod kind;
mod limits;
mod pdf;
mod picture;

pub use document::{CleanDocument, check_document};
pub use error::MediaError;
pub use kind::{MediaKind, sniff};
pub use limits::Limits;
pub use picture::{CleanImage, clean_image, thumbnail};
