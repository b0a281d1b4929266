//! # pdva-web
//!
//! The registry's web server over axum: server-rendered HTML (askama
//! templates, never HTML built with `format!`), and a JSON API under
//! `/api/v1/` (records, outcomes; bearer API tokens; an OpenAPI 3.1
//! document generated from the handlers at `/api/v1/openapi.json`). Handlers are thin: they call the
//! store and render a view type that lives here. Only this crate knows HTTP;
//! [`WebError`] is the one place where errors become responses.

mod access_log;
mod account;
mod admin;
mod api;
mod auth;
pub mod authz;
mod compliance;
mod dashboard;
mod error;
mod exports;
mod forms;
mod governance;
mod imports;
pub mod openapi;
mod outcomes;
mod pages;
mod patients;
mod reference;
mod registry_api;
mod reports;
mod research;
mod signoff;
mod tokens;
mod wording;
mod worklist;

pub use auth::{Settings, Timeouts};
pub use compliance::ComplianceCache;
pub use error::{ApiError, ApiErrorBody, WebError};
pub use outcomes::ReportCache;
pub use wording::{InstrumentWording, ItemWording};
pub use worklist::WorklistCache;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use pdva_store::Store;

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The registry.
    pub store: Store,
    /// Server settings.
    pub settings: Settings,
    /// Outcomes reports kept for the data version they were computed at.
    pub reports: std::sync::Arc<outcomes::ReportCache>,
    /// Researchers' pseudonyms and the patients behind them.
    pub pseudonyms: std::sync::Arc<research::PseudonymIndex>,
    /// Compliance findings kept for the data version they were made at.
    pub compliance: std::sync::Arc<compliance::ComplianceCache>,
    /// Follow-up worklists kept for the data version they were made at.
    pub worklists: std::sync::Arc<worklist::WorklistCache>,
}

/// The application's routes with the default settings (cookies without
/// `Secure`, for plain http on this machine).
pub fn router(store: Store) -> Router {
    router_with(store, Settings::default())
}

