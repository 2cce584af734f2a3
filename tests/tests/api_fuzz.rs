//! A schema-driven fuzz run against the real server, on SQLite and PostgreSQL: Schemathesis
//! generates requests from `/openapi.json` for a bounded time, authenticated with DPoP
//! credentials (tests/fuzz/hooks.py), and the test fails on any 5xx and on any response the
//! document does not describe (status code, content type, headers, body schema, problem type,
//! members the document does not name, 405 and `Allow` for a method it does not list), and on a
//! request the document forbids being accepted.
//!
//! Schemathesis is found through `WP_SCHEMATHESIS` (the executable; `.ci/run` installs a pinned
//! one into `target/ci-venv`) or on `PATH`. Without it the test is skipped loudly, and in CI
//! (`CI` set) it fails instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use wp_client::Client;
use wp_schemas::api::{Action, CreateGrant, Scope};
use wp_schemas::sections::{Section, example_body};
use wp_tests::{Backend, TestServer, backend_tests};

/// The time budget of one run (per backend), in seconds; generation repeats until it is spent.
/// `WP_FUZZ_SECONDS` overrides it, to fuzz longer by hand.
const MAX_TIME_SECONDS: &str = "25";

/// The seed of CI's run: fixed, so that a run is the same requests every time and a failure it
/// finds is found again on the next run (and on a clean clone). `WP_FUZZ_SEED=<number>` runs
/// another seed; `WP_FUZZ_SEED=random` a new one each time, to explore. The seed is printed
/// with the report, and named in the failure.
const DEFAULT_SEED: u64 = 20_261_206;

fn seed() -> u64 {
    match std::env::var("WP_FUZZ_SEED") {
        Ok(text) if text == "random" => {
            let bytes = uuid::Uuid::new_v4().into_bytes();
            u64::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        }
        Ok(text) if !text.is_empty() => text
            .parse()
            .unwrap_or_else(|_| panic!("WP_FUZZ_SEED={text:?}: a number, or `random`")),
        _ => DEFAULT_SEED,
    }
}

const INSTALL: &str = "python3 -m venv target/ci-venv && target/ci-venv/bin/pip install \
     -r tests/fuzz/requirements.txt, then set WP_SCHEMATHESIS=$PWD/target/ci-venv/bin/schemathesis \
     (bash .ci/run does this)";

/// The schemathesis executable, or None after saying loudly that the test is skipped.
fn schemathesis() -> Option<PathBuf> {
    let found = match std::env::var_os("WP_SCHEMATHESIS") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("schemathesis"))
                .find(|candidate| candidate.is_file())
        }),
    };
    match found {
        Some(path) if path.is_file() => Some(path),
        Some(path) => panic!("WP_SCHEMATHESIS={} is not a file", path.display()),
        None if std::env::var_os("CI").is_some() => {
            panic!("schemathesis is not installed in CI: the API fuzz run must run ({INSTALL})")
        }
        None => {
            wp_tests::say_skipped(&format!("API fuzz (install with: {INSTALL})"));
            None
        }
    }
}

fn scope(section: Section, actions: &[Action]) -> Scope {
    Scope {
        section,
        actions: actions.to_vec(),
    }
}

fn identity(client: &Client, grant_id: Option<&str>) -> serde_json::Value {
    let jwk: serde_json::Value = serde_json::from_str(&client.key().to_json()).expect("jwk");
    let mut identity = json!({"party_id": client.party_id().expect("party id"), "jwk": jwk});
    if let Some(grant_id) = grant_id {
        identity["grant_id"] = json!(grant_id);
    }
    identity
}

