//! Consent: grants, consent tokens, scope enforcement on every request, revocation, the access
//! log; and the attack matrix, on SQLite and PostgreSQL.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use wp_client::{Client, ClientError, SigningKey};
use wp_schemas::api::{
    AccessLogEntry, Action, CreateGrant, GrantStatus, LogAction, Outcome, Scope,
};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{Section, example_body};
use wp_tests::{
    Backend, ServerProcess, TestServer, backend_tests, problem_of, raw_request, with_proof,
};

fn scope(section: Section, actions: &[Action]) -> Scope {
    Scope {
        section,
        actions: actions.to_vec(),
    }
}

fn grant_to(grantee: &Client, scopes: Vec<Scope>, days: i64) -> CreateGrant {
    CreateGrant {
        grantee: grantee.party_id().unwrap().to_owned(),
        roles: Vec::new(),
        members: Vec::new(),
        scopes,
        purpose: "workplace adjustments".into(),
        starts_at: None,
        ends_at: Utc::now() + Duration::days(days),
        consent_text: "I agree to share these sections for this purpose until the end date.".into(),
    }
}

fn actions(log: &[AccessLogEntry], actor: &str) -> Vec<(LogAction, Outcome)> {
    log.iter()
        .filter(|e| e.actor.as_deref() == Some(actor))
        .map(|e| (e.action, e.outcome))
        .collect()
}

