//! Refusals that must not leak and must not go unrecorded: a caller learns nothing about a record
//! it may not read from any answer, every refused or conflicting write is in the owner's log,
//! and only the owner deletes a record.

use reqwest::Method;
use serde_json::{Value, json};
use wp_client::proofs::{self, VersionDraft};
use wp_client::{Client, ClientError};
use wp_schemas::api::{Action, LogAction, Outcome, VersionEnvelope};
use wp_schemas::problem::{Problem, ProblemType};
use wp_schemas::sections::{Section, example_body};
use wp_tests::{Backend, TestServer, backend_tests, grant_to, problem_of, raw_request};

/// A version after `head` by `author`, with `prev` and `version` as given.
fn version_after(
    author: &Client,
    pid: &str,
    head: &VersionEnvelope,
    version: i64,
    prev: Option<String>,
    body: Option<Value>,
) -> Value {
    let jws = proofs::sign_version(
        author.key(),
        author.party_id().unwrap(),
        VersionDraft {
            passport: pid.into(),
            record: head.record_id.clone(),
            section: head.section,
            version,
            prev,
            body,
        },
    );
    json!({ "jws": jws })
}

fn versions_path(pid: &str, rid: &str) -> String {
    format!("/v1/passports/{pid}/records/{rid}/versions")
}

/// The parts of a problem a client can compare (the instance differs per request).
fn shape(status: u16, problem: &Problem) -> (u16, Option<ProblemType>, String, bool) {
    (
        status,
        problem.kind(),
        problem.detail.clone().unwrap_or_default(),
        problem.current_head.is_some(),
    )
}

async fn denials(owner: &Client, pid: &str) -> Vec<wp_schemas::api::AccessLogEntry> {
    let log = owner.own_passport(pid).verified_access_log().await.unwrap();
    log.into_iter()
        .filter(|e| e.outcome == Outcome::Denied)
        .collect()
}

/// Item 1: an employer with only `agree` on adjustments (no `read`) learns nothing from a stale
/// write: no head in the 409, and a record outside its sections answers exactly like a record
/// that does not exist, for reads and for writes.
async fn non_readers_learn_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let pid = alice.create_passport().await.unwrap().id;
    let mine = alice.own_passport(&pid);
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
    let second = mine
        .write_after(&adjustment, Some(example_body(Section::Adjustments)))
        .await
        .unwrap()
        .envelope;

    let acme = server.employer("Acme").await;
    let grant = mine
        .grant(&grant_to(
            &acme,
            &[(Section::Adjustments, &[Action::Agree])],
            3600,
        ))
        .await
        .unwrap();
    let token = acme.consent_token(&grant.id).await.unwrap();
    let mut agreed = example_body(Section::Adjustments);
    agreed["status"] = json!("agreed");
    agreed["agreed_by"] = json!("Sam Patel");

    // A stale prev (version 1's), and an absent prev: a 409 with nothing of the record in it.
    let stale = version_after(
        &acme,
        &pid,
        &adjustment,
        2,
        Some(adjustment.hash.clone()),
        Some(agreed.clone()),
    );
    let absent = version_after(&acme, &pid, &adjustment, 3, None, Some(agreed.clone()));
    for body in [&stale, &absent] {
        let response = raw_request(
            &acme,
            Method::POST,
            &versions_path(&pid, &adjustment.record_id),
            &token,
            Some(body),
        )
        .await;
        let (status, problem) = problem_of(response).await;
        assert_eq!(
            shape(status, &problem),
            (
                409,
                Some(ProblemType::VersionConflict),
                "the version does not succeed the record's current head".into(),
                false
            )
        );
        let text = serde_json::to_string(&problem).unwrap();
        assert!(
            !text.contains(&second.hash) && !text.contains(&second.jws),
            "nothing of the head: {text}"
        );
    }

    // The owner's own stale write does carry the head to rebase on.
    match mine
        .write_after(&adjustment, Some(example_body(Section::Adjustments)))
        .await
    {
        Err(ClientError::Conflict { current_head, .. }) => {
            assert_eq!(current_head.hash, second.hash)
        }
        other => panic!("expected a conflict with the head, got {other:?}"),
    }

    // A record in a section the employer has no part in, and a record that does not exist:
    // the same answer to a read, a history read and a write.
    let missing = uuid::Uuid::new_v4().to_string();
    let mut ghost = condition.clone();
    ghost.record_id = missing.clone();
    for (method, hidden, absent, body_hidden, body_absent) in [
        (
            Method::GET,
            format!("/v1/passports/{pid}/records/{}", condition.record_id),
            format!("/v1/passports/{pid}/records/{missing}"),
            None,
            None,
        ),
        (
            Method::GET,
            versions_path(&pid, &condition.record_id),
            versions_path(&pid, &missing),
            None,
            None,
        ),
        (
            Method::POST,
            versions_path(&pid, &condition.record_id),
            versions_path(&pid, &missing),
            Some(version_after(
                &acme,
                &pid,
                &condition,
                2,
                Some(condition.hash.clone()),
                Some(example_body(Section::Conditions)),
            )),
            Some(version_after(
                &acme,
                &pid,
                &ghost,
                2,
                Some(condition.hash.clone()),
                Some(example_body(Section::Conditions)),
            )),
        ),
    ] {
        let (s1, p1) = problem_of(
            raw_request(&acme, method.clone(), &hidden, &token, body_hidden.as_ref()).await,
        )
        .await;
        let (s2, p2) = problem_of(
            raw_request(&acme, method.clone(), &absent, &token, body_absent.as_ref()).await,
        )
        .await;
        assert_eq!(shape(s1, &p1), shape(s2, &p2), "{method} {hidden}");
        assert_eq!(
            (s1, p1.kind()),
            (404, Some(ProblemType::NotFound)),
            "{method} {hidden}"
        );
    }

    // Every one of those attempts is in the owner's log, naming the employer; the log holds the
    // sections, never the contents.
    let denied = denials(&alice, &pid).await;
    // Two stale writes by the employer, the owner's own conflict, six hidden-or-missing attempts.
    assert_eq!(denied.len(), 2 + 1 + 6, "{denied:#?}");
    assert!(
        denied
            .iter()
            .all(|e| e.actor.as_deref() == acme.party_id().ok()
                || e.actor.as_deref() == alice.party_id().ok())
    );
    assert_eq!(
        denied
            .iter()
            .filter(|e| e.sections == vec![Section::Conditions])
            .count(),
        3,
        "the hidden record's attempts name its section for the owner"
    );
    server.stop().await;
}

