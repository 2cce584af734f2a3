//! The attack matrix: each role an attacker can hold, against each route, with each credential
//! fault. Every case must be refused with the right status, change nothing, and, where the
//! attacker is known to the server, appear in the owner's access log as denied.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use wp_client::proofs::{self, VersionDraft};
use wp_client::{Client, SigningKey};
use wp_schemas::api::{
    ASSERTION_TYPE, Action, GRANT_TYPE, Grant, Outcome, PartyKind, VERSION_TYP, VersionEnvelope,
    VersionPayload,
};
use wp_schemas::jose::{PublicJwk, b64, sha256_b64};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{Section, example_body};
use wp_server::http::routes::{self, Audit, Route};
use wp_tests::{Backend, TestServer, backend_tests, grant_to, problem_of, raw_request, with_proof};

/// How the attacker presents itself.
#[derive(Clone)]
enum Credential {
    /// No Authorization header at all (a DPoP proof only).
    NoToken,
    /// A token sent properly, with a fresh proof by the attacker's key.
    Token(String),
    /// A DPoP-bound token sent as a bearer token, without a proof.
    NoProof(String),
    /// The token with a proof signed by another key (a stolen token).
    ForeignProof(String),
    /// The token with a proof that was already used once.
    ReplayedProof(String),
    /// The token with a proof whose `jti` holds a NUL byte (PostgreSQL refuses NUL in text).
    PoisonedProof(String),
}

struct Case {
    name: String,
    attacker: usize,
    credential: Credential,
    method: Method,
    path: String,
    body: Option<Value>,
    status: u16,
    kind: ProblemType,
    /// Whose log records the denial (an index into the owners), if the attacker is known.
    logged_on: Option<usize>,
}

async fn send(client: &Client, case: &Case) -> reqwest::Response {
    let url = format!("{}{}", client.base_url(), case.path);
    let request = client.http().request(case.method.clone(), &url);
    let request = match &case.body {
        Some(body) => request.json(body),
        None => request,
    };
    let method = case.method.as_str();
    let request = match &case.credential {
        Credential::NoToken => {
            request.header("DPoP", proofs::dpop(client.key(), method, &url, None))
        }
        Credential::Token(t) => {
            return raw_request(
                client,
                case.method.clone(),
                &case.path,
                t,
                case.body.as_ref(),
            )
            .await;
        }
        Credential::NoProof(t) => request.header("Authorization", format!("DPoP {t}")),
        Credential::PoisonedProof(t) => {
            let claims = wp_schemas::api::DpopClaims {
                jti: "poison\u{0}".into(),
                htm: method.into(),
                htu: url.split('?').next().unwrap_or_default().to_owned(),
                iat: proofs::now(),
                ath: Some(wp_schemas::jose::sha256_b64(t.as_bytes())),
            };
            request.header("Authorization", format!("DPoP {t}")).header(
                "DPoP",
                client
                    .key()
                    .sign_json("dpop+jwt", wp_schemas::jose::KeyRef::Jwk, &claims),
            )
        }
        Credential::ForeignProof(t) => request.header("Authorization", format!("DPoP {t}")).header(
            "DPoP",
            proofs::dpop(&SigningKey::generate(), method, &url, Some(t)),
        ),
        Credential::ReplayedProof(t) => {
            let proof = proofs::dpop(client.key(), method, &url, Some(t));
            let first = client
                .http()
                .get(format!("{}/v1/me", client.base_url()))
                .header("Authorization", format!("DPoP {t}"))
                .header(
                    "DPoP",
                    proofs::dpop(
                        client.key(),
                        "GET",
                        &format!("{}/v1/me", client.base_url()),
                        Some(t),
                    ),
                )
                .send()
                .await
                .unwrap();
            assert!(first.status().is_success(), "the token itself is good");
            // Use the proof once (on the real route), then again below.
            let once = with_proof(client, case.method.clone(), &url, t, &proof);
            let _ = match &case.body {
                Some(body) => once.json(body),
                None => once,
            }
            .send()
            .await
            .unwrap();
            request
                .header("Authorization", format!("DPoP {t}"))
                .header("DPoP", proof)
        }
    };
    request.send().await.unwrap()
}

/// What must not change: every passport's sequence, grants and log of allowed actions.
async fn snapshot(owners: &[(&Client, String)]) -> Vec<(i64, usize)> {
    let mut state = Vec::new();
    for (owner, pid) in owners {
        let passport = owner.own_passport(pid);
        let seq = passport.read_raw().await.unwrap().seq;
        let grants = passport.grants().await.unwrap().len();
        state.push((seq, grants));
    }
    state
}

async fn denied_count(owner: &Client, pid: &str) -> usize {
    let log = owner.own_passport(pid).verified_access_log().await.unwrap();
    log.iter().filter(|e| e.outcome == Outcome::Denied).count()
}

fn next_version(
    key: &SigningKey,
    author: &str,
    pid: &str,
    head: &VersionEnvelope,
    body: Value,
) -> Value {
    let jws = proofs::sign_version(
        key,
        author,
        VersionDraft {
            passport: pid.into(),
            record: head.record_id.clone(),
            section: head.section,
            version: head.version + 1,
            prev: Some(head.hash.clone()),
            body: Some(body),
        },
    );
    json!({ "jws": jws })
}