/// The journey of the consent issue, end to end through the library and real HTTP.
async fn employee_ot_employer_journey(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let ot = server.professional("Olu Adeyemi").await;
    let acme = server.employer("Acme Ltd").await;
    let info = alice.create_passport().await.unwrap();
    let mine = alice.own_passport(&info.id);
    mine.create_record(Section::Summary, example_body(Section::Summary))
        .await
        .unwrap();
    mine.create_record(Section::Conditions, example_body(Section::Conditions))
        .await
        .unwrap();
    mine.create_record(Section::Impacts, example_body(Section::Impacts))
        .await
        .unwrap();
    let adjustment = mine
        .create_record(Section::Adjustments, example_body(Section::Adjustments))
        .await
        .unwrap();
    let rid = adjustment.envelope.record_id.clone();

    // The OT: read and write on impacts and adjustments for 30 days.
    let ot_grant = mine
        .grant(&grant_to(
            &ot,
            vec![
                scope(Section::Impacts, &[Action::Read, Action::Write]),
                scope(Section::Adjustments, &[Action::Read, Action::Write]),
            ],
            30,
        ))
        .await
        .unwrap();
    assert_eq!(ot_grant.status, GrantStatus::Active);
    assert_eq!(ot.grants_to_me().await.unwrap()[0].id, ot_grant.id);
    let as_ot = ot.granted_passport(&ot_grant.id).await.unwrap();
    let seen = as_ot.read().await.unwrap();
    assert_eq!(
        seen.sections.keys().copied().collect::<Vec<_>>(),
        vec![Section::Impacts, Section::Adjustments]
    );
    let mut body = example_body(Section::Adjustments);
    body["notes"] = json!("Reviewed after assessment: trial for 6 weeks.");
    let by_ot = as_ot.update_record(&rid, body).await.unwrap();
    assert_eq!(by_ot.author.id, ot.party_id().unwrap());
    assert_eq!(
        by_ot
            .author
            .registration
            .as_ref()
            .unwrap()
            .registration_body,
        "HCPC"
    );
    // The OT may not write where it was not granted writing.
    let summary_id = seen.sections.get(&Section::Summary).map(|_| ());
    assert!(summary_id.is_none());
    let refused = as_ot
        .create_record(Section::Summary, example_body(Section::Summary))
        .await
        .unwrap_err();
    assert_eq!(refused.problem_type(), Some(ProblemType::Forbidden));

    // The employer: read summary and adjustments, agree adjustments.
    let acme_grant = mine
        .grant(&grant_to(
            &acme,
            vec![
                scope(Section::Summary, &[Action::Read]),
                scope(Section::Adjustments, &[Action::Read, Action::Agree]),
            ],
            365,
        ))
        .await
        .unwrap();
    let as_acme = acme.granted_passport(&acme_grant.id).await.unwrap();
    let view = as_acme.read().await.unwrap();
    assert_eq!(
        view.sections.keys().copied().collect::<Vec<_>>(),
        vec![Section::Summary, Section::Adjustments]
    );
    let raw = as_acme.read_raw().await.unwrap();
    assert!(
        !raw.sections.contains_key(&Section::Conditions),
        "a section not granted is absent, not empty"
    );
    let latest = &view.records(Section::Adjustments)[0];
    assert_eq!(
        latest.author.id,
        ot.party_id().unwrap(),
        "the employer sees the OT's signed version"
    );
    let agreed = as_acme
        .agree_adjustment(&rid, "Sam Patel, line manager")
        .await
        .unwrap();
    assert_eq!(agreed.author.id, acme.party_id().unwrap());
    assert_eq!(agreed.payload.body.as_ref().unwrap()["status"], "agreed");
    // Agreeing may not change anything else.
    let head = as_acme.record(&rid).await.unwrap();
    let mut sneaky = head.payload.body.clone().unwrap();
    sneaky["title"] = json!("Four-day week");
    let refused = as_acme
        .write_after(&head.envelope, Some(sneaky))
        .await
        .unwrap_err();
    assert_eq!(refused.problem_type(), Some(ProblemType::Forbidden));

    // Revocation: the employer's still-unexpired token is refused on the next request.
    let token = acme.consent_token(&acme_grant.id).await.unwrap();
    let revoked = mine.revoke(&acme_grant.id).await.unwrap();
    assert_eq!(revoked.status, GrantStatus::Revoked);
    let response = raw_request(
        &acme,
        Method::GET,
        &format!("/v1/passports/{}", info.id),
        &token,
        None,
    )
    .await;
    let (status, problem) = problem_of(response).await;
    assert_eq!(
        (status, problem.kind()),
        (403, Some(ProblemType::ConsentInactive))
    );
    assert!(matches!(
        as_acme.read().await.unwrap_err(),
        ClientError::ConsentEnded(_)
    ));
    assert!(matches!(
        acme.granted_passport(&acme_grant.id).await.err().unwrap(),
        ClientError::ConsentEnded(_)
    ));
    // The OT's grant is untouched.
    as_ot.read().await.unwrap();

    // The owner's log shows every step, and its chain verifies.
    let log = mine.verified_access_log().await.unwrap();
    let ot_steps = actions(&log, ot.party_id().unwrap());
    assert_eq!(ot_steps[0], (LogAction::TokenIssued, Outcome::Allowed));
    assert!(ot_steps.contains(&(LogAction::PassportRead, Outcome::Allowed)));
    assert!(ot_steps.contains(&(LogAction::VersionWritten, Outcome::Allowed)));
    assert!(ot_steps.contains(&(LogAction::VersionWritten, Outcome::Denied)));
    let acme_steps = actions(&log, acme.party_id().unwrap());
    assert_eq!(acme_steps[0], (LogAction::TokenIssued, Outcome::Allowed));
    assert!(acme_steps.contains(&(LogAction::VersionWritten, Outcome::Allowed)));
    assert!(acme_steps.contains(&(LogAction::VersionWritten, Outcome::Denied)));
    let after_revocation: Vec<_> = acme_steps.iter().rev().take(3).collect();
    assert!(
        after_revocation.iter().all(|(_, o)| *o == Outcome::Denied),
        "{after_revocation:?}"
    );
    let owner_steps = actions(&log, alice.party_id().unwrap());
    for action in [
        LogAction::PassportCreated,
        LogAction::GrantCreated,
        LogAction::GrantRevoked,
        LogAction::VersionWritten,
    ] {
        assert!(
            owner_steps.contains(&(action, Outcome::Allowed)),
            "{action:?}"
        );
    }
    // Who read what: sections only, never contents.
    let read = log
        .iter()
        .find(|e| e.actor.as_deref() == acme.party_id().ok() && e.action == LogAction::PassportRead)
        .unwrap();
    assert_eq!(read.sections, vec![Section::Summary, Section::Adjustments]);
    assert_eq!(read.grant_id.as_deref(), Some(acme_grant.id.as_str()));
    // Filter by actor; nobody else reads the log.
    let page = mine
        .access_log_page(None, acme.party_id().ok())
        .await
        .unwrap();
    assert!(
        page.entries
            .iter()
            .all(|e| e.actor.as_deref() == acme.party_id().ok())
    );
    assert_eq!(
        as_ot
            .access_log_page(None, None)
            .await
            .unwrap_err()
            .problem_type(),
        Some(ProblemType::Forbidden)
    );
    server.stop().await;
}

