//! The Prometheus metrics on their own listener (`--metrics-listen`, docs/PROTOCOL.md section
//! 11.1): off by default, never on the API's port, and what a scrape says, read by an
//! independent parser (the Prometheus project's Python client, pinned in
//! tests/fuzz/requirements.txt) rather than by this crate's own reading of the format.
//!
//! The parser's Python is `WP_TEST_PYTHON`, or the `python` beside `WP_SCHEMATHESIS` (both set by
//! `.ci/run`, in target/ci-venv). Without it the parse is skipped loudly, and in CI (`CI` set) it
//! fails instead.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::Parser as _;
use serde::Deserialize;
use wp_schemas::sections::{Section, example_body};
use wp_tests::{Backend, TestServer, backend_tests};

const INSTALL: &str = "python3 -m venv target/ci-venv && target/ci-venv/bin/pip install \
     -r tests/fuzz/requirements.txt, then set WP_TEST_PYTHON=$PWD/target/ci-venv/bin/python \
     (bash .ci/run does this)";

/// Text that belongs to a passport's health data: it must never reach a metric.
const HEALTH_TEXT: &str = "Metrics-sentinel migraine with aura";

/// Parses the Prometheus text format read on stdin and prints its families as JSON.
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = [
    {"name": f.name, "type": f.type,
     "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]}
    for f in text_string_to_metric_families(sys.stdin.read())
]
json.dump(families, sys.stdout)
"#;

#[derive(Debug, Deserialize)]
struct Family {
    name: String,
    r#type: String,
    samples: Vec<Sample>,
}

#[derive(Debug, Deserialize)]
struct Sample {
    name: String,
    labels: std::collections::BTreeMap<String, String>,
    value: f64,
}

/// The venv's Python, or None after saying loudly that the parse is skipped.
fn python() -> Option<PathBuf> {
    let found = match std::env::var_os("WP_TEST_PYTHON") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => std::env::var_os("WP_SCHEMATHESIS")
            .filter(|path| !path.is_empty())
            .and_then(|path| Some(PathBuf::from(path).parent()?.join("python"))),
    };
    match found {
        Some(path) if path.is_file() => Some(path),
        _ if std::env::var_os("CI").is_some() => {
            panic!("the metrics parser's Python is not installed in CI ({INSTALL})")
        }
        _ => {
            wp_tests::say_skipped(&format!(
                "metrics: parsing the scrape with prometheus_client (install with: {INSTALL})"
            ));
            None
        }
    }
}

fn parse(python: &std::path::Path, text: &str) -> Vec<Family> {
    use std::io::Write as _;
    let mut child = std::process::Command::new(python)
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the metrics parser");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write the scrape");
    let output = child.wait_with_output().expect("the parser's output");
    assert!(
        output.status.success(),
        "prometheus_client refused the scrape: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the parser's JSON")
}

/// Whether `text` holds a UUID (8-4-4-4-12 hex digits): every id this server makes is one.
fn holds_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.windows(36).any(|w| {
        w.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
    })
}

#[test]
fn metrics_are_off_by_default() {
    let cli = wp_server::config::Cli::try_parse_from(["work-passport-server"]).expect("no flags");
    if std::env::var_os("WP_METRICS_LISTEN").is_none() {
        assert_eq!(cli.settings.metrics_listen, None);
    }
    let settings = wp_server::Settings::for_data_dir("unused");
    assert_eq!(settings.metrics_listen, None);
}

