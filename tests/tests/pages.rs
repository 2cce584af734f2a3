//! The web pages as files the server serves: the shell names the server's public URL, every
//! module the pages import is served (a file left out of the embedded list fails here, not in
//! a person's browser), every answer carries the security headers, and the whole weighs less
//! than the budget. What the pages do is tested in a real browser (`tests/web/`).

use std::collections::BTreeSet;

use wp_tests::{Backend, TestServer};

/// Issue 13's budget for all the pages' assets together.
const ASSET_BUDGET_BYTES: usize = 300 * 1024;

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("request")
}

fn check_headers(response: &reqwest::Response, what: &str) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let csp = header("content-security-policy");
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{what}: CSP {csp:?} lacks {part}");
    }
    assert!(!csp.contains("unsafe"), "{what}: CSP {csp:?}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
}

/// The modules and files a page references: `src`/`href` in HTML, `import ... from "./x.js"`
/// and `fetch(`/web/...`)`-style paths in scripts.
fn references(text: &str, base: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in ["src=\"/web/", "href=\"/web/"] {
        for part in text.split(marker).skip(1) {
            found.push(format!("/web/{}", part.split('"').next().unwrap()));
        }
    }
    for part in text.split(" from \"").skip(1) {
        found.push(resolve(base, part.split('"').next().unwrap()));
    }
    found
}

/// `./x.js` or `../x.js` relative to the directory `base` (ending in `/`).
fn resolve(base: &str, relative: &str) -> String {
    let mut dir: Vec<&str> = base.trim_end_matches('/').split('/').collect();
    let mut rest = relative;
    loop {
        if let Some(r) = rest.strip_prefix("./") {
            rest = r;
        } else if let Some(r) = rest.strip_prefix("../") {
            dir.pop();
            rest = r;
        } else {
            break;
        }
    }
    format!("{}/{rest}", dir.join("/"))
}

async fn every_asset_is_served_with_the_headers(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shell = get(&format!("{}/", server.url)).await;
    assert_eq!(shell.status(), 200);
    check_headers(&shell, "/");
    let html = shell.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "<meta name=\"wp-base\" content=\"{}\">",
            server.url
        )),
        "the shell names the public URL"
    );
    assert!(!html.contains("<script>"), "no inline script");

    let mut total = html.len();
    // The shell is sent as it is (1 KB, and different on each server).
    let (mut total_br, mut total_gzip) = (html.len(), html.len());
    let mut seen = BTreeSet::new();
    let mut queue = references(&html, "/web/");
    while let Some(path) = queue.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let response = get(&format!("{}{path}", server.url)).await;
        assert_eq!(response.status(), 200, "{path} is served");
        check_headers(&response, &path);
        let media = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.text().await.unwrap();
        total += body.len();
        if path.starts_with("/web/") {
            let (br, gz) = compressed_and_validated(&server, &path, body.as_bytes()).await;
            (total_br, total_gzip) = (total_br + br, total_gzip + gz);
        }
        if path.ends_with(".js") {
            assert!(media.starts_with("text/javascript"), "{path}: {media}");
            let dir = &path[..path.rfind('/').unwrap() + 1];
            queue.extend(references(&body, dir));
            // The section schemas the forms are made from.
            if body.contains("/web/schemas/${section}.json") {
                for section in wp_schemas::sections::Section::ALL {
                    queue.push(format!("/web/schemas/{}.json", section.as_str()));
                }
            }
        }
    }
    assert!(
        seen.contains("/web/js/app.js") && seen.contains("/web/js/verify.js"),
        "{seen:?}"
    );
    assert!(seen.contains("/web/schemas/adjustments.json"), "{seen:?}");
    assert!(
        total < ASSET_BUDGET_BYTES,
        "the pages weigh {total} bytes, over the {ASSET_BUDGET_BYTES} budget"
    );
    println!(
        "web pages: {} files, {total} bytes; sent as brotli {total_br}, as gzip {total_gzip}",
        seen.len() + 1
    );

    // An unknown asset is a problem like any other 404, not a page.
    let missing = get(&format!("{}/web/js/nope.js", server.url)).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    server.stop().await;
}

/// An asset as a browser gets it: brotli when accepted, else gzip, else as it is (each the same
/// bytes once decoded), with a strong ETag per form and `Vary: Accept-Encoding`, revalidated
/// (`no-cache`) with a 304 and no body while unchanged. Returns the sizes sent as brotli and as
/// gzip.
async fn compressed_and_validated(server: &TestServer, path: &str, plain: &[u8]) -> (usize, usize) {
    use std::io::Read as _;
    let http = reqwest::Client::new();
    let url = format!("{}{path}", server.url);
    let fetch = |accept: &'static str, if_none_match: Option<String>| {
        let mut request = http.get(&url).header("accept-encoding", accept);
        if let Some(tag) = if_none_match {
            request = request.header("if-none-match", tag);
        }
        async move { request.send().await.expect("request") }
    };
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let mut sizes = Vec::new();
    let mut tags = Vec::new();
    for (accept, coding) in [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip", "gzip"),
        ("identity", ""),
    ] {
        let response = fetch(accept, None).await;
        assert_eq!(response.status(), 200, "{path}");
        check_headers(&response, path);
        assert_eq!(
            header(&response, "cache-control").as_deref(),
            Some("no-cache"),
            "{path}"
        );
        assert_eq!(
            header(&response, "vary").as_deref(),
            Some("accept-encoding"),
            "{path}"
        );
        let tag = header(&response, "etag").expect("an ETag");
        assert!(
            tag.starts_with('"') && !tag.starts_with("W/"),
            "{path}: a strong ETag {tag}"
        );
        let encoding = header(&response, "content-encoding").unwrap_or_default();
        let body = response.bytes().await.unwrap().to_vec();
        // A file that compression would not make smaller is sent as it is.
        assert_eq!(encoding, coding, "{path}: {accept:?}");
        let decoded = match encoding.as_str() {
            "br" => {
                let mut out = Vec::new();
                brotli::Decompressor::new(body.as_slice(), 4096)
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            "gzip" => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(body.as_slice())
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            _ => body.clone(),
        };
        assert_eq!(decoded, plain, "{path} as {encoding:?} decodes to the file");
        sizes.push(body.len());
        tags.push(tag);
    }
    tags.dedup();
    assert_eq!(
        tags.len(),
        3,
        "{path}: each form has its own ETag: {tags:?}"
    );
    // Unchanged: 304, no body, whichever form the browser kept.
    for tag in &tags {
        let response = fetch("gzip, deflate, br, zstd", Some(format!("\"other\", {tag}"))).await;
        assert_eq!(response.status(), 304, "{path} with If-None-Match {tag}");
        assert!(
            header(&response, "etag").is_some(),
            "{path}: a 304 names its ETag"
        );
        assert_eq!(
            header(&response, "cache-control").as_deref(),
            Some("no-cache"),
            "{path}"
        );
        assert_eq!(
            header(&response, "vary").as_deref(),
            Some("accept-encoding"),
            "{path}"
        );
        assert!(response.bytes().await.unwrap().is_empty());
    }
    let changed = fetch("br", Some("\"an-older-version\"".into())).await;
    assert_eq!(
        changed.status(),
        200,
        "{path}: another ETag is not this file"
    );
    (sizes[0], sizes[1])
}

wp_tests::backend_tests!(every_asset_is_served_with_the_headers);
