//! Passports and their signed, versioned, encrypted records, on SQLite and PostgreSQL.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};
use wp_client::ClientError;
use wp_schemas::api::VERSION_TYP;
use wp_schemas::jose::{KeyRef, b64};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{Section, example_body};
use wp_tests::{
    Backend, PassportId, RecordId, TestServer, backend_tests, id, problem_of, raw_request,
};

fn summary(text: &str) -> Value {
    let mut body = example_body(Section::Summary);
    body["about_me"] = json!(text);
    body
}

async fn version_chain_round_trip(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let info = alice.create_passport().await.unwrap();
    let passport = alice.own_passport(&info.id);

    // A record in every section.
    let mut ids = Vec::new();
    for section in Section::ALL {
        let v = passport
            .create_record(section, example_body(section))
            .await
            .unwrap();
        assert_eq!(v.envelope.version, 1);
        ids.push((section, v.envelope.record_id.clone()));
    }
    let adjustment = ids
        .iter()
        .find(|(s, _)| *s == Section::Adjustments)
        .unwrap()
        .1
        .clone();

    // Three more versions of one adjustment: each names the previous one's hash.
    let mut signed = Vec::new();
    for review in ["2027-01-01", "2027-02-01", "2027-03-01"] {
        let mut body = example_body(Section::Adjustments);
        body["review_date"] = json!(review);
        let v = passport.update_record(&adjustment, body).await.unwrap();
        signed.push(v.envelope.jws.clone());
    }
    let history = passport.history(&adjustment).await.unwrap();
    assert_eq!(history.len(), 4);
    for (i, v) in history.iter().enumerate() {
        assert_eq!(v.envelope.version, i as i64 + 1);
        assert_eq!(v.author.id, alice.party_id().unwrap());
    }
    // Byte for byte what the author signed.
    let stored: Vec<_> = history[1..]
        .iter()
        .map(|v| v.envelope.jws.clone())
        .collect();
    assert_eq!(stored, signed);
    assert_eq!(
        history[2].payload.prev.as_deref(),
        Some(history[1].envelope.hash.as_str())
    );

    // The passport shows the latest version of each record, in every section.
    let view = passport.read().await.unwrap();
    for section in Section::ALL {
        assert_eq!(view.records(section).len(), 1, "{section}");
    }
    assert_eq!(view.records(Section::Adjustments)[0].envelope.version, 4);
    assert_eq!(view.seq, 9);

    // Delete is a signed tombstone: gone from the passport, kept in the history, final.
    let tombstone = passport.delete_record(&adjustment).await.unwrap();
    assert!(tombstone.envelope.deleted);
    assert!(
        passport
            .read()
            .await
            .unwrap()
            .records(Section::Adjustments)
            .is_empty()
    );
    assert_eq!(passport.history(&adjustment).await.unwrap().len(), 5);
    let after = passport
        .write_after(
            &tombstone.envelope,
            Some(example_body(Section::Adjustments)),
        )
        .await
        .unwrap_err();
    assert_eq!(after.problem_type(), Some(ProblemType::Conflict));

    // One passport per employee.
    assert_eq!(
        alice.create_passport().await.unwrap_err().problem_type(),
        Some(ProblemType::Conflict)
    );
    server.stop().await;
}

async fn concurrent_writers_lose_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let info = alice.create_passport().await.unwrap();
    let passport = alice.own_passport(&info.id);
    let first = passport
        .create_record(Section::Summary, summary("start"))
        .await
        .unwrap();

    // Round 1: 8 writers race for version 2 on top of version 1: exactly one wins.
    let attempts = (0..8).map(|i| {
        let passport = alice.own_passport(&info.id);
        let head = first.envelope.clone();
        async move {
            passport
                .write_after(&head, Some(summary(&format!("writer {i}"))))
                .await
        }
    });
    let results = wp_tests::join_all(attempts).await;
    let winners: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one winner");
    let winner = winners[0].as_ref().unwrap();
    for r in results.iter().filter(|r| r.is_err()) {
        match r.as_ref().unwrap_err() {
            ClientError::Conflict { current_head, .. } => {
                assert_eq!(current_head.hash, winner.envelope.hash)
            }
            other => panic!("expected a conflict with the current head, got {other}"),
        }
    }

    // Round 2: 8 writers each add a line, rebasing on 409: every line survives.
    let writers = (0..8).map(|i| {
        let passport = alice.own_passport(&info.id);
        let record = first.envelope.record_id.clone();
        async move {
            passport
                .rebase_and_write(&record, 50, |body| {
                    let mut body = body.clone();
                    body["what_helps"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!(format!("line {i}")));
                    body
                })
                .await
        }
    });
    for r in wp_tests::join_all(writers).await {
        r.unwrap();
    }
    let history = passport.history(&first.envelope.record_id).await.unwrap();
    assert_eq!(history.len(), 10);
    let last = history.last().unwrap().payload.body.clone().unwrap();
    let lines: BTreeSet<String> = last["what_helps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    for i in 0..8 {
        assert!(lines.contains(&format!("line {i}")), "line {i} was lost");
    }
    // The sequence is gap-free: 1..=10.
    let changes = passport.changes(0).await.unwrap();
    let seqs: Vec<i64> = changes.versions.iter().map(|v| v.seq).collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    server.stop().await;
}

