//! The OpenAPI document and the server agree: what the document allows the server accepts,
//! and what it does not declare the server refuses. Each case is one Schemathesis found
//! (tests/tests/api_fuzz.rs), kept here as a regression test on both databases.

use reqwest::Method;
use serde_json::{Value, json};
use wp_client::{Client, SigningKey};
use wp_schemas::api::{PartyKind, Role};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{Section, example_body};
use wp_tests::{Backend, TestServer, backend_tests, problem_of, raw_request};

async fn document(server: &TestServer) -> Value {
    reqwest::get(format!("{}/openapi.json", server.url))
        .await
        .expect("document")
        .json()
        .await
        .expect("json")
}

/// `client` sends `method path` with `body` (an access token and a DPoP proof).
async fn send(client: &Client, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let token = client.access_token().await.expect("token");
    let response = raw_request(client, method, path, &token, body.as_ref()).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn problem_kind(body: &Value) -> Option<ProblemType> {
    ProblemType::from_uri(body["type"].as_str()?)
}

/// A query parameter an operation does not declare is refused 400 on every route, with a
/// query of its own or none (found: `GET /v1/passports/{pid}/export?x=...` was accepted), and
/// the document says so for each.
async fn undeclared_query_parameters_are_refused_everywhere(backend: Backend) {
    let server = TestServer::start(backend).await;
    let document = document(&server).await;
    let http = reqwest::Client::new();
    let mut checked = 0;
    for (path, operations) in document["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            let bad_request = &operation["responses"]["400"]["x-problem-types"];
            assert!(
                bad_request
                    .as_array()
                    .is_some_and(|t| t.contains(&json!(ProblemType::BadRequest.uri()))),
                "{method} {path}: the document lists no 400 bad-request"
            );
            // The check comes before credentials and path parameters are looked at.
            let concrete = path.replace(['{', '}'], "");
            let url = format!("{}{concrete}?wp_undeclared=1", server.url);
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = http.request(method.clone(), &url).send().await.unwrap();
            let (status, problem) = problem_of(response).await;
            assert_eq!(
                (status, problem.kind()),
                (400, Some(ProblemType::BadRequest)),
                "{method} {path}: {:?}",
                problem.detail
            );
            checked += 1;
        }
    }
    assert!(checked > 30, "{checked} operations");

    // As the owner, a declared parameter is answered; with an undeclared one beside it, 400.
    let owner = server.employee("Alex").await;
    let pid = owner.create_passport().await.expect("passport").id;
    let export = format!("/v1/passports/{pid}/export");
    for (query, expected) in [
        ("", 200),
        ("?format=bundle", 200),
        ("?format=bundle&x=1", 400),
    ] {
        let (status, body) = send(&owner, Method::GET, &format!("{export}{query}"), None).await;
        assert_eq!(status, expected, "{query}: {body}");
    }
    let (status, body) = send(&owner, Method::GET, "/v1/me?since=1", None).await;
    assert_eq!(
        (status, problem_kind(&body)),
        (400, Some(ProblemType::BadRequest))
    );
    server.stop().await;
}

