//! Who is viewing a page, for the layout's navigation (Cart, Orders, Messages when signed
//! in; Console for staff): set once per request from the session the auth middleware found,
//! read by `Layout::new`, so no page handler has to pass it along.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::middleware::auth::CurrentSession;

#[derive(Clone, Copy)]
struct Viewer {
    signed_in: bool,
    staff: bool,
}

tokio::task_local! {
    static VIEWER: Viewer;
}

/// Middleware: runs the request with the viewer known.
pub(crate) async fn mark(req: Request, next: Next) -> Response {
    let session = req.extensions().get::<CurrentSession>().and_then(|c| c.0.as_ref());
    let viewer =
        Viewer { signed_in: session.is_some(), staff: session.is_some_and(|s| s.principal.is_staff()) };
    VIEWER.scope(viewer, next.run(req)).await
}

/// Whether this request carries a session (false outside a request).
pub(crate) fn signed_in() -> bool {
    VIEWER.try_with(|v| v.signed_in).unwrap_or(false)
}

/// Whether the viewer is staff (false outside a request).
pub(crate) fn staff() -> bool {
    VIEWER.try_with(|v| v.staff).unwrap_or(false)
}
