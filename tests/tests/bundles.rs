//! The passport travels (docs/BUNDLE.md): an owner exports their passport as a bundle signed by
//! the server and by them, anyone checks it with no server, and the owner moves it to a second
//! server (its own database and keys), which checks it whole, keeps every original signature
//! and the old access log verifiable, and carries on. Every bad bundle is refused, and nothing
//! of it is written.
//!
//! The move goes from a SQLite server to a PostgreSQL one (`TEST_DATABASE_URL`; skipped loudly
//! without it, failing in CI). `tests/fixtures/bundle-v2.json` is a bundle written by this code
//! that must keep verifying (`UPDATE_BUNDLE_FIXTURE=1` rewrites it, which a format change must
//! never need); `bundle-v1.json`, of the first format, must keep being read and reported as not
//! attested.
//!
//! The attacks of issue 23 run through three real servers on each database: a copy of someone's
//! bundle takes no passport over, an import plants no key on anyone and changes no party known
//! here, and an owner cannot launder a fabricated agreement by re-signing the bundle.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use wp_client::SigningKey;
use wp_client::bundle::{self, Report};
use wp_client::{Client, ClientError};
use wp_schemas::api::{Action, CreateGrant, LogAction, Party, PartyKind, Role, Scope};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{Section, example_body};
use wp_tests::{Backend, TestServer, backend_tests, on_db, postgres_url, problem_of, reattest};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/bundle-v2.json");
const FIXTURE_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/bundle-v1.json");

fn scope(section: Section, actions: &[Action]) -> Scope {
    Scope {
        section,
        actions: actions.to_vec(),
    }
}

fn grant(grantee: &str, roles: &[Role], scopes: Vec<Scope>) -> CreateGrant {
    CreateGrant {
        grantee: grantee.to_owned(),
        roles: roles.to_vec(),
        members: Vec::new(),
        scopes,
        purpose: "Workplace adjustments".into(),
        starts_at: None,
        ends_at: Utc::now() + Duration::days(30),
        consent_text: "I agree to share these sections until the end date.".into(),
    }
}

/// A passport on `server` with versions by its owner (Alex), an occupational therapist (Dana)
/// and an employer's agreement (Priya, HR at Acme Ltd). Returns Alex, the passport id and the
/// adjustment's record id, and Dana.
async fn passport_with_history(server: &TestServer) -> (Client, String, String, Client) {
    let alex = server.employee("Alex Smith").await;
    let pid = alex.create_passport().await.unwrap().id;
    let own = alex.own_passport(&pid);
    own.create_record(Section::Summary, example_body(Section::Summary))
        .await
        .unwrap();
    let adjustment = own
        .create_record(
            Section::Adjustments,
            json!({"title": "Noise-cancelling headphones",
                   "category": "equipment_assistive_technology",
                   "addresses": "Concentration in the open-plan office.",
                   "status": "requested", "review_date": "2031-03-03"}),
        )
        .await
        .unwrap();
    let rid = adjustment.envelope.record_id.clone();

    let dana = server.professional("Dana Okafor").await;
    let ot = own
        .grant(&grant(
            dana.party_id().unwrap(),
            &[],
            vec![
                scope(Section::Adjustments, &[Action::Read, Action::Write]),
                scope(Section::FitNotes, &[Action::Read, Action::Write]),
            ],
        ))
        .await
        .unwrap();
    let as_dana = dana.granted_passport(&ot.id).await.unwrap();
    let mut body = as_dana.record(&rid).await.unwrap().payload.body.unwrap();
    body["notes"] = json!("Also a quiet room two afternoons a week.");
    as_dana.update_record(&rid, body).await.unwrap();
    as_dana
        .create_record(Section::FitNotes, example_body(Section::FitNotes))
        .await
        .unwrap();

    let acme = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let priya = server.member(&acme.id, Role::Hr, "Priya Shah").await;
    let hr = own
        .grant(&grant(
            &acme.id,
            &[Role::Hr],
            vec![scope(Section::Adjustments, &[Action::Read, Action::Agree])],
        ))
        .await
        .unwrap();
    let as_priya = priya.granted_passport(&hr.id).await.unwrap();
    as_priya.agree_adjustment_as_member(&rid).await.unwrap();
    own.revoke(&ot.id).await.unwrap();
    own.read().await.unwrap();
    (alex, pid, rid, dana)
}

fn failures_mention(report: &Report, text: &str) -> bool {
    report.failures.iter().any(|f| f.contains(text))
}

