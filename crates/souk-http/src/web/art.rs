//! Cover art for listings that have no photo yet: an SVG drawn from the listing's category,
//! coloured by its id, so every card has a distinct, light image. (Photo uploads replace
//! it once sellers can add images.)

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use souk_core::{CoreError, catalog};
use souk_domain::catalog::Category;
use souk_domain::ids::ListingId;

use crate::{AppState, Problem};

/// Harmonious background pairs (top-left, bottom-right).
const PALETTES: &[(&str, &str)] = &[
    ("#f6e7d8", "#e8c9a9"),
    ("#dfeee8", "#b9d8cc"),
    ("#e6e9f5", "#c3cae8"),
    ("#f5e3e6", "#e5bcc4"),
    ("#f3efd9", "#ddd3a3"),
    ("#e2eef5", "#b7d3e4"),
];

/// A line drawing per category, in a 200×200 box centred at (200,150).
fn glyph(category: Category) -> &'static str {
    match category {
        Category::Home => {
            "<path d='M130 130h140l-12 70a20 20 0 0 1-20 16h-76a20 20 0 0 1-20-16z'/><path d='M150 130c0-30 100-30 100 0'/>"
        }
        Category::Jewelry => "<circle cx='200' cy='170' r='46'/><path d='M175 112l25-28 25 28-25 16z'/>",
        Category::Clothing => {
            "<path d='M160 90l-50 30 18 34 22-10v96h100v-96l22 10 18-34-50-30c-6 18-22 26-40 26s-34-8-40-26z'/>"
        }
        Category::Art => {
            "<rect x='120' y='85' width='160' height='130' rx='6'/><path d='M135 200l45-55 30 35 20-20 35 40z'/>"
        }
        Category::Food => {
            "<path d='M150 110h100v100a20 20 0 0 1-20 20h-60a20 20 0 0 1-20-20z'/><path d='M145 95h110v15h-110z'/>"
        }
        Category::Books => {
            "<path d='M200 100c-25-15-55-15-80-5v115c25-10 55-10 80 5 25-15 55-15 80-5v-115c-25-10-55-10-80 5z'/><path d='M200 100v115'/>"
        }
        Category::Electronics => {
            "<rect x='145' y='95' width='110' height='110' rx='10'/><path d='M170 95v-20M200 95v-20M230 95v-20M170 225v-20M200 225v-20M230 225v-20M145 125h-20M145 175h-20M275 125h-20M275 175h-20'/>"
        }
        Category::Toys => {
            "<rect x='130' y='160' width='60' height='60' rx='6'/><rect x='200' y='160' width='60' height='60' rx='6'/><rect x='165' y='95' width='60' height='60' rx='6'/>"
        }
    }
}

/// Escapes text for an XML attribute or text node.
fn xml_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '\'' => "&apos;".to_owned(),
            '"' => "&quot;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

pub(crate) async fn listing_art(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id: ListingId = id.parse().map_err(|_| CoreError::NotFound("listing"))?;
    let listing = catalog::listing(state.souk(), id).await?;
    let pick = usize::from(id.as_uuid().as_bytes().iter().fold(0u8, |a, b| a.wrapping_add(*b)));
    let (from, to) = PALETTES.get(pick % PALETTES.len()).copied().unwrap_or(("#eee", "#ccc"));
    let svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 400 300' role='img' aria-label='{label}'>\
         <defs><linearGradient id='g' x1='0' y1='0' x2='1' y2='1'><stop offset='0' stop-color='{from}'/>\
         <stop offset='1' stop-color='{to}'/></linearGradient></defs>\
         <rect width='400' height='300' fill='url(#g)'/>\
         <g fill='none' stroke='#3d3a35' stroke-opacity='.55' stroke-width='6' stroke-linejoin='round' \
         stroke-linecap='round'>{glyph}</g></svg>",
        label = xml_escape(listing.category.label()),
        glyph = glyph(listing.category),
    );
    let mut res = svg.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    Ok(res)
}

/// A listing photo (`full`) or its card thumbnail (`thumb`), for listings on sale. The
/// bytes were re-encoded on upload, so they carry no metadata; ids are unguessable and
/// content never changes under an id, hence the long, immutable cache.
pub(crate) async fn listing_image(
    State(state): State<AppState>,
    Path((id, size)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let id: souk_domain::ids::ImageId = id.parse().map_err(|_| CoreError::NotFound("image"))?;
    let thumbnail = match size.as_str() {
        "thumb" => true,
        "full" => false,
        _ => return Err(CoreError::NotFound("image").into()),
    };
    let (media_type, bytes) = catalog::image(state.souk(), id, thumbnail).await?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_for_xml() {
        for c in Category::ALL {
            assert!(!xml_escape(c.label()).contains(" & "), "{}", c.label());
        }
        assert_eq!(xml_escape("a&b<'\">"), "a&amp;b&lt;&apos;&quot;&gt;");
    }
}
