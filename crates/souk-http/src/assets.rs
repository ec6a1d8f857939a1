//! Static assets compiled into the binary, served with content-hash URLs so browsers may
//! cache them for a year and still see a new version the moment it ships.

use std::fmt::Write as _;
use std::sync::LazyLock;

use axum::extract::{Path, Query};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::Problem;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    hash: String,
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    let raw: [(&str, &str, &[u8]); 5] = [
        ("souk.css", "text/css; charset=utf-8", include_bytes!("../static/souk.css")),
        ("favicon.svg", "image/svg+xml", include_bytes!("../static/favicon.svg")),
        ("logo.svg", "image/svg+xml", include_bytes!("../static/logo.svg")),
        ("passkey.js", "text/javascript; charset=utf-8", include_bytes!("../static/passkey.js")),
        ("card.js", "text/javascript; charset=utf-8", include_bytes!("../static/card.js")),
    ];
    raw.into_iter()
        .map(|(name, content_type, bytes)| {
            let digest = Sha256::digest(bytes);
            let hash = digest.iter().take(6).fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            });
            Asset { name, content_type, bytes, hash }
        })
        .collect()
});

/// The versioned URL of an asset, for templates.
pub(crate) fn url(name: &str) -> String {
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .map_or_else(|| format!("/static/{name}"), |a| format!("/static/{}?v={}", a.name, a.hash))
}

#[derive(Debug, Deserialize)]
pub(crate) struct Version {
    v: Option<String>,
}

pub(crate) async fn serve(
    Path(name): Path<String>,
    Query(version): Query<Version>,
) -> Result<Response, Problem> {
    let asset = ASSETS.iter().find(|a| a.name == name).ok_or_else(|| Problem::of("not_found"))?;
    // Only the URL naming the current hash may be cached forever.
    let cache = if version.v.as_deref() == Some(asset.hash.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    let mut res = asset.bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", asset.hash)) {
        h.insert(header::ETAG, etag);
    }
    Ok(res)
}

/// Browsers ask for `/favicon.ico` whatever the page declares; answer with the SVG icon.
pub(crate) async fn favicon() -> Result<Response, Problem> {
    serve(Path("favicon.svg".to_owned()), Query(Version { v: None })).await
}