async fn api_fuzz(backend: Backend) {
    let Some(schemathesis) = schemathesis() else {
        return;
    };
    let server = TestServer::start(backend).await;
    let admin = server.admin();

    // The owner: an employee with a passport and records in several sections, one of them with
    // two versions and one deleted.
    let owner = server.employee("Fuzz Owner").await;
    let pid = owner.create_passport().await.expect("passport").id;
    let passport = owner.own_passport(&pid);
    let mut rids = Vec::new();
    for section in [
        Section::Summary,
        Section::Impacts,
        Section::Adjustments,
        Section::FitNotes,
        Section::Plans,
    ] {
        let version = passport
            .create_record(section, example_body(section))
            .await
            .expect("record");
        rids.push(version.envelope.record_id.clone());
    }
    let mut body = example_body(Section::Adjustments);
    body["notes"] = json!("Reviewed after a month.");
    passport
        .update_record(&rids[2], body)
        .await
        .expect("version 2");
    let gone = passport
        .create_record(Section::Conditions, example_body(Section::Conditions))
        .await
        .expect("record");
    passport
        .delete_record(&gone.envelope.record_id)
        .await
        .expect("tombstone");
    rids.push(gone.envelope.record_id.clone());

    // Grantees: an employer and a professional with active grants (used throughout the run with
    // consent tokens), and grants the fuzzer may revoke.
    let employer = server.employer("Acme Ltd HR").await;
    let professional = server.professional("Jo Smith OT").await;
    let locum = server.professional("Sam Locum OT").await;
    let grant = |grantee: &str, scopes: Vec<Scope>| CreateGrant {
        grantee: grantee.into(),
        roles: Vec::new(),
        members: Vec::new(),
        scopes,
        purpose: "workplace adjustments at Acme Ltd".into(),
        starts_at: None,
        ends_at: chrono::Utc::now() + chrono::Duration::days(90),
        consent_text: "I agree to share these sections for my workplace adjustments.".into(),
    };
    let employer_grant = passport
        .grant(&grant(
            employer.party_id().unwrap(),
            vec![
                scope(Section::Summary, &[Action::Read]),
                scope(Section::Adjustments, &[Action::Read, Action::Agree]),
            ],
        ))
        .await
        .expect("employer grant");
    let professional_grant = passport
        .grant(&grant(
            professional.party_id().unwrap(),
            vec![
                scope(Section::Plans, &[Action::Read, Action::Write]),
                scope(Section::FitNotes, &[Action::Write]),
            ],
        ))
        .await
        .expect("professional grant");
    let mut gids = vec![employer_grant.id.clone(), professional_grant.id.clone()];
    for _ in 0..3 {
        let sacrificial = passport
            .grant(&grant(
                locum.party_id().unwrap(),
                vec![scope(Section::Summary, &[Action::Read])],
            ))
            .await
            .expect("grant");
        gids.push(sacrificial.id);
    }

    // The victim: `DELETE /v1/passports/{pid}` runs as this employee, on this passport.
    let victim = server.employee("Fuzz Victim").await;
    let victim_pid = victim.create_passport().await.expect("passport").id;
    victim
        .own_passport(&victim_pid)
        .create_record(Section::Summary, example_body(Section::Summary))
        .await
        .expect("record");

    let parties = [&owner, &employer, &professional, &locum, &victim, &admin];
    let config = json!({
        "base_url": server.url,
        "identities": {
            "owner": identity(&owner, None),
            "victim": identity(&victim, None),
            "admin": identity(&admin, None),
            "employer": identity(&employer, Some(&employer_grant.id)),
            "professional": identity(&professional, Some(&professional_grant.id)),
        },
        "ids": {
            // Mostly the owner's passport; sometimes the victim's (erased during the run: 410).
            "pid": [pid, pid, pid, victim_pid],
            "rid": rids,
            "party_id": parties.iter().map(|c| c.party_id().unwrap()).collect::<Vec<_>>(),
            "kid": parties.iter().map(|c| c.key().kid()).collect::<Vec<_>>(),
            "gid": gids,
        },
        "victim_pid": victim_pid,
        "example_bodies": Section::ALL
            .iter()
            .map(|&section| (section.as_str().to_owned(), example_body(section)))
            .collect::<serde_json::Map<_, _>>(),
        "protected_gids": [employer_grant.id, professional_grant.id],
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("fuzz.json");
    std::fs::write(&config_path, config.to_string()).expect("write config");

    let url = server.url.clone();
    let report_dir = dir.path().join("report");
    let seed = seed();
    let output = tokio::task::spawn_blocking({
        let report_dir = report_dir.clone();
        move || run_schemathesis(&schemathesis, &url, &config_path, &report_dir, seed)
    })
    .await
    .expect("schemathesis thread");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let statuses = std::fs::read_to_string(report_dir.join("statuses.txt")).unwrap_or_default();
    println!(
        "--- schemathesis ({backend:?}, seed {seed}) ---\n{stdout}\n{stderr}\n\
         --- status codes per operation ({backend:?}) ---\n{statuses}"
    );
    assert!(
        output.status.success(),
        "the API fuzz run on {backend:?} with seed {seed} failed ({}): see schemathesis's report \
         above; run it again with WP_FUZZ_SEED={seed}",
        output.status
    );
    server.stop().await;
}

fn run_schemathesis(
    executable: &Path,
    url: &str,
    config: &Path,
    report_dir: &Path,
    seed: u64,
) -> std::process::Output {
    let max_time = std::env::var("WP_FUZZ_SECONDS").unwrap_or_else(|_| MAX_TIME_SECONDS.into());
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let hooks = fuzz.join("hooks.py");
    Command::new(executable)
        .arg("--config-file")
        .arg(fuzz.join("schemathesis.toml"))
        .args(["--no-color", "run"])
        .arg(format!("{url}/openapi.json"))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,\
             problem_type_conformance,no_undocumented_response_members,unsupported_method,allow_header_conformance,negative_data_rejection",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-time",
            &max_time,
            // One worker: concurrent generation in one Python process trips a CPython 3.11 bug
            // (gh-106905: "SystemError: AST constructor recursion depth mismatch", from
            // Hypothesis's lambda descriptions), which crashed the coverage phase. The two
            // backends run side by side anyway.
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--seed",
            &seed.to_string(),
            // Nothing kept between runs: every run starts from the document alone.
            "--generation-database",
            "none",
            "--report-dir",
        ])
        .arg(report_dir)
        // Its caches and reports go to the temporary directory, not into the source tree.
        .current_dir(report_dir.parent().expect("temp dir"))
        .env("SCHEMATHESIS_HOOKS", hooks)
        .env("WP_FUZZ_CONFIG", config)
        // The hooks' own choices (which identity sends a request) follow the same seed.
        .env("WP_FUZZ_SEED", seed.to_string())
        .env("WP_FUZZ_STATS", report_dir.join("statuses.txt"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run schemathesis")
}

backend_tests!(api_fuzz);
