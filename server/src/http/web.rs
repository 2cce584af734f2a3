//! The web pages: a client of the JSON API, like `wp`, served from files embedded in the binary
//! (no bundler, nothing to install). Keys live in the browser; the server only serves files.
//!
//! Every page answer carries a strict Content-Security-Policy: scripts and styles only from
//! this origin, no inline script, no eval, no framing, no third-party requests.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use crate::error::Error;

/// Sent with every page and asset.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; \
     base-uri 'none'; frame-ancestors 'none'";

/// The shell every page starts from; the script fills `<main>`.
const INDEX_HTML: &str = include_str!("../../web/index.html");

/// The embedded assets, by path under `/web/`, with their media types.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/app.css"),
    ),
    ("js/app.js", JS, include_bytes!("../../web/js/app.js")),
    (
        "js/session.js",
        JS,
        include_bytes!("../../web/js/session.js"),
    ),
    ("js/flow.js", JS, include_bytes!("../../web/js/flow.js")),
    (
        "js/pages/start.js",
        JS,
        include_bytes!("../../web/js/pages/start.js"),
    ),
    (
        "js/pages/passport.js",
        JS,
        include_bytes!("../../web/js/pages/passport.js"),
    ),
    (
        "js/pages/sharing.js",
        JS,
        include_bytes!("../../web/js/pages/sharing.js"),
    ),
    (
        "js/pages/shared.js",
        JS,
        include_bytes!("../../web/js/pages/shared.js"),
    ),
    (
        "js/pages/organisations.js",
        JS,
        include_bytes!("../../web/js/pages/organisations.js"),
    ),
    (
        "js/pages/devices.js",
        JS,
        include_bytes!("../../web/js/pages/devices.js"),
    ),
    (
        "js/pages/move.js",
        JS,
        include_bytes!("../../web/js/pages/move.js"),
    ),
    ("js/api.js", JS, include_bytes!("../../web/js/api.js")),
    ("js/jose.js", JS, include_bytes!("../../web/js/jose.js")),
    (
        "js/keystore.js",
        JS,
        include_bytes!("../../web/js/keystore.js"),
    ),
    ("js/forms.js", JS, include_bytes!("../../web/js/forms.js")),
    ("js/ui.js", JS, include_bytes!("../../web/js/ui.js")),
    ("js/verify.js", JS, include_bytes!("../../web/js/verify.js")),
    ("js/words.js", JS, include_bytes!("../../web/js/words.js")),
    // The section body schemas the forms are made from (the same files as in schemas/json).
    (
        "schemas/summary.json",
        JSON,
        include_bytes!("../../../schemas/json/sections/summary.schema.json"),
    ),
    (
        "schemas/impacts.json",
        JSON,
        include_bytes!("../../../schemas/json/sections/impacts.schema.json"),
    ),
    (
        "schemas/conditions.json",
        JSON,
        include_bytes!("../../../schemas/json/sections/conditions.schema.json"),
    ),
    (
        "schemas/adjustments.json",
        JSON,
        include_bytes!("../../../schemas/json/sections/adjustments.schema.json"),
    ),
    (
        "schemas/fit_notes.json",
        JSON,
        include_bytes!("../../../schemas/json/sections/fit_notes.schema.json"),
    ),
    (
        "schemas/plans.json",
        JSON,
        include_bytes!("../../../schemas/json/sections/plans.schema.json"),
    ),
];

const JSON: &str = "application/json";

const JS: &str = "text/javascript; charset=utf-8";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/web/{*path}", get(asset))
}

/// The shell, naming the server's public base URL: the pages sign DPoP proofs and assertions
/// for it, which may differ from the host name the browser used.
async fn index(State(state): State<AppState>) -> Response {
    let base = html_attribute(&state.issuer);
    let page = INDEX_HTML.replace("{{BASE}}", &base);
    page_response("text/html; charset=utf-8", page.into_bytes(), "no-store")
}

async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == path) {
        Some((_, media_type, bytes)) => page_response(media_type, bytes.to_vec(), "no-cache"),
        None => Error::not_found("no such page asset").into_response(),
    }
}

fn page_response(media_type: &str, body: Vec<u8>, cache: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(media_type).expect("a valid media type"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Escapes text for a double-quoted HTML attribute.
fn html_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