/// Flips one character of `text` at `at` to another base64url character.
fn flip(text: &str, at: usize) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_verifies_offline_and_says_what_it_proves() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (alex, pid, rid, _) = passport_with_history(&server).await;
    let bundle = alex.own_passport(&pid).export().await.unwrap();
    assert_eq!(bundle["format"], bundle::BUNDLE_FORMAT);
    let report = bundle::verify(&bundle);
    assert!(report.is_sound(), "{:#?}", report.failures);
    assert_eq!(report.versions, 5);
    let proves = report.proves.join("\n");
    for expected in [
        "Alex Smith (the employee) released exactly this bundle",
        "Dana Okafor (professional: occupational therapist, HCPC",
        &format!("Priya Shah (HR at Acme Ltd) agreed adjustments record {rid} (version 3)"),
        "chain one to the next",
        "having agreed to: \"I agree to share these sections until the end date.\"",
    ] {
        assert!(proves.contains(expected), "{expected:?} not in:\n{proves}");
    }
    // Grants travel in the bundle with their consent text, revoked ones too.
    assert_eq!(bundle["body"]["grants"].as_array().unwrap().len(), 2);
    // The export is an owner read: logged after it, as `exported`.
    let log = alex.own_passport(&pid).verified_access_log().await.unwrap();
    let last_in_bundle = bundle["body"]["access_log"].as_array().unwrap().len() as i64;
    let exported = log.iter().find(|e| e.seq == last_in_bundle + 1).unwrap();
    assert_eq!(exported.action, LogAction::Exported);
    // Only the owner exports; the refusal is logged too.
    let acme_member = server.employee("Mallory").await;
    let refused = acme_member.own_passport(&pid).export().await.unwrap_err();
    assert_eq!(refused.problem_type(), Some(ProblemType::Forbidden));

    if std::env::var("UPDATE_BUNDLE_FIXTURE").is_ok_and(|v| v == "1") {
        let text = serde_json::to_string_pretty(&bundle).unwrap() + "\n";
        std::fs::create_dir_all(std::path::Path::new(FIXTURE).parent().unwrap()).unwrap();
        std::fs::write(FIXTURE, text).unwrap();
        // The server's published keys beside it: what check 8 compares the attestation with.
        let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", server.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let text = serde_json::to_string_pretty(&jwks).unwrap() + "\n";
        std::fs::write(FIXTURE.replace(".json", ".jwks.json"), text).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipping_a_byte_anywhere_is_detected() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (alex, pid, _, _) = passport_with_history(&server).await;
    let bundle = alex.own_passport(&pid).export().await.unwrap();
    assert!(bundle::verify(&bundle).is_sound());

    // A byte of a version (in its signed payload).
    let mut v = bundle.clone();
    let jws = v["body"]["versions"][2]["jws"].as_str().unwrap().to_owned();
    let at = jws.find('.').unwrap() + 20;
    v["body"]["versions"][2]["jws"] = json!(flip(&jws, at));
    let report = bundle::verify(&v);
    assert!(!report.is_sound());
    assert!(
        failures_mention(&report, "version 2"),
        "{:#?}",
        report.failures
    );
    assert!(failures_mention(
        &report,
        "changed after its owner signed it"
    ));

    // Even re-signed by the owner, a changed version does not verify: its author's signature.
    bundle::cosign(&mut v, alex.key()).unwrap();
    let report = bundle::verify(&v);
    assert!(!failures_mention(
        &report,
        "changed after its owner signed it"
    ));
    assert!(
        failures_mention(&report, "version 2"),
        "{:#?}",
        report.failures
    );

    // A byte of an access-log entry.
    let mut l = bundle.clone();
    let reason = l["body"]["access_log"][3]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    l["body"]["access_log"][3]["reason"] = json!(format!("{reason}."));
    let report = bundle::verify(&l);
    assert!(
        failures_mention(&report, "access log's chain is broken at entry 4"),
        "{:#?}",
        report.failures
    );
    assert!(failures_mention(
        &report,
        "changed after its owner signed it"
    ));

    // A byte of a key (the occupational therapist's).
    let mut k = bundle.clone();
    let dana = k["body"]["parties"]
        .as_array()
        .unwrap()
        .iter()
        .position(|p| p["display_name"] == "Dana Okafor")
        .unwrap();
    let x = k["body"]["parties"][dana]["keys"][0]["jwk"]["x"]
        .as_str()
        .unwrap()
        .to_owned();
    k["body"]["parties"][dana]["keys"][0]["jwk"]["x"] = json!(flip(&x, 5));
    let report = bundle::verify(&k);
    assert!(
        failures_mention(&report, "the signature does not verify"),
        "{:#?}",
        report.failures
    );

    // The server's checkpoint and the owner's own signature.
    let mut c = bundle.clone();
    let checkpoint = c["body"]["checkpoint"].as_str().unwrap().to_owned();
    c["body"]["checkpoint"] = json!(flip(&checkpoint, checkpoint.len() - 5));
    assert!(failures_mention(&bundle::verify(&c), "checkpoint"));
    let mut o = bundle.clone();
    let signature = o["owner_signature"].as_str().unwrap().to_owned();
    o["owner_signature"] = json!(flip(&signature, signature.len() - 5));
    assert!(failures_mention(
        &bundle::verify(&o),
        "the owner's signature does not verify"
    ));
    // A version removed (and the bundle re-signed): the chain and the checkpoint say so.
    let mut r = bundle.clone();
    r["body"]["versions"].as_array_mut().unwrap().remove(1);
    bundle::cosign(&mut r, alex.key()).unwrap();
    let report = bundle::verify(&r);
    assert!(
        failures_mention(&report, "not whole"),
        "{:#?}",
        report.failures
    );
}

#[test]
fn a_v1_bundle_is_read_and_reported_not_attested() {
    let text = std::fs::read_to_string(FIXTURE_V1).expect("tests/fixtures/bundle-v1.json");
    let bundle: Value = serde_json::from_str(&text).unwrap();
    let report = bundle::verify(&bundle);
    // Every /1 check passes; the one failure is that nothing attests its parties.
    assert_eq!(report.failures.len(), 1, "{:#?}", report.failures);
    assert!(
        failures_mention(&report, "not attested"),
        "{:#?}",
        report.failures
    );
    assert_eq!(report.versions, 5);
    assert!(report.attested_by.is_none());
    assert!(
        report
            .proves
            .join("\n")
            .contains("Priya Shah (HR at Acme Ltd) agreed adjustments record")
    );
}

#[test]
fn the_committed_sample_bundle_still_verifies() {
    let text = std::fs::read_to_string(FIXTURE).expect("tests/fixtures/bundle-v2.json");
    let bundle: Value = serde_json::from_str(&text).unwrap();
    let report = bundle::verify(&bundle);
    assert!(report.is_sound(), "{:#?}", report.failures);
    assert_eq!(report.versions, 5);
    let proves = report.proves.join("\n");
    assert!(proves.contains("Priya Shah (HR at Acme Ltd) agreed adjustments record"));
    assert!(proves.contains("released exactly this bundle"));
}

/// POSTs `body` as a bundle, as `client`, and answers the problem.
async fn import_raw(client: &Client, body: Vec<u8>) -> (u16, wp_schemas::problem::Problem) {
    import_with_query(client, "", body).await
}

