//! Pictures for the demo listings: a soft gradient with a lit disc and a table edge, drawn
//! from the listing's id so each is distinct and stable. They are drawn at two sizes (the
//! photo and its card thumbnail) rather than cleaned like an upload: they are our own
//! pixels, and the demo loads at every fresh start, tests included, so it must be quick.

use image::{Rgb, RgbImage};

const PALETTES: &[([u8; 3], [u8; 3], [u8; 3])] = &[
    ([246, 231, 216], [232, 201, 169], [176, 110, 62]),
    ([223, 238, 232], [185, 216, 204], [62, 122, 98]),
    ([230, 233, 245], [195, 202, 232], [72, 84, 150]),
    ([245, 227, 230], [229, 188, 196], [150, 64, 86]),
    ([243, 239, 217], [221, 211, 163], [128, 108, 40]),
    ([226, 238, 245], [183, 211, 228], [46, 102, 140]),
];

fn mix(a: u8, b: u8, t: f32) -> u8 {
    let v = f32::from(a) + (f32::from(b) - f32::from(a)) * t;
    // INVARIANT: v lies between a and b, both u8.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped to 0..=255")]
    let out = v.round().clamp(0.0, 255.0) as u8;
    out
}

/// A `width`×`height` PNG (drawn for 720×540, scaled) for the listing whose id bytes are `seed`.
pub(super) fn picture(seed: &[u8; 16], width: u32, height: u32) -> Vec<u8> {
    #[allow(clippy::cast_precision_loss, reason = "small sizes")]
    let scale = width as f32 / 720.0;
    let palette = PALETTES.get(usize::from(seed[0]) % PALETTES.len()).copied().unwrap_or((
        [240, 240, 240],
        [220, 220, 220],
        [90, 90, 90],
    ));
    let (top, bottom, ink) = palette;
    let cx = (180.0 + f32::from(seed[1]) * 1.4) * scale;
    let cy = (200.0 + f32::from(seed[2]) * 0.6) * scale;
    let r = (110.0 + f32::from(seed[3] % 80)) * scale;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "small positive sizes")]
    let stripe = ((40.0 + f32::from(seed[4] % 60)) * scale) as u32;
    let img = RgbImage::from_fn(width, height, |x, y| {
        #[allow(clippy::cast_precision_loss, reason = "pixel coordinates are small")]
        let (fx, fy) = (x as f32, y as f32);
        #[allow(clippy::cast_precision_loss, reason = "pixel coordinates are small")]
        let t = fy / height as f32;
        let mut px = [mix(top[0], bottom[0], t), mix(top[1], bottom[1], t), mix(top[2], bottom[2], t)];
        // Only pixels in the disc's bounding box pay for the square root (the demo loads
        // at every fresh start, in unoptimized test builds too).
        let near = (fx - cx).abs() < r && (fy - cy).abs() < r;
        let d = if near { ((fx - cx).powi(2) + (fy - cy).powi(2)).sqrt() } else { r };
        if d < r {
            // The subject: a disc with a soft edge, lit from the top left.
            let light = 0.55
                + 0.45
                    * (1.0 - ((fx - cx + r * 0.4).powi(2) + (fy - cy + r * 0.4).powi(2)).sqrt() / (2.0 * r));
            let edge = ((r - d) / (6.0 * scale)).min(1.0);
            for (c, i) in px.iter_mut().zip(ink) {
                *c = mix(*c, mix(i, 255, 1.0 - light), edge);
            }
        } else if y > height - stripe {
            // A table edge under the subject.
            for (c, i) in px.iter_mut().zip(ink) {
                *c = mix(*c, i, 0.18);
            }
        }
        Rgb(px)
    });
    let mut out = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Sub,
    );
    // Encoding an in-memory RGB image to PNG cannot fail short of allocation failure.
    let _ = image::ImageEncoder::write_image(
        encoder,
        img.as_raw(),
        width,
        height,
        image::ExtendedColorType::Rgb8,
    );
    out
}