fn payload(
    pid: &str,
    record: &str,
    section: &str,
    version: i64,
    prev: Option<&str>,
    author: &str,
    body: Value,
) -> Value {
    json!({
        "passport": pid, "record": record, "section": section, "version": version,
        "prev": prev, "author": author, "iat": wp_client::proofs::now(), "body": body,
    })
}

async fn bad_input_changes_nothing(backend: Backend) {
    let server = TestServer::start_with(backend, |s| s.max_records_per_passport = 3).await;
    let alice = server.employee("Alice").await;
    let bob = server.employee("Bob").await;
    let info = alice.create_passport().await.unwrap();
    let bobs = bob.create_passport().await.unwrap();
    let pid = info.id.clone();
    let passport = alice.own_passport(&pid);
    let record = passport
        .create_record(Section::Adjustments, example_body(Section::Adjustments))
        .await
        .unwrap();
    let rid = record.envelope.record_id.clone();
    let me = alice.party_id().unwrap().to_owned();
    let token = alice.access_token().await.unwrap();
    let key = alice.key().clone();
    let sign = |p: &Value| key.sign_json(VERSION_TYP, KeyRef::Kid, p);
    let new_rid = uuid::Uuid::new_v4().to_string();
    let adjustment = example_body(Section::Adjustments);
    let head_hash = record.envelope.hash.clone();

    let mut no_title = adjustment.clone();
    no_title.as_object_mut().unwrap().remove("title");
    let mut declined = adjustment.clone();
    declined["status"] = json!("declined");
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"wp-version+jws"}"#),
        b64(
            payload(&pid, &new_rid, "summary", 1, None, &me, summary("x"))
                .to_string()
                .as_bytes()
        )
    );
    let genuine = sign(&payload(
        &pid,
        &new_rid,
        "summary",
        1,
        None,
        &me,
        summary("x"),
    ));
    let mut parts: Vec<&str> = genuine.split('.').collect();
    let altered = b64(
        payload(&pid, &new_rid, "summary", 1, None, &me, summary("changed"))
            .to_string()
            .as_bytes(),
    );
    parts[1] = &altered;
    let tampered = parts.join(".");
    let bobs_signature = bob.key().sign_json(
        VERSION_TYP,
        KeyRef::Kid,
        &payload(&pid, &new_rid, "summary", 1, None, &me, summary("x")),
    );
    let huge = summary(&"x".repeat(70 * 1024));

    let records = format!("/v1/passports/{pid}/records");
    let versions = format!("/v1/passports/{pid}/records/{rid}/versions");
    let cases: Vec<(&str, &str, String, u16, ProblemType)> = vec![
        (
            "unknown section",
            &records,
            sign(&payload(&pid, &new_rid, "pets", 1, None, &me, json!({}))),
        ),
        (
            "body fails its schema",
            &records,
            sign(&payload(
                &pid,
                &new_rid,
                "adjustments",
                1,
                None,
                &me,
                no_title,
            )),
        ),
        (
            "declined without a reason",
            &records,
            sign(&payload(
                &pid,
                &new_rid,
                "adjustments",
                1,
                None,
                &me,
                declined,
            )),
        ),
        ("malformed JWS", &records, "not.a-jws".to_owned()),
        ("unsigned JWS", &records, unsigned),
        ("tampered payload", &records, tampered),
        ("signed by another party's key", &records, bobs_signature),
        (
            "payload names another passport",
            &records,
            sign(&payload(
                &bobs.id,
                &new_rid,
                "summary",
                1,
                None,
                &me,
                summary("x"),
            )),
        ),
        (
            "payload names another author",
            &records,
            sign(&payload(
                &pid,
                &new_rid,
                "summary",
                1,
                None,
                bob.party_id().unwrap(),
                summary("x"),
            )),
        ),
        (
            "record id not a UUID",
            &records,
            sign(&payload(
                &pid,
                "../etc",
                "summary",
                1,
                None,
                &me,
                summary("x"),
            )),
        ),
        (
            "new record not at version 1",
            &records,
            sign(&payload(
                &pid,
                &new_rid,
                "summary",
                2,
                Some(&head_hash),
                &me,
                summary("x"),
            )),
        ),
        (
            "payload names another record",
            &versions,
            sign(&payload(
                &pid,
                &new_rid,
                "adjustments",
                2,
                Some(&head_hash),
                &me,
                adjustment.clone(),
            )),
        ),
        (
            "version skips ahead",
            &versions,
            sign(&payload(
                &pid,
                &rid,
                "adjustments",
                3,
                Some(&head_hash),
                &me,
                adjustment.clone(),
            )),
        ),
        (
            "prev names another hash",
            &versions,
            sign(&payload(
                &pid,
                &rid,
                "adjustments",
                2,
                Some("AAAA"),
                &me,
                adjustment.clone(),
            )),
        ),
        (
            "stale version",
            &versions,
            sign(&payload(
                &pid,
                &rid,
                "adjustments",
                1,
                None,
                &me,
                adjustment.clone(),
            )),
        ),
        (
            "section changed",
            &versions,
            sign(&payload(
                &pid,
                &rid,
                "summary",
                2,
                Some(&head_hash),
                &me,
                summary("x"),
            )),
        ),
        (
            "body larger than the limit",
            &records,
            sign(&payload(&pid, &new_rid, "summary", 1, None, &me, huge)),
        ),
    ]
    .into_iter()
    .zip([
        (422, ProblemType::InvalidBody),
        (422, ProblemType::InvalidBody),
        (422, ProblemType::InvalidBody),
        (400, ProblemType::InvalidSignature),
        (400, ProblemType::InvalidSignature),
        (400, ProblemType::InvalidSignature),
        (400, ProblemType::InvalidSignature),
        (400, ProblemType::InvalidVersion),
        (400, ProblemType::InvalidSignature),
        (422, ProblemType::InvalidBody),
        (400, ProblemType::InvalidVersion),
        (400, ProblemType::InvalidVersion),
        (400, ProblemType::InvalidVersion),
        (409, ProblemType::VersionConflict),
        (409, ProblemType::VersionConflict),
        (400, ProblemType::InvalidVersion),
        (413, ProblemType::PayloadTooLarge),
    ])
    .map(|((name, path, jws), (status, kind))| (name, path.as_str(), jws, status, kind))
    .collect();

    let before = passport.read().await.unwrap();
    for (name, path, jws, status, kind) in &cases {
        let response = raw_request(
            &alice,
            Method::POST,
            path,
            &token,
            Some(&json!({ "jws": jws })),
        )
        .await;
        let (got, problem) = problem_of(response).await;
        assert_eq!(
            (got, problem.kind()),
            (*status, Some(*kind)),
            "{name}: {problem:?}"
        );
    }
    // The refused field is named.
    let response = raw_request(
        &alice,
        Method::POST,
        &records,
        &token,
        Some(&json!({"jws": cases[1].2})),
    )
    .await;
    assert_eq!(problem_of(response).await.1.errors[0].field, "body.title");
    // A request body that is not a SubmitVersion.
    let response = raw_request(
        &alice,
        Method::POST,
        &records,
        &token,
        Some(&json!({"jwt": "x"})),
    )
    .await;
    assert_eq!(problem_of(response).await.0, 422);

    // Nothing was written.
    let after = passport.read().await.unwrap();
    assert_eq!(after.seq, before.seq);
    assert_eq!(passport.history(&rid).await.unwrap().len(), 1);
    assert_eq!(after.records(Section::Summary).len(), 0);

    // The records-per-passport limit (3 here).
    passport
        .create_record(Section::Summary, summary("two"))
        .await
        .unwrap();
    passport
        .create_record(Section::Summary, summary("three"))
        .await
        .unwrap();
    let over = passport
        .create_record(Section::Summary, summary("four"))
        .await
        .unwrap_err();
    assert_eq!(over.problem_type(), Some(ProblemType::LimitExceeded));
    assert_eq!(passport.read().await.unwrap().seq, before.seq + 2);
    // The refusal is in the owner's log, like every refused write.
    let log = passport.verified_access_log().await.unwrap();
    let last_denied = log
        .iter()
        .rev()
        .find(|e| e.outcome == wp_schemas::api::Outcome::Denied)
        .expect("the refusal is logged");
    assert_eq!(last_denied.reason, "a passport holds at most 3 records");
    server.stop().await;
}