/// The same, with `query` (`?...` or empty) on the URL.
async fn import_with_query(
    client: &Client,
    query: &str,
    body: Vec<u8>,
) -> (u16, wp_schemas::problem::Problem) {
    let url = format!("{}/v1/passports/import", client.base_url());
    let token = client.access_token().await.unwrap();
    let response = client
        .http()
        .request(Method::POST, format!("{url}{query}"))
        .header("Authorization", format!("DPoP {token}"))
        .header(
            "DPoP",
            wp_client::proofs::dpop(client.key(), "POST", &url, Some(&token)),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    problem_of(response).await
}

fn refused(err: ClientError) -> ProblemType {
    err.problem_type()
        .unwrap_or_else(|| panic!("not a problem: {err:?}"))
}

/// The whole move, SQLite to PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passport_moves_from_sqlite_to_postgres() {
    if postgres_url().is_none() {
        return;
    }
    a_passport_moves(Backend::Sqlite, Backend::Postgres).await;
}

/// And back the other way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passport_moves_from_postgres_to_sqlite() {
    if postgres_url().is_none() {
        return;
    }
    a_passport_moves(Backend::Postgres, Backend::Sqlite).await;
}

async fn a_passport_moves(from: Backend, to: Backend) {
    let a = TestServer::start(from).await;
    let b = TestServer::start_with(to, |s| {
        s.max_bundle_bytes = 512 * 1024;
        trust(s, &a);
    })
    .await;
    let (alex, pid, rid, dana) = passport_with_history(&a).await;
    let bundle = alex.own_passport(&pid).export().await.unwrap();
    let history_at_a = alex.own_passport(&pid).history(&rid).await.unwrap();

    // Alex registers at B with the same key.
    let mut alex_b = Client::new(&b.url, alex.key().clone());
    alex_b.register_employee("Alex Smith").await.unwrap();

    // Every bad bundle is refused, and nothing of it is written.
    let eve = b.employee("Eve").await;
    assert_eq!(
        refused(eve.import_passport(&bundle, false).await.unwrap_err()),
        ProblemType::BundleNotYours,
        "someone else's passport"
    );
    let mut broken = bundle.clone();
    broken["body"]["versions"].as_array_mut().unwrap().remove(2);
    bundle::cosign(&mut broken, alex.key()).unwrap();
    let err = alex_b.import_passport(&broken, false).await.unwrap_err();
    assert_eq!(refused(err), ProblemType::InvalidBundle, "a broken chain");
    let mut forged = bundle.clone();
    let jws = forged["body"]["versions"][0]["jws"]
        .as_str()
        .unwrap()
        .to_owned();
    forged["body"]["versions"][0]["jws"] = json!(flip(&jws, jws.len() - 3));
    bundle::cosign(&mut forged, alex.key()).unwrap();
    let err = alex_b.import_passport(&forged, false).await.unwrap_err();
    assert_eq!(
        refused(err),
        ProblemType::InvalidBundle,
        "a broken signature"
    );
    let mut log = bundle.clone();
    log["body"]["access_log"].as_array_mut().unwrap().pop();
    bundle::cosign(&mut log, alex.key()).unwrap();
    let err = alex_b.import_passport(&log, false).await.unwrap_err();
    assert_eq!(refused(err), ProblemType::InvalidBundle, "a shortened log");
    let unsigned = {
        let mut u = bundle.clone();
        u.as_object_mut().unwrap().remove("owner_signature");
        u
    };
    let err = alex_b.import_passport(&unsigned, false).await.unwrap_err();
    assert_eq!(
        refused(err),
        ProblemType::InvalidBundle,
        "not signed by its owner"
    );
    let text = serde_json::to_vec(&bundle).unwrap();
    let (status, problem) = import_raw(&alex_b, text[..text.len() / 2].to_vec()).await;
    assert_eq!(
        (status, problem.kind()),
        (422, Some(ProblemType::InvalidBundle)),
        "truncated"
    );
    let (status, problem) = import_raw(&alex_b, b"{\"format\": 1}".to_vec()).await;
    assert_eq!(
        (status, problem.kind()),
        (422, Some(ProblemType::InvalidBundle)),
        "malformed"
    );
    let mut big = bundle.clone();
    big["padding"] = json!("x".repeat(600 * 1024));
    let (status, problem) = import_raw(&alex_b, serde_json::to_vec(&big).unwrap()).await;
    assert_eq!(
        (status, problem.kind()),
        (413, Some(ProblemType::PayloadTooLarge)),
        "too large"
    );
    let store = b.store().await;
    let (passports, external): (i64, i64) = on_db!(&store, pool => {
        let (p,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passports").fetch_one(pool).await.unwrap();
        let (e,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM parties WHERE origin IS NOT NULL").fetch_one(pool).await.unwrap();
        (p, e)
    });
    assert_eq!((passports, external), (0, 0), "nothing half-written");

    // The good bundle: the same passport, now Alex's at B.
    let info = alex_b.import_passport(&bundle, false).await.unwrap();
    assert_eq!(info.id, pid);
    assert_eq!(info.owner, alex_b.party_id().unwrap());
    assert_eq!(info.seq, 5);
    assert_eq!(
        refused(alex_b.import_passport(&bundle, false).await.unwrap_err()),
        ProblemType::PassportExists,
        "the same bundle twice"
    );

    // The move is a security alert at B; the adjustment's review date is reminded there.
    let told = alex_b.notifications(None).await.unwrap().notifications;
    assert_eq!(told.len(), 1);
    assert_eq!(
        told[0].kind,
        wp_schemas::api::NotificationKind::PassportImported
    );
    let feed = alex_b.new_calendar_feed().await.unwrap();
    let calendar = alex_b.calendar(&feed.url).await.unwrap();
    assert!(
        calendar.contains("DTSTART;VALUE=DATE:20310303"),
        "{calendar}"
    );

    // At B, every version keeps its original JWS and author, verified by B's party lookups.
    let own_b = alex_b.own_passport(&pid);
    let history_at_b = own_b.history(&rid).await.unwrap();
    let jws = |h: &[wp_client::VerifiedVersion]| -> Vec<String> {
        h.iter().map(|v| v.envelope.jws.clone()).collect()
    };
    assert_eq!(jws(&history_at_b), jws(&history_at_a));
    let priya_at_b: &Party = &history_at_b[2].author;
    assert_eq!(priya_at_b.origin.as_deref(), Some(a.url.as_str()));
    assert_eq!(
        priya_at_b.membership.as_ref().map(|m| m.role),
        Some(Role::Hr)
    );
    // An external party's keys never sign anyone in at B, and the owner's old identity is not
    // the owner there.
    let dana_at_b = Client::for_party(&b.url, dana.key().clone(), dana.party_id().unwrap());
    let err = dana_at_b.access_token().await.unwrap_err();
    assert_eq!(refused(err), ProblemType::InvalidAssertion);
    let old_alex = Client::for_party(&b.url, alex.key().clone(), alex.party_id().unwrap());
    let err = old_alex.access_token().await.unwrap_err();
    assert_eq!(refused(err), ProblemType::InvalidAssertion);
    // The old access log and the new one are one chain, from entry 1.
    let log_b = own_b.verified_access_log().await.unwrap();
    let old = bundle["body"]["access_log"].as_array().unwrap().len();
    assert_eq!(log_b[old].action, LogAction::PassportImported);
    assert!(
        log_b[old]
            .reason
            .contains("its attestation checked against the keys it publishes"),
        "{}",
        log_b[old].reason
    );
    assert_eq!(
        serde_json::to_value(&log_b[..old]).unwrap(),
        bundle["body"]["access_log"]
    );
    // The changes feed's checkpoint, signed by B, covers the whole history.
    let changes = own_b.changes(0).await.unwrap();
    let head = changes
        .versions
        .iter()
        .fold(wp_schemas::chain::history_genesis(&pid), |h, v| {
            wp_schemas::chain::history_next(&h, &v.hash)
        });
    let claims: wp_schemas::api::CheckpointClaims =
        wp_schemas::jose::CompactJws::parse(&changes.checkpoint)
            .unwrap()
            .claims()
            .unwrap();
    assert_eq!((claims.seq, claims.head), (5, head));

    // Alex carries on at B: new versions chain on top.
    let mut summary = example_body(Section::Summary);
    summary["about_me"] = json!("Moved jobs; the same passport.");
    let summary_id = own_b.read().await.unwrap().records(Section::Summary)[0]
        .envelope
        .record_id
        .clone();
    let next = own_b.update_record(&summary_id, summary).await.unwrap();
    assert_eq!((next.envelope.seq, next.envelope.version), (6, 2));

    // A new employer at B reads the adjustment and checks the first employer's agreement.
    let beta = b.employer("Beta plc").await;
    let g = own_b
        .grant(&grant(
            beta.party_id().unwrap(),
            &[],
            vec![scope(Section::Adjustments, &[Action::Read, Action::Agree])],
        ))
        .await
        .unwrap();
    let as_beta = beta.granted_passport(&g.id).await.unwrap();
    let seen = as_beta.read().await.unwrap();
    let agreed = &seen.records(Section::Adjustments)[0];
    assert_eq!(agreed.author.display_name, "Priya Shah");
    assert_eq!(agreed.payload.body.as_ref().unwrap()["status"], "agreed");
    // Grants did not travel, and an external party cannot be granted here.
    assert_eq!(own_b.grants().await.unwrap().len(), 1);
    let err = own_b
        .grant(&grant(
            &priya_at_b.id,
            &[],
            vec![scope(Section::Summary, &[Action::Read])],
        ))
        .await
        .unwrap_err();
    assert_eq!(refused(err), ProblemType::InvalidBody);

    // A bundle exported at B verifies offline too, history and both logs included.
    let again = own_b.export().await.unwrap();
    let report = bundle::verify(&again);
    assert!(report.is_sound(), "{:#?}", report.failures);
    assert_eq!(report.versions, 6);
}

// ---------------------------------------------------------------------------------------------
// Who a bundle's people are (issue 23): attacks through real servers, on both databases

/// Settings that trust `origin`'s exports (its keys fetched over plain HTTP: a test on one
/// machine).
fn trust(settings: &mut wp_server::Settings, origin: &TestServer) {
    settings.trusted_origins = vec![origin.url.clone()];
    settings.allow_http_origins = true;
}

/// An employee at `server` who signs with `key`.
async fn registered(server: &TestServer, key: &SigningKey, name: &str) -> Client {
    let mut client = Client::new(&server.url, key.clone());
    client.register_employee(name).await.unwrap();
    client
}

/// What an import could have written at `server`: passports, external parties, their keys and
/// memberships.
async fn written(server: &TestServer) -> [i64; 4] {
    let store = server.store().await;
    let mut counts = [0; 4];
    for (i, sql) in [
        "SELECT COUNT(*) FROM passports",
        "SELECT COUNT(*) FROM parties WHERE origin IS NOT NULL",
        "SELECT COUNT(*) FROM external_keys",
        "SELECT COUNT(*) FROM memberships m JOIN parties p ON p.id = m.member_id WHERE p.origin IS NOT NULL",
    ]
    .into_iter()
    .enumerate()
    {
        counts[i] = on_db!(&store, pool => {
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await.unwrap();
            n
        });
    }
    store.close().await;
    counts
}

/// The index in `body.parties` of the party called `name`.
fn party_at(bundle: &Value, name: &str) -> usize {
    bundle["body"]["parties"]
        .as_array()
        .unwrap()
        .iter()
        .position(|p| p["display_name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in the bundle"))
}

/// `key` added to the key history of the party called `name`, as a key they held.
fn plant_key(bundle: &mut Value, name: &str, key: &SigningKey) {
    let at = party_at(bundle, name);
    let created = bundle["body"]["parties"][at]["keys"][0]["created_at"].clone();
    bundle["body"]["parties"][at]["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kid": key.kid(), "jwk": key.public_jwk(), "created_at": created}));
}

