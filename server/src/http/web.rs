//! The web pages: a client of the JSON API, like `wp`, served from files embedded in the binary
//! (no bundler, nothing to install). Keys live in the browser; the server only serves files.
//!
//! Every page answer carries a strict Content-Security-Policy: scripts and styles only from
//! this origin, no inline script, no eval, no framing, no third-party requests.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
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
fn find_asset(path: &str) -> Option<(&'static str, rust_embed::EmbeddedFile)> {
    let file = match path.strip_prefix("schemas/") {
        Some(name) => SectionSchemas::get(&format!("{}.schema.json", name.strip_suffix(".json")?)),
        None => Assets::get(path),
    }?;
    Some((media_type(path)?, file))
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

/// One asset as it is sent: its bytes plain and compressed, and the validator of its content.
///
/// Compressed once per process, when a browser first asks for it compressed (off the async
/// threads), and kept: brotli at its best ratio costs milliseconds a file in a release build
/// (1.5 s for all of them in a debug one), which a compression layer would spend again on every
/// request, and the files never change while the binary runs. Not at start: a server that
/// serves no pages (the API alone, the tests' processes) never pays for it. Only these files
/// are compressed: they carry no secret, whereas an API answer that held a token next to text a
/// requester chose could leak the token through its compressed length (BREACH), so API answers
/// are sent as they are.
struct Asset {
    media_type: &'static str,
    /// The content's SHA-256 (rust-embed's, made at build), hex: the strong ETag of the plain
    /// bytes, and with `-br` or `-gz` of each compressed form (a different representation).
    hash: String,
    plain: std::borrow::Cow<'static, [u8]>,
    compressed: std::sync::OnceLock<Compressed>,
}

/// An asset's compressed forms; None where compressing does not make it smaller.
struct Compressed {
    brotli: Option<Vec<u8>>,
    gzip: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    fn token(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }
}

impl Asset {
    fn new(media_type: &'static str, file: rust_embed::EmbeddedFile) -> Self {
        let hash = file
            .metadata
            .sha256_hash()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Asset {
            media_type,
            hash,
            plain: file.data,
            compressed: std::sync::OnceLock::new(),
        }
    }

    /// Its compressed forms, made on first use.
    fn compressed(&self) -> &Compressed {
        self.compressed.get_or_init(|| {
            use std::io::Write as _;
            let plain = &self.plain[..];
            let mut brotli = Vec::new();
            let params = brotli::enc::BrotliEncoderParams {
                quality: 11,
                lgwin: 22,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &plain[..], &mut brotli, &params)
                .expect("compressing to memory cannot fail");
            let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gzip.write_all(plain)
                .expect("compressing to memory cannot fail");
            let gzip = gzip.finish().expect("compressing to memory cannot fail");
            let smaller = |bytes: Vec<u8>| (bytes.len() < plain.len()).then_some(bytes);
            Compressed {
                brotli: smaller(brotli),
                gzip: smaller(gzip),
            }
        })
    }

    /// Whether the answer to `accept` would be compressed (so needs [`Asset::compressed`]).
    fn wants_compressed(accept: &str) -> bool {
        accepted(accept, "br") || accepted(accept, "gzip")
    }

    /// The form to send for a request's `Accept-Encoding`.
    fn pick(&self, accept: &str) -> (Coding, &[u8]) {
        if !Self::wants_compressed(accept) {
            return (Coding::Identity, &self.plain);
        }
        let compressed = self.compressed();
        let accepts = |token: &str| accepted(accept, token);
        match (&compressed.brotli, &compressed.gzip) {
            (Some(br), _) if accepts("br") => (Coding::Brotli, br),
            (_, Some(gz)) if accepts("gzip") => (Coding::Gzip, gz),
            _ => (Coding::Identity, &self.plain),
        }
    }

    fn etag(&self, coding: Coding) -> String {
        match coding {
            Coding::Brotli => format!("\"{}-br\"", self.hash),
            Coding::Gzip => format!("\"{}-gz\"", self.hash),
            Coding::Identity => format!("\"{}\"", self.hash),
        }
    }

    /// Whether `If-None-Match` names this content, in any of its forms (the browser keeps one
    /// decoded, whichever it was sent).
    fn matches(&self, if_none_match: &str) -> bool {
        if_none_match.split(',').map(str::trim).any(|tag| {
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            tag == "*"
                || [Coding::Brotli, Coding::Gzip, Coding::Identity]
                    .iter()
                    .any(|c| tag == self.etag(*c))
        })
    }
}

/// Whether an `Accept-Encoding` value accepts `coding` (named, or by `*`, with a q above 0).
fn accepted(accept: &str, coding: &str) -> bool {
    let mut star = false;
    for element in accept.split(',') {
        let mut parts = element.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let q = parts
            .find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| v.trim().parse::<f32>().ok())?
            })
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding) {
            return q > 0.0;
        }
        if name == "*" {
            star = q > 0.0;
        }
    }
    star
}

