//! Access requests through the real server, on both databases: a member of an employer asks an
//! employee for access; only that employee opens it; an approval makes exactly the (narrowed)
//! grant and nothing more; a request is decided once and expires. The attack cases: approved
//! twice, after expiry, by someone else, or widened.

use reqwest::Method;
use serde_json::{Value, json};
use wp_client::Client;
use wp_schemas::api::{
    AccessRequest, AccessRequestStatus, Action, Grant, Invitation, Party, Role, Scope,
};
use wp_schemas::jose::SigningKey;
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{Section, example_body};
use wp_server::Store;
use wp_tests::{Backend, TestServer, backend_tests, problem_of, raw_request};

/// `client` sends `body` to `path` with its plain access token; the status and JSON answer.
async fn send(client: &Client, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let token = client.access_token().await.expect("token");
    let response = raw_request(client, method, path, &token, body.as_ref()).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The problem type of a refused request.
async fn refused(client: &Client, path: &str, body: Value) -> ProblemType {
    let token = client.access_token().await.expect("token");
    let response = raw_request(client, Method::POST, path, &token, Some(&body)).await;
    let (_, problem) = problem_of(response).await;
    problem.kind().expect("a known problem type")
}

/// The service admin makes employer `name` and a member of it with `role`, who joins with a
/// key they prove they hold.
async fn member_of_new_employer(
    server: &TestServer,
    name: &str,
    person: &str,
    role: Role,
) -> (String, Client) {
    let admin = server.admin();
    let (status, org) = send(
        &admin,
        Method::POST,
        "/v1/admin/organisations",
        Some(json!({"kind": "employer", "display_name": name})),
    )
    .await;
    assert_eq!(status, 201, "{org}");
    let org: Party = serde_json::from_value(org).unwrap();
    let path = format!("/v1/organisations/{}/invitations", org.id);
    let (status, invitation) = send(&admin, Method::POST, &path, Some(json!({"role": role}))).await;
    assert_eq!(status, 201, "{invitation}");
    let invitation: Invitation = serde_json::from_value(invitation).unwrap();
    let key = SigningKey::generate();
    let url = format!("{}/v1/invitations/redeem", server.url);
    let body = json!({
        "code": invitation.code.expect("the code, once"),
        "display_name": person,
        "jwk": key.public_jwk(),
        "proof": wp_client::proofs::key_proof(&key, &url),
    });
    let response = reqwest::Client::new()
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let member: Party = response.json().await.unwrap();
    (org.id, Client::for_party(&server.url, key, &member.id))
}

fn scope(section: Section, actions: &[Action]) -> Scope {
    Scope {
        section,
        actions: actions.to_vec(),
    }
}

/// Sets a request's expiry in the past, as time passing would.
async fn expire(store: &Store, id: &str) {
    let sql = "UPDATE access_requests SET expires_at = 1 WHERE id = $1";
    match store {
        Store::Sqlite(pool, _) => sqlx::query(sql).bind(id).execute(pool).await.map(|_| ()),
        Store::Postgres(pool) => sqlx::query(sql).bind(id).execute(pool).await.map(|_| ()),
    }
    .expect("expire the request");
}

async fn access_requests(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (acme, priya) = member_of_new_employer(&server, "Acme Ltd", "Priya Shah", Role::Hr).await;
    let alex = server.employee("Alex Morgan").await;
    let mallory = server.employee("Mallory").await;
    let info = alex.create_passport().await.unwrap();
    let passport = alex.own_passport(&info.id);
    for section in [Section::Summary, Section::Adjustments, Section::Conditions] {
        passport
            .create_record(section, example_body(section))
            .await
            .unwrap();
    }

    // Priya asks Alex for the summary and adjustments, to read and agree, for a year.
    let asked = json!({
        "scopes": [scope(Section::Summary, &[Action::Read]),
                   scope(Section::Adjustments, &[Action::Read, Action::Agree])],
        "purpose": "workplace adjustments in your new job",
        "duration_days": 365,
        "employee": alex.party_id().unwrap(),
    });
    let path = format!("/v1/organisations/{acme}/access-requests");
    let (status, created) = send(&priya, Method::POST, &path, Some(asked.clone())).await;
    assert_eq!(status, 201, "{created}");
    let created: AccessRequest = serde_json::from_value(created).unwrap();
    let code = created.code.clone().expect("the code, once");
    assert_eq!(
        created.roles,
        vec![Role::Hr],
        "by default the requester's role"
    );
    assert_eq!(created.status, AccessRequestStatus::Pending);
    // An employee is no member: they cannot ask on Acme's behalf.
    assert_eq!(
        refused(&alex, &path, asked.clone()).await,
        ProblemType::Forbidden
    );

    // Only Alex opens it; Alex sees who asks for what and why, and no code.
    let open = json!({"code": code});
    assert_eq!(
        refused(&mallory, "/v1/access-requests/open", open.clone()).await,
        ProblemType::Forbidden
    );
    let (status, seen) = send(
        &alex,
        Method::POST,
        "/v1/access-requests/open",
        Some(open.clone()),
    )
    .await;
    assert_eq!(status, 200, "{seen}");
    let seen: AccessRequest = serde_json::from_value(seen).unwrap();
    assert_eq!(
        (
            seen.organisation_name.as_str(),
            seen.requested_by_name.as_str()
        ),
        ("Acme Ltd", "Priya Shah")
    );
    assert_eq!(seen.purpose, "workplace adjustments in your new job");
    assert!(seen.code.is_none());

    // Someone else approving, or Alex widening it, is refused; nothing is granted.
    let approve = |scopes: Value| json!({"code": code, "scopes": scopes, "consent_text": "I agree to share my summary with Acme's HR."});
    let summary_only = json!([scope(Section::Summary, &[Action::Read])]);
    assert_eq!(
        refused(
            &mallory,
            "/v1/access-requests/approve",
            approve(summary_only.clone())
        )
        .await,
        ProblemType::Forbidden
    );
    let wider = json!([scope(Section::Conditions, &[Action::Read])]);
    assert_eq!(
        refused(&alex, "/v1/access-requests/approve", approve(wider)).await,
        ProblemType::InvalidBody
    );
    assert!(passport.grants().await.unwrap().is_empty());

    // Alex approves, narrowed to the summary: the grant names Acme and HR.
    let (status, grant) = send(
        &alex,
        Method::POST,
        "/v1/access-requests/approve",
        Some(approve(summary_only.clone())),
    )
    .await;
    assert_eq!(status, 201, "{grant}");
    let grant: Grant = serde_json::from_value(grant).unwrap();
    assert_eq!(
        (grant.grantee.as_str(), grant.roles.clone()),
        (acme.as_str(), vec![Role::Hr])
    );
    assert_eq!(grant.scopes, vec![scope(Section::Summary, &[Action::Read])]);
    // Approved once: again, or a decline now, is refused.
    assert_eq!(
        refused(
            &alex,
            "/v1/access-requests/approve",
            approve(summary_only.clone())
        )
        .await,
        ProblemType::RequestDecided
    );
    assert_eq!(
        refused(&alex, "/v1/access-requests/decline", open.clone()).await,
        ProblemType::RequestDecided
    );

    // Priya reads under it: the summary, nothing else; the log names her role at Acme.
    let shared = priya.granted_passport(&grant.id).await.unwrap();
    let view = shared.read().await.unwrap();
    assert_eq!(
        view.sections.keys().copied().collect::<Vec<_>>(),
        vec![Section::Summary]
    );
    let log = passport.verified_access_log().await.unwrap();
    let read = log
        .iter()
        .find(|e| {
            e.actor.as_deref() == priya.party_id().ok() && e.sections == vec![Section::Summary]
        })
        .expect("Priya's read is logged");
    let on_behalf = read.on_behalf_of.as_ref().expect("as a member of Acme");
    assert_eq!(
        (on_behalf.organisation.as_str(), on_behalf.role),
        (acme.as_str(), Role::Hr)
    );

    // A declined request grants nothing; an expired one cannot be opened or approved.
    let (_, second) = send(&priya, Method::POST, &path, Some(asked.clone())).await;
    let second: AccessRequest = serde_json::from_value(second).unwrap();
    let second_code = json!({"code": second.code.unwrap()});
    let (status, declined) = send(
        &alex,
        Method::POST,
        "/v1/access-requests/decline",
        Some(second_code.clone()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(declined["status"], "declined");
    let (_, third) = send(&priya, Method::POST, &path, Some(asked)).await;
    let third: AccessRequest = serde_json::from_value(third).unwrap();
    let store = server.store().await;
    expire(&store, &third.id).await;
    store.close().await;
    let third_code = json!({"code": third.code.unwrap()});
    assert_eq!(
        refused(&alex, "/v1/access-requests/open", third_code).await,
        ProblemType::RequestExpired
    );
    assert_eq!(
        passport.grants().await.unwrap().len(),
        1,
        "only the approval granted"
    );

    // Acme's members see its requests and what became of them; others do not.
    let (status, list) = send(&priya, Method::GET, &path, None).await;
    assert_eq!(status, 200);
    let statuses: Vec<AccessRequestStatus> = serde_json::from_value::<Vec<AccessRequest>>(list)
        .unwrap()
        .into_iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.len(), 3);
    for expected in [
        AccessRequestStatus::Approved,
        AccessRequestStatus::Declined,
        AccessRequestStatus::Expired,
    ] {
        assert!(statuses.contains(&expected), "{statuses:?}");
    }
    let (status, _) = send(&alex, Method::GET, &path, None).await;
    assert_eq!(status, 403);
    server.stop().await;
}

/// What the organisation routes refuse as malformed or out of place, and the access-request
/// refusals the journey above does not reach: each with its problem type, nothing made.
async fn out_of_place_requests_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (acme, priya) = member_of_new_employer(&server, "Acme Ltd", "Priya Shah", Role::Hr).await;
    let admin = server.admin();
    let mallory = server.employee("Mallory").await;

    // Practices are organisations and members join by invitation: neither is enrolled.
    for kind in ["practice", "member", "employee"] {
        let body =
            json!({"kind": kind, "display_name": "X", "jwk": SigningKey::generate().public_jwk()});
        assert_eq!(
            refused(&admin, "/v1/admin/parties", body).await,
            ProblemType::InvalidBody,
            "{kind}"
        );
    }
    // A role that an employer does not have.
    let invite = format!("/v1/organisations/{acme}/invitations");
    assert_eq!(
        refused(&admin, &invite, json!({"role": "clinician"})).await,
        ProblemType::InvalidBody
    );
    // Roles and members name people at an organisation, not at a lone professional.
    let alex = server.employee("Alex Morgan").await;
    let info = alex.create_passport().await.unwrap();
    let jo = server.professional("Jo Smith").await;
    let mut to_jo = wp_tests::grant_to(&jo, &[(Section::Summary, &[Action::Read])], 3600);
    to_jo.roles = vec![Role::Hr];
    let error = alex.own_passport(&info.id).grant(&to_jo).await.unwrap_err();
    assert_eq!(error.problem_type(), Some(ProblemType::InvalidBody));

    // An unknown code names nothing; a request for anyone is still only approved by someone
    // with a passport to grant from.
    let unknown = json!({"code": format!("wpr_{}", "A".repeat(43))});
    assert_eq!(
        refused(&alex, "/v1/access-requests/open", unknown).await,
        ProblemType::NotFound
    );
    let path = format!("/v1/organisations/{acme}/access-requests");
    let ask = json!({"scopes": [scope(Section::Summary, &[Action::Read])],
                     "purpose": "workplace adjustments", "duration_days": 30});
    let (status, open) = send(&priya, Method::POST, &path, Some(ask)).await;
    assert_eq!(status, 201, "{open}");
    let approve = json!({"code": open["code"], "consent_text": "I agree."});
    assert_eq!(
        refused(&mallory, "/v1/access-requests/approve", approve).await,
        ProblemType::Forbidden,
        "Mallory has no passport to grant from"
    );
    let (_, list) = send(&priya, Method::GET, &path, None).await;
    assert_eq!(
        list[0]["status"], "pending",
        "a refused approval decides nothing"
    );
    server.stop().await;
}

/// `client` posts `body` to `path`: refused 422 `invalid-body`, naming `field`.
async fn field_refused(client: &Client, path: &str, body: Value, field: &str) {
    let token = client.access_token().await.expect("token");
    let response = raw_request(client, Method::POST, path, &token, Some(&body)).await;
    let (status, problem) = problem_of(response).await;
    assert_eq!(
        (status, problem.kind()),
        (422, Some(ProblemType::InvalidBody)),
        "{body}: {problem:?}"
    );
    assert_eq!(problem.errors[0].field, field, "{body}");
}

/// Issue 23 item 2: every timestamp a client sends (a grant's `starts_at` and `ends_at`, an
/// approval's `ends_at`) is an RFC 3339 date-time, as the OpenAPI document's `format:
/// date-time` says: a space for the `T`, a missing offset or missing seconds are 422
/// `invalid-body` naming the field, and nothing is granted.
async fn timestamps_are_strict_rfc3339(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (acme, priya) = member_of_new_employer(&server, "Acme Ltd", "Priya Shah", Role::Hr).await;
    let alex = server.employee("Alex Morgan").await;
    let info = alex.create_passport().await.unwrap();
    let later = chrono::Utc::now() + chrono::Duration::days(10);
    let strict = later.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let lenient = [
        later.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        later.format("%Y-%m-%d %H:%M:%S+00:00").to_string(),
        later.format("%Y-%m-%dT%H:%M:%S").to_string(),
        later.format("%Y-%m-%dT%H:%MZ").to_string(),
    ];
    let grants = format!("/v1/passports/{}/grants", info.id);
    let grant = |starts_at: Option<&str>, ends_at: &str| {
        let mut body = json!({
            "grantee": acme,
            "roles": ["hr"],
            "scopes": [scope(Section::Summary, &[Action::Read])],
            "purpose": "workplace adjustments",
            "ends_at": ends_at,
            "consent_text": "I agree.",
        });
        if let Some(starts_at) = starts_at {
            body["starts_at"] = json!(starts_at);
        }
        body
    };
    for bad in &lenient {
        field_refused(&alex, &grants, grant(None, bad), "ends_at").await;
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
        let starts = if bad.contains(' ') {
            now.as_str()
        } else {
            bad.as_str()
        };
        field_refused(&alex, &grants, grant(Some(starts), &strict), "starts_at").await;
    }
    assert!(
        alex.own_passport(&info.id)
            .grants()
            .await
            .unwrap()
            .is_empty(),
        "a refused grant grants nothing"
    );
    let (status, made) = send(&alex, Method::POST, &grants, Some(grant(None, &strict))).await;
    assert_eq!(status, 201, "{made}");

    // An approval's `ends_at`, the same rule.
    let ask = json!({"scopes": [scope(Section::Summary, &[Action::Read])],
                     "purpose": "workplace adjustments", "duration_days": 30,
                     "employee": alex.party_id().unwrap()});
    let path = format!("/v1/organisations/{acme}/access-requests");
    let (status, open) = send(&priya, Method::POST, &path, Some(ask)).await;
    assert_eq!(status, 201, "{open}");
    let approve = |ends_at: &str| json!({"code": open["code"], "ends_at": ends_at, "consent_text": "I agree."});
    for bad in &lenient {
        field_refused(
            &alex,
            "/v1/access-requests/approve",
            approve(bad),
            "ends_at",
        )
        .await;
    }
    let (status, approved) = send(
        &alex,
        Method::POST,
        "/v1/access-requests/approve",
        Some(approve(&strict)),
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {approved}");
    server.stop().await;
}

backend_tests!(
    access_requests,
    out_of_place_requests_are_refused,
    timestamps_are_strict_rfc3339,
);