fn refusal(result: Result<wp_schemas::api::PassportInfo, ClientError>) -> ProblemType {
    refused(result.expect_err("the import was refused"))
}

backend_tests!(
    a_copy_of_a_bundle_takes_no_passport_over,
    an_import_plants_no_key_and_changes_no_known_party,
    a_fabricated_agreement_is_not_laundered,
    an_origin_that_cannot_be_checked_needs_the_owners_word,
);

/// Mallory holds a copy of Alex's bundle. She adds her key to Alex's entry and signs as the
/// owner: the attestation fails everywhere. She re-attests with a key of her own: the server
/// that trusts the origin finds that key is not the origin's; a server that does not trust it
/// refuses without the acknowledgement. Nothing is written; then Alex moves for real.
async fn a_copy_of_a_bundle_takes_no_passport_over(backend: Backend) {
    let a = TestServer::start(backend).await;
    let c = TestServer::start_with(backend, |s| trust(s, &a)).await;
    let d = TestServer::start(backend).await;
    let (alex, pid, _, _) = passport_with_history(&a).await;
    let bundle = alex.own_passport(&pid).export().await.unwrap();
    let mallory_key = SigningKey::generate();
    let mallory_c = registered(&c, &mallory_key, "Mallory").await;
    let mallory_d = registered(&d, &mallory_key, "Mallory").await;
    let before = (written(&c).await, written(&d).await);

    // The bundle as it is: not hers.
    assert_eq!(
        refusal(mallory_c.import_passport(&bundle, true).await),
        ProblemType::BundleNotYours
    );
    // Her key in the owner's entry, signed by her: the server's attestation no longer holds,
    // and her acknowledgement changes nothing.
    let mut doctored = bundle.clone();
    plant_key(&mut doctored, "Alex Smith", &mallory_key);
    bundle::cosign(&mut doctored, &mallory_key).unwrap();
    let report = bundle::verify(&doctored);
    assert!(
        failures_mention(&report, "changed after the server exported it"),
        "{:#?}",
        report.failures
    );
    for (client, acknowledged) in [(&mallory_c, false), (&mallory_c, true), (&mallory_d, true)] {
        assert_eq!(
            refusal(client.import_passport(&doctored, acknowledged).await),
            ProblemType::InvalidBundle
        );
    }
    // Re-attested with a server key of her own: sound to a verifier that does not check whose
    // key it is, refused by one that does, and by the server that trusts the origin.
    reattest(&mut doctored, &SigningKey::generate(), &mallory_key);
    let mut report = bundle::verify(&doctored);
    assert!(report.is_sound(), "{:#?}", report.failures);
    assert!(!report.origin_checked);
    let published = bundle::fetch_server_keys(&a.url).await.unwrap();
    bundle::check_origin(&mut report, &published, "fetched");
    assert!(
        failures_mention(&report, "does not publish"),
        "{:#?}",
        report.failures
    );
    for acknowledged in [false, true] {
        refused_saying(
            &mallory_c,
            &doctored,
            acknowledged,
            ProblemType::InvalidBundle,
            "does not publish",
        )
        .await;
    }
    // A server that does not trust the origin cannot check it: refused without her word.
    assert_eq!(
        refusal(mallory_d.import_passport(&doctored, false).await),
        ProblemType::OriginUnverified
    );
    assert_eq!(
        (written(&c).await, written(&d).await),
        before,
        "nothing written"
    );

    // Alex himself, at C: his bundle's origin is checked, and the log says so.
    let alex_c = registered(&c, alex.key(), "Alex Smith").await;
    alex_c.import_passport(&bundle, false).await.unwrap();
    let reason = imported_reason(&alex_c, &pid).await;
    assert!(reason.contains("checked against the keys it publishes"));
}