async fn attack_matrix(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let bob = server.employee("Bob").await;
    let a_info = alice.create_passport().await.unwrap();
    let b_info = bob.create_passport().await.unwrap();
    let (pa, pb) = (a_info.id.clone(), b_info.id.clone());
    let mine = alice.own_passport(&pa);
    let summary = mine
        .create_record(Section::Summary, example_body(Section::Summary))
        .await
        .unwrap()
        .envelope;
    let adjustment = mine
        .create_record(Section::Adjustments, example_body(Section::Adjustments))
        .await
        .unwrap()
        .envelope;
    let condition = mine
        .create_record(Section::Conditions, example_body(Section::Conditions))
        .await
        .unwrap()
        .envelope;
    let bobs_record = bob
        .own_passport(&pb)
        .create_record(Section::Summary, example_body(Section::Summary))
        .await
        .unwrap()
        .envelope;

    // The attackers.
    let no_grant = server.employer("Employer without a grant").await;
    let expired = server.employer("Employer whose grant expired").await;
    let revoked = server.employer("Employer whose grant was revoked").await;
    let pending = server
        .employer("Employer whose grant has not started")
        .await;
    let reader = server.employer("Employer with read only").await;
    let ot = server
        .professional("OT with write on adjustments only")
        .await;
    let bobs_employer = server.employer("Bob's employer").await;

    let read_summary_adjustments: &[(Section, &[Action])] = &[
        (Section::Summary, &[Action::Read]),
        (Section::Adjustments, &[Action::Read]),
    ];
    let g_expired = mine
        .grant(&grant_to(&expired, read_summary_adjustments, 2))
        .await
        .unwrap();
    let t_expired = expired.consent_token(&g_expired.id).await.unwrap();
    let g_revoked = mine
        .grant(&grant_to(&revoked, read_summary_adjustments, 3600))
        .await
        .unwrap();
    let t_revoked = revoked.consent_token(&g_revoked.id).await.unwrap();
    mine.revoke(&g_revoked.id).await.unwrap();
    let mut later = grant_to(&pending, read_summary_adjustments, 7200);
    later.starts_at = Some(Utc::now() + Duration::hours(1));
    let g_pending = mine.grant(&later).await.unwrap();
    let g_reader = mine
        .grant(&grant_to(&reader, read_summary_adjustments, 3600))
        .await
        .unwrap();
    let t_reader = reader.consent_token(&g_reader.id).await.unwrap();
    let g_ot = mine
        .grant(&grant_to(
            &ot,
            &[(Section::Adjustments, &[Action::Read, Action::Write])],
            3600,
        ))
        .await
        .unwrap();
    let t_ot = ot.consent_token(&g_ot.id).await.unwrap();
    let g_bob = bob
        .own_passport(&pb)
        .grant(&grant_to(
            &bobs_employer,
            &[(Section::Summary, &[Action::Read])],
            3600,
        ))
        .await
        .unwrap();
    let t_bobs_employer = bobs_employer.consent_token(&g_bob.id).await.unwrap();
    let t_bob = bob.access_token().await.unwrap();
    let t_no_grant = no_grant.access_token().await.unwrap();
    let t_pending_access = pending.access_token().await.unwrap();
    // Let the short grant expire (its token expires with it).
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;

    let attackers = [
        &bob,
        &no_grant,
        &expired,
        &revoked,
        &pending,
        &reader,
        &ot,
        &bobs_employer,
    ];
    let (bob_i, no_grant_i, expired_i, revoked_i, pending_i, reader_i, ot_i, bobs_employer_i) =
        (0, 1, 2, 3, 4, 5, 6, 7);
    let owners = [(&alice, pa.clone()), (&bob, pb.clone())];
    let (alice_log, bob_log) = (Some(0), Some(1));

    let passport = format!("/v1/passports/{pa}");
    let history =
        |r: &VersionEnvelope| format!("/v1/passports/{pa}/records/{}/versions", r.record_id);
    let grants = format!("/v1/passports/{pa}/grants");
    let log = format!("/v1/passports/{pa}/access-log");
    let export = format!("/v1/passports/{pa}/export");
    let changes = format!("/v1/passports/{pa}/changes?since=0");
    let write = |attacker: &Client, head: &VersionEnvelope| {
        Some(next_version(
            attacker.key(),
            attacker.party_id().unwrap(),
            &pa,
            head,
            example_body(head.section),
        ))
    };

    use Credential::*;
    use ProblemType::{
        BadRequest, ConsentInactive as Inactive, Forbidden, InvalidDpopProof, InvalidToken,
        NotFound, ReplayedDpopProof,
    };
    let mut cases: Vec<Case> = Vec::new();
    let mut case = |name: &str,
                    attacker: usize,
                    credential: Credential,
                    method: Method,
                    path: String,
                    body: Option<Value>,
                    status: u16,
                    kind: ProblemType,
                    logged_on: Option<usize>| {
        cases.push(Case {
            name: name.into(),
            attacker,
            credential,
            method,
            path,
            body,
            status,
            kind,
            logged_on,
        });
    };

    // Another employee, with their own valid access token, on every route.
    case(
        "employee reads another's passport",
        bob_i,
        Token(t_bob.clone()),
        Method::GET,
        passport.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "employee reads another's history",
        bob_i,
        Token(t_bob.clone()),
        Method::GET,
        history(&condition),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "employee writes another's record",
        bob_i,
        Token(t_bob.clone()),
        Method::POST,
        history(&summary),
        write(attackers[bob_i], &summary),
        403,
        Forbidden,
        alice_log,
    );
    case(
        "employee lists another's grants",
        bob_i,
        Token(t_bob.clone()),
        Method::GET,
        grants.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "employee grants on another's passport",
        bob_i,
        Token(t_bob.clone()),
        Method::POST,
        grants.clone(),
        Some(
            serde_json::to_value(grant_to(
                attackers[bob_i],
                &[(Section::Conditions, &[Action::Read])],
                60,
            ))
            .unwrap(),
        ),
        403,
        Forbidden,
        alice_log,
    );
    case(
        "employee revokes another's grant",
        bob_i,
        Token(t_bob.clone()),
        Method::POST,
        format!("/v1/passports/{pa}/grants/{}/revoke", g_reader.id),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "employee reads another's access log",
        bob_i,
        Token(t_bob.clone()),
        Method::GET,
        log.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "employee exports another's passport",
        bob_i,
        Token(t_bob.clone()),
        Method::GET,
        export.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "employee syncs another's changes",
        bob_i,
        Token(t_bob.clone()),
        Method::GET,
        changes.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "employee erases another's passport",
        bob_i,
        Token(t_bob.clone()),
        Method::DELETE,
        passport.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );

    // An employer without a grant.
    case(
        "employer without grant reads passport",
        no_grant_i,
        Token(t_no_grant.clone()),
        Method::GET,
        passport.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "employer without grant reads history",
        no_grant_i,
        Token(t_no_grant.clone()),
        Method::GET,
        history(&adjustment),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "employer without grant syncs",
        no_grant_i,
        Token(t_no_grant.clone()),
        Method::GET,
        changes.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "employer without grant writes",
        no_grant_i,
        Token(t_no_grant.clone()),
        Method::POST,
        history(&adjustment),
        write(attackers[no_grant_i], &adjustment),
        403,
        Forbidden,
        alice_log,
    );

    // An employer whose grant expired: its consent token expired with the grant.
    case(
        "expired grant's token reads passport",
        expired_i,
        Token(t_expired.clone()),
        Method::GET,
        passport.clone(),
        None,
        401,
        InvalidToken,
        None,
    );
    case(
        "expired grant's token syncs",
        expired_i,
        Token(t_expired.clone()),
        Method::GET,
        changes.clone(),
        None,
        401,
        InvalidToken,
        None,
    );

    // An employer whose grant was revoked, with a token obtained before.
    case(
        "revoked grant reads passport",
        revoked_i,
        Token(t_revoked.clone()),
        Method::GET,
        passport.clone(),
        None,
        403,
        Inactive,
        alice_log,
    );
    case(
        "revoked grant reads history",
        revoked_i,
        Token(t_revoked.clone()),
        Method::GET,
        history(&adjustment),
        None,
        403,
        Inactive,
        alice_log,
    );
    case(
        "revoked grant syncs",
        revoked_i,
        Token(t_revoked.clone()),
        Method::GET,
        changes.clone(),
        None,
        403,
        Inactive,
        alice_log,
    );
    case(
        "revoked grant writes",
        revoked_i,
        Token(t_revoked.clone()),
        Method::POST,
        history(&adjustment),
        write(attackers[revoked_i], &adjustment),
        403,
        Inactive,
        alice_log,
    );

    // An employer whose grant has not started: no consent token, and its access token is no grant.
    case(
        "pending grant reads passport with an access token",
        pending_i,
        Token(t_pending_access.clone()),
        Method::GET,
        passport.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );

    // An employer with read but not write or agree.
    case(
        "reader writes an adjustment",
        reader_i,
        Token(t_reader.clone()),
        Method::POST,
        history(&adjustment),
        write(attackers[reader_i], &adjustment),
        403,
        Forbidden,
        alice_log,
    );
    case(
        "reader adds a record",
        reader_i,
        Token(t_reader.clone()),
        Method::POST,
        format!("/v1/passports/{pa}/records"),
        Some(
            json!({"jws": proofs::sign_version(reader.key(), reader.party_id().unwrap(), VersionDraft { passport: pa.clone(), record: uuid::Uuid::new_v4().to_string(), section: Section::Summary, version: 1, prev: None, body: Some(example_body(Section::Summary)) })}),
        ),
        403,
        Forbidden,
        alice_log,
    );
    case(
        "reader reads an ungranted section's history",
        reader_i,
        Token(t_reader.clone()),
        Method::GET,
        history(&condition),
        None,
        404,
        NotFound,
        alice_log,
    );
    case(
        "reader lists grants",
        reader_i,
        Token(t_reader.clone()),
        Method::GET,
        grants.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "reader reads the access log",
        reader_i,
        Token(t_reader.clone()),
        Method::GET,
        log.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "reader exports the passport",
        reader_i,
        Token(t_reader.clone()),
        Method::GET,
        export.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "reader erases the passport",
        reader_i,
        Token(t_reader.clone()),
        Method::DELETE,
        passport.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );

    // A professional with write on adjustments only.
    case(
        "OT writes the summary",
        ot_i,
        Token(t_ot.clone()),
        Method::POST,
        history(&summary),
        write(attackers[ot_i], &summary),
        404,
        NotFound,
        alice_log,
    );
    case(
        "OT reads conditions' history",
        ot_i,
        Token(t_ot.clone()),
        Method::GET,
        history(&condition),
        None,
        404,
        NotFound,
        alice_log,
    );
    case(
        "OT reads the access log",
        ot_i,
        Token(t_ot.clone()),
        Method::GET,
        log.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "OT revokes a grant",
        ot_i,
        Token(t_ot.clone()),
        Method::POST,
        format!("/v1/passports/{pa}/grants/{}/revoke", g_reader.id),
        None,
        403,
        Forbidden,
        alice_log,
    );

    // Credential faults, with the reader's otherwise valid consent token.
    case(
        "no token",
        reader_i,
        NoToken,
        Method::GET,
        passport.clone(),
        None,
        401,
        InvalidToken,
        None,
    );
    case(
        "consent token without DPoP",
        reader_i,
        NoProof(t_reader.clone()),
        Method::GET,
        passport.clone(),
        None,
        401,
        InvalidDpopProof,
        None,
    );
    case(
        "consent token with another key's proof",
        reader_i,
        ForeignProof(t_reader.clone()),
        Method::GET,
        passport.clone(),
        None,
        401,
        InvalidDpopProof,
        None,
    );
    case(
        "replayed proof",
        reader_i,
        ReplayedProof(t_reader.clone()),
        Method::GET,
        passport.clone(),
        None,
        401,
        ReplayedDpopProof,
        None,
    );
    case(
        "OT's stolen token",
        reader_i,
        Token(t_ot.clone()),
        Method::GET,
        passport.clone(),
        None,
        401,
        InvalidDpopProof,
        None,
    );
    case(
        "token for another passport",
        bobs_employer_i,
        Token(t_bobs_employer.clone()),
        Method::GET,
        passport.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "token for another passport, on its changes",
        bobs_employer_i,
        Token(t_bobs_employer.clone()),
        Method::GET,
        changes.clone(),
        None,
        403,
        Forbidden,
        alice_log,
    );
    case(
        "id substitution: another passport in the path",
        reader_i,
        Token(t_reader.clone()),
        Method::GET,
        format!("/v1/passports/{pb}"),
        None,
        403,
        Forbidden,
        bob_log,
    );
    case(
        "id substitution: another passport's record",
        reader_i,
        Token(t_reader.clone()),
        Method::GET,
        format!(
            "/v1/passports/{pa}/records/{}/versions",
            bobs_record.record_id
        ),
        None,
        404,
        NotFound,
        alice_log,
    );
    case(
        "id substitution: another passport's grant",
        bob_i,
        Token(t_bob.clone()),
        Method::POST,
        format!("/v1/passports/{pb}/grants/{}/revoke", g_reader.id),
        None,
        404,
        NotFound,
        None,
    );
    case(
        "id substitution: another party's keys",
        reader_i,
        Token(t_reader.clone()),
        Method::POST,
        format!(
            "/v1/parties/{}/keys/{}/revoke",
            owners[0].0.party_id().unwrap(),
            owners[0].0.key().kid()
        ),
        None,
        403,
        Forbidden,
        None,
    );

    // Poisoned input: a NUL byte or another spelling of an id is refused at the edge, alike on
    // both databases, before it reaches the store.
    case(
        "a DPoP proof whose jti holds a NUL",
        reader_i,
        PoisonedProof(t_reader.clone()),
        Method::GET,
        passport.clone(),
        None,
        401,
        InvalidDpopProof,
        None,
    );
    case(
        "a NUL as the passport id",
        reader_i,
        Token(t_reader.clone()),
        Method::GET,
        "/v1/passports/%00".into(),
        None,
        404,
        NotFound,
        None,
    );
    case(
        "the passport id in upper case",
        reader_i,
        Token(t_reader.clone()),
        Method::GET,
        passport
            .to_uppercase()
            .replace("/V1/PASSPORTS", "/v1/passports"),
        None,
        404,
        NotFound,
        None,
    );
    case(
        "a NUL as the record id of a write",
        ot_i,
        Token(t_ot.clone()),
        Method::POST,
        format!("/v1/passports/{pa}/records/%00/versions"),
        write(attackers[ot_i], &adjustment),
        404,
        NotFound,
        None,
    );
    case(
        "a NUL as the grant id of a revocation",
        bob_i,
        Token(t_bob.clone()),
        Method::POST,
        format!("/v1/passports/{pb}/grants/%00/revoke"),
        None,
        404,
        NotFound,
        None,
    );
    case(
        "a NUL as the access-log actor filter",
        bob_i,
        Token(t_bob.clone()),
        Method::GET,
        format!("/v1/passports/{pb}/access-log?actor=%00"),
        None,
        400,
        BadRequest,
        None,
    );
    assert!(cases.len() >= 30, "{} cases", cases.len());

    let before = snapshot(&owners).await;
    for case in &cases {
        let denied_before = match case.logged_on {
            Some(o) => denied_count(owners[o].0, &owners[o].1).await,
            None => 0,
        };
        let response = send(attackers[case.attacker], case).await;
        let (status, problem) = problem_of(response).await;
        assert_eq!(
            (status, problem.kind()),
            (case.status, Some(case.kind)),
            "{}: {problem:?}",
            case.name
        );
        if let Some(o) = case.logged_on {
            let log = owners[o]
                .0
                .own_passport(&owners[o].1)
                .verified_access_log()
                .await
                .unwrap();
            let denied = log.iter().filter(|e| e.outcome == Outcome::Denied).count();
            assert_eq!(
                denied,
                denied_before + 1,
                "{}: one denial logged",
                case.name
            );
            let last = log
                .iter()
                .rev()
                .find(|e| e.outcome == Outcome::Denied)
                .unwrap();
            assert_eq!(
                last.actor.as_deref(),
                attackers[case.attacker].party_id().ok(),
                "{}",
                case.name
            );
        }
        assert_eq!(
            snapshot(&owners).await,
            before,
            "{}: nothing changed",
            case.name
        );
    }

    // Consent tokens are only for the grant's grantee, and only while it is active; these
    // refusals are logged too.
    for (attacker, grant, kind) in [
        (&no_grant, &g_reader.id, Forbidden),
        (&reader, &g_bob.id, Forbidden),
        (&expired, &g_expired.id, Inactive),
        (&revoked, &g_revoked.id, Inactive),
        (&pending, &g_pending.id, Inactive),
    ] {
        // A fresh client: no consent token cached from before.
        let fresh = Client::for_party(
            attacker.base_url(),
            attacker.key().clone(),
            attacker.party_id().unwrap(),
        );
        let error = fresh.granted_passport(grant).await.err().unwrap();
        assert_eq!(
            error.problem_type(),
            Some(kind),
            "{}",
            attacker.party_id().unwrap()
        );
    }
    let alice_log = owners[0]
        .0
        .own_passport(&pa)
        .verified_access_log()
        .await
        .unwrap();
    for attacker in [&no_grant, &expired, &revoked, &pending] {
        assert!(
            alice_log
                .iter()
                .any(|e| e.actor.as_deref() == attacker.party_id().ok()
                    && e.action == wp_schemas::api::LogAction::TokenIssued
                    && e.outcome == Outcome::Denied)
        );
    }
    assert_eq!(snapshot(&owners).await, before);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Signed objects that a standard JOSE library would read differently, and weak keys.

/// The identity point, the simplest of the eight Ed25519 points of small order.
const IDENTITY_X: &str = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Signs exactly `header` (JSON text, so duplicates can be written) over `payload`.
fn signed(key: &SigningKey, header: &str, payload: &Value) -> String {
    key.sign_raw(header.as_bytes(), payload.to_string().as_bytes())
}

/// A "signature" that needs no private key: R = identity and S = 0 satisfy the verification
/// equation [S]B = R + [k]A for every message when A has small order.
fn forged(header: &Value, payload: &Value) -> String {
    let mut signature = vec![1u8];
    signature.resize(64, 0);
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes()),
        b64(&signature)
    )
}

