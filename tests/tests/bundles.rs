//! The passport travels (docs/BUNDLE.md): an owner exports their passport as a bundle signed by
//! the server and by them, anyone checks it with no server, and the owner moves it to a second
//! server (its own database and keys), which checks it whole, keeps every original signature
//! and the old access log verifiable, and carries on. Every bad bundle is refused, and nothing
//! of it is written.
//!
//! The move goes from a SQLite server to a PostgreSQL one (`TEST_DATABASE_URL`; skipped loudly
//! without it, failing in CI). `tests/fixtures/bundle-v1.json` is a bundle written by this code
//! that must keep verifying (`UPDATE_BUNDLE_FIXTURE=1` rewrites it, which a format change must
//! never need).

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use wp_client::bundle::{self, Report};
use wp_client::{Client, ClientError};
use wp_schemas::api::{Action, CreateGrant, LogAction, Party, PartyKind, Role, Scope};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{Section, example_body};
use wp_tests::{Backend, TestServer, on_db, postgres_url, problem_of};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/bundle-v1.json");

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
                   "status": "requested"}),
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
fn the_committed_sample_bundle_still_verifies() {
    let text = std::fs::read_to_string(FIXTURE).expect("tests/fixtures/bundle-v1.json");
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
    let url = format!("{}/v1/passports/import", client.base_url());
    let token = client.access_token().await.unwrap();
    let response = client
        .http()
        .request(Method::POST, &url)
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
    let b = TestServer::start_with(to, |s| s.max_bundle_bytes = 512 * 1024).await;
    let (alex, pid, rid, dana) = passport_with_history(&a).await;
    let bundle = alex.own_passport(&pid).export().await.unwrap();
    let history_at_a = alex.own_passport(&pid).history(&rid).await.unwrap();

    // Alex registers at B with the same key.
    let mut alex_b = Client::new(&b.url, alex.key().clone());
    alex_b.register_employee("Alex Smith").await.unwrap();

    // Every bad bundle is refused, and nothing of it is written.
    let eve = b.employee("Eve").await;
    assert_eq!(
        refused(eve.import_passport(&bundle).await.unwrap_err()),
        ProblemType::BundleNotYours,
        "someone else's passport"
    );
    let mut broken = bundle.clone();
    broken["body"]["versions"].as_array_mut().unwrap().remove(2);
    bundle::cosign(&mut broken, alex.key()).unwrap();
    let err = alex_b.import_passport(&broken).await.unwrap_err();
    assert_eq!(refused(err), ProblemType::InvalidBundle, "a broken chain");
    let mut forged = bundle.clone();
    let jws = forged["body"]["versions"][0]["jws"]
        .as_str()
        .unwrap()
        .to_owned();
    forged["body"]["versions"][0]["jws"] = json!(flip(&jws, jws.len() - 3));
    bundle::cosign(&mut forged, alex.key()).unwrap();
    let err = alex_b.import_passport(&forged).await.unwrap_err();
    assert_eq!(
        refused(err),
        ProblemType::InvalidBundle,
        "a broken signature"
    );
    let mut log = bundle.clone();
    log["body"]["access_log"].as_array_mut().unwrap().pop();
    bundle::cosign(&mut log, alex.key()).unwrap();
    let err = alex_b.import_passport(&log).await.unwrap_err();
    assert_eq!(refused(err), ProblemType::InvalidBundle, "a shortened log");
    let unsigned = {
        let mut u = bundle.clone();
        u.as_object_mut().unwrap().remove("owner_signature");
        u
    };
    let err = alex_b.import_passport(&unsigned).await.unwrap_err();
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
    let info = alex_b.import_passport(&bundle).await.unwrap();
    assert_eq!(info.id, pid);
    assert_eq!(info.owner, alex_b.party_id().unwrap());
    assert_eq!(info.seq, 5);
    assert_eq!(
        refused(alex_b.import_passport(&bundle).await.unwrap_err()),
        ProblemType::PassportExists,
        "the same bundle twice"
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

    // The same view made offline from the bundle.
    assert_eq!(bundle::fhir(&bundle).unwrap(), fhir);

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
    let text = std::fs::read_to_string(FIXTURE).expect("tests/fixtures/bundle-v1.json");
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
