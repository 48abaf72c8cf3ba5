//! Builds the whole HTTP service: Leptos pages and server functions, the REST API,
//! operations endpoints, static files — wrapped in request ids, tracing, metrics and a
//! panic guard that answers 500 JSON instead of dropping the connection.

use crate::access;
use crate::api;
use crate::metrics::{self, Metrics};
use crate::openapi;
use app::state::AppState;
use app::{App, shell};
use axum::Router;
use axum::http::{HeaderName, Request};
use axum::response::{IntoResponse, Response};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The app's page routes, found once per process. Finding them renders the app with every
/// resource held back by one process-wide switch: a page another server in this process
/// (as in the test suite) rendered meanwhile would wait for its data forever.
pub fn page_routes() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The whole service. Every route it serves is declared in one [`access::AccessTable`]
/// (REST, wpipe and operations routes from the OpenAPI document, pages from `app::PAGES`,
/// server functions from their `require!` lines, site files from the build's output); the
/// access guard refuses anything else.
pub fn router(
    state: AppState,
    metrics: Arc<Metrics>,
    api_settings: &api::ApiSettings,
    settings: &access::Settings,
) -> Router {
    let options = state.leptos_options.clone();
    let routes = page_routes();
    let ctx_state = state.clone();
    let (api_routes, doc, mut table) = api::router(api_settings);
    table.declare_pages();
    table.declare_server_fns();
    let files = crate::site_files::router(
        std::path::Path::new(&*options.site_root),
        &state.assets,
        &mut table,
    );
    let pages = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(ctx_state.clone());
                provide_request_nonce();
            },
            {
                let options = options.clone();
                let assets = state.assets.clone();
                move || shell(options.clone(), assets.clone())
            },
        )
        .fallback(not_found)
        .layer(api::timeout(api_settings))
        .with_state(state.clone());

    let access = access::Access::new(state.clone(), table, settings, metrics.clone());
    Router::new()
        .merge(api_routes.with_state(state.clone()))
        .merge(files.with_state(state.clone()))
        .merge(pages)
        .layer(axum::Extension(openapi::DocPages::new(&doc)))
        .layer(axum::Extension(metrics.clone()))
        .layer(axum::middleware::from_fn_with_state(access, access::guard))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(compression())
                .layer(axum::middleware::map_request(drop_unsafe_request_id))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                        let id = req
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        tracing::info_span!(
                            "request",
                            request_id = %id,
                            method = %req.method(),
                            path = %req.uri().path(),
                            job_id = tracing::field::Empty,
                            task_id = tracing::field::Empty,
                            worker_id = tracing::field::Empty,
                        )
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(|_| {
                    crate::error::ApiError::new(
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        "internal error",
                    )
                    .into_response_boxed()
                })),
        )
}

/// What answers a path no route matched: a JSON 404 under `/api/`, else the app's own
/// "not found" page (no route of the app matches either, as every page is a route here).
async fn not_found(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
) -> Response {
    if req.uri().path().starts_with("/api/") {
        return crate::error::ApiError::not_found("no such API route").into_response();
    }
    let options = st.leptos_options.clone();
    let assets = st.assets.clone();
    let render = leptos_axum::render_app_to_stream_with_context(
        move || {
            provide_context(st.clone());
            provide_request_nonce();
        },
        move || shell(options.clone(), assets.clone()),
    );
    let mut resp = render(req).await.into_response();
    *resp.status_mut() = axum::http::StatusCode::NOT_FOUND;
    resp
}

/// A client's own `X-Request-Id` is kept only when it is a short token of safe characters
/// (it ends up in logs and the audit log); otherwise the server makes one.
async fn drop_unsafe_request_id(mut req: axum::extract::Request) -> axum::extract::Request {
    let safe = |v: &[u8]| {
        !v.is_empty()
            && v.len() <= 64
            && v.iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    };
    let values: Vec<bool> = req
        .headers()
        .get_all(REQUEST_ID)
        .iter()
        .map(|v| safe(v.as_bytes()))
        .collect();
    if values.len() > 1 || values.first() == Some(&false) {
        req.headers_mut().remove(REQUEST_ID);
    }
    req
}

/// Pages, server functions' answers and API JSON go out compressed to a client that asks
/// (brotli or gzip at their fastest levels: a page is compressed as it is sent). The event
/// stream, downloads (an attachment keeps its length, so the browser shows progress) and
/// files already compressed go out as they are.
fn compression() -> CompressionLayer<impl Predicate> {
    use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
    let textual = |_: axum::http::StatusCode,
                   _: axum::http::Version,
                   headers: &axum::http::HeaderMap,
                   _: &axum::http::Extensions| {
        let kind = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        kind.is_some_and(|t| t.starts_with("text/html") || t.starts_with("application/json"))
            && !headers.contains_key(CONTENT_DISPOSITION)
    };
    CompressionLayer::new()
        .quality(CompressionLevel::Fastest)
        .compress_when(SizeAbove::new(1024).and(textual))
}

/// Hands the request's CSP nonce to the page, so its inline scripts carry it.
fn provide_request_nonce() {
    let nonce = leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<access::CspNonce>().cloned());
    if let Some(n) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(n.0));
    }
}