/// POSTs `bundle` to the import as `client`, and answers the status and problem.
async fn import_as(
    client: &Client,
    bundle: &Value,
    acknowledged: bool,
) -> (u16, wp_schemas::problem::Problem) {
    let query = if acknowledged {
        "?acknowledge_unverified_origin=true"
    } else {
        ""
    };
    import_with_query(client, query, serde_json::to_vec(bundle).unwrap()).await
}

/// The reason of the `passport_imported` entry in `client`'s verified access log of `pid`.
async fn imported_reason(client: &Client, pid: &str) -> String {
    let log = client
        .own_passport(pid)
        .verified_access_log()
        .await
        .unwrap();
    log.into_iter()
        .find(|e| e.action == LogAction::PassportImported)
        .expect("a passport_imported entry")
        .reason
}

/// Imports `bundle` as `client` and checks that it is refused as `kind`, saying `words`.
async fn refused_saying(
    client: &Client,
    bundle: &Value,
    acknowledged: bool,
    kind: ProblemType,
    words: &str,
) {
    let (status, problem) = import_as(client, bundle, acknowledged).await;
    assert_eq!((status, problem.kind()), (kind.status(), Some(kind)));
    let detail = problem.detail.as_deref().unwrap_or_default();
    assert!(detail.contains(words), "{problem:?}");
}

