//! PDF screening: a PDF is accepted as it is or refused, never rewritten.
//!
//! This is a screen, not a sanitiser: it refuses PDFs that name active content (scripts,
//! launch actions, embedded files, forms that submit), so that a reviewer who opens an
//! identity document is not opening a program. It works on names, the PDF tokens that
//! start with `/`, rather than on raw substrings, for two reasons:
//! - a name may spell its letters as `#xx` escapes (`/J#61vaScript`), which a substring
//!   search misses and every reader decodes;
//! - a substring search for `/AA` also hits `/AAPL:Keywords`, which every PDF saved on a
//!   Mac carries, and would refuse them all.
//!
//! Dictionaries can also hide inside compressed object streams (PDF 1.5 and later, most
//! PDFs made today). Those are inflated and screened too; one that cannot be (another
//! compression, encryption) makes the PDF unverifiable. Stream data that is not an object
//! stream (page drawing, fonts, images) cannot define actions and is skipped, which also
//! keeps binary data from matching by chance.
//!
//! An `/OpenAction` is allowed only when all it does is pick the page shown first: a
//! destination array, or a go-to action to one that chains no further action, written in
//! place or in the objects it refers to. Producers such as LibreOffice and LaTeX write one;
//! anything else under that key (print, open a URL) is refused.

use std::collections::HashMap;
use std::io::Read;

use crate::MediaError;

/// How far from the end the `%%EOF` marker may be: readers look in the last kilobyte.
const TAIL: usize = 1024;

/// Object streams may inflate to at most this many times the file's size limit, in total.
const INFLATE_FACTOR: usize = 4;

const OPEN_ACTION: &str = "an action that runs when the file is opened";

/// A real PDF has one open action (a few, after incremental updates). Capping how many are
/// looked into, how many definitions of a target are, and how far into each, keeps a
/// crafted file from making the look-up quadratic.
const MAX_OPEN_ACTIONS: usize = 16;
const MAX_DEFINITIONS: usize = 16;
const MAX_ACTION_LEN: usize = 4096;

/// Names that make a PDF act or carry other files, and how to say so to a person.
/// `/OpenAction` is not here: it is judged by its value (see the module doc).
const ACTIVE: &[(&[u8], &str)] = &[
    (b"JavaScript", "JavaScript"),
    (b"JS", "JavaScript"),
    (b"Launch", "an action that starts a program"),
    (b"EmbeddedFile", "an embedded file"),
    (b"EmbeddedFiles", "an embedded file"),
    (b"RichMedia", "embedded media"),
    (b"XFA", "an XFA form"),
    (b"AA", "actions that run on viewing or clicking"),
    (b"GoToE", "a link into an embedded file"),
    (b"GoToR", "a link to another file"),
    (b"SubmitForm", "a form that sends data"),
    (b"ImportData", "a form that imports data"),
];

/// Filters other than Flate: an object stream compressed with one of these is not inflated
/// here, so it cannot be screened.
const OTHER_FILTERS: &[&[u8]] = &[
    b"ASCIIHexDecode",
    b"AHx",
    b"ASCII85Decode",
    b"A85",
    b"LZWDecode",
    b"LZW",
    b"RunLengthDecode",
    b"RL",
    b"CCITTFaxDecode",
    b"CCF",
    b"JBIG2Decode",
    b"DCTDecode",
    b"DCT",
    b"JPXDecode",
    b"Crypt",
];

