//! The attack matrix: each role an attacker can hold, against each route, with each credential
//! fault. Every case must be refused with the right status, change nothing, and, where the
//! attacker is known to the server, appear in the owner's access log as denied.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use wp_client::proofs::{self, VersionDraft};
use wp_client::{Client, SigningKey};
use wp_schemas::api::{Action, CreateGrant, Outcome, Scope, VersionEnvelope};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{Section, example_body};
use wp_tests::{Backend, TestServer, backend_tests, problem_of, raw_request};

fn grant_to(grantee: &Client, scopes: &[(Section, &[Action])], seconds: i64) -> CreateGrant {
    CreateGrant {
        grantee: grantee.party_id().unwrap().to_owned(),
        scopes: scopes
            .iter()
            .map(|(s, a)| Scope {
                section: *s,
                actions: a.to_vec(),
            })
            .collect(),
        purpose: "workplace adjustments".into(),
        starts_at: None,
        ends_at: Utc::now() + Duration::seconds(seconds),
        consent_text: "I agree.".into(),
    }
}

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
            let once = client
                .http()
                .request(case.method.clone(), &url)
                .header("Authorization", format!("DPoP {t}"))
                .header("DPoP", proof.clone());
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

backend_tests!(attack_matrix);
