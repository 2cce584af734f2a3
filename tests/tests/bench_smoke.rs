//! The load benchmark must not rot: its smoke mode (a tiny data set, about a second of load per
//! window) runs end to end on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set, and
//! reports every figure, the open-loop windows' too. How fast is not checked here: that is for `bench` in release mode.

use serde_json::Value;

fn number(value: &Value, path: &str) -> f64 {
    let mut v = value;
    for key in path.split('.') {
        v = &v[key];
    }
    v.as_f64()
        .unwrap_or_else(|| panic!("{path} is missing or not a number in {value}"))
}

fn check_figure(f: &Value, name: &str, with_ratios: bool) {
    for key in ["rps", "p50_ms", "p99_ms", "max_ms"] {
        let x = number(f, key);
        assert!(x > 0.0, "{name}.{key} = {x}");
    }
    assert!(number(f, "requests") > 0.0, "{name} sent no request");
    assert_eq!(
        number(f, "errors"),
        0.0,
        "{name} had unexpected answers: {}",
        f["samples"]
    );
    assert!(!f["samples"].as_array().expect("samples").is_empty());
    if with_ratios {
        for ceiling in ["vs_http_ceiling", "vs_dpop_floor"] {
            for key in ["rps", "p50", "p99", "max"] {
                let x = number(&f[ceiling], key);
                assert!(x > 0.0, "{name}.{ceiling}.{key} = {x}");
            }
        }
    }
}

#[test]
fn bench_smoke_runs_end_to_end_and_reports_every_figure() {
    let out = tempfile::tempdir().expect("temp dir");
    let mut backends = "sqlite".to_owned();
    if wp_tests::postgres_url().is_some() {
        backends.push_str(",postgres");
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["--smoke", "--backends", &backends, "--out"])
        .arg(out.path())
        .arg("--server-bin")
        .arg(env!("CARGO_BIN_EXE_wp-test-server"))
        .output()
        .expect("run the bench");
    assert!(
        output.status.success(),
        "the bench failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let text = std::fs::read_to_string(out.path().join("latest.json")).expect("latest.json");
    let report: Value = serde_json::from_str(&text).expect("JSON report");
    assert_eq!(report["mode"], "smoke");
    for key in ["nproc", "memory_mib"] {
        assert!(number(&report["machine"], key) > 0.0, "machine.{key}");
    }
    for key in ["cpu_model", "rustc", "kernel"] {
        assert!(report["machine"][key].as_str().is_some(), "machine.{key}");
    }
    let results = report["backends"].as_array().expect("backends");
    assert_eq!(results.len(), backends.split(',').count());
    for b in results {
        let name = b["backend"].as_str().expect("backend name");
        assert!(number(b, "seed.versions") > 0.0, "{name}: nothing seeded");
        assert!(number(b, "typical_read_bytes") > 0.0);
        let levels = b["levels"].as_array().expect("levels");
        assert!(!levels.is_empty(), "{name}: no level measured");
        for level in levels {
            let c = number(level, "concurrency");
            check_figure(&level["bare"], &format!("{name} c={c} bare"), false);
            check_figure(&level["verify"], &format!("{name} c={c} verify"), false);
            for scenario in ["read", "write", "sync"] {
                check_figure(&level[scenario], &format!("{name} c={c} {scenario}"), true);
            }
        }
        // The open loop (one share of the best throughput in smoke mode): every figure is there.
        let open_loop = b["open_loop"].as_array().expect("open_loop");
        assert!(!open_loop.is_empty(), "{name}: no open-loop window");
        for level in open_loop {
            let fraction = number(level, "fraction");
            assert!(fraction > 0.0, "{name}: open-loop fraction {fraction}");
            for scenario in ["read", "write", "sync"] {
                let s = &level[scenario];
                let label = format!("{name} open loop {fraction} {scenario}");
                for key in [
                    "max_rps",
                    "target_rps",
                    "sent_rps",
                    "achieved_rps",
                    "requests",
                    "ok",
                    "p50_ms",
                    "p99_ms",
                    "p999_ms",
                    "max_ms",
                    "connections",
                ] {
                    let x = number(s, key);
                    assert!(x > 0.0, "{label}.{key} = {x}");
                }
                assert_eq!(
                    number(s, "errors"),
                    0.0,
                    "{label} had unexpected answers: {s}"
                );
            }
        }
        for key in [
            "full_fetch_body_bytes",
            "full_fetch_wire_bytes",
            "incremental_body_bytes",
            "incremental_wire_bytes",
            "unchanged_304_wire_bytes",
            "request_wire_bytes",
            "ratio_body",
        ] {
            assert!(
                number(&b["sync_bytes"], key) > 0.0,
                "{name}: sync_bytes.{key}"
            );
        }
        assert_eq!(number(&b["sync_bytes"], "incremental_versions"), 1.0);
        assert_eq!(
            number(&b["sync_bytes"], "full_fetch_records"),
            number(&b["sync_bytes"], "records")
        );
        assert!(
            number(&b["memory"], "server_peak_mib") > 0.0,
            "{name}: memory"
        );
        let targets = b["targets"].as_array().expect("targets");
        assert_eq!(targets.len(), 7, "{name}: every target is evaluated");
        for t in targets {
            assert!(t["met"].is_boolean(), "{name}: {t}");
        }
    }
    let markdown = std::fs::read_to_string(out.path().join("latest.md")).expect("latest.md");
    assert!(markdown.contains("| scenario | conns | req/s |"));
    assert!(markdown.contains("(c) incremental sync"));
    assert!(markdown.contains("| scenario | load | target req/s | achieved req/s |"));
}