/// Alex adds his own key to Priya's entry (HR at Acme, who agreed his adjustment): refused, as
/// is every other change to what the server attested (a dropped revocation, a role, a member
/// moved, a grant widened). A server that already knows Priya from an earlier import keeps her
/// as she is: a bundle that disagrees (even one the owner re-attested and vouched for) is
/// refused, and her keys there are unchanged.
async fn an_import_plants_no_key_and_changes_no_known_party(backend: Backend) {
    let a = TestServer::start(backend).await;
    let b = TestServer::start_with(backend, |s| trust(s, &a)).await;
    let d = TestServer::start(backend).await;
    let (alex, pid, _, _) = passport_with_history(&a).await;
    // A key of Alex's, revoked, so that a revocation can be dropped.
    let spare = SigningKey::generate();
    alex.add_key(&spare).await.unwrap();
    alex.revoke_key(spare.kid()).await.unwrap();
    let bundle = alex.own_passport(&pid).export().await.unwrap();
    let alex_b = registered(&b, alex.key(), "Alex Smith").await;
    let alex_d = registered(&d, alex.key(), "Alex Smith").await;
    let before = written(&b).await;

    let priya = party_at(&bundle, "Priya Shah");
    let acme = party_at(&bundle, "Acme Ltd");
    let alex_at = party_at(&bundle, "Alex Smith");
    let mut changes: Vec<(&str, Value)> = Vec::new();
    let mut planted = bundle.clone();
    plant_key(&mut planted, "Priya Shah", alex.key());
    changes.push(("a key planted on Priya", planted));
    let mut unrevoked = bundle.clone();
    let keys = unrevoked["body"]["parties"][alex_at]["keys"]
        .as_array_mut()
        .unwrap();
    let revoked = keys
        .iter()
        .position(|k| k.get("revoked_at").is_some())
        .unwrap();
    keys[revoked].as_object_mut().unwrap().remove("revoked_at");
    changes.push(("a key revocation dropped", unrevoked));
    let mut role = bundle.clone();
    role["body"]["parties"][priya]["membership"]["role"] = json!("org_admin");
    changes.push(("a role changed", role));
    let mut moved = bundle.clone();
    moved["body"]["parties"][priya]["membership"]["organisation"] =
        bundle["body"]["parties"][alex_at]["id"].clone();
    changes.push(("a member moved to another organisation", moved));
    let mut widened = bundle.clone();
    widened["body"]["grants"][0]["scopes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"section": "conditions", "actions": ["read"]}));
    changes.push(("a grant widened", widened));
    let mut name = bundle.clone();
    name["body"]["parties"][acme]["display_name"] = json!("Acme Holdings");
    changes.push(("an organisation renamed", name));
    for (what, mut changed) in changes {
        bundle::cosign(&mut changed, alex.key()).unwrap();
        let report = bundle::verify(&changed);
        assert!(
            failures_mention(&report, "changed after the server exported it"),
            "{what}: {:#?}",
            report.failures
        );
        assert_eq!(
            refusal(alex_b.import_passport(&changed, true).await),
            ProblemType::InvalidBundle,
            "{what}"
        );
    }
    assert_eq!(written(&b).await, before, "nothing written");

    // D does not trust A; Alex's real bundle goes there on his word, and D knows Priya.
    alex_d.import_passport(&bundle, true).await.unwrap();
    let priya_id = bundle["body"]["parties"][priya]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let priya_at_d = alex_d.party(&priya_id).await.unwrap();
    assert_eq!(priya_at_d.keys.len(), 1);
    // A bundle naming Priya otherwise (re-attested by its doctor, so that it passes checks 1 to
    // 7, and vouched for) never changes her at D.
    let mut planted = bundle.clone();
    plant_key(&mut planted, "Priya Shah", alex.key());
    let mut role = bundle.clone();
    role["body"]["parties"][priya]["membership"]["role"] = json!("org_admin");
    for mut changed in [planted, role] {
        reattest(&mut changed, &SigningKey::generate(), alex.key());
        refused_saying(
            &alex_d,
            &changed,
            true,
            ProblemType::InvalidBundle,
            &format!("names party {priya_id}"),
        )
        .await;
    }
    assert_eq!(
        alex_d.party(&priya_id).await.unwrap(),
        priya_at_d,
        "Priya unchanged"
    );
}

/// Alex fabricates an agreement by Priya (a key of his planted on her, a version signed with
/// it, the chain, the checkpoint and the attestation recomputed with a server key of his own),
/// or removes her real one: the offline checks pass, the origin check and every importer that
/// trusts the origin do not.
async fn a_fabricated_agreement_is_not_laundered(backend: Backend) {
    let a = TestServer::start(backend).await;
    let b = TestServer::start_with(backend, |s| trust(s, &a)).await;
    let (alex, pid, rid, _) = passport_with_history(&a).await;
    let bundle = alex.own_passport(&pid).export().await.unwrap();
    let alex_b = registered(&b, alex.key(), "Alex Smith").await;
    let before = written(&b).await;
    let published = bundle::fetch_server_keys(&a.url).await.unwrap();

    // A second agreement, "by Priya", of a record of Alex's.
    let mut fabricated = bundle.clone();
    let fake = SigningKey::generate();
    plant_key(&mut fabricated, "Priya Shah", &fake);
    let priya_id = fabricated["body"]["parties"][party_at(&bundle, "Priya Shah")]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let versions = fabricated["body"]["versions"].as_array().unwrap().clone();
    let last = versions
        .iter()
        .rev()
        .find(|v| v["record_id"] == rid.as_str())
        .unwrap();
    let mut body: Value = wp_schemas::jose::CompactJws::parse(last["jws"].as_str().unwrap())
        .unwrap()
        .claims::<wp_schemas::api::VersionPayload>()
        .unwrap()
        .body
        .unwrap();
    body["notes"] = json!("Agreed: a fully remote role.");
    let version = last["version"].as_i64().unwrap() + 1;
    let jws = wp_client::proofs::sign_version(
        &fake,
        &priya_id,
        wp_client::proofs::VersionDraft {
            passport: pid.clone(),
            record: rid.clone(),
            section: Section::Adjustments,
            version,
            prev: Some(last["hash"].as_str().unwrap().to_owned()),
            body: Some(body),
        },
    );
    let seq = versions.len() as i64 + 1;
    fabricated["body"]["versions"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "seq": seq, "record_id": rid, "section": "adjustments", "version": version,
            "author": priya_id, "hash": wp_schemas::jose::sha256_b64(jws.as_bytes()),
            "deleted": false, "jws": jws, "created_at": last["created_at"],
        }));
    // Her real agreement removed (the record's last version).
    let mut removed = bundle.clone();
    let agreed = removed["body"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .rposition(|v| v["record_id"] == rid.as_str())
        .unwrap();
    assert_eq!(
        removed["body"]["versions"][agreed]["author"],
        priya_id.as_str()
    );
    removed["body"]["versions"]
        .as_array_mut()
        .unwrap()
        .remove(agreed);
    let renumbered: Vec<Value> = removed["body"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut v = v.clone();
            v["seq"] = json!(i as i64 + 1);
            v
        })
        .collect();
    removed["body"]["versions"] = json!(renumbered);

    for (what, mut changed) in [
        ("a fabricated agreement", fabricated),
        ("an agreement removed", removed),
    ] {
        reattest(&mut changed, &SigningKey::generate(), alex.key());
        let mut report = bundle::verify(&changed);
        assert!(report.is_sound(), "{what}: {:#?}", report.failures);
        bundle::check_origin(&mut report, &published, "fetched");
        assert!(failures_mention(&report, "does not publish"), "{what}");
        for acknowledged in [false, true] {
            assert_eq!(
                refusal(alex_b.import_passport(&changed, acknowledged).await),
                ProblemType::InvalidBundle,
                "{what}"
            );
        }
    }
    assert_eq!(written(&b).await, before, "nothing written");
}

