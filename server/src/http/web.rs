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

/// Every file under `server/web/` but the shell, by its path there, served under `/web/`.
/// Embedded in debug builds too (`debug-embed`), so that the tests serve what ships.
#[derive(rust_embed::RustEmbed)]
#[folder = "web/"]
#[exclude = "index.html"]
struct Assets;

/// The section body schemas the forms are made from, `schemas/json/sections/NAME.schema.json`,
/// served as `/web/schemas/NAME.json`.
#[derive(rust_embed::RustEmbed)]
#[folder = "../schemas/json/sections/"]
#[include = "*.schema.json"]
struct SectionSchemas;

/// An asset's bytes and media type; None for a path that names none (nor a file of a type the
/// pages do not use).
fn find_asset(path: &str) -> Option<(&'static str, Vec<u8>)> {
    let file = match path.strip_prefix("schemas/") {
        Some(name) => SectionSchemas::get(&format!("{}.schema.json", name.strip_suffix(".json")?)),
        None => Assets::get(path),
    }?;
    Some((media_type(path)?, file.data.into_owned()))
}

fn media_type(path: &str) -> Option<&'static str> {
    match path.rsplit_once('.')?.1 {
        "css" => Some("text/css; charset=utf-8"),
        "js" => Some(JS),
        "json" => Some(JSON),
        _ => None,
    }
}

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
    match find_asset(&path) {
        Some((media_type, bytes)) => page_response(media_type, bytes, "no-cache"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A file the pages need is served only if it has a media type: one of a new type would
    /// answer 404 instead.
    #[test]
    fn every_embedded_file_is_served() {
        let names: Vec<String> = Assets::iter().map(|name| name.into_owned()).collect();
        assert!(names.iter().any(|n| n == "js/app.js") && names.iter().any(|n| n == "app.css"));
        assert!(
            !names.iter().any(|n| n == "index.html"),
            "the shell is served at / only"
        );
        for name in &names {
            assert!(find_asset(name).is_some(), "{name} would not be served");
        }
        let schemas: Vec<_> = SectionSchemas::iter().collect();
        assert_eq!(schemas.len(), wp_schemas::sections::Section::ALL.len());
        for section in wp_schemas::sections::Section::ALL {
            let path = format!("schemas/{}.json", section.as_str());
            assert!(find_asset(&path).is_some(), "{path} would not be served");
        }
        assert!(find_asset("../Cargo.toml").is_none());
        assert!(find_asset("schemas/../../Cargo.toml").is_none());
    }
}
