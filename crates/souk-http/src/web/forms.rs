//! Signed-in forms: the session and the CSRF token checked in one extractor, so that no
//! page handler can forget either.

use std::sync::Arc;

use axum::Form;
use axum::response::{IntoResponse, Redirect, Response};
use souk_core::identity::sessions::Authenticated;

use crate::{AppState, Problem};

/// A form posted by a signed-in person, with its CSRF token checked: without a session the
/// browser is sent to sign in (and back to the page's section); a bad token is refused.
pub(crate) struct SignedInForm<T>(pub Arc<Authenticated>, pub T);

/// Forms that carry the session's CSRF token.
pub(crate) trait CsrfField {
    fn csrf(&self) -> &str;
}

/// Implements [`CsrfField`] for forms whose token is in a field named `csrf`.
macro_rules! csrf_field {
    ($($form:ty),*) => {
        $(impl $crate::web::forms::CsrfField for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })*
    };
}
pub(crate) use csrf_field;

/// Where to come back to after signing in, for a form posted to `path`: the page that holds
/// the form (a POST target itself cannot be revisited with GET).
fn section_of(path: &str) -> &'static str {
    const SECTIONS: [&str; 9] = [
        "/account/sessions",
        "/account/api-keys",
        "/account",
        "/cart",
        "/checkout",
        "/orders",
        "/messages",
        "/seller",
        "/staff",
    ];
    match SECTIONS.into_iter().find(|p| path.starts_with(p)) {
        Some("/account") | None => "/account/security",
        Some(p) => p,
    }
}

impl<T: serde::de::DeserializeOwned + CsrfField + Send> axum::extract::FromRequest<AppState>
    for SignedInForm<T>
{
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let section = section_of(req.uri().path());
        let session =
            req.extensions().get::<crate::middleware::auth::CurrentSession>().and_then(|c| c.0.clone());
        let Some(s) = session else {
            return Err(Redirect::to(&format!("/login?next={section}")).into_response());
        };
        let Form(form) = Form::<T>::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        check_csrf(state, &s, form.csrf()).map_err(IntoResponse::into_response)?;
        Ok(Self(s, form))
    }
}

/// The session, or a redirect to sign in and come back.
pub(crate) fn require(
    session: Option<Arc<Authenticated>>,
    back_to: &str,
) -> Result<Arc<Authenticated>, Redirect> {
    session.ok_or_else(|| Redirect::to(&format!("/login?next={back_to}")))
}

/// Refuses a form whose token is not this session's.
pub(crate) fn check_csrf(state: &AppState, s: &Authenticated, token: &str) -> Result<(), Problem> {
    if state.souk().identity.csrf_valid(&s.key, token) {
        Ok(())
    } else {
        Err(Problem::of("csrf_failed").with_detail("This form has expired; reload the page and try again."))
    }
}

#[cfg(test)]
mod tests {
    use super::section_of;

    #[test]
    fn sign_in_returns_to_the_form_s_page() {
        assert_eq!(section_of("/account/sessions/abc/revoke"), "/account/sessions");
        assert_eq!(section_of("/account/password"), "/account/security");
        assert_eq!(section_of("/cart/lines/1/remove"), "/cart");
        assert_eq!(section_of("/seller/listings/x/edit"), "/seller");
        assert_eq!(section_of("/elsewhere"), "/account/security");
    }
}