/// `GET /v1/organisations` needs `name` (docs/PROTOCOL.md section 3.5: a search, not a list of
/// every organisation), and the document says so (found: the document had it optional).
async fn organisation_search_requires_a_name(backend: Backend) {
    let server = TestServer::start(backend).await;
    let document = document(&server).await;
    let parameters = &document["paths"]["/v1/organisations"]["get"]["parameters"];
    let name = parameters
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "name"))
        .expect("the name parameter");
    assert_eq!(name["required"], json!(true), "{name}");
    let admin = server.admin();
    admin
        .create_organisation(PartyKind::Employer, "Acme Ltd")
        .await
        .unwrap();
    let (status, body) = send(&admin, Method::GET, "/v1/organisations", None).await;
    assert_eq!(
        (status, problem_kind(&body)),
        (400, Some(ProblemType::BadRequest))
    );
    // What the document refuses the server refuses: blank around one character, over 200.
    let long = format!("%20{}", "a".repeat(200));
    for name in ["a%20", "%20%20", "a", long.as_str()] {
        let path = format!("/v1/organisations?name={name}");
        let (status, body) = send(&admin, Method::GET, &path, None).await;
        assert_eq!(
            (status, problem_kind(&body)),
            (400, Some(ProblemType::BadRequest)),
            "{name}"
        );
    }
    assert_eq!(
        name["schema"]["pattern"],
        json!("\\S[\\s\\S]*\\S"),
        "{name}"
    );
    // Listed, it is found.
    let acme = admin.organisations(None).await.unwrap().remove(0).id;
    admin
        .set_organisation_listing(
            &acme,
            &wp_schemas::api::SetListing {
                listed: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (status, body) = send(&admin, Method::GET, "/v1/organisations?name=acme", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");
    server.stop().await;
}

/// An integer in a request body may be written as an integral float (`272.0`, JSON Schema's
/// integer), never with a fraction (found: `duration_days` and `expires_in_days` of `272.0`
/// refused).
async fn integral_floats_are_integers(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin();
    let org = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let invitations = format!("/v1/organisations/{}/invitations", org.id);
    let (status, body) = send(
        &admin,
        Method::POST,
        &invitations,
        Some(json!({"role": "hr", "expires_in_days": 7.0})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = send(
        &admin,
        Method::POST,
        &invitations,
        Some(json!({"role": "hr", "expires_in_days": 7.5})),
    )
    .await;
    assert_eq!(
        (status, problem_kind(&body)),
        (422, Some(ProblemType::InvalidBody)),
        "{body}"
    );
    assert_eq!(body["errors"][0]["field"], "expires_in_days", "{body}");

    let hr = server.member(&org.id, Role::Hr, "Pat HR").await;
    let requests = format!("/v1/organisations/{}/access-requests", org.id);
    let request = |duration: Value, expires: Value| {
        json!({
            "scopes": [{"section": "adjustments", "actions": ["read"]}],
            "purpose": "workplace adjustments",
            "duration_days": duration,
            "expires_in_days": expires,
        })
    };
    let (status, body) = send(
        &hr,
        Method::POST,
        &requests,
        Some(request(json!(272.0), json!(14.0))),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["duration_days"], json!(272), "{body}");
    for (duration, expires, field) in [
        (json!(272.5), json!(14), "duration_days"),
        (json!(272), json!(14.25), "expires_in_days"),
    ] {
        let (status, body) = send(
            &hr,
            Method::POST,
            &requests,
            Some(request(duration, expires)),
        )
        .await;
        assert_eq!(
            (status, problem_kind(&body)),
            (422, Some(ProblemType::InvalidBody)),
            "{body}"
        );
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    }
    server.stop().await;
}

/// The `kind` an admin may give an organisation or an enrolled party is, in the document, exactly
/// what the server accepts (found: the document allowed every kind of party).
async fn party_kinds_are_what_the_document_says(backend: Backend) {
    let server = TestServer::start(backend).await;
    let document = document(&server).await;
    let admin = server.admin();
    let kinds = |schema: &str| -> Vec<PartyKind> {
        let kinds = &document["components"]["schemas"][schema]["properties"]["kind"]["enum"];
        kinds
            .as_array()
            .unwrap_or_else(|| panic!("{schema}.kind has no enum: {kinds}"))
            .iter()
            .map(|k| PartyKind::parse(k.as_str().unwrap()).expect("a kind"))
            .collect()
    };
    let organisation_kinds = kinds("CreateOrganisation");
    assert_eq!(
        organisation_kinds,
        [PartyKind::Employer, PartyKind::Practice]
    );
    for kind in PartyKind::ALL {
        let body = json!({"kind": kind, "display_name": format!("An {} org", kind.as_str())});
        let (status, answer) =
            send(&admin, Method::POST, "/v1/admin/organisations", Some(body)).await;
        let expected = if organisation_kinds.contains(&kind) {
            201
        } else {
            422
        };
        assert_eq!(status, expected, "organisation of kind {kind:?}: {answer}");
    }

    let enrolled_kinds = kinds("EnrolParty");
    assert_eq!(
        enrolled_kinds,
        [
            PartyKind::Employer,
            PartyKind::Professional,
            PartyKind::Admin
        ]
    );
    for kind in PartyKind::ALL {
        let mut body = json!({
            "kind": kind,
            "display_name": "Jo Smith",
            "jwk": SigningKey::generate().public_jwk(),
        });
        if kind == PartyKind::Professional {
            body["registration"] = json!({
                "profession": "occupational therapist",
                "registration_body": "HCPC",
                "registration_number": "OT12345",
            });
        }
        let (status, answer) = send(&admin, Method::POST, "/v1/admin/parties", Some(body)).await;
        let expected = if enrolled_kinds.contains(&kind) {
            201
        } else {
            422
        };
        assert_eq!(status, expected, "enrolment of kind {kind:?}: {answer}");
    }
    server.stop().await;
}

/// `members[]` of a grant are party ids: the document gives their form, and the server refuses
/// another (found: the document said only "string").
async fn grant_members_are_party_ids(backend: Backend) {
    let server = TestServer::start(backend).await;
    let document = document(&server).await;
    let members = &document["components"]["schemas"]["CreateGrant"]["properties"]["members"];
    assert_eq!(
        members["items"]["pattern"],
        json!(wp_schemas::api::UUID_PATTERN),
        "{members}"
    );
    let owner = server.employee("Alex").await;
    let pid = owner.create_passport().await.expect("passport").id;
    owner
        .own_passport(&pid)
        .create_record(Section::Adjustments, example_body(Section::Adjustments))
        .await
        .unwrap();
    let org = server.organisation(PartyKind::Employer, "Acme Ltd").await;
    let grant = |member: &str| {
        json!({
            "grantee": org.id,
            "members": [member],
            "scopes": [{"section": "adjustments", "actions": ["read"]}],
            "purpose": "workplace adjustments",
            "ends_at": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
            "consent_text": "I agree.",
        })
    };
    let path = format!("/v1/passports/{pid}/grants");
    let (status, body) = send(&owner, Method::POST, &path, Some(grant("not-a-party"))).await;
    assert_eq!(
        (status, problem_kind(&body)),
        (422, Some(ProblemType::InvalidBody)),
        "{body}"
    );
    assert_eq!(body["errors"][0]["field"], "members[0]", "{body}");
    let hr = server.member(&org.id, Role::Hr, "Pat HR").await;
    let member = hr.party_id().expect("a member").to_owned();
    let (status, body) = send(&owner, Method::POST, &path, Some(grant(&member))).await;
    assert_eq!(status, 201, "{body}");
    server.stop().await;
}

backend_tests!(
    undeclared_query_parameters_are_refused_everywhere,
    organisation_search_requires_a_name,
    integral_floats_are_integers,
    party_kinds_are_what_the_document_says,
    grant_members_are_party_ids,
);
