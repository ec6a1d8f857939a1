//! The OpenAPI document and a readable API reference rendered from it on the server (no
//! third-party script, so the page keeps the strict CSP).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

use crate::error::PROBLEMS;
use crate::web::views::Layout;
use crate::{AppState, Problem};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi)).route("/api/docs", get(page))
}

async fn openapi(State(state): State<AppState>) -> Response {
    let mut res = state.openapi_json().into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// One documented operation.
pub(crate) struct Operation {
    pub method: String,
    pub path: String,
    pub anchor: String,
    pub summary: String,
    pub description: String,
    pub tag: String,
    pub params: Vec<(String, String, bool, String)>,
    pub responses: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct ApiDocsPage {
    layout: Layout,
    title: String,
    version: String,
    description: String,
    operations: Vec<Operation>,
    problems: Vec<(&'static str, u16, &'static str)>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return ops;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else { continue };
        for (method, op) in item {
            let params = op
                .get("parameters")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
                            (text(p, "name"), text(p, "in"), required, text(p, "description"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let responses = op
                .get("responses")
                .and_then(Value::as_object)
                .map(|rs| rs.iter().map(|(code, r)| (code.clone(), text(r, "description"))).collect())
                .unwrap_or_default();
            let tag = op
                .get("tags")
                .and_then(Value::as_array)
                .and_then(|t| t.first())
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            ops.push(Operation {
                method: method.to_uppercase(),
                anchor: format!("{}{}", method, path.replace(['/', '{', '}'], "-")),
                path: path.clone(),
                summary: text(op, "summary"),
                description: text(op, "description"),
                tag,
                params,
                responses,
            });
        }
    }
    ops.sort_by(|a, b| (&a.tag, &a.path).cmp(&(&b.tag, &b.path)));
    ops
}

async fn page(State(state): State<AppState>) -> Result<Html<String>, Problem> {
    let doc: Value = serde_json::from_slice(&state.openapi_json()).map_err(|_| Problem::of("internal"))?;
    let info = doc.get("info").cloned().unwrap_or(Value::Null);
    let page = ApiDocsPage {
        layout: Layout::new("API reference"),
        title: text(&info, "title"),
        version: text(&info, "version"),
        description: text(&info, "description"),
        operations: operations(&doc),
        problems: PROBLEMS.to_vec(),
    };
    crate::web::render(&page)
}