const MARKER: &str = "ZEBRA-CROSSING-4721 needs a quiet room";

/// The record's plaintext, and the base64url form it takes inside a JWS.
fn needles(jws: &str) -> Vec<Vec<u8>> {
    vec![
        MARKER.as_bytes().to_vec(),
        jws.split('.').nth(1).unwrap().as_bytes()[..40].to_vec(),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn no_plaintext_at_rest(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let info = alice.create_passport().await.unwrap();
    let passport = alice.own_passport(&info.id);
    let v = passport
        .create_record(Section::Summary, summary(MARKER))
        .await
        .unwrap();
    assert_eq!(
        passport
            .record(&v.envelope.record_id)
            .await
            .unwrap()
            .payload
            .body
            .unwrap()["about_me"],
        MARKER
    );

    let dumps: Vec<Vec<u8>> = match backend {
        Backend::Sqlite => {
            // The database file and its write-ahead log, as they are on disk.
            let dumps: Vec<Vec<u8>> = std::fs::read_dir(server.data_dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("passport.db")
                })
                .map(|p| std::fs::read(p).unwrap())
                .collect();
            assert!(dumps.len() >= 2, "database file and WAL");
            server.stop().await;
            dumps
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&server.database_url).await.unwrap();
            let mut dumps = Vec::new();
            for table in [
                "parties",
                "party_keys",
                "passports",
                "passport_keys",
                "records",
                "record_versions",
                "grants",
                "access_log",
            ] {
                let rows: Vec<(String,)> =
                    sqlx::query_as(&format!("SELECT t::text FROM {table} t"))
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                dumps.extend(rows.into_iter().map(|r| r.0.into_bytes()));
            }
            let sealed: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT sealed FROM record_versions")
                .fetch_all(&pool)
                .await
                .unwrap();
            dumps.extend(sealed.into_iter().map(|r| r.0));
            assert!(!dumps.is_empty());
            pool.close().await;
            server.stop().await;
            dumps
        }
    };
    for needle in needles(&v.envelope.jws) {
        for dump in &dumps {
            assert!(
                !contains(dump, &needle),
                "plaintext found at rest: {}",
                String::from_utf8_lossy(&needle)
            );
        }
    }
}

