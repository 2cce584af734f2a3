//! The HTTP API: router, layers, and one module per resource. Handlers are thin: they parse
//! the request, call `service/` and shape the answer. The routes are one table ([`routes`])
//! from which both the router and the OpenAPI document are built.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use wp_schemas::problem::{Problem, ProblemType};

use crate::error::Error;
pub use crate::service::{AppState, Inner};

mod access_requests;
pub mod error;
pub mod extract;
mod grants;
mod limit;
mod meta;
mod notifications;
mod organisations;
mod parties;
mod passports;
pub mod reply;
pub mod routes;
mod token;
pub mod trace_context;
pub mod transport;
pub mod web;

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static(error::REQUEST_ID);
    let max_body = state.max_body_bytes;
    let request_timeout = state.request_timeout;
    let identify = axum::middleware::from_fn_with_state(state.clone(), transport::identify);
    let metrics = state.metrics.clone();
    let mut templates: Vec<&'static str> = web::PATHS.to_vec();
    let mut router = Router::new();
    for route in routes::table() {
        templates.push(route.path);
        let declared: Arc<[String]> = route.operation.query_names().map(str::to_owned).collect();
        let handler = route.handler.route_layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let declared = declared.clone();
                async move {
                    match undeclared_query(&request, &declared) {
                        Some(refusal) => refusal.into_response(),
                        None => next.run(request).await,
                    }
                }
            },
        ));
        let handler = if route.operation.is_rate_limited() {
            handler.route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                limit::rate_limit,
            ))
        } else {
            handler
        };
        router = router.route(route.path, handler);
    }
    let templates: Arc<[&'static str]> = templates.into();
    router
        .merge(web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(|_| {
            error::problem_response(Problem::new(ProblemType::Internal, "an internal error occurred; it has been logged"))
        }))
        .layer(axum::middleware::from_fn_with_state(request_timeout, time_limit))
        // Inside the request-id layer, outside everything that makes a problem.
        .layer(axum::middleware::from_fn_with_state(metrics.clone(), error::with_instance))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        // Spans carry method, path, request id, the caller's W3C trace id and the client's
        // address; never bodies, tokens or query strings.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let client = req
                .extensions()
                .get::<transport::ClientInfo>()
                .map(|c| c.address.to_string())
                .unwrap_or_default();
            let span = tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id, trace_id = tracing::field::Empty, %client);
            if let Some(trace_id) = trace_context::trace_id(req.headers()) {
                span.record("trace_id", trace_id);
            }
            span
        }))
        // Outside the span, which names the client it finds.
        .layer(identify)
        .layer(SetRequestIdLayer::new(request_id, trace_context::MakeTraceRequestId))
        // Outermost: the time counted is the whole answer's. Every layer of a Router runs
        // after routing, so the matched route is known here.
        .layer(axum::middleware::from_fn(move |request, next| {
            observe(metrics.clone(), templates.clone(), request, next)
        }))
}

/// Counts and times a request by its method and route template (`route="unmatched"` when no
/// route matched), never by the path it names: a path holds ids.
async fn observe(
    metrics: Arc<crate::metrics::Metrics>,
    templates: Arc<[&'static str]>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    // The template as the route table's own static text: so a label can only be that.
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .and_then(|matched| templates.iter().find(|t| **t == matched.as_str()))
        .copied()
        .unwrap_or("unmatched");
    let method = method_label(request.method());
    let response = next.run(request).await;
    metrics.request(method, route, response.status().as_u16(), started.elapsed());
    response
}

/// The method as a metric label: one of HTTP's own, or `other` (a client may send any token).
fn method_label(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// `GET /metrics` on the metrics listener (`--metrics-listen`), never on the API's.
pub async fn scrape_metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        state.metrics_text().await,
    )
        .into_response()
}

/// A query the route's operation does not allow: a parameter it does not declare, or a query
/// that does not parse. Every route refuses these alike (400), whether it has a query or not,
/// so that the OpenAPI document and the server agree on every operation.
fn undeclared_query(request: &axum::extract::Request, declared: &[String]) -> Option<Error> {
    request.uri().query()?;
    let Ok(axum::extract::Query(pairs)) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(request.uri())
    else {
        return Some(Error::bad_request("the query string does not parse"));
    };
    let unknown = pairs
        .iter()
        .find(|(name, _)| !declared.iter().any(|d| d == name))?;
    let allowed = if declared.is_empty() {
        "this route takes no query parameters".to_owned()
    } else {
        format!("this route takes only {}", declared.join(", "))
    };
    Some(Error::bad_request(format!(
        "unknown query parameter `{}`: {allowed}",
        unknown.0
    )))
}

/// A request still running after the limit is dropped (its transaction rolls back) and answered
/// 503 with a problem; tower-http's timeout layer would answer with an empty body.
async fn time_limit(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error::problem_response(Problem::new(
            ProblemType::Unavailable,
            format!(
                "the request took longer than {} s; try again",
                limit.as_secs_f32()
            ),
        )),
    }
}

async fn not_found() -> Response {
    Error::not_found("no such route").into_response()
}

/// RFC 9110 section 15.5.6: axum adds the `Allow` header listing the route's methods.
async fn method_not_allowed() -> Response {
    error::problem_response(Problem::new(
        ProblemType::MethodNotAllowed,
        "this route does not support the method: see the Allow header",
    ))
}