/// A trusted origin that cannot be reached: refused without the owner's word; with it, imported,
/// and the log says the origin could not be checked.
async fn an_origin_that_cannot_be_checked_needs_the_owners_word(backend: Backend) {
    let a = TestServer::start(backend).await;
    let b = TestServer::start_with(backend, |s| trust(s, &a)).await;
    let (alex, pid, _, _) = passport_with_history(&a).await;
    let bundle = alex.own_passport(&pid).export().await.unwrap();
    a.stop().await;
    let alex_b = registered(&b, alex.key(), "Alex Smith").await;
    let before = written(&b).await;
    refused_saying(
        &alex_b,
        &bundle,
        false,
        ProblemType::OriginUnverified,
        "could not be reached",
    )
    .await;
    assert_eq!(written(&b).await, before, "nothing written");
    let info = alex_b.import_passport(&bundle, true).await.unwrap();
    assert_eq!(info.id, pid);
    let reason = imported_reason(&alex_b, &pid).await;
    assert!(
        reason.contains("the origin could not be checked")
            && reason.contains("owner's acknowledgement"),
        "{reason}"
    );
}

// ---------------------------------------------------------------------------------------------
// The FHIR R4 view (docs/FHIR.md)

const FHIR_SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/fhir/fhir.schema.json.gz"
);
const FHIR_SCHEMA_SHA256: &str = "15b9548af6412c44faaa411456e0652542de286fd1c58ef882b09bdc8947909d";

/// The official FHIR R4 JSON Schema (tests/fixtures/fhir/README.md), checked against its digest.
fn fhir_validator() -> jsonschema::Validator {
    use std::io::Read;
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(FHIR_SCHEMA).expect(FHIR_SCHEMA))
        .read_to_end(&mut text)
        .expect("the FHIR schema unzips");
    let digest = ring::digest::digest(&ring::digest::SHA256, &text);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, FHIR_SCHEMA_SHA256, "the vendored FHIR schema changed");
    let schema: Value = serde_json::from_slice(&text).unwrap();
    jsonschema::validator_for(&schema).expect("the FHIR R4 schema compiles")
}