async fn erasure_shreds_the_data_key(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let info = alice.create_passport().await.unwrap();
    let passport = alice.own_passport(&info.id);
    let v = passport
        .create_record(Section::Conditions, example_body(Section::Conditions))
        .await
        .unwrap();

    // An attacker's copy of the ciphertext, taken before erasure.
    let store = server.store().await;
    let (pid, rid): (PassportId, RecordId) = (id(&info.id), id(&v.envelope.record_id));
    let copy = store.history(&pid, &rid).await.unwrap();
    assert_eq!(copy.len(), 1);
    let master =
        wp_server::keys::MasterKeys::load(None, &server.data_dir.path().join("master-keys.json"))
            .unwrap();
    let key = wp_server::vault::data_key(&store, &master, &pid)
        .await
        .unwrap()
        .unwrap();
    assert!(
        wp_server::vault::open(&key, &pid, copy[0].clone()).is_ok(),
        "readable before erasure"
    );

    // Only the owner erases.
    let bob = server.employee("Bob").await;
    let refused = bob.own_passport(&info.id).erase().await.unwrap_err();
    assert_eq!(refused.problem_type(), Some(ProblemType::Forbidden));
    passport.erase().await.unwrap();

    // Gone for every reader, and the data key with it.
    assert_eq!(
        passport.read().await.unwrap_err().problem_type(),
        Some(ProblemType::Gone)
    );
    assert_eq!(
        passport
            .history(&v.envelope.record_id)
            .await
            .unwrap_err()
            .problem_type(),
        Some(ProblemType::Gone)
    );
    assert!(
        wp_server::vault::data_key(&store, &master, &pid)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.history(&pid, &rid).await.unwrap().is_empty());
    // With every master key the server has, the copied ciphertext stays unreadable: no data key
    // is left to unwrap, and a fresh passport's key is another key.
    let other = server.employee("Carol").await;
    let other_info = other.create_passport().await.unwrap();
    let other_key = wp_server::vault::data_key(&store, &master, &id(&other_info.id))
        .await
        .unwrap()
        .unwrap();
    assert!(wp_server::vault::open(&other_key, &pid, copy[0].clone()).is_err());
    // The employee can start again with a new passport.
    let again = alice.create_passport().await.unwrap();
    assert_ne!(again.id, info.id);
    store.close().await;
    server.stop().await;
}

