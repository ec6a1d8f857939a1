//! Whether the person viewing a page is signed in, for the layout's navigation (Cart,
//! Orders, Messages): set once per request from the session the auth middleware found, read
//! by `Layout::new`, so no page handler has to pass it along.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::middleware::auth::CurrentSession;

tokio::task_local! {
    static SIGNED_IN: bool;
}

/// Middleware: runs the request with the signed-in flag set.
pub(crate) async fn mark(req: Request, next: Next) -> Response {
    let signed_in = req.extensions().get::<CurrentSession>().is_some_and(|c| c.0.is_some());
    SIGNED_IN.scope(signed_in, next.run(req)).await
}

/// Whether this request carries a session (false outside a request).
pub(crate) fn signed_in() -> bool {
    SIGNED_IN.try_with(|s| *s).unwrap_or(false)
}