fn weak_jwk(x: &str) -> PublicJwk {
    PublicJwk {
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        x: x.into(),
        kid: None,
    }
}

fn hex_b64(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    b64(&bytes)
}

async fn token_request(url: &str, assertion: &str, dpop: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/v1/token"))
        .header("DPoP", dpop)
        .form(&[
            ("grant_type", GRANT_TYPE),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap()
}

/// Every kind of JWS the server accepts has an allow-list of protected header members; whatever
/// it accepts, every conforming JOSE library verifies. Small-order keys never sign for anyone.
/// POSTs `body` to `url` with no credentials (registration) and returns the refusal.
async fn post_anonymous(url: &str, body: &Value) -> (u16, wp_schemas::problem::Problem) {
    let response = reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap();
    problem_of(response).await
}

async fn forged_jws_matrix(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let me = alice.party_id().unwrap().to_owned();
    let info = alice.create_passport().await.unwrap();
    let pid = info.id.clone();
    let key = alice.key().clone();
    let kid = key.kid().to_owned();
    let token = alice.access_token().await.unwrap();
    let token_url = format!("{}/v1/token", server.url);
    let me_url = format!("{}/v1/me", server.url);
    let now = proofs::now();
    let jti = || uuid::Uuid::new_v4().to_string();
    let bare_jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": key.public_jwk().x});

    // Record versions: `{alg, typ: wp-version+jws, kid}` and nothing else.
    let version = |about: &str| {
        serde_json::to_value(VersionPayload {
            passport: pid.clone(),
            record: uuid::Uuid::new_v4().to_string(),
            section: Section::Summary,
            version: 1,
            prev: None,
            author: me.clone(),
            iat: proofs::now(),
            body: Some(json!({ "about_me": about })),
            deleted: false,
        })
        .unwrap()
    };
    let header =
        |extra: &str| format!(r#"{{"alg":"EdDSA","typ":"{VERSION_TYP}","kid":"{kid}"{extra}}}"#);
    let genuine = signed(&key, &header(""), &version("x"));
    let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    // The payload's last character carries unused bits; setting one is not canonical base64url.
    let last = parts[1].pop().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    parts[1].push(alphabet.as_bytes()[alphabet.find(last).unwrap() | 1] as char);
    let stray_bits = parts.join(".");
    let mut duplicate_body = version("x").to_string();
    duplicate_body.insert_str(
        duplicate_body.find("\"about_me\"").unwrap(),
        r#""about_me":"y","#,
    );
    let duplicate_payload = key.sign_raw(header("").as_bytes(), duplicate_body.as_bytes());
    let version_cases: Vec<(&str, String, u16, ProblemType)> = vec![
        (
            "b64 false without crit (PyJWT and jwcrypto refuse it)",
            signed(&key, &header(r#","b64":false"#), &version("x")),
            400,
            ProblemType::InvalidSignature,
        ),
        (
            "b64 false with crit",
            signed(
                &key,
                &header(r#","b64":false,"crit":["b64"]"#),
                &version("x"),
            ),
            400,
            ProblemType::InvalidSignature,
        ),
        (
            "a key URL to fetch",
            signed(
                &key,
                &header(r#","jku":"https://evil.example/jwks.json""#),
                &version("x"),
            ),
            400,
            ProblemType::InvalidSignature,
        ),
        (
            "an embedded jwk besides the kid",
            signed(
                &key,
                &header(&format!(r#","jwk":{bare_jwk}"#)),
                &version("x"),
            ),
            400,
            ProblemType::InvalidSignature,
        ),
        (
            "a duplicate header member",
            signed(&key, &header(&format!(r#","kid":"{kid}""#)), &version("x")),
            400,
            ProblemType::InvalidSignature,
        ),
        (
            "a duplicate payload member",
            duplicate_payload,
            422,
            ProblemType::InvalidBody,
        ),
        (
            "non-canonical base64url",
            stray_bits,
            400,
            ProblemType::InvalidSignature,
        ),
        (
            "padded base64url",
            genuine.replacen('.', "=.", 1),
            400,
            ProblemType::InvalidSignature,
        ),
        (
            "another typ",
            signed(
                &key,
                &format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#),
                &version("x"),
            ),
            400,
            ProblemType::InvalidVersion,
        ),
    ];
    let records = format!("/v1/passports/{pid}/records");
    for (name, jws, status, kind) in &version_cases {
        let response = raw_request(
            &alice,
            Method::POST,
            &records,
            &token,
            Some(&json!({ "jws": jws })),
        )
        .await;
        let (got, problem) = problem_of(response).await;
        assert_eq!(
            (got, problem.kind()),
            (*status, Some(*kind)),
            "version, {name}: {problem:?}"
        );
    }
    let mine = alice.own_passport(&pid);
    assert_eq!(mine.read().await.unwrap().seq, 0, "no version was stored");
    // The genuine article, as our client signs it, is accepted.
    let response = raw_request(
        &alice,
        Method::POST,
        &records,
        &token,
        Some(&json!({ "jws": genuine })),
    )
    .await;
    assert_eq!(response.status(), 201);

    // DPoP proofs: `{alg, typ: dpop+jwt, jwk}`, the jwk only `kty`, `crv`, `x` and its own kid.
    let proof_claims = || {
        json!({"jti": jti(), "htm": "GET", "htu": me_url, "iat": proofs::now(),
               "ath": sha256_b64(token.as_bytes())})
    };
    let with_jwk = |jwk: Value| json!({"alg": "EdDSA", "typ": "dpop+jwt", "jwk": jwk});
    let mut with_d = bare_jwk.clone();
    with_d["d"] = json!(b64(&[7u8; 32]));
    let mut with_use = bare_jwk.clone();
    with_use["use"] = json!("enc");
    let mut wrong_kid = bare_jwk.clone();
    wrong_kid["kid"] = json!(SigningKey::generate().kid());
    let mut with_kid = with_jwk(bare_jwk.clone());
    with_kid["kid"] = json!(kid);
    let mut b64_false = with_jwk(bare_jwk.clone());
    b64_false["b64"] = json!(false);
    let dpop_cases: Vec<(&str, String)> = vec![
        (
            "a kid besides the jwk",
            signed(&key, &with_kid.to_string(), &proof_claims()),
        ),
        (
            "a private d in the jwk",
            signed(&key, &with_jwk(with_d).to_string(), &proof_claims()),
        ),
        (
            "a use in the jwk",
            signed(&key, &with_jwk(with_use).to_string(), &proof_claims()),
        ),
        (
            "a jwk kid that is not its thumbprint",
            signed(&key, &with_jwk(wrong_kid).to_string(), &proof_claims()),
        ),
        (
            "b64 false",
            signed(&key, &b64_false.to_string(), &proof_claims()),
        ),
        (
            "a duplicate typ",
            signed(
                &key,
                &format!(r#"{{"alg":"EdDSA","typ":"JWT","typ":"dpop+jwt","jwk":{bare_jwk}}}"#),
                &proof_claims(),
            ),
        ),
        (
            "a small-order jwk, forged",
            forged(
                &with_jwk(json!({"kty": "OKP", "crv": "Ed25519", "x": IDENTITY_X})),
                &proof_claims(),
            ),
        ),
    ];
    for (name, proof) in &dpop_cases {
        let response = reqwest::Client::new()
            .get(&me_url)
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", proof)
            .send()
            .await
            .unwrap();
        let (got, problem) = problem_of(response).await;
        assert_eq!(
            (got, problem.kind()),
            (401, Some(ProblemType::InvalidDpopProof)),
            "DPoP, {name}: {problem:?}"
        );
    }
    let good = signed(
        &key,
        &with_jwk(bare_jwk.clone()).to_string(),
        &proof_claims(),
    );
    let response = reqwest::Client::new()
        .get(&me_url)
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", good)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "a proof of exactly {{alg, typ, jwk}} is accepted"
    );

    // Client assertions: `{alg, kid, typ?}`, typ JWT when present.
    let assertion_claims = || json!({"iss": me, "sub": me, "aud": token_url, "iat": now, "exp": now + 60, "jti": jti()});
    let token_proof = || proofs::dpop(&key, "POST", &token_url, None);
    let assertion_cases: Vec<(&str, String)> = vec![
        (
            "an embedded jwk",
            signed(&key, &format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","jwk":{bare_jwk}}}"#), &assertion_claims()),
        ),
        (
            "b64 false",
            signed(&key, &format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","b64":false}}"#), &assertion_claims()),
        ),
        (
            "a certificate URL",
            signed(&key, &format!(r#"{{"alg":"EdDSA","kid":"{kid}","x5u":"https://evil.example/c"}}"#), &assertion_claims()),
        ),
        (
            "the typ of a DPoP proof",
            signed(&key, &format!(r#"{{"alg":"EdDSA","typ":"dpop+jwt","kid":"{kid}"}}"#), &assertion_claims()),
        ),
        (
            "a duplicate kid",
            signed(&key, &format!(r#"{{"alg":"EdDSA","kid":"not-registered","kid":"{kid}"}}"#), &assertion_claims()),
        ),
        (
            "a duplicate sub in the claims",
            key.sign_raw(
                format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#).as_bytes(),
                format!(
                    r#"{{"iss":"{me}","sub":"someone else","sub":"{me}","aud":"{token_url}","iat":{now},"exp":{},"jti":"{}"}}"#,
                    now + 60,
                    jti()
                )
                .as_bytes(),
            ),
        ),
    ];
    for (name, assertion) in &assertion_cases {
        let response = token_request(&server.url, assertion, &token_proof()).await;
        let (got, problem) = problem_of(response).await;
        assert_eq!(
            (got, problem.kind()),
            (401, Some(ProblemType::InvalidAssertion)),
            "assertion, {name}: {problem:?}"
        );
    }
    let without_typ = signed(
        &key,
        &format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#),
        &assertion_claims(),
    );
    let response = token_request(&server.url, &without_typ, &token_proof()).await;
    assert_eq!(response.status(), 200, "typ is optional on an assertion");

    // Small-order and non-canonical keys: refused at registration, at enrolment, when a key is
    // added; and a party holding one from before cannot be impersonated.
    let parties = format!("{}/v1/parties", server.url);
    let weak_keys = [
        ("the identity", IDENTITY_X.to_owned()),
        (
            "a point of order 8",
            hex_b64("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
        ),
        (
            "a point of order 2 with the sign bit set",
            hex_b64("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
        ),
        (
            "the identity written as p + 1",
            hex_b64("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        ),
        // Issue 23 item 6: y = 2 has no x on the curve (ed25519-dalek cannot decompress it).
        (
            "no point of the curve",
            hex_b64("0200000000000000000000000000000000000000000000000000000000000000"),
        ),
    ];
    let key_proof = |jwk: &PublicJwk, aud: &str| {
        forged(
            &json!({"alg": "EdDSA", "typ": "JWT", "kid": jwk.thumbprint()}),
            &json!({"aud": aud, "iat": now, "exp": now + 60, "jti": jti()}),
        )
    };
    let add_key = format!("/v1/parties/{me}/keys");
    let off_curve = wp_schemas::jose::b64_decode(&weak_keys[4].1).unwrap();
    assert!(
        ed25519_dalek::VerifyingKey::from_bytes(&off_curve.try_into().unwrap()).is_err(),
        "the test's off-curve key must not decompress"
    );
    for (name, x) in &weak_keys {
        let jwk = weak_jwk(x);
        let body =
            json!({"display_name": "Mallory", "jwk": jwk, "proof": key_proof(&jwk, &parties)});
        let (got, problem) = post_anonymous(&parties, &body).await;
        assert_eq!(
            (got, problem.kind()),
            (400, Some(ProblemType::InvalidKey)),
            "register {name}"
        );

        let body =
            json!({"jwk": jwk, "proof": key_proof(&jwk, &format!("{}{add_key}", server.url))});
        let response = raw_request(&alice, Method::POST, &add_key, &token, Some(&body)).await;
        let (got, problem) = problem_of(response).await;
        assert_eq!(
            (got, problem.kind()),
            (400, Some(ProblemType::InvalidKey)),
            "add {name}"
        );

        let refused = server
            .admin()
            .enrol(PartyKind::Employer, "Weak Ltd", &jwk, None)
            .await
            .unwrap_err();
        assert_eq!(
            refused.problem_type(),
            Some(ProblemType::InvalidKey),
            "enrol {name}"
        );
    }
    let alice_now = alice.me().await.unwrap();
    assert_eq!(alice_now.party.keys.len(), 1, "no key was added");

    // Key proofs: `{alg, kid, typ?}`, the kid being the submitted key's thumbprint.
    let fresh = SigningKey::generate();
    let proof_claims = json!({"aud": parties, "iat": now, "exp": now + 60, "jti": jti()});
    for (name, header) in [
        (
            "an embedded jwk",
            format!(
                r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}","jwk":{}}}"#,
                fresh.kid(),
                json!(fresh.public_jwk())
            ),
        ),
        (
            "another key's kid",
            format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#),
        ),
        (
            "b64 false",
            format!(r#"{{"alg":"EdDSA","kid":"{}","b64":false}}"#, fresh.kid()),
        ),
    ] {
        let body = json!({"display_name": "Mallory", "jwk": fresh.public_jwk(), "proof": signed(&fresh, &header, &proof_claims)});
        let (got, problem) = post_anonymous(&parties, &body).await;
        assert_eq!(
            (got, problem.kind()),
            (400, Some(ProblemType::InvalidKeyProof)),
            "key proof, {name}"
        );
    }

    // A weak key stored before these checks existed: forged assertions and proofs fail.
    let victim = wp_server::domain::ids::PartyId::random();
    let weak = weak_jwk(IDENTITY_X).normalized();
    server
        .store()
        .await
        .create_party(
            &victim,
            PartyKind::Employer,
            "Victim Ltd",
            None,
            &weak,
            wp_server::domain::time::Timestamp::from_secs(now - 10),
        )
        .await
        .unwrap();
    let assertion = forged(
        &json!({"alg": "EdDSA", "typ": "JWT", "kid": weak.thumbprint()}),
        &json!({"iss": victim.as_str(), "sub": victim.as_str(), "aud": token_url, "iat": now, "exp": now + 60, "jti": jti()}),
    );
    let proof = forged(
        &json!({"alg": "EdDSA", "typ": "dpop+jwt", "jwk": weak_jwk(IDENTITY_X)}),
        &json!({"jti": jti(), "htm": "POST", "htu": token_url, "iat": proofs::now()}),
    );
    let response = token_request(&server.url, &assertion, &proof).await;
    let (got, problem) = problem_of(response).await;
    assert_eq!(
        (got, problem.kind()),
        (401, Some(ProblemType::InvalidAssertion)),
        "a forged assertion for a small-order key: {problem:?}"
    );
    server.stop().await;
}

/// `route`'s path with its parameters set from `values`; a parameter without a value fails
/// the test, so that a new route's parameter is given one here.
fn path_of(route: &Route, values: &[(&str, &str)]) -> String {
    let mut path = route.path.to_owned();
    while let Some(start) = path.find('{') {
        let end = start + path[start..].find('}').unwrap();
        let name = &path[start + 1..end];
        let Some((_, value)) = values.iter().find(|(n, _)| *n == name) else {
            panic!(
                "{} {}: no value for {{{name}}} in this test",
                route.method, route.path
            );
        };
        path.replace_range(start..=end, value);
    }
    path
}

/// Alice, her passport's id and its summary record, and an employer granted to read it (the
/// reader) with the grant.
async fn passport_with_a_reader(
    server: &TestServer,
) -> (Client, String, VersionEnvelope, Client, Grant) {
    let alice = server.employee("Alice").await;
    let pid = alice.create_passport().await.unwrap().id;
    let mine = alice.own_passport(&pid);
    let summary = mine
        .create_record(Section::Summary, example_body(Section::Summary))
        .await
        .unwrap()
        .envelope;
    let reader = server.employer("Reader").await;
    let read_summary: &[(Section, &[Action])] = &[(Section::Summary, &[Action::Read])];
    let grant = mine
        .grant(&grant_to(&reader, read_summary, 3600))
        .await
        .unwrap();
    (alice, pid, summary, reader, grant)
}

/// Every route the route table says logs its refusals on the passport in its path (reads,
/// changes, owner-only requests) refuses another employee and logs the refusal there, with
/// nothing changed. Derived from the table: a new route is covered when it is added, and one
/// with a body fails here until it is given one.
async fn every_passport_route_logs_its_refusal(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (alice, pid, summary, _, grant) = passport_with_a_reader(&server).await;
    let mine = alice.own_passport(&pid);
    let bob = server.employee("Bob").await;
    let t_bob = bob.access_token().await.unwrap();
    let bob_id = bob.party_id().unwrap();
    let values = [
        ("pid", pid.as_str()),
        ("rid", summary.record_id.as_str()),
        ("gid", grant.id.as_str()),
    ];
    // The bodies of the routes that take one: well formed, so that the guard decides.
    let body_of = |route: &Route| -> Option<Value> {
        match (route.method.as_str(), route.path) {
            (_, _) if route.method != axum::http::Method::POST => None,
            ("POST", "/v1/passports/{pid}/records") => Some(json!({"jws": proofs::sign_version(
                bob.key(),
                bob_id,
                VersionDraft {
                    passport: pid.clone(),
                    record: uuid::Uuid::new_v4().to_string(),
                    section: Section::Summary,
                    version: 1,
                    prev: None,
                    body: Some(example_body(Section::Summary)),
                },
            )})),
            ("POST", "/v1/passports/{pid}/records/{rid}/versions") => Some(next_version(
                bob.key(),
                bob_id,
                &pid,
                &summary,
                example_body(Section::Summary),
            )),
            ("POST", "/v1/passports/{pid}/grants") => Some(
                serde_json::to_value(grant_to(&bob, &[(Section::Summary, &[Action::Read])], 3600))
                    .unwrap(),
            ),
            ("POST", "/v1/passports/{pid}/grants/{gid}/revoke") => None,
            (method, path) => panic!("{method} {path}: no request body in this test"),
        }
    };
    let logged: Vec<Route> = routes::table()
        .into_iter()
        .filter(|r| matches!(r.audit, Audit::Read | Audit::Logged | Audit::RefusalsOnly))
        .collect();
    assert!(logged.len() >= 12, "{} routes", logged.len());
    let before = snapshot(&[(&alice, pid.clone())]).await;
    for route in &logged {
        let path = path_of(route, &values);
        let denied_before = denied_count(&alice, &pid).await;
        let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        let response = raw_request(&bob, method, &path, &t_bob, body_of(route).as_ref()).await;
        let (status, problem) = problem_of(response).await;
        let name = format!("{} {}", route.method, route.path);
        assert_eq!(
            (status, problem.kind()),
            (403, Some(ProblemType::Forbidden)),
            "{name}: {problem:?}"
        );
        let log = mine.verified_access_log().await.unwrap();
        let denied: Vec<_> = log
            .iter()
            .filter(|e| e.outcome == Outcome::Denied)
            .collect();
        assert_eq!(denied.len(), denied_before + 1, "{name}: one denial logged");
        assert_eq!(
            denied.last().unwrap().actor.as_deref(),
            Some(bob_id),
            "{name}"
        );
        assert_eq!(
            snapshot(&[(&alice, pid.clone())]).await,
            before,
            "{name}: nothing changed"
        );
    }
    server.stop().await;
}

/// A read admits its proof in the transaction that writes its log entry. A stolen request
/// replayed as it was (the same token and proof) is refused on every read route, and the
/// owner's log holds the first read only; a proof used on a passport that does not exist is
/// used all the same.
async fn replayed_reads_leave_no_entry(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (alice, pid, summary, reader, grant) = passport_with_a_reader(&server).await;
    let mine = alice.own_passport(&pid);
    let token = reader.consent_token(&grant.id).await.unwrap();
    let rid = summary.record_id.clone();
    // Every read the route table says admits its proof with its log entry, and one read of a
    // passport that does not exist, whose proof is used all the same.
    let reads: Vec<Route> = routes::table()
        .into_iter()
        .filter(|r| r.audit == Audit::Read)
        .collect();
    assert!(reads.iter().any(|r| r.path.ends_with("/access-log")));
    let values = [("pid", pid.as_str()), ("rid", rid.as_str())];
    let mut paths: Vec<String> = reads.iter().map(|r| path_of(r, &values)).collect();
    let missing = wp_tests::PassportId::random().to_string();
    paths.push(path_of(&reads[0], &[("pid", &missing), ("rid", &rid)]));
    for path in &paths {
        let url = format!("{}{path}", reader.base_url());
        let htu = url.split('?').next().unwrap().to_owned();
        let proof = proofs::dpop(reader.key(), "GET", &htu, Some(&token));
        let send = || with_proof(&reader, Method::GET, &url, &token, &proof).send();
        let first = send().await.unwrap().status().as_u16();
        // The grantee reads; the owner-only access log refuses it, and logs that.
        let expected: &[u16] = if !path.contains(pid.as_str()) {
            &[404]
        } else {
            &[200, 403]
        };
        assert!(expected.contains(&first), "{path}: the first use: {first}");
        let (status, problem) = problem_of(send().await.unwrap()).await;
        assert_eq!(
            (status, problem.kind()),
            (401, Some(ProblemType::ReplayedDpopProof)),
            "{path}: the replay"
        );
    }
    // One entry per read of the passport, none for the replays.
    let entries = mine.verified_access_log().await.unwrap();
    let by_reader = entries
        .iter()
        .filter(|e| e.actor.as_deref() == reader.party_id().ok())
        .filter(|e| e.action != wp_schemas::api::LogAction::TokenIssued)
        .count();
    assert_eq!(by_reader, reads.len(), "{entries:#?}");

    // A version write replayed as it was: refused as a replay (not as a stale write), and the
    // record holds its first version and the one written once, nothing more.
    let token = alice.access_token().await.unwrap();
    let body = next_version(
        alice.key(),
        alice.party_id().unwrap(),
        &pid,
        &summary,
        example_body(Section::Summary),
    );
    let url = format!(
        "{}/v1/passports/{pid}/records/{rid}/versions",
        alice.base_url()
    );
    let proof = proofs::dpop(alice.key(), "POST", &url, Some(&token));
    let send = || {
        with_proof(&alice, Method::POST, &url, &token, &proof)
            .json(&body)
            .send()
    };
    assert_eq!(send().await.unwrap().status().as_u16(), 201);
    let (status, problem) = problem_of(send().await.unwrap()).await;
    assert_eq!(
        (status, problem.kind()),
        (401, Some(ProblemType::ReplayedDpopProof)),
        "the write's replay"
    );
    assert_eq!(mine.history(&rid).await.unwrap().len(), 2);
    let entries = mine.verified_access_log().await.unwrap();
    let writes = entries
        .iter()
        .filter(|e| e.action == wp_schemas::api::LogAction::VersionWritten)
        .count();
    assert_eq!(
        writes, 2,
        "the record's two versions, no refusal: {entries:#?}"
    );
    server.stop().await;
}

backend_tests!(
    attack_matrix,
    forged_jws_matrix,
    replayed_reads_leave_no_entry,
    every_passport_route_logs_its_refusal
);
