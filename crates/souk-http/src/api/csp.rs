//! Receives the browser's Content-Security-Policy violation reports. A violation on our own
//! pages is either a bug or an injection attempt, so each one is logged and counted.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use super::dto::ProblemDoc;
use crate::Problem;

/// The report formats browsers send (CSP level 2 `report-uri`, and the Reporting API).
const ACCEPTED: &[&str] = &["application/csp-report", "application/reports+json", "application/json"];

/// Report a Content-Security-Policy violation (sent by browsers).
#[utoipa::path(
    post, path = "/api/v1/csp-reports", tag = "security", operation_id = "csp_report",
    request_body(content = Object, content_type = "application/csp-report",
                 description = "A CSP violation report as browsers send it"),
    responses(
        (status = 204, description = "Report received"),
        (status = 400, description = "The body is not JSON", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not a report content type", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn report(headers: HeaderMap, body: Bytes) -> Result<StatusCode, Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !ACCEPTED.contains(&content_type.as_str()) {
        return Err(Problem::of("unsupported_media_type")
            .with_detail(format!("Send one of: {}.", ACCEPTED.join(", "))));
    }
    let report: Value = serde_json::from_slice(&body).map_err(|e| {
        Problem::of("malformed_json").with_detail(format!(
            "Line {}, column {}: {}",
            e.line(),
            e.column(),
            e.classify_name()
        ))
    })?;
    let reports = match &report {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![&report],
        _ => {
            return Err(
                Problem::of("unprocessable").with_detail("Expected a report object or an array of them.")
            );
        }
    };
    for r in reports.into_iter().take(20) {
        let body = r.get("csp-report").or_else(|| r.get("body")).unwrap_or(r);
        // SECURITY: report fields are attacker-controlled; control characters are dropped so
        // they cannot forge log lines, and length is bounded.
        let field = |k: &str, alt: &str| {
            body.get(k)
                .or_else(|| body.get(alt))
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>()
        };
        metrics::counter!("csp_violations_total").increment(1);
        tracing::warn!(
            directive = %field("violated-directive", "effectiveDirective"),
            blocked = %field("blocked-uri", "blockedURL"),
            document = %field("document-uri", "documentURL"),
            "content security policy violation reported"
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "unexpected end of input",
        }
    }
}