/// The application's routes. Each is declared with its permission in
/// [`authz::ROUTES`]; the guard checks it before the handler runs.
pub fn router_with(store: Store, settings: Settings) -> Router {
    let state = AppState {
        store,
        settings,
        reports: Default::default(),
        pseudonyms: Default::default(),
        compliance: Default::default(),
        worklists: Default::default(),
    };
    Router::new()
        .route("/", get(pages::index))
        .route("/healthz", get(pages::healthz))
        .route("/static/registry.css", get(pages::stylesheet))
        .route("/api/v1/outcomes", get(api::outcomes))
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .route(
            "/api/v1/sites",
            get(registry_api::sites).post(registry_api::create_site),
        )
        .route(
            "/api/v1/sites/{site}",
            get(registry_api::site).put(registry_api::update_site),
        )
        .route(
            "/api/v1/sites/{site}/patients",
            post(registry_api::register_patient),
        )
        .route(
            "/api/v1/clinicians",
            get(registry_api::clinicians).post(registry_api::create_clinician),
        )
        .route(
            "/api/v1/clinicians/{clinician_id}",
            get(registry_api::clinician).put(registry_api::update_clinician),
        )
        .route("/api/v1/patients", get(registry_api::patients))
        .route(
            "/api/v1/patients/{patient_id}",
            get(registry_api::patient).put(registry_api::update_patient),
        )
        .route(
            "/api/v1/patients/{patient_id}/records",
            get(registry_api::records).post(registry_api::create_record),
        )
        .route(
            "/api/v1/patients/{patient_id}/records/{record_id}",
            get(registry_api::record).put(registry_api::update_record),
        )
        .route(
            "/api/v1/patients/{patient_id}/records/{record_id}/void",
            post(registry_api::void_record),
        )
        .route(
            "/api/v1/patients/{patient_id}/records/{record_id}/sign-off",
            post(registry_api::sign_off_record),
        )
        .route("/account/tokens", get(tokens::page).post(tokens::create))
        .route("/account/tokens/{token_id}/revoke", post(tokens::revoke))
        .route(
            account::CHANGE_PASSWORD_PATH,
            get(account::page).post(account::change),
        )
        .route("/sign-in", get(auth::sign_in_page).post(auth::sign_in))
        .route("/sign-out", post(auth::sign_out))
        .route("/patients", get(patients::list))
        .route(
            "/sites/{site}/patients/new",
            get(patients::register_form).post(patients::register),
        )
        .route("/patients/{patient_id}", get(patients::page))
        .route(
            "/patients/{patient_id}/edit",
            get(patients::edit_patient_form).post(patients::update_patient),
        )
        .route(
            "/patients/{patient_id}/records/new/{kind}",
            get(patients::new_record_form).post(patients::create_record),
        )
        .route(
            "/patients/{patient_id}/records/{record_id}/edit",
            get(patients::edit_record_form).post(patients::update_record),
        )
        .route(
            "/patients/{patient_id}/records/{record_id}/void",
            post(patients::void_record),
        )
        .route(
            "/patients/{patient_id}/records/{record_id}/sign-off",
            post(patients::sign_off_record),
        )
        .route("/research/patients", get(research::list))
        .route("/research/patients/{pseudonym}", get(research::page))
        .route("/admin/access", get(access_log::page))
        .route(
            "/admin/import",
            get(imports::page)
                .post(imports::upload)
                .layer(DefaultBodyLimit::max(imports::MAX_UPLOAD_BYTES)),
        )
        .route("/admin/import/templates", get(imports::templates))
        .route("/worklist", get(worklist::page))
        .route(signoff::QUEUE_PATH, get(signoff::page))
        .route("/dashboard", get(dashboard::page))
        .route("/reports", get(reports::page))
        .route("/exports", get(exports::page))
        .route("/exports/download", get(exports::download))
        .route("/api/v1/exports", get(exports::download))
        .route("/reports/appraisal", get(reports::appraisal))
        .route("/reports/governance", get(reports::governance))
        .route("/reports/audit-summary", get(reports::audit_summary))
        .route("/reports/research", get(reports::research))
        .route("/sites/{site}/compliance", get(compliance::page))
        .route("/sites/{site}/compliance.csv", get(compliance::list_csv))
        .route(
            "/sites/{site}/governance-meetings/new",
            get(governance::meeting_form).post(governance::record_meeting),
        )
        .route(
            "/sites/{site}/governance-lead",
            get(governance::lead_form).post(governance::record_lead),
        )
        .route("/admin/users", get(admin::users))
        .route(
            "/admin/users/new",
            get(admin::new_user_form).post(admin::create_user),
        )
        .route(
            "/admin/users/{user_id}/access",
            get(admin::access_form).post(admin::change_access),
        )
        .route(
            "/admin/users/{user_id}/password",
            get(admin::reset_form).post(admin::reset_password),
        )
        .route("/admin/sites", get(reference::list))
        .route(
            "/admin/sites/new",
            get(reference::new_site_form).post(reference::create_site),
        )
        .route(
            "/admin/sites/{site_code}/edit",
            get(reference::edit_site_form).post(reference::update_site),
        )
        .route(
            "/admin/clinicians/new",
            get(reference::new_clinician_form).post(reference::create_clinician),
        )
        .route(
            "/admin/clinicians/{clinician_id}/edit",
            get(reference::edit_clinician_form).post(reference::update_clinician),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), authz::guard))
        .fallback(error::not_found)
        .layer(middleware::from_fn(security_headers))
        // Outermost: a body over its limit is refused before anything else
        // (authentication, CSRF) runs or reads it.
        .layer(middleware::from_fn(limit_body))
        .with_state(state)
}

/// Largest request body a route takes unless [`LARGER_BODIES`] gives it
/// more: every form and JSON record of the registry is far smaller.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Routes that take a larger body than [`MAX_BODY_BYTES`] (an upload, say),
/// by path exactly as requested, with their own limit.
const LARGER_BODIES: &[(&str, usize)] = &[("/admin/import", imports::MAX_UPLOAD_BYTES)];