/// An employee's passport with one adjustment, and an OT granted read and write on
/// adjustments: (employee, passport id, the adjustment, the OT, the grant id).
async fn owner_adjustment_and_ot(
    server: &TestServer,
) -> (Client, String, VersionEnvelope, Client, String) {
    let alice = server.employee("Alice").await;
    let pid = alice.create_passport().await.unwrap().id;
    let mine = alice.own_passport(&pid);
    let adjustment = mine
        .create_record(Section::Adjustments, example_body(Section::Adjustments))
        .await
        .unwrap()
        .envelope;
    let dana = server.professional("Dana").await;
    let scopes: &[(Section, &[Action])] = &[(Section::Adjustments, &[Action::Read, Action::Write])];
    let grant = mine.grant(&grant_to(&dana, scopes, 3600)).await.unwrap().id;
    (alice, pid, adjustment, dana, grant)
}

/// Item 2: a conflicting write, by an OT with read and write or by the owner, is in the log.
async fn conflicts_are_logged(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (alice, pid, first, dana, grant) = owner_adjustment_and_ot(&server).await;
    let mine = alice.own_passport(&pid);
    let hers = dana.granted_passport(&grant).await.unwrap();
    hers.write_after(&first, Some(example_body(Section::Adjustments)))
        .await
        .unwrap();

    let before = denials(&alice, &pid).await.len();
    let error = hers
        .write_after(&first, Some(example_body(Section::Adjustments)))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Conflict { .. }), "{error:?}");
    let error = mine
        .write_after(&first, Some(example_body(Section::Adjustments)))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Conflict { .. }), "{error:?}");

    let denied = denials(&alice, &pid).await;
    assert_eq!(denied.len(), before + 2);
    for (entry, who) in denied[before..].iter().zip([&dana, &alice]) {
        assert_eq!(entry.actor.as_deref(), who.party_id().ok());
        assert_eq!(entry.action, LogAction::VersionWritten);
        assert_eq!(entry.sections, vec![Section::Adjustments]);
        assert!(
            !entry.reason.contains("VersionConflict"),
            "no Rust Debug text in the log: {}",
            entry.reason
        );
    }
    server.stop().await;
}

/// Item 9: a professional with write on adjustments cannot delete the employee's adjustment;
/// the owner can.
async fn only_the_owner_deletes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (alice, pid, adjustment, dana, grant) = owner_adjustment_and_ot(&server).await;
    let mine = alice.own_passport(&pid);
    let hers = dana.granted_passport(&grant).await.unwrap();
    let seq = mine.read_raw().await.unwrap().seq;
    let error = hers.write_after(&adjustment, None).await.unwrap_err();
    assert_eq!(
        error.problem_type(),
        Some(ProblemType::Forbidden),
        "{error:?}"
    );
    assert_eq!(mine.read_raw().await.unwrap().seq, seq, "nothing written");
    let last = denials(&alice, &pid).await.pop().unwrap();
    assert_eq!(last.actor.as_deref(), dana.party_id().ok());

    // Ending it with a new version is the professional's way, and it stays in the history.
    let mut ended = example_body(Section::Adjustments);
    ended["status"] = json!("ended");
    hers.write_after(&adjustment, Some(ended)).await.unwrap();
    mine.delete_record(&adjustment.record_id).await.unwrap();
    assert_eq!(mine.history(&adjustment.record_id).await.unwrap().len(), 3);
    server.stop().await;
}

backend_tests!(
    non_readers_learn_nothing,
    conflicts_are_logged,
    only_the_owner_deletes
);
