//! # pdva-web
//!
//! The registry's web server: server-rendered HTML, and a JSON API
//! (`/api/v1/outcomes`), (askama templates, never
//! HTML built with `format!`) over axum. Handlers are thin: they call the
//! store and render a view type that lives here. Only this crate knows HTTP;
//! [`WebError`] is the one place where errors become responses.

mod api;
mod error;
mod pages;

pub use error::WebError;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use pdva_store::Store;

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The registry.
    pub store: Store,
}

/// The application's routes.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/healthz", get(pages::healthz))
        .route("/api/v1/outcomes", get(api::outcomes))
        .layer(middleware::from_fn(security_headers))
        .with_state(AppState { store })
}

/// Security headers on every response.
async fn security_headers(request: axum::extract::Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Serves the application on a bound listener until `shutdown` completes,
/// so tests can start the real server on port 0.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Store,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(store))
        .with_graceful_shutdown(shutdown)
        .await
}
