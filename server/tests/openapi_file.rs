//! The checked-in `schemas/openapi.json` must match the document generated from the route table
//! (`src/http/routes.rs`) and the Rust types, and the document must hang together; the pages'
//! `web/js/endpoints.js` must be what `wp_schemas::paths` generates, and every path there routed.
//!
//! Run `UPDATE_SCHEMAS=1 cargo test -p wp-server --test openapi_file` to regenerate both after
//! changing a type, a path, a route or an operation.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use wp_schemas::problem::ProblemType;
use wp_server::http::routes;

const REGENERATE: &str =
    "run `UPDATE_SCHEMAS=1 cargo test -p wp-server --test openapi_file` to regenerate it";
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// The checked-in file: where it always was, beside the wire types (the README, the docs and
/// clients cite it).
fn openapi_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/openapi.json")
}

/// The pages' endpoint module, generated from `wp_schemas::paths`.
fn endpoints_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web/js/endpoints.js")
}

fn document() -> Value {
    routes::document().clone()
}

fn render() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("the document serializes");
    text.push('\n');
    text
}

/// Every (method, path, operation) in the document.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            assert!(
                METHODS.contains(&method.as_str()),
                "{path}: unexpected `{method}`"
            );
            ops.push((method.clone(), path.clone(), op));
        }
    }
    ops
}

/// The committed file at `path` is `expected` (with `UPDATE_SCHEMAS=1`, after writing it).
fn up_to_date(path: &Path, expected: &str) {
    if std::env::var("UPDATE_SCHEMAS").is_ok_and(|v| v == "1") {
        fs::write(path, expected).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
    let actual = fs::read_to_string(path).ok();
    assert!(
        actual.as_deref() == Some(expected),
        "{} is missing or out of date; {REGENERATE}",
        path.display()
    );
}

#[test]
fn openapi_file_is_up_to_date() {
    up_to_date(&openapi_file(), &render());
}

#[test]
fn generated_files() {
    up_to_date(&endpoints_file(), &wp_schemas::paths::javascript_module());
}

/// Every path in `wp_schemas::paths` is a route, and every route's path is one of them: the
/// client and the pages build no URL the server does not answer.
#[test]
fn every_path_is_routed() {
    let routed: BTreeSet<&str> = routes::table().iter().map(|r| r.path).collect();
    let declared: BTreeSet<&str> = wp_schemas::paths::ALL.iter().map(|p| p.template).collect();
    assert_eq!(routed, declared);
}

#[test]
fn every_ref_resolves_to_a_component() {
    fn walk<'a>(value: &'a Value, at: String, refs: &mut Vec<(String, &'a str)>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    if key == "$ref" {
                        refs.push((at.clone(), child.as_str().expect("$ref is a string")));
                    } else {
                        walk(child, format!("{at}/{key}"), refs);
                    }
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, format!("{at}/{i}"), refs);
                }
            }
            _ => {}
        }
    }
    let doc = document();
    let mut refs = Vec::new();
    walk(&doc, String::new(), &mut refs);
    assert!(refs.len() > 50, "suspiciously few $refs: {}", refs.len());
    let mut used = BTreeSet::new();
    for (at, reference) in refs {
        let pointer = if let Some(name) = reference.strip_prefix("#/components/schemas/") {
            used.insert(name.to_owned());
            &reference[1..]
        } else if reference.starts_with("#/components/parameters/") && at.contains("/parameters/") {
            &reference[1..]
        } else {
            panic!("{at}: `{reference}` is not a component schema");
        };
        assert!(
            doc.pointer(pointer).is_some_and(Value::is_object),
            "{at}: `{reference}` does not resolve"
        );
    }
    // Every component is reachable from a `$ref` (operations, section bodies) or is one of the
    // signed payloads listed for clients.
    let signed = [
        "AccessTokenClaims",
        "AssertionClaims",
        "CheckpointClaims",
        "DpopClaims",
    ];
    let signed = signed
        .into_iter()
        .chain(["KeyProofClaims", "VersionPayload"]);
    used.extend(signed.map(str::to_owned));
    let defined: BTreeSet<String> = doc["components"]["schemas"]
        .as_object()
        .expect("components.schemas")
        .keys()
        .cloned()
        .collect();
    assert_eq!(defined, used, "component schemas and references differ");
}

#[test]
fn operations_are_named_and_answer_problems() {
    let doc = document();
    let ops = operations(&doc);
    assert!(ops.len() >= 20, "only {} operations", ops.len());
    let mut ids = BTreeSet::new();
    for (method, path, op) in ops {
        let id = op["operationId"].as_str().expect("operationId");
        assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
        let summary = op["summary"].as_str().unwrap_or_default();
        assert!(
            !summary.is_empty() && !summary.contains('\n'),
            "{id}: summary"
        );
        assert_eq!(op["tags"].as_array().map(Vec::len), Some(1), "{id}: tags");

        // Every path template variable is declared exactly once.
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .map(|p| p.iter().filter_map(|p| p["$ref"].as_str()).collect())
            .unwrap_or_default();
        for name in path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        {
            let reference = format!("#/components/parameters/{name}");
            assert_eq!(
                params.iter().filter(|p| **p == reference).count(),
                1,
                "{method} {path}: path parameter {name}"
            );
        }

        // Authenticated unless it opts out; then it also sends a DPoP proof and may get 401.
        let public = op.get("security") == Some(&serde_json::json!([]));
        let dpop = params.contains(&"#/components/parameters/DPoP");
        if !public {
            assert!(
                dpop,
                "{id}: an authenticated operation needs the DPoP header"
            );
        }
        assert_eq!(dpop, op["responses"].get("401").is_some(), "{id}: 401");

        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{id}: no success response"
        );
        for (status, response) in responses {
            assert!(
                response["description"].is_string(),
                "{id} {status}: description"
            );
            if status.as_str() < "400" {
                continue;
            }
            let schema = &response["content"]["application/problem+json"]["schema"];
            assert_eq!(
                schema["$ref"], "#/components/schemas/Problem",
                "{id} {status}: errors are problem+json"
            );
            let kinds = response["x-problem-types"]
                .as_array()
                .expect("x-problem-types");
            assert!(!kinds.is_empty(), "{id} {status}: no problem types");
            for uri in kinds {
                let kind = ProblemType::from_uri(uri.as_str().unwrap()).expect("known type");
                assert_eq!(kind.status().to_string(), *status, "{id}: {uri}");
            }
        }
    }
}

#[test]
fn every_problem_type_is_listed() {
    let doc = document();
    let listed = doc["x-problem-types"].as_array().expect("x-problem-types");
    assert_eq!(listed.len(), ProblemType::ALL.len());
    let description = doc["info"]["description"].as_str().unwrap();
    for (entry, kind) in listed.iter().zip(ProblemType::ALL) {
        assert_eq!(entry["type"], kind.uri());
        assert_eq!(entry["status"], kind.status());
        assert_eq!(entry["title"], kind.title());
        assert!(description.contains(&kind.uri()), "{}", kind.uri());
    }
}