/// The largest body the route at `path` takes.
pub(crate) fn body_limit(path: &str) -> usize {
    LARGER_BODIES
        .iter()
        .find(|(p, _)| *p == path)
        .map_or(MAX_BODY_BYTES, |(_, limit)| *limit)
}

/// Refuses a body over its route's limit with 413: at once when its
/// `Content-Length` (or the size it is known to have) says so, otherwise as
/// soon as reading it passes the limit.
async fn limit_body(request: axum::extract::Request, next: Next) -> Response {
    use axum::body::{Body, HttpBody};
    let limit = body_limit(request.uri().path());
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0)
        .max(request.body().size_hint().lower());
    if declared > limit as u64 {
        return too_large(request.uri().path());
    }
    let request = request.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
    next.run(request).await
}

/// 413, in the API's error shape under `/api/`, elsewhere a plain page:
/// it is answered before anyone is authenticated, so without the menu.
fn too_large(path: &str) -> Response {
    use axum::response::IntoResponse;
    if path.starts_with("/api/") {
        ApiError(WebError::TooLarge).into_response()
    } else {
        let (status, message) = WebError::TooLarge.status_and_message();
        error::error_page(status, &message, None)
    }
}

/// Whether reading a body failed because it passed its limit.
pub(crate) fn is_too_large(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> =
        Some(e as &(dyn std::error::Error + 'static));
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Security headers on every response.
async fn security_headers(request: axum::extract::Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // `same-origin`, not `no-referrer`: with `no-referrer` a browser sends
        // `Origin: null` on a form POST, which the same-origin check refuses.
        // No address (patient ids are in paths) leaves the site either way.
        (header::REFERRER_POLICY, "same-origin"),
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
    serve_with(listener, store, Settings::default(), shutdown).await
}

/// As [`serve`], with settings. Each connection is served by hyper with a
/// timer, so that the header-read timeout applies (axum's own `serve` sets
/// none: a client sending a byte a minute would hold its connection for
/// ever), and each request carries the peer's address
/// ([`axum::extract::ConnectInfo`]) for the log.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    store: Store,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let timeouts = settings.timeouts;
    let app = router_with(store.clone(), settings);
    let served = serve_connections(listener, app, timeouts, shutdown).await;
    // The accesses of the last requests are written before the server stops.
    if let Err(e) = store.flush_access_log().await {
        tracing::error!(error = %e, "the last accesses could not be written to the access log");
    }
    served
}

/// Accepts connections until `shutdown`, then lets those open finish.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    timeouts: Timeouts,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a moment rather than spin.
                    tracing::debug!(error = %e, "a connection could not be accepted");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let idle = timeouts.idle;
        let service = tower::ServiceExt::map_request(
            app.clone(),
            move |request: axum::http::Request<hyper::body::Incoming>| {
                let mut request =
                    request.map(|body| axum::body::Body::new(IdleBody::new(body, idle)));
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            },
        );
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(timeouts.header_read)
            .serve_connection(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // A client that timed out or went away: not the server's fault.
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A request body that fails when its client sends nothing for `idle`
/// while it is being read, so a slow upload cannot hold a connection.
struct IdleBody {
    inner: hyper::body::Incoming,
    idle: std::time::Duration,
    /// Set when the body is first read: a handler may look at the request
    /// before it reads the body.
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl IdleBody {
    fn new(inner: hyper::body::Incoming, idle: std::time::Duration) -> Self {
        Self {
            inner,
            idle,
            deadline: None,
        }
    }
}

impl http_body::Body for IdleBody {
    type Data = axum::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::future::Future;
        use std::task::Poll;
        let this = self.get_mut();
        let idle = this.idle;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                deadline.as_mut().reset(tokio::time::Instant::now() + idle);
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err("the request body stopped coming".into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