/// Dates are RFC 3339 full-dates, exactly YYYY-MM-DD. A loosely written date used to be stored,
/// and then the employer's agreement, which copies the body and changes only `status` and
/// `agreed_by`, was refused because the server compared JSON text with its re-serialised form.
async fn dates_are_strict_and_agreements_compare_values(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let acme = server.employer("Acme").await;
    let info = alice.create_passport().await.unwrap();
    let mine = alice.own_passport(&info.id);

    // Every date field of every section refuses a loose date, naming the field.
    for (section, field) in [
        (Section::Adjustments, "start_date"),
        (Section::Adjustments, "review_date"),
        (Section::FitNotes, "assessed_on"),
        (Section::FitNotes, "period_from"),
        (Section::Plans, "review_date"),
    ] {
        for loose in ["2026-1-5", "+2026-01-05", "2026-01-05T00:00:00Z"] {
            // The other dates are set so that the only fault is the one written loosely.
            let mut body = example_body(section);
            let object = body.as_object_mut().unwrap();
            object.remove("start_date");
            object.remove("review_date");
            if section == Section::FitNotes {
                body["assessed_on"] = json!("2000-01-01");
                body["period_from"] = json!("2000-01-01");
                body["period_to"] = json!("2099-12-31");
            }
            body[field] = json!(loose);
            let refused = mine.create_record(section, body).await.unwrap_err();
            let ClientError::Api { problem } = &refused else {
                panic!("{section}.{field} = {loose}: {refused:?}");
            };
            assert_eq!(
                (problem.kind(), problem.errors[0].field.as_str()),
                (
                    Some(ProblemType::InvalidBody),
                    format!("body.{field}").as_str()
                ),
                "{section}.{field} = {loose}"
            );
        }
    }
    assert_eq!(mine.read().await.unwrap().seq, 0, "nothing was stored");

    // A requested adjustment, with dates, agreed by the employer through the library.
    let mut requested = example_body(Section::Adjustments);
    requested["status"] = json!("requested");
    requested["start_date"] = json!("2026-01-05");
    requested["review_date"] = json!("2026-07-06");
    requested.as_object_mut().unwrap().remove("agreed_by");
    let record = mine
        .create_record(Section::Adjustments, requested.clone())
        .await
        .unwrap();
    let rid = record.envelope.record_id.clone();
    let grant = mine
        .grant(&wp_schemas::api::CreateGrant {
            grantee: acme.party_id().unwrap().to_owned(),
            roles: Vec::new(),
            members: Vec::new(),
            scopes: vec![wp_schemas::api::Scope {
                section: Section::Adjustments,
                actions: vec![
                    wp_schemas::api::Action::Read,
                    wp_schemas::api::Action::Agree,
                ],
            }],
            purpose: "workplace adjustments".into(),
            starts_at: None,
            ends_at: chrono::Utc::now() + chrono::Duration::days(1),
            consent_text: "I agree.".into(),
        })
        .await
        .unwrap();
    let as_acme = acme.granted_passport(&grant.id).await.unwrap();
    let head = as_acme.record(&rid).await.unwrap();

    // The same body written another way (members reordered, an explicit null for an absent
    // member) is the same body: the agreement is accepted.
    let mut reordered = serde_json::Map::new();
    let previous = head.payload.body.clone().unwrap();
    for (k, v) in previous.as_object().unwrap().iter().rev() {
        reordered.insert(k.clone(), v.clone());
    }
    reordered.insert("status".into(), json!("agreed"));
    reordered.insert("agreed_by".into(), json!("Sam Patel, line manager"));
    reordered.insert("declined_reason".into(), Value::Null);
    // The agreement, with its date written loosely: refused as a body, not as an agreement.
    let mut loose = Value::Object(reordered.clone());
    loose["start_date"] = json!("2026-1-5");
    let refused = as_acme
        .write_after(&head.envelope, Some(loose))
        .await
        .unwrap_err();
    assert_eq!(refused.problem_type(), Some(ProblemType::InvalidBody));
    let agreed = as_acme
        .write_after(&head.envelope, Some(Value::Object(reordered)))
        .await
        .unwrap();
    assert_eq!(agreed.envelope.version, 2);
    let body = agreed.payload.body.unwrap();
    assert_eq!(body["start_date"], "2026-01-05");
    assert_eq!(body["status"], "agreed");
    server.stop().await;
}

backend_tests!(
    version_chain_round_trip,
    concurrent_writers_lose_nothing,
    bad_input_changes_nothing,
    no_plaintext_at_rest,
    erasure_shreds_the_data_key,
    dates_are_strict_and_agreements_compare_values,
);
