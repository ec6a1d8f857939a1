//! The one place errors become bodies. Every response with a 4xx or 5xx status, whether a
//! handler returned a [`Problem`] or the framework rejected the request, leaves as RFC 9457
//! problem+json (API paths) or as an HTML page (everything else), with the request id.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use super::is_api_path;
use super::request_id::RequestId;
use crate::Problem;

/// How much of a framework rejection's text is kept as the problem's detail.
const MAX_DETAIL_BYTES: usize = 512;

pub(crate) async fn render(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let res = next.run(req).await;
    let status = res.status();
    let page_written_for_it = res.extensions().get::<crate::web::RenderedPage>().is_some();
    if !(status.is_client_error() || status.is_server_error()) || (page_written_for_it && !is_api_path(&path))
    {
        return res;
    }
    let tagged = res.extensions().get::<Problem>().cloned();
    let (mut parts, body) = res.into_parts();
    let problem = match tagged {
        Some(p) => p,
        None => {
            let mut p = Problem::for_status(status);
            if status.is_client_error() {
                // Framework rejections explain what was wrong with the request (which JSON
                // field, which query parameter): useful to the client and safe to echo.
                p.detail = rejection_text(body).await;
            } else {
                tracing::error!(status = status.as_u16(), "untagged server error");
            }
            p
        }
    };
    let request_id = request_id.as_deref().unwrap_or("");
    let (content_type, bytes) = if is_api_path(&path) {
        let mut doc = json!({
            "type": format!("/api/docs#problem-{}", problem.code),
            "title": problem.title,
            "status": problem.status.as_u16(),
            "code": problem.code,
            "instance": path,
            "request_id": request_id,
        });
        if let (Some(detail), Some(obj)) = (&problem.detail, doc.as_object_mut()) {
            obj.insert("detail".into(), detail.clone().into());
        }
        if let (Some((line, column)), Some(obj)) = (problem.position, doc.as_object_mut()) {
            obj.insert("line".into(), line.into());
            obj.insert("column".into(), column.into());
        }
        ("application/problem+json", doc.to_string().into_bytes())
    } else {
        ("text/html; charset=utf-8", crate::web::error_page(&problem, request_id).into_bytes())
    };
    parts.status = problem.status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(secs) = problem.retry_after {
        parts.headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    parts.extensions.insert(problem);
    Response::from_parts(parts, Body::from(bytes))
}

async fn rejection_text(body: Body) -> Option<String> {
    let bytes = axum::body::to_bytes(body, MAX_DETAIL_BYTES * 4).await.ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut cut = text.chars().filter(|c| !c.is_control()).collect::<String>();
    if cut.len() > MAX_DETAIL_BYTES {
        let mut end = MAX_DETAIL_BYTES;
        while !cut.is_char_boundary(end) {
            end -= 1;
        }
        cut.truncate(end);
    }
    Some(cut)
}