/// A success, a problem on no route, a refused token and a record with health text, then one
/// scrape: every family there with its labels, the requests under their route templates, and
/// no id and no health text anywhere in it.
async fn scrape_counts_requests_by_template_and_names_nothing(backend: Backend) {
    let metrics_addr = format!("127.0.0.1:{}", wp_tests::free_port());
    let parsed_addr = metrics_addr.parse().expect("an address");
    let server = TestServer::start_with(backend, |s| s.metrics_listen = Some(parsed_addr)).await;
    let metrics_url = format!("http://{metrics_addr}/metrics");

    let owner = server.employee("Metrics Person").await;
    let info = owner.create_passport().await.expect("create passport");
    let passport = owner.own_passport(&info.id);
    let mut body = example_body(Section::Summary);
    body["about_me"] = HEALTH_TEXT.into();
    passport
        .create_record(Section::Summary, body)
        .await
        .expect("write a record");
    // Twice: the second read finds its heads and its token in the caches.
    passport.read().await.expect("read");
    passport.read().await.expect("read again");
    let nowhere = format!("{}/v1/nowhere/{}", server.url, info.id);
    let missing = server.http.get(&nowhere).send().await.expect("request");
    assert_eq!(missing.status(), 404);
    let refused = wp_tests::raw_request(
        &owner,
        reqwest::Method::GET,
        &format!("/v1/passports/{}", info.id),
        "not-a-token",
        None,
    )
    .await;
    assert_eq!(refused.status(), 401);

    // The API's port serves no metrics; the metrics port serves nothing else.
    let api = server
        .http
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404, "the API's port must not serve /metrics");
    let http = reqwest::Client::new();
    for path in ["/healthz", "/openapi.json", "/"] {
        let other = http
            .get(format!("http://{metrics_addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 404, "{path} on the metrics listener");
    }

    let scrape = http.get(&metrics_url).send().await.expect("scrape");
    assert_eq!(scrape.status(), 200);
    assert_eq!(
        scrape.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = scrape.text().await.expect("scrape text");
    assert!(!holds_uuid(&text), "an id in the metrics:\n{text}");
    for private in [HEALTH_TEXT, "Metrics Person", &info.id] {
        assert!(
            !text.contains(private),
            "{private:?} in the metrics:\n{text}"
        );
    }
    server.stop().await;

    let Some(python) = python() else {
        return;
    };
    let families = parse(&python, &text);
    let family = |name: &str| {
        families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no family {name} in:\n{text}"))
    };
    for (name, kind, labels) in [
        (
            "wp_http_requests",
            "counter",
            &["method", "route", "status"][..],
        ),
        (
            "wp_http_request_duration_seconds",
            "histogram",
            &["method", "route"],
        ),
        ("wp_problems", "counter", &["type"]),
        ("wp_auth_refusals", "counter", &["reason"]),
        ("wp_cache_hits", "counter", &["cache"]),
        ("wp_cache_misses", "counter", &["cache"]),
        ("wp_group_commit_batch_size", "histogram", &[]),
        ("wp_group_commit_seconds", "histogram", &[]),
        ("wp_db_acquire_wait_seconds", "histogram", &[]),
        ("wp_db_connections", "gauge", &["state"]),
        ("wp_db_connections_max", "gauge", &[]),
        ("wp_replay_jtis", "gauge", &[]),
        ("wp_build_info", "gauge", &["version"]),
        ("process_resident_memory_bytes", "gauge", &[]),
        ("process_cpu_seconds", "counter", &[]),
    ] {
        let f = family(name);
        assert_eq!(f.r#type, kind, "{name}'s type");
        assert!(!f.samples.is_empty(), "{name} has samples");
        for sample in &f.samples {
            let names: BTreeSet<&str> = sample
                .labels
                .keys()
                .map(String::as_str)
                .filter(|l| *l != "le")
                .collect();
            assert_eq!(
                names,
                labels.iter().copied().collect(),
                "{}'s labels",
                sample.name
            );
        }
    }

    let count = |family_name: &str, labels: &[(&str, &str)]| -> f64 {
        family(family_name)
            .samples
            .iter()
            .filter(|s| !s.name.ends_with("_created"))
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
            })
            .map(|s| s.value)
            .sum()
    };
    let requests = |route: &str, status: &str| {
        count("wp_http_requests", &[("route", route), ("status", status)])
    };
    assert!(requests("/v1/passports/{pid}", "200") >= 2.0, "{text}");
    assert!(requests("/v1/passports/{pid}", "401") >= 1.0, "{text}");
    let written: f64 = family("wp_http_requests")
        .samples
        .iter()
        .filter(|s| s.labels["route"] == "/v1/passports/{pid}/records")
        .filter(|s| s.labels["status"].starts_with('2'))
        .map(|s| s.value)
        .sum();
    assert!(written >= 1.0, "{text}");
    assert!(requests("unmatched", "404") >= 1.0, "{text}");
    assert!(count("wp_problems", &[("type", "not-found")]) >= 1.0);
    assert!(count("wp_problems", &[("type", "invalid-token")]) >= 1.0);
    assert!(count("wp_auth_refusals", &[("reason", "invalid-token")]) >= 1.0);
    assert!(count("wp_cache_hits", &[("cache", "heads")]) >= 1.0);
    assert!(count("wp_cache_misses", &[("cache", "heads")]) >= 1.0);
    assert!(count("wp_cache_hits", &[("cache", "verified_tokens")]) >= 1.0);
    let batches = family("wp_group_commit_batch_size")
        .samples
        .iter()
        .find(|s| s.name == "wp_group_commit_batch_size_count")
        .expect("a batch count");
    assert!(batches.value >= 1.0, "{text}");
    assert!(
        count("wp_replay_jtis", &[]) >= 1.0,
        "proofs were admitted: {text}"
    );
    assert!(count("wp_db_connections_max", &[]) >= 1.0);
    assert!(count("process_resident_memory_bytes", &[]) > 0.0);

    // Every route is a template of the route table (or `unmatched`), every label value static.
    let templates: BTreeSet<&str> = family("wp_http_requests")
        .samples
        .iter()
        .map(|s| s.labels["route"].as_str())
        .collect();
    for route in &templates {
        assert!(
            *route == "unmatched" || (route.starts_with('/') && !holds_uuid(route)),
            "route label {route:?}"
        );
    }
    for f in &families {
        for sample in &f.samples {
            for value in sample.labels.values() {
                assert!(!holds_uuid(value), "{} label value {value:?}", sample.name);
                assert!(value.len() < 64, "{} label value {value:?}", sample.name);
            }
        }
    }
}

backend_tests!(scrape_counts_requests_by_template_and_names_nothing);