/// A tampered log entry breaks the chain the owner verifies.
async fn tampered_log_is_detected(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let info = alice.create_passport().await.unwrap();
    let mine = alice.own_passport(&info.id);
    let acme = server.employer("Acme").await;
    let grant = mine
        .grant(&grant_to(
            &acme,
            vec![scope(Section::Summary, &[Action::Read])],
            1,
        ))
        .await
        .unwrap();
    acme.granted_passport(&grant.id)
        .await
        .unwrap()
        .read()
        .await
        .unwrap();
    mine.verified_access_log().await.unwrap();

    // Someone with database access hides the employer's read.
    let sql = "UPDATE access_log SET actor_id = 'nobody' WHERE passport_id = $1 AND action = 'passport_read'";
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&server.database_url)
                .await
                .unwrap();
            sqlx::query(sql)
                .bind(&info.id)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&server.database_url).await.unwrap();
            sqlx::query(sql)
                .bind(&info.id)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
    let error = mine.verified_access_log().await.unwrap_err();
    assert!(matches!(error, ClientError::Verification(_)), "{error}");
    server.stop().await;
}

/// Grants that are not active give no consent token; bad grants are refused.
async fn grant_windows_and_validation(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let info = alice.create_passport().await.unwrap();
    let mine = alice.own_passport(&info.id);
    let acme = server.employer("Acme").await;
    let bob = server.employee("Bob").await;

    let mut later = grant_to(&acme, vec![scope(Section::Summary, &[Action::Read])], 30);
    later.starts_at = Some(Utc::now() + Duration::days(1));
    let pending = mine.grant(&later).await.unwrap();
    assert_eq!(pending.status, GrantStatus::Pending);
    assert!(matches!(
        acme.granted_passport(&pending.id).await.err().unwrap(),
        ClientError::ConsentEnded(_)
    ));

    // A consent token never outlives its grant.
    let mut short = grant_to(&acme, vec![scope(Section::Summary, &[Action::Read])], 0);
    short.ends_at = Utc::now() + Duration::seconds(2);
    let short = mine.grant(&short).await.unwrap();
    let token = acme.consent_token(&short.id).await.unwrap();
    let claims: Value = serde_json::from_slice(
        &wp_schemas::jose::b64_decode(token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert!(claims["exp"].as_i64().unwrap() <= short.ends_at.timestamp());
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    let response = raw_request(
        &acme,
        Method::GET,
        &format!("/v1/passports/{}", info.id),
        &token,
        None,
    )
    .await;
    assert_eq!(problem_of(response).await.0, 401);
    assert!(matches!(
        acme.granted_passport(&short.id).await.err().unwrap(),
        ClientError::ConsentEnded(_)
    ));
    let statuses: Vec<_> = mine
        .grants()
        .await
        .unwrap()
        .iter()
        .map(|g| g.status)
        .collect();
    assert!(statuses.contains(&GrantStatus::Expired) && statuses.contains(&GrantStatus::Pending));

    // Refused grants: no end in sight, writes for employers, another employee, the past.
    let cases: Vec<(CreateGrant, &str)> = vec![
        (
            grant_to(&acme, vec![scope(Section::Summary, &[Action::Read])], 800),
            "ends_at",
        ),
        (
            grant_to(
                &acme,
                vec![scope(Section::Adjustments, &[Action::Write])],
                30,
            ),
            "scopes[0].actions",
        ),
        (
            grant_to(&acme, vec![scope(Section::Summary, &[Action::Agree])], 30),
            "scopes[0].actions",
        ),
        (
            grant_to(&bob, vec![scope(Section::Summary, &[Action::Read])], 30),
            "grantee",
        ),
        (grant_to(&acme, vec![], 30), "scopes"),
        (
            grant_to(&acme, vec![scope(Section::Summary, &[Action::Read])], -1),
            "ends_at",
        ),
    ];
    for (request, field) in cases {
        let error = mine.grant(&request).await.unwrap_err();
        assert_eq!(
            error.problem_type(),
            Some(ProblemType::InvalidBody),
            "{field}"
        );
        match error {
            ClientError::Api { problem } => assert_eq!(problem.errors[0].field, field),
            other => panic!("{other}"),
        }
    }
    let response = raw_request(&alice, Method::POST, &format!("/v1/passports/{}/grants", info.id), &alice.access_token().await.unwrap(), Some(&json!({"grantee": acme.party_id().unwrap(), "scopes": [{"section": "summary", "actions": ["read"]}], "purpose": "x", "consent_text": "y"}))).await;
    let (status, problem) = problem_of(response).await;
    assert_eq!(
        (status, problem.errors[0].field.as_str()),
        (422, "(body)"),
        "an end is required: {problem:?}"
    );
    server.stop().await;
}

/// Two server processes on one database: an employer (Acme) that talks to instance A, and an
/// employee (Alice) with a passport, who talks to instance B.
struct TwoInstances {
    acme: Client,
    alice: Client,
    passport_id: String,
    // Dropped last: the servers, then the database and the data directory.
    _servers: (ServerProcess, ServerProcess),
    _database: Option<Box<dyn Send + Sync>>,
    _dir: tempfile::TempDir,
}

async fn two_instances(backend: Backend) -> TwoInstances {
    let binary = env!("CARGO_BIN_EXE_wp-test-server");
    let dir = tempfile::tempdir().unwrap();
    let (database_url, guard) = wp_tests::process_database(backend, dir.path()).await;
    let admin_key = SigningKey::generate();
    let admin_id = ServerProcess::add_admin(binary, dir.path(), &database_url, &admin_key);
    // Both instances share the database and the key files of one data directory.
    let a = ServerProcess::spawn(binary, dir.path(), &database_url, &[]).await;
    let b = ServerProcess::spawn(binary, dir.path(), &database_url, &[]).await;

    let admin = Client::for_party(&a.url, admin_key, &admin_id);
    let acme_key = SigningKey::generate();
    let acme_party = admin
        .enrol(
            wp_schemas::api::PartyKind::Employer,
            "Acme",
            acme_key.public_jwk(),
            None,
        )
        .await
        .unwrap();
    let acme = Client::for_party(&a.url, acme_key, &acme_party.id);
    let mut alice = Client::new(&b.url, SigningKey::generate());
    alice.register_employee("Alice").await.unwrap();
    let passport_id = alice.create_passport().await.unwrap().id;
    TwoInstances {
        acme,
        alice,
        passport_id,
        _servers: (a, b),
        _database: guard.map(|g| Box::new(g) as Box<dyn Send + Sync>),
        _dir: dir,
    }
}

/// Revocation on one server instance stops the grantee on another, at once.
async fn revocation_across_instances(backend: Backend) {
    let TwoInstances {
        acme,
        alice,
        passport_id,
        ..
    } = &two_instances(backend).await;
    let mine = alice.own_passport(passport_id);
    mine.create_record(Section::Summary, example_body(Section::Summary))
        .await
        .unwrap();
    let grant = mine
        .grant(&grant_to(
            acme,
            vec![scope(Section::Summary, &[Action::Read])],
            30,
        ))
        .await
        .unwrap();

    // The employer reads through instance A; the owner revokes through instance B.
    let as_acme = acme.granted_passport(&grant.id).await.unwrap();
    assert_eq!(
        as_acme
            .read()
            .await
            .unwrap()
            .records(Section::Summary)
            .len(),
        1
    );
    mine.revoke(&grant.id).await.unwrap();
    assert!(matches!(
        as_acme.read().await.unwrap_err(),
        ClientError::ConsentEnded(_)
    ));
}

/// Reads through one instance see every change made through another at once: a new version,
/// a new record, a deletion and the erasure (the read path keeps recently read heads in
/// memory, checked against the passport's sequence on every request).
async fn reads_see_changes_made_on_another_instance(backend: Backend) {
    let TwoInstances {
        acme,
        alice,
        passport_id,
        ..
    } = &two_instances(backend).await;
    let mine = alice.own_passport(passport_id);
    let summary = mine
        .create_record(Section::Summary, example_body(Section::Summary))
        .await
        .unwrap();
    let rid = summary.envelope.record_id.clone();
    let grant = mine
        .grant(&grant_to(
            acme,
            vec![
                scope(Section::Summary, &[Action::Read]),
                scope(Section::Adjustments, &[Action::Read]),
            ],
            30,
        ))
        .await
        .unwrap();
    let as_acme = acme.granted_passport(&grant.id).await.unwrap();
    let about_me = |p: &wp_client::VerifiedPassport| {
        p.records(Section::Summary)
            .iter()
            .map(|v| v.payload.body.as_ref().unwrap()["about_me"].clone())
            .collect::<Vec<_>>()
    };
    // Read twice through A (the second from its memory), then change through B.
    for _ in 0..2 {
        let seen = as_acme.read().await.unwrap();
        assert_eq!(
            about_me(&seen),
            vec![example_body(Section::Summary)["about_me"].clone()]
        );
    }
    let mut body = example_body(Section::Summary);
    body["about_me"] = json!("Changed through the other instance.");
    mine.update_record(&rid, body).await.unwrap();
    assert_eq!(
        about_me(&as_acme.read().await.unwrap()),
        vec![json!("Changed through the other instance.")]
    );
    mine.create_record(Section::Adjustments, example_body(Section::Adjustments))
        .await
        .unwrap();
    assert_eq!(
        as_acme
            .read()
            .await
            .unwrap()
            .records(Section::Adjustments)
            .len(),
        1
    );
    mine.delete_record(&rid).await.unwrap();
    assert!(
        as_acme
            .read()
            .await
            .unwrap()
            .records(Section::Summary)
            .is_empty()
    );
    mine.erase().await.unwrap();
    // The passport answers 410 through A too, before anything of it is read.
    let after = as_acme.read().await.unwrap_err();
    assert_eq!(after.problem_type(), Some(ProblemType::Gone), "{after:?}");
}

/// Many reads at once on several passports: every read is logged once, and every passport's
/// log stays one unbroken chain (the server writes log entries of many requests together).
async fn concurrent_reads_keep_every_log_chain(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = server.employer("Acme").await;
    let mut owners = Vec::new();
    let mut grants = Vec::new();
    for name in ["Alice", "Bob", "Carol"] {
        let owner = server.employee(name).await;
        let info = owner.create_passport().await.unwrap();
        let mine = owner.own_passport(&info.id);
        mine.create_record(Section::Summary, example_body(Section::Summary))
            .await
            .unwrap();
        let grant = mine
            .grant(&grant_to(
                &acme,
                vec![scope(Section::Summary, &[Action::Read])],
                1,
            ))
            .await
            .unwrap();
        grants.push(grant.id);
        owners.push((owner, info.id));
    }
    let reads = (0..30).map(|i| {
        let grant = grants[i % 3].clone();
        let acme = &acme;
        async move {
            acme.granted_passport(&grant)
                .await
                .unwrap()
                .read()
                .await
                .unwrap()
        }
    });
    let mut set = Vec::new();
    for read in reads {
        set.push(read);
    }
    let results = wp_tests::join_all(set).await;
    assert_eq!(results.len(), 30);
    for (owner, pid) in &owners {
        let log = owner.own_passport(pid).verified_access_log().await.unwrap();
        let reads = log
            .iter()
            .filter(|e| {
                e.action == LogAction::PassportRead && e.actor.as_deref() == acme.party_id().ok()
            })
            .count();
        assert_eq!(reads, 10, "every read logged once");
    }
    server.stop().await;
}

/// A DPoP proof is admitted once across instances: two instances behind one public URL (as
/// behind a load balancer) share the replay record, so a proof used on one is refused on the
/// other, and leaves no entry in the passport's log.
async fn a_proof_is_admitted_once_across_instances(backend: Backend) {
    let binary = env!("CARGO_BIN_EXE_wp-test-server");
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _database) = wp_tests::process_database(backend, dir.path()).await;
    let port = wp_tests::free_port();
    let public = format!("http://127.0.0.1:{port}");
    let shared = ["--public-url", public.as_str()];
    let a = ServerProcess::spawn_on(binary, dir.path(), &database_url, port, &shared).await;
    let b = ServerProcess::spawn(binary, dir.path(), &database_url, &shared).await;
    assert_eq!(a.url, public);

    let mut alice = Client::new(&public, SigningKey::generate());
    alice.register_employee("Alice").await.unwrap();
    let pid = alice.create_passport().await.unwrap().id;
    let token = alice.access_token().await.unwrap();
    let path = format!("/v1/passports/{pid}");
    let send = |base: &str, proof: &str| {
        with_proof(&alice, Method::GET, &format!("{base}{path}"), &token, proof).send()
    };
    let proof =
        wp_client::proofs::dpop(alice.key(), "GET", &format!("{public}{path}"), Some(&token));
    assert_eq!(send(&a.url, &proof).await.unwrap().status(), 200);
    let (status, problem) = problem_of(send(&b.url, &proof).await.unwrap()).await;
    assert_eq!(
        (status, problem.kind()),
        (401, Some(ProblemType::ReplayedDpopProof))
    );
    // Instance B takes a fresh proof for the same URL: the refusal was the replay, nothing else.
    let fresh =
        wp_client::proofs::dpop(alice.key(), "GET", &format!("{public}{path}"), Some(&token));
    assert_eq!(send(&b.url, &fresh).await.unwrap().status(), 200);
    let reads = alice
        .own_passport(&pid)
        .access_log(None, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == LogAction::PassportRead)
        .count();
    assert_eq!(
        reads, 2,
        "one entry for each admitted proof, none for the replay"
    );
    drop((a, b));
}

backend_tests!(
    a_proof_is_admitted_once_across_instances,
    concurrent_reads_keep_every_log_chain,
    employee_ot_employer_journey,
    tampered_log_is_detected,
    grant_windows_and_validation,
    revocation_across_instances,
    reads_see_changes_made_on_another_instance,
);