/// Every asset by its path under `/web/`, compressed.
static ASSETS: std::sync::LazyLock<std::collections::HashMap<String, Asset>> =
    std::sync::LazyLock::new(|| {
        let schemas = SectionSchemas::iter().filter_map(|name| {
            let section = name.strip_suffix(".schema.json")?;
            Some(format!("schemas/{section}.json"))
        });
        Assets::iter()
            .map(|name| name.into_owned())
            .chain(schemas)
            .filter_map(|path| {
                let (media_type, file) = find_asset(&path)?;
                Some((path, Asset::new(media_type, file)))
            })
            .collect()
    });

/// The pages' route templates (for the metrics' `route` label too).
pub const PATHS: [&str; 2] = ["/", "/web/{*path}"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PATHS[0], get(index))
        .route(PATHS[1], get(asset))
}

/// The shell, naming the server's public base URL: the pages sign DPoP proofs and assertions
/// for it, which may differ from the host name the browser used.
async fn index(State(state): State<AppState>) -> Response {
    let base = html_attribute(&state.issuer);
    let page = INDEX_HTML.replace("{{BASE}}", &base);
    page_response("text/html; charset=utf-8", page.into_bytes(), "no-store")
}

/// An asset, compressed as the browser accepts, revalidated on every use (`no-cache`) by its
/// ETag: an unchanged file costs a 304 and no body.
async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let assets: &'static std::collections::HashMap<String, Asset> = &ASSETS;
    let Some(asset) = assets.get(&path) else {
        return Error::not_found("no such page asset").into_response();
    };
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let accept = text(header::ACCEPT_ENCODING).unwrap_or_default();
    let unchanged = text(header::IF_NONE_MATCH).is_some_and(|tags| asset.matches(tags));
    if !unchanged && Asset::wants_compressed(accept) && asset.compressed.get().is_none() {
        // The first time: compressing takes a while, so not on an async thread.
        let _ = tokio::task::spawn_blocking(|| {
            asset.compressed();
        })
        .await;
    }
    let (coding, body) = asset.pick(accept);
    let mut response = if unchanged {
        // Only what a 304 must carry (RFC 9110 section 15.4.5): the browser keeps the headers
        // it stored with the file and updates them from these. The security headers would add
        // half a kilobyte to each revalidation over HTTP/1.1.
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    } else {
        let mut response = page_response(asset.media_type, body.to_vec(), "no-cache");
        if let Some(token) = coding.token() {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(token));
        }
        response
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&asset.etag(coding)).expect("hex is a valid header value"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
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
            assert!(ASSETS.contains_key(name), "{name} would not be served");
        }
        let schemas: Vec<_> = SectionSchemas::iter().collect();
        assert_eq!(schemas.len(), wp_schemas::sections::Section::ALL.len());
        for section in wp_schemas::sections::Section::ALL {
            let path = format!("schemas/{}.json", section.as_str());
            assert!(ASSETS.contains_key(&path), "{path} would not be served");
        }
        assert!(find_asset("../Cargo.toml").is_none());
        assert!(find_asset("schemas/../../Cargo.toml").is_none());
    }

    #[test]
    fn accept_encoding() {
        assert!(accepted("gzip, deflate, br, zstd", "br"));
        assert!(accepted("gzip, deflate, br, zstd", "gzip"));
        assert!(!accepted("gzip;q=0, br", "gzip"));
        assert!(accepted("br;q=0.5", "br"));
        assert!(accepted("*", "gzip"));
        assert!(!accepted("*;q=0", "br"));
        assert!(!accepted("br;q=0, *", "br"));
        assert!(!accepted("identity", "br"));
        assert!(!accepted("", "gzip"));
    }

    #[test]
    fn compressed_once_and_validated_by_content() {
        let app = &ASSETS["js/app.js"];
        assert!(
            app.compressed.get().is_none(),
            "not compressed before it is asked for"
        );
        assert_eq!(app.pick("identity").0, Coding::Identity);
        assert!(
            app.compressed.get().is_none(),
            "nor for a client that takes it plain"
        );
        let compressed = app.compressed();
        assert!(
            compressed.brotli.as_ref().unwrap().len() < compressed.gzip.as_ref().unwrap().len()
        );
        assert!(compressed.gzip.as_ref().unwrap().len() < app.plain.len());
        assert_eq!(app.pick("gzip, br").0, Coding::Brotli);
        assert_eq!(app.pick("gzip").0, Coding::Gzip);
        assert_eq!(app.pick("").0, Coding::Identity);
        for coding in [Coding::Brotli, Coding::Gzip, Coding::Identity] {
            assert!(app.matches(&format!("\"x\", {}", app.etag(coding))));
            assert!(app.matches(&format!("W/{}", app.etag(coding))));
        }
        assert!(!app.matches(&ASSETS["app.css"].etag(Coding::Identity)));
        assert!(app.matches("*"));
    }
}