/// Every way `fhir` breaks the FHIR R4 schema, one line each.
fn fhir_errors(validator: &jsonschema::Validator, fhir: &Value) -> Vec<String> {
    validator
        .iter_errors(fhir)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn resources<'a>(fhir: &'a Value, kind: &str) -> Vec<&'a Value> {
    fhir["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

fn decoded(data: &Value) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.as_str().unwrap())
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fhir_view_validates_against_fhir_r4_on_sqlite() {
    the_fhir_view_validates_against_fhir_r4(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fhir_view_validates_against_fhir_r4_on_postgres() {
    if postgres_url().is_none() {
        return;
    }
    the_fhir_view_validates_against_fhir_r4(Backend::Postgres).await;
}

async fn the_fhir_view_validates_against_fhir_r4(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (alex, pid, headphones, dana) = passport_with_history(&server).await;
    let own = alex.own_passport(&pid);
    for section in [Section::Conditions, Section::Impacts, Section::Plans] {
        own.create_record(section, example_body(section))
            .await
            .unwrap();
    }
    let reminders = own
        .create_record(
            Section::Adjustments,
            json!({"title": "Written reminders of meetings",
                   "category": "communication",
                   "addresses": "Remembering what was agreed.",
                   "status": "in_place",
                   "start_date": "2026-01-05",
                   "review_date": "2026-07-05",
                   "funding": "employer"}),
        )
        .await
        .unwrap();
    let gone = own
        .create_record(
            Section::Adjustments,
            json!({"title": "A standing desk", "category": "workplace_environment",
                   "addresses": "Back pain.", "status": "requested"}),
        )
        .await
        .unwrap();
    own.delete_record(&gone.envelope.record_id).await.unwrap();

    let bundle = own.export().await.unwrap();
    let fhir = own.export_fhir().await.unwrap();
    let validator = fhir_validator();
    let errors = fhir_errors(&validator, &fhir);
    assert!(
        errors.is_empty(),
        "not valid FHIR R4:\n{}",
        errors.join("\n")
    );
    // The schema is live: it refuses what FHIR refuses.
    let flag_at = fhir["entry"]
        .as_array()
        .unwrap()
        .iter()
        .position(|e| e["resource"]["resourceType"] == "Flag")
        .unwrap();
    let mut wrong = fhir.clone();
    wrong["entry"][flag_at]["resource"]["status"] = json!("agreed");
    assert!(
        !fhir_errors(&validator, &wrong).is_empty(),
        "a status FHIR lacks"
    );
    let mut wrong = fhir.clone();
    wrong["entry"][flag_at]["resource"]["agreedBy"] = json!("Priya");
    assert!(
        !fhir_errors(&validator, &wrong).is_empty(),
        "a member FHIR lacks"
    );

    assert_eq!(fhir["type"], "collection");
    assert_eq!(fhir["identifier"]["value"], json!(pid));

    // Each version a Provenance, carrying its JWS byte for byte and naming its author.
    let versions = bundle["body"]["versions"].as_array().unwrap();
    let provenance = resources(&fhir, "Provenance");
    assert_eq!(provenance.len(), versions.len());
    for (p, v) in provenance.iter().zip(versions) {
        assert_eq!(
            decoded(&p["signature"][0]["data"]),
            v["jws"].as_str().unwrap()
        );
        assert_eq!(p["signature"][0]["sigFormat"], "application/jose");
        assert_eq!(
            p["agent"][0]["who"]["reference"],
            json!(format!("urn:uuid:{}", v["author"].as_str().unwrap()))
        );
    }
    let priya_signed = provenance
        .iter()
        .find(|p| p["agent"][0]["who"]["display"] == "Priya Shah")
        .expect("the agreement's Provenance");
    assert_eq!(priya_signed["activity"]["coding"][0]["code"], "UPDATE");
    assert_eq!(
        priya_signed["agent"][0]["onBehalfOf"]["display"],
        "Acme Ltd"
    );
    assert_eq!(
        priya_signed["agent"][0]["role"][0]["coding"][0]["code"],
        "hr"
    );
    let deleted: Vec<_> = provenance
        .iter()
        .filter(|p| p["activity"]["coding"][0]["code"] == "DELETE")
        .collect();
    assert_eq!(deleted.len(), 1);
    assert!(deleted[0]["target"][0].get("reference").is_none());

    // The live adjustments are Flags: the deleted one is not; NHS England's category where one fits.
    let flags = resources(&fhir, "Flag");
    assert_eq!(flags.len(), 2, "{flags:#?}");
    let flag_of = |rid: &str| *flags.iter().find(|f| f["id"] == rid).unwrap();
    let communication = flag_of(&reminders.envelope.record_id);
    assert_eq!(communication["category"][0]["coding"][0]["code"], "NRAF");
    let codings = communication["category"][1]["coding"].as_array().unwrap();
    assert!(codings.iter().any(|c| c["system"] == wp_schemas::fhir::NHS_ADJUSTMENT_CATEGORY && c["code"] == "001"));
    assert_eq!(communication["status"], "active");
    assert_eq!(communication["period"]["start"], "2026-01-05");
    let equipment = flag_of(&headphones);
    let codings = equipment["category"][1]["coding"].as_array().unwrap();
    assert_eq!(
        codings.len(),
        1,
        "no NHS category fits equipment: {codings:?}"
    );
    assert_eq!(codings[0]["code"], "equipment_assistive_technology");
    assert_eq!(equipment["meta"]["versionId"], "3");
    assert!(
        equipment["extension"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["url"] == "urn:work-passport:extension:agreed-by"
                && e["valueString"].as_str().unwrap().contains("Priya Shah"))
    );

    // The fit note, the plan, the condition and the impact; the owner, the OT, Acme.
    let documents = resources(&fhir, "DocumentReference");
    let fit_note = documents
        .iter()
        .find(|d| d["type"]["coding"][0]["code"] == "fit_notes")
        .unwrap();
    assert_eq!(fit_note["authenticator"]["display"], "Dana Okafor");
    let signed_body: Value =
        serde_json::from_str(&decoded(&fit_note["content"][0]["attachment"]["data"])).unwrap();
    assert_eq!(signed_body, example_body(Section::FitNotes));
    assert_eq!(resources(&fhir, "CarePlan").len(), 1);
    assert_eq!(resources(&fhir, "Condition").len(), 1);
    assert_eq!(resources(&fhir, "Observation").len(), 1);
    assert_eq!(
        resources(&fhir, "Patient")[0]["name"][0]["text"],
        "Alex Smith"
    );
    assert!(
        resources(&fhir, "Practitioner")
            .iter()
            .any(|p| p["name"][0]["text"] == "Dana Okafor")
    );
    assert_eq!(resources(&fhir, "Organization")[0]["name"], "Acme Ltd");

    // Each grant a Consent, with the words the employee agreed to.
    let consents = resources(&fhir, "Consent");
    assert_eq!(consents.len(), 2);
    let statuses: Vec<&str> = consents
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"inactive") && statuses.contains(&"active"),
        "{statuses:?}"
    );
    for consent in &consents {
        assert_eq!(
            decoded(&consent["sourceAttachment"]["data"]),
            "I agree to share these sections until the end date."
        );
    }

    // The same view made offline from the bundle (but for when each export was made: the two
    // may fall in different seconds).
    let undated = |mut view: Value| {
        view["meta"]["lastUpdated"] = Value::Null;
        view["timestamp"] = Value::Null;
        view
    };
    assert_eq!(
        undated(bundle::fhir(&bundle).unwrap()),
        undated(fhir.clone())
    );

    // The owner only: the OT (whose grant was revoked), another employee, and a stolen token
    // without its key are refused; a format we do not make is a clear 400.
    let sam = server.employee("Sam Jones").await;
    let as_sam = sam.own_passport(&pid);
    assert_eq!(
        refused(as_sam.export_fhir().await.unwrap_err()),
        ProblemType::Forbidden
    );
    let as_dana = dana.own_passport(&pid);
    assert_eq!(
        refused(as_dana.export_fhir().await.unwrap_err()),
        ProblemType::Forbidden
    );
    let token = alex.access_token().await.unwrap();
    let path = format!("/v1/passports/{pid}/export?format=fhir");
    let stolen = wp_tests::raw_request(&sam, Method::GET, &path, &token, None).await;
    assert_eq!(problem_of(stolen).await.0, 401);
    let odd = format!("/v1/passports/{pid}/export?format=xml");
    let (status, problem) =
        problem_of(wp_tests::raw_request(&alex, Method::GET, &odd, &token, None).await).await;
    assert_eq!(status, 400, "{problem:?}");
    // And the answer says what it is.
    let answer = wp_tests::raw_request(&alex, Method::GET, &path, &token, None).await;
    assert_eq!(
        answer.headers()["content-type"],
        wp_schemas::fhir::FHIR_JSON
    );
}

#[test]
fn the_committed_sample_bundle_has_a_valid_fhir_view() {
    let text = std::fs::read_to_string(FIXTURE).expect("tests/fixtures/bundle-v2.json");
    let bundle: Value = serde_json::from_str(&text).unwrap();
    let fhir = bundle::fhir(&bundle).unwrap();
    let errors = fhir_errors(&fhir_validator(), &fhir);
    assert!(
        errors.is_empty(),
        "not valid FHIR R4:\n{}",
        errors.join("\n")
    );
    assert_eq!(resources(&fhir, "Provenance").len(), 5);
}