/// Checks that `bytes` (already sniffed as a PDF and within the size limit) are a PDF
/// Souk accepts. See [`crate::check_document`] for the rules.
pub(crate) fn check(bytes: &[u8], max_bytes: usize) -> Result<(), MediaError> {
    if !(bytes.starts_with(b"%PDF-1.") || bytes.starts_with(b"%PDF-2.")) {
        return Err(MediaError::Corrupt);
    }
    check_end(bytes)?;
    let mut scan = Scan {
        budget: max_bytes.saturating_mul(INFLATE_FACTOR),
        uninflatable: false,
        open_actions: 0,
        targets: Vec::new(),
        definitions: HashMap::new(),
        packed: Vec::new(),
    };
    scan.file(bytes)?;
    // Reported only now, so that a reason found later in the file (encryption, which makes
    // every object stream uninflatable, or active content) is the one the person reads.
    if scan.uninflatable {
        return Err(MediaError::Corrupt);
    }
    scan.check_open_actions(bytes)
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b'\0' | b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

fn is_delimiter(byte: u8) -> bool {
    matches!(byte, b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%')
}

fn is_regular(byte: u8) -> bool {
    !is_whitespace(byte) && !is_delimiter(byte)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// `bytes` without the whitespace and comments they start with.
fn skip_blank(mut bytes: &[u8]) -> &[u8] {
    loop {
        match bytes.first() {
            Some(&byte) if is_whitespace(byte) => bytes = bytes.get(1..).unwrap_or_default(),
            Some(b'%') => {
                let end = bytes.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(bytes.len());
                bytes = bytes.get(end..).unwrap_or_default();
            }
            _ => return bytes,
        }
    }
}

/// The unsigned integer that `bytes` start with, as a whole token, and what follows it.
fn integer(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let len = bytes.iter().position(|&byte| !is_regular(byte)).unwrap_or(bytes.len());
    let token = std::str::from_utf8(bytes.get(..len)?).ok()?;
    if token.is_empty() || !token.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    Some((token.parse().ok()?, bytes.get(len..)?))
}

/// An object number and generation.
type ObjectId = (u64, u64);

/// The indirect reference (`12 0 R`) that `bytes` start with, after blanks.
fn reference(bytes: &[u8]) -> Option<ObjectId> {
    let (number, rest) = integer(skip_blank(bytes))?;
    let (generation, rest) = integer(skip_blank(rest))?;
    let rest = skip_blank(rest);
    let ends = rest.get(1).is_none_or(|&byte| !is_regular(byte));
    (rest.starts_with(b"R") && ends).then_some((number, generation))
}

/// The last `%%EOF` must be in the last kilobyte, followed by whitespace only: a PDF with
/// something else appended (a ZIP, a script) is a polyglot, and stored as-is it would stay one.
fn check_end(bytes: &[u8]) -> Result<(), MediaError> {
    let tail = bytes.get(bytes.len().saturating_sub(TAIL)..).unwrap_or_default();
    let after = tail
        .windows(5)
        .rposition(|window| window == b"%%EOF")
        .and_then(|at| tail.get(at + 5..))
        .ok_or(MediaError::Corrupt)?;
    if after.iter().all(|&byte| is_whitespace(byte)) { Ok(()) } else { Err(MediaError::Corrupt) }
}

fn hex_digit(byte: u8) -> Option<u8> {
    // Not `from_str_radix`, which would also take a sign (`#+1`) that no reader decodes.
    char::from(byte).to_digit(16).and_then(|digit| u8::try_from(digit).ok())
}

/// Reads the name that starts at `bytes[0]` (just after its `/`), decoding `#xx` escapes.
/// Returns the decoded name and how many bytes it took.
fn name(bytes: &[u8]) -> (Vec<u8>, usize) {
    let len = bytes.iter().position(|&byte| !is_regular(byte)).unwrap_or(bytes.len());
    let raw = bytes.get(..len).unwrap_or_default();
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&byte) = raw.get(i) {
        let escaped = match raw.get(i..i + 3) {
            Some(&[b'#', high, low]) => hex_digit(high).zip(hex_digit(low)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escaped {
            Some(value) => {
                decoded.push(value);
                i += 3;
            }
            None => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    (decoded, len)
}

/// How a stream's data is encoded, as far as its dictionary's names tell.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Coding {
    /// No `/Filter`: the data is the objects themselves.
    #[default]
    Plain,
    /// A `/Filter` whose value is not (yet) a name, such as an indirect reference.
    Unknown,
    /// Exactly one Flate filter, without parameters.
    Flate,
    /// Anything else: another filter, a chain of filters (even Flate twice: one pass would
    /// leave the objects still compressed), or predictor parameters.
    Unreadable,
}

/// What the current top-level dictionary said about the stream that may follow it.
#[derive(Default)]
struct Dict {
    object_stream: bool,
    coding: Coding,
    /// An object stream's `/N`: how many objects it holds.
    count: Option<u64>,
    /// An object stream's `/First`: where the first object starts, after the offsets.
    first: Option<usize>,
}

impl Dict {
    fn note(&mut self, name: &[u8]) {
        self.coding = match (name, self.coding) {
            // `/First` too: it is a required key of object streams and of no other stream,
            // and a reader that trusts the cross-reference table over `/Type` would load a
            // stream as objects without `/Type /ObjStm`.
            (b"ObjStm" | b"First", coding) => {
                self.object_stream = true;
                coding
            }
            (b"Filter", Coding::Plain) => Coding::Unknown,
            (b"FlateDecode" | b"Fl", Coding::Plain | Coding::Unknown) => Coding::Flate,
            (b"Filter" | b"FlateDecode" | b"Fl" | b"DecodeParms" | b"DP", _) => Coding::Unreadable,
            (other, _) if OTHER_FILTERS.contains(&other) => Coding::Unreadable,
            (_, coding) => coding,
        };
    }
}

struct Scan {
    /// Bytes that object streams may still inflate to.
    budget: usize,
    /// An object stream claimed Flate compression but did not inflate.
    uninflatable: bool,
    /// How many `/OpenAction` names have been seen.
    open_actions: usize,
    /// The objects that open actions refer to.
    targets: Vec<ObjectId>,
    /// Where each object is defined. An object defined twice (by an incremental update, or
    /// in the file and in an object stream) is judged by every definition: which one a
    /// reader takes depends on cross-reference details.
    definitions: HashMap<ObjectId, Vec<Place>>,
    /// The contents of the object streams, kept for looking up open actions' targets.
    packed: Vec<Vec<u8>>,
}

/// Where an object's definition starts.
#[derive(Clone, Copy)]
enum Place {
    /// At this offset of the file, just after `obj`.
    File(usize),
    /// At this offset of the contents of this object stream (an index into `Scan::packed`).
    Packed(usize, usize),
}

impl Scan {
    /// Walks the file's tokens far enough to find where stream data starts and ends, and
    /// screens the names in everything else and in every object stream.
    fn file(&mut self, bytes: &[u8]) -> Result<(), MediaError> {
        let mut i = 0;
        let mut screened_from = 0;
        let mut depth = 0usize;
        let mut dict = Dict::default();
        // Whether the last token closed a top-level dictionary: only then does `stream`
        // start stream data.
        let mut after_dict = false;
        // The last two tokens, when they were integers: `12 0` before `obj` numbers it.
        let mut integers = (None, None);
        while let Some(&byte) = bytes.get(i) {
            let rest = bytes.get(i..).unwrap_or_default();
            if is_whitespace(byte) || byte == b'%' {
                // Blanks leave `after_dict` and `integers` as they were: `>> % note` then
                // `stream` is still a stream.
                i = bytes.len() - skip_blank(rest).len();
                continue;
            }
            let mut closed_dict = false;
            let mut number = None;
            match byte {
                b'(' => i += literal_string(rest)?,
                b'<' if rest.starts_with(b"<<") => {
                    depth += 1;
                    if depth == 1 {
                        dict = Dict::default();
                    }
                    i += 2;
                }
                b'<' => i += rest.iter().position(|&b| b == b'>').ok_or(MediaError::Corrupt)? + 1,
                b'>' if rest.starts_with(b">>") => {
                    depth = depth.saturating_sub(1);
                    closed_dict = depth == 0;
                    i += 2;
                }
                b'/' => {
                    let (name, len) = name(rest.get(1..).unwrap_or_default());
                    let value = rest.get(1 + len..).unwrap_or_default();
                    if depth > 0 {
                        dict.note(&name);
                    }
                    if depth == 1 {
                        let value = integer(skip_blank(value)).map(|(value, _)| value);
                        match name.as_slice() {
                            b"N" => dict.count = value,
                            b"First" => dict.first = value.and_then(|value| usize::try_from(value).ok()),
                            _ => {}
                        }
                    }
                    i += 1 + len;
                }
                _ if is_delimiter(byte) => i += 1,
                _ => {
                    let len = rest.iter().position(|&b| !is_regular(b)).unwrap_or(rest.len());
                    let token = rest.get(..len).unwrap_or_default();
                    let after = rest.get(len..).unwrap_or_default();
                    if token == b"stream" && after_dict && depth == 0 {
                        let data_start = i + len + stream_eol(after);
                        let data = bytes.get(data_start..).unwrap_or_default();
                        let data_len = find(data, b"endstream").ok_or(MediaError::Corrupt)?;
                        self.screen(bytes.get(screened_from..data_start).unwrap_or_default())?;
                        if dict.object_stream {
                            self.object_stream(&dict, data.get(..data_len).unwrap_or_default())?;
                        }
                        i = data_start + data_len;
                        screened_from = i;
                        dict = Dict::default();
                    } else {
                        if let (b"obj", (Some(number), Some(generation))) = (token, integers) {
                            self.define((number, generation), Place::File(i + len));
                        }
                        number = integer(rest).map(|(value, _)| value);
                        i += len;
                    }
                }
            }
            after_dict = closed_dict;
            integers = (integers.1, number);
            if number.is_none() {
                integers = (None, None);
            }
        }
        self.screen(bytes.get(screened_from..).unwrap_or_default())
    }

    /// Screens the objects inside an object stream's `data`, and notes where they are.
    fn object_stream(&mut self, dict: &Dict, data: &[u8]) -> Result<(), MediaError> {
        let objects = match dict.coding {
            // Stored uncompressed: the objects are there to read as they are.
            Coding::Plain => data.to_vec(),
            Coding::Flate => {
                let mut inflated = Vec::new();
                let limit = u64::try_from(self.budget).unwrap_or(u64::MAX).saturating_add(1);
                if flate2::read::ZlibDecoder::new(data).take(limit).read_to_end(&mut inflated).is_err() {
                    self.uninflatable = true;
                    return Ok(());
                }
                self.budget = self.budget.checked_sub(inflated.len()).ok_or(MediaError::Unverifiable(
                    "its compressed parts expand to far more than the file's size",
                ))?;
                inflated
            }
            Coding::Unknown | Coding::Unreadable => {
                return Err(MediaError::Unverifiable(
                    "part of it is compressed in a way that cannot be checked",
                ));
            }
        };
        self.screen(&objects)?;
        // The stream starts with `/N` pairs of object number and offset (from `/First`).
        // A header that does not parse defines nothing, so an open action that refers into
        // it stays unresolved and is refused.
        let (Some(count), Some(first)) = (dict.count, dict.first) else { return Ok(()) };
        let stream = self.packed.len();
        let mut header = objects.get(..first).unwrap_or_default();
        for _ in 0..count {
            let Some((number, rest)) = integer(skip_blank(header)) else { break };
            let Some((offset, rest)) = integer(skip_blank(rest)) else { break };
            header = rest;
            // An offset past the end leaves an empty definition, which picks no page.
            let at = usize::try_from(offset).ok().and_then(|offset| offset.checked_add(first));
            // Objects in an object stream always have generation 0.
            self.define((number, 0), Place::Packed(stream, at.unwrap_or(usize::MAX)));
        }
        self.packed.push(objects);
        Ok(())
    }

    fn define(&mut self, id: ObjectId, place: Place) {
        self.definitions.entry(id).or_default().push(place);
    }

    /// Screens every name in `region`, wherever it stands: in a dictionary, an array, and
    /// also in strings and comments, where it would do nothing; a false alarm there is rare
    /// and costs a re-upload, while a gap between how this code and a reader split the file
    /// into tokens would cost the check.
    fn screen(&mut self, region: &[u8]) -> Result<(), MediaError> {
        let mut rest = region;
        while let Some(slash) = rest.iter().position(|&byte| byte == b'/') {
            let after = rest.get(slash + 1..).unwrap_or_default();
            let (name, len) = name(after);
            rest = after.get(len..).unwrap_or_default();
            match name.as_slice() {
                b"Encrypt" => return Err(MediaError::Unverifiable("it is encrypted or password-protected")),
                b"OpenAction" => {
                    self.open_actions += 1;
                    if self.open_actions > MAX_OPEN_ACTIONS {
                        return Err(MediaError::ActiveContent(OPEN_ACTION));
                    }
                    if picks_a_page(rest) {
                        continue;
                    }
                    let target = reference(rest).ok_or(MediaError::ActiveContent(OPEN_ACTION))?;
                    self.targets.push(target);
                }
                name => {
                    if let Some(&(_, what)) = ACTIVE.iter().find(|(active, _)| *active == name) {
                        return Err(MediaError::ActiveContent(what));
                    }
                }
            }
        }
        Ok(())
    }

    /// Every open action that is a reference must lead to definitions (in `bytes`, the
    /// file, or an object stream) that all only pick a page.
    fn check_open_actions(&self, bytes: &[u8]) -> Result<(), MediaError> {
        let harmless = |id: &ObjectId| {
            let places = self.definitions.get(id).map(Vec::as_slice).unwrap_or_default();
            !places.is_empty()
                && places.len() <= MAX_DEFINITIONS
                && places.iter().all(|&place| {
                    let body = match place {
                        Place::File(at) => bytes.get(at..),
                        Place::Packed(stream, at) => {
                            self.packed.get(stream).and_then(|objects| objects.get(at..))
                        }
                    };
                    picks_a_page(body.unwrap_or_default())
                })
        };
        if self.targets.iter().all(harmless) { Ok(()) } else { Err(MediaError::ActiveContent(OPEN_ACTION)) }
    }
}

/// Whether the value that `bytes` start with only picks the page shown: a destination
/// array, or a dictionary with a single `/S /GoTo` and no `/Next` action after it.
fn picks_a_page(bytes: &[u8]) -> bool {
    let value = skip_blank(bytes);
    if value.starts_with(b"[") {
        return true;
    }
    // A go-to action is a few dozen bytes; one longer than this is something else.
    let value = value.get(..MAX_ACTION_LEN).unwrap_or(value);
    let Some(dictionary) = dictionary_len(value).and_then(|len| value.get(..len)) else { return false };
    let mut names = Vec::new();
    let mut rest = dictionary;
    while let Some(slash) = rest.iter().position(|&byte| byte == b'/') {
        let after = rest.get(slash + 1..).unwrap_or_default();
        let (name, len) = name(after);
        names.push(name);
        rest = after.get(len..).unwrap_or_default();
    }
    let types = names.iter().filter(|name| name.as_slice() == b"S").count();
    let go_to = names.windows(2).any(|pair| matches!(pair, [key, value] if key == b"S" && value == b"GoTo"));
    types == 1 && go_to && !names.iter().any(|name| name == b"Next")
}

/// The length of the dictionary `<< ... >>` at the start of `bytes`, nested dictionaries and
/// strings included; `None` if it does not start with one or never closes.
fn dictionary_len(bytes: &[u8]) -> Option<usize> {
    if !bytes.starts_with(b"<<") {
        return None;
    }
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let rest = bytes.get(i..).unwrap_or_default();
        if rest.starts_with(b"<<") {
            depth += 1;
            i += 2;
        } else if rest.starts_with(b">>") {
            depth = depth.saturating_sub(1);
            i += 2;
            if depth == 0 {
                return Some(i);
            }
        } else if byte == b'(' {
            i += literal_string(rest).ok()?;
        } else if byte == b'<' {
            i += rest.iter().position(|&b| b == b'>')? + 1;
        } else if byte == b'%' {
            i = bytes.len() - skip_blank(rest).len();
        } else {
            i += 1;
        }
    }
    None
}

/// The length of a literal string `(...)` at the start of `bytes`: parentheses nest, and a
/// backslash escapes the byte after it.
fn literal_string(bytes: &[u8]) -> Result<usize, MediaError> {
    let mut level = 0usize;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'\\' => i += 1,
            b'(' => level += 1,
            b')' => {
                level = level.saturating_sub(1);
                if level == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(MediaError::Corrupt)
}

/// The end-of-line after the `stream` keyword: CR LF or LF by the standard, a lone CR in
/// the wild.
fn stream_eol(bytes: &[u8]) -> usize {
    if bytes.starts_with(b"\r\n") {
        2
    } else {
        usize::from(bytes.starts_with(b"\n") || bytes.starts_with(b"\r"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_end_at_delimiters_and_decode_escapes() {
        assert_eq!(name(b"Type/Catalog"), (b"Type".to_vec(), 4));
        assert_eq!(name(b"J#61vaScript>>"), (b"JavaScript".to_vec(), 12));
        assert_eq!(name(b"A#2"), (b"A#2".to_vec(), 3));
        assert_eq!(name(b"A#zz "), (b"A#zz".to_vec(), 4));
        assert_eq!(name(b" "), (Vec::new(), 0));
    }

    #[test]
    fn literal_strings_nest_and_escape() {
        assert_eq!(literal_string(b"(a (b) c) rest"), Ok(9));
        assert_eq!(literal_string(b"(a \\) b) rest"), Ok(8));
        assert_eq!(literal_string(b"(a \\\\) b) rest"), Ok(6));
        assert_eq!(literal_string(b"(never closed"), Err(MediaError::Corrupt));
    }

    #[test]
    fn the_end_marker_must_close_the_file() {
        assert_eq!(check_end(b"%PDF-1.4\n%%EOF"), Ok(()));
        assert_eq!(check_end(b"%PDF-1.4\n%%EOF\r\n"), Ok(()));
        assert_eq!(check_end(b"%PDF-1.4\n%%EOF\n%%EOF\n"), Ok(()));
        assert_eq!(check_end(b"%PDF-1.4\n%%EOF\nPK"), Err(MediaError::Corrupt));
        assert_eq!(check_end(b"%PDF-1.4\n"), Err(MediaError::Corrupt));
    }

    #[test]
    fn a_stream_starts_only_after_a_dictionary() {
        // `stream` after a number is not stream data, so the name after it is screened.
        let bytes = b"%PDF-1.4\n1 0 obj 5 stream /JS endstream endobj\n%%EOF\n";
        assert_eq!(check(bytes, 1000), Err(MediaError::ActiveContent("JavaScript")));
        let bytes = b"%PDF-1.4\n1 0 obj << >> % why not\nstream\n/JS\nendstream endobj\n%%EOF\n";
        assert_eq!(check(bytes, 1000), Ok(()));
        let bytes = b"%PDF-1.4\n1 0 obj << >>\nstream\n/JS\n%%EOF\n";
        assert_eq!(check(bytes, 1000), Err(MediaError::Corrupt), "no endstream");
    }
}
