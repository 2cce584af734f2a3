//! Input at the edge of the API: what a caller sends is checked before it reaches the store, so
//! that the same input gets the same 4xx on SQLite and PostgreSQL (which refuses a NUL byte in
//! text), and one caller's bad input never fails another caller's request. Also the protocol's
//! small promises: 405 with `Allow`, `instance` on every problem, one canonical form of an id.

use reqwest::Method;
use serde_json::{Value, json};
use wp_client::proofs::{self, VersionDraft};
use wp_client::{Client, SigningKey};
use wp_schemas::api::{
    ASSERTION_TYPE, AssertionClaims, DpopClaims, GRANT_TYPE, KeyProofClaims, LogAction,
};
use wp_schemas::jose::{KeyRef, b64, sha256_b64};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{Section, example_body};
use wp_server::domain::audit::LogEvent;
use wp_server::store::{Admission, Append, Item};
use wp_tests::{
    Backend, Kid, PartyId, PassportId, TestServer, Timestamp, backend_tests, id, join_all,
    problem_of, raw_request,
};

const NUL: &str = "nul\u{0}byte";

/// A DPoP proof with a chosen `jti`.
fn dpop_with_jti(
    key: &SigningKey,
    method: &str,
    url: &str,
    token: Option<&str>,
    jti: &str,
) -> String {
    key.sign_json(
        "dpop+jwt",
        KeyRef::Jwk,
        &DpopClaims {
            jti: jti.into(),
            htm: method.into(),
            htu: url.into(),
            iat: proofs::now(),
            ath: token.map(|t| sha256_b64(t.as_bytes())),
        },
    )
}

/// A compact JWS with a chosen protected header and a signature that does not matter (the
/// server looks the `kid` up before it checks any signature).
fn unsigned_jws(header: Value, payload: &Value) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes()),
        b64(&[0u8; 64])
    )
}

/// One request that the server must refuse with `status` and `kind`.
struct Poison {
    name: &'static str,
    status: u16,
    kind: ProblemType,
    request: reqwest::RequestBuilder,
}

/// Every string the API takes that reaches SQL, poisoned with a NUL byte (or given in a
/// non-canonical form), as `who` (an employee with passport `pid`).
async fn poisons(server: &TestServer, who: &Client, pid: &str, admin: &Client) -> Vec<Poison> {
    use ProblemType::*;
    let http = who.http().clone();
    let token_url = format!("{}/v1/token", server.url);
    let party = who.party_id().unwrap().to_owned();
    let key = who.key();
    let token = who.access_token().await.unwrap();
    let assertion = |jti: &str| {
        let iat = proofs::now();
        key.sign_json(
            "JWT",
            KeyRef::Kid,
            &AssertionClaims {
                iss: party.clone(),
                sub: party.clone(),
                aud: token_url.clone(),
                iat,
                exp: iat + 60,
                jti: jti.into(),
            },
        )
    };
    let token_form = |assertion: String, grant_id: Option<&str>| {
        let mut form = vec![
            ("grant_type", GRANT_TYPE.to_owned()),
            ("client_assertion_type", ASSERTION_TYPE.to_owned()),
            ("client_assertion", assertion),
        ];
        if let Some(g) = grant_id {
            form.push(("grant_id", g.to_owned()));
        }
        form
    };
    let token_request = |form: Vec<(&'static str, String)>, dpop_jti: &str| {
        http.post(&token_url).form(&form).header(
            "DPoP",
            dpop_with_jti(key, "POST", &token_url, None, dpop_jti),
        )
    };
    let fresh = || uuid::Uuid::new_v4().to_string();
    // An authenticated request as `who`, with a fresh, honest proof.
    let authed = |method: Method, path: &str| {
        let url = format!("{}{path}", server.url);
        let htu = url.split('?').next().unwrap_or_default().to_owned();
        http.request(method.clone(), &url)
            .header("Authorization", format!("DPoP {token}"))
            .header(
                "DPoP",
                proofs::dpop(key, method.as_str(), &htu, Some(&token)),
            )
    };
    let me_url = format!("{}/v1/me", server.url);
    let registration_key = SigningKey::generate();
    let parties_url = format!("{}/v1/parties", server.url);
    let key_proof = registration_key.sign_json(
        "JWT",
        KeyRef::Kid,
        &KeyProofClaims {
            aud: parties_url.clone(),
            iat: proofs::now(),
            exp: proofs::now() + 60,
            jti: NUL.into(),
        },
    );
    let grant = |grantee: &str, purpose: &str, consent_text: &str| {
        json!({
            "grantee": grantee,
            "scopes": [{"section": "summary", "actions": ["read"]}],
            "purpose": purpose,
            "ends_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
            "consent_text": consent_text,
        })
    };
    let employer = uuid::Uuid::new_v4().to_string();
    let version = |record: &str| {
        json!({"jws": proofs::sign_version(key, &party, VersionDraft {
            passport: pid.into(),
            record: record.into(),
            section: Section::Summary,
            version: 1,
            prev: None,
            body: Some(example_body(Section::Summary)),
        })})
    };
    let nul_kid_version = unsigned_jws(
        json!({"alg": "EdDSA", "typ": wp_schemas::api::VERSION_TYP, "kid": NUL}),
        &json!({"passport": pid, "record": fresh(), "section": "summary", "version": 1,
            "author": party, "iat": proofs::now(), "body": example_body(Section::Summary)}),
    );
    let upper = pid.to_uppercase();

    vec![
        Poison {
            name: "NUL in a DPoP jti",
            status: 401,
            kind: InvalidDpopProof,
            request: http
                .get(&me_url)
                .header("Authorization", format!("DPoP {token}"))
                .header(
                    "DPoP",
                    dpop_with_jti(key, "GET", &me_url, Some(&token), NUL),
                ),
        },
        Poison {
            name: "NUL in the token request's DPoP jti",
            status: 401,
            kind: InvalidDpopProof,
            request: token_request(token_form(assertion(&fresh()), None), NUL),
        },
        Poison {
            name: "NUL in an assertion jti",
            status: 401,
            kind: InvalidAssertion,
            request: token_request(token_form(assertion(NUL), None), &fresh()),
        },
        Poison {
            name: "NUL in an assertion kid",
            status: 401,
            kind: InvalidAssertion,
            request: token_request(
                token_form(
                    unsigned_jws(
                        json!({"alg": "EdDSA", "typ": "JWT", "kid": NUL}),
                        &json!({"iss": party, "sub": party, "aud": token_url,
                            "iat": proofs::now(), "exp": proofs::now() + 60, "jti": fresh()}),
                    ),
                    None,
                ),
                &fresh(),
            ),
        },
        Poison {
            name: "NUL in grant_id",
            status: 403,
            kind: Forbidden,
            request: token_request(token_form(assertion(&fresh()), Some(NUL)), &fresh()),
        },
        Poison {
            name: "NUL in a key proof's jti",
            status: 400,
            kind: InvalidKeyProof,
            request: http.post(&parties_url).json(&json!({
                "display_name": "Mallory",
                "jwk": registration_key.public_jwk(),
                "proof": key_proof,
            })),
        },
        Poison {
            name: "NUL in a display name",
            status: 422,
            kind: InvalidBody,
            request: http.post(&parties_url).json(&json!({
                "display_name": NUL,
                "jwk": SigningKey::generate().public_jwk(),
                "proof": "x.y.z",
            })),
        },
        Poison {
            name: "NUL in a professional's registration",
            status: 422,
            kind: InvalidBody,
            request: {
                let url = format!("{}/v1/admin/parties", server.url);
                let admin_token = admin.access_token().await.unwrap();
                http.post(&url)
                    .header("Authorization", format!("DPoP {admin_token}"))
                    .header(
                        "DPoP",
                        proofs::dpop(admin.key(), "POST", &url, Some(&admin_token)),
                    )
                    .json(&json!({
                        "kind": "professional",
                        "display_name": "Dr Nul",
                        "jwk": SigningKey::generate().public_jwk(),
                        "registration": {"profession": NUL, "registration_body": "HCPC",
                            "registration_number": "OT1"},
                    }))
            },
        },
        Poison {
            name: "NUL in a grant's purpose",
            status: 422,
            kind: InvalidBody,
            request: authed(Method::POST, &format!("/v1/passports/{pid}/grants"))
                .json(&grant(&employer, NUL, "I agree.")),
        },
        Poison {
            name: "NUL in a grant's consent text",
            status: 422,
            kind: InvalidBody,
            request: authed(Method::POST, &format!("/v1/passports/{pid}/grants")).json(&grant(
                &employer,
                "adjustments",
                NUL,
            )),
        },
        Poison {
            name: "NUL in a grant's grantee",
            status: 422,
            kind: InvalidBody,
            request: authed(Method::POST, &format!("/v1/passports/{pid}/grants")).json(&grant(
                NUL,
                "adjustments",
                "I agree.",
            )),
        },
        Poison {
            name: "NUL in a version's kid",
            status: 400,
            kind: InvalidSignature,
            request: authed(Method::POST, &format!("/v1/passports/{pid}/records"))
                .json(&json!({"jws": nul_kid_version})),
        },
        Poison {
            name: "upper-case record id in a version",
            status: 422,
            kind: InvalidBody,
            request: authed(Method::POST, &format!("/v1/passports/{pid}/records"))
                .json(&version(&fresh().to_uppercase())),
        },
        Poison {
            name: "NUL in a passport id",
            status: 404,
            kind: NotFound,
            request: authed(Method::GET, "/v1/passports/%00"),
        },
        Poison {
            name: "upper-case passport id",
            status: 404,
            kind: NotFound,
            request: authed(Method::GET, &format!("/v1/passports/{upper}")),
        },
        Poison {
            name: "NUL in a record id",
            status: 404,
            kind: NotFound,
            request: authed(Method::GET, &format!("/v1/passports/{pid}/records/a%00b")),
        },
        Poison {
            name: "NUL in a record id, on its history",
            status: 404,
            kind: NotFound,
            request: authed(
                Method::GET,
                &format!("/v1/passports/{pid}/records/%00/versions"),
            ),
        },
        Poison {
            name: "NUL in a grant id",
            status: 404,
            kind: NotFound,
            request: authed(
                Method::POST,
                &format!("/v1/passports/{pid}/grants/%00/revoke"),
            ),
        },
        Poison {
            name: "NUL in a party id",
            status: 404,
            kind: NotFound,
            request: authed(Method::GET, "/v1/parties/%00"),
        },
        Poison {
            name: "NUL in a key id",
            status: 404,
            kind: NotFound,
            request: authed(
                Method::POST,
                &format!("/v1/parties/{party}/keys/%00/revoke"),
            ),
        },
        Poison {
            name: "NUL in the access-log actor filter",
            status: 400,
            kind: BadRequest,
            request: authed(
                Method::GET,
                &format!("/v1/passports/{pid}/access-log?actor=%00"),
            ),
        },
    ]
}

/// Poisoned requests sent concurrently with honest ones: every honest request succeeds, every
/// poisoned one gets its own 4xx problem, never a 500.
async fn poisoned_requests_fail_alone(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin();
    let mallory = server.employee("Mallory").await;
    let mallorys = mallory.create_passport().await.unwrap().id;
    let mut honest = Vec::new();
    for name in ["Alice", "Bob", "Carol", "Dan"] {
        let client = server.employee(name).await;
        let pid = client.create_passport().await.unwrap().id;
        client
            .own_passport(&pid)
            .create_record(Section::Summary, example_body(Section::Summary))
            .await
            .unwrap();
        honest.push((client, pid));
    }
    for round in 0..4 {
        let poisons = poisons(&server, &mallory, &mallorys, &admin).await;
        let names: Vec<_> = poisons.iter().map(|p| (p.name, p.status, p.kind)).collect();
        let poisoned = join_all(poisons.into_iter().map(|p| async move {
            let response = p.request.send().await.expect("send");
            let status = response.status().as_u16();
            let problem = if response.status().is_success() {
                None
            } else {
                Some(problem_of(response).await.1)
            };
            (status, problem)
        }));
        let reads = join_all(honest.iter().flat_map(|(client, pid)| {
            (0..3).map(move |_| async move {
                client.own_passport(pid).read_raw().await.map(|_| ())?;
                client.me().await.map(|_| ())
            })
        }));
        let (poisoned, reads) = tokio::join!(poisoned, reads);
        for (i, read) in reads.into_iter().enumerate() {
            read.unwrap_or_else(|e| panic!("round {round}: honest request {i} failed: {e}"));
        }
        for ((name, status, kind), (got, problem)) in names.into_iter().zip(poisoned) {
            assert_eq!(
                (got, problem.as_ref().and_then(|p| p.kind())),
                (status, Some(kind)),
                "round {round}: {name}: {problem:?}"
            );
        }
    }
    server.stop().await;
}

/// The group commit on a real store: a batch that holds an item the database refuses answers
/// every other item with its own outcome. On SQLite the NUL is stored; on PostgreSQL it is an
/// error for that item alone. A read's proof and its log entry commit together: a replayed
/// proof writes no entry.
async fn store_batch_isolates_a_failing_item(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let pid = alice.create_passport().await.unwrap().id;
    let party: PartyId = id(alice.party_id().unwrap());
    let kid: Kid = id(alice.key().kid());
    let store = server.store().await;
    let until = Timestamp::from_secs(proofs::now() + 600);
    let admission = |jti: &str| Admission {
        jti: jti.to_owned(),
        expires_at: until,
        kid: kid.clone(),
        party_id: party.clone(),
    };
    let admit = |jti: &str| Item {
        admission: Some(admission(jti)),
        ..Item::default()
    };
    let jtis: Vec<String> = (0..6).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let mut batch: Vec<Item> = jtis.iter().map(|j| admit(j)).collect();
    batch.insert(3, admit(NUL));
    let results = store.write_batch(&batch).await;
    assert_eq!(results.len(), batch.len());
    for (i, result) in results.iter().enumerate() {
        if i != 3 {
            assert!(
                matches!(result, Ok(w) if w.admitted),
                "item {i}: {result:?}"
            );
        }
    }
    match backend {
        Backend::Sqlite => assert!(matches!(&results[3], Ok(w) if w.admitted)),
        Backend::Postgres => assert!(results[3].is_err()),
    }
    // Admitted for good: the same ids again are replays, answered item by item.
    let again = store.write_batch(&batch[..3]).await;
    assert!(
        again.iter().all(|r| matches!(r, Ok(w) if !w.admitted)),
        "{again:?}"
    );

    // The poison is a NUL in the reason, which PostgreSQL refuses in text and SQLite stores.
    let event =
        |reason: &str| LogEvent::allowed(&party, None, LogAction::PassportRead, vec![], reason);
    let now = Timestamp::from_secs(proofs::now());
    let pid: PassportId = id(&pid);
    let append = |pid: &PassportId, reason: &str| Append {
        passport_id: pid.clone(),
        event: event(reason),
        now,
        notices: Vec::new(),
    };
    let log = |pid: &PassportId, reason: &str| Item {
        append: Some(append(pid, reason)),
        ..Item::default()
    };
    let appends = vec![
        log(&pid, "owner"),
        log(&pid, NUL),
        log(&pid, "owner"),
        log(&PassportId::random(), "owner"),
    ];
    let results = store.write_batch(&appends).await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert_eq!(
        results[3].as_ref().err().and_then(|e| e.kind()),
        Some(ProblemType::Gone),
        "an unknown passport is that item's own refusal"
    );
    match backend {
        Backend::Sqlite => assert!(results[1].is_ok()),
        Backend::Postgres => assert!(results[1].is_err()),
    }

    // Proofs with the entries of what they were used for.
    let read = |jti: &str, pid: &PassportId, reason: &str| Item {
        admission: Some(admission(jti)),
        append: Some(append(pid, reason)),
        version: None,
    };
    let (fresh, twice, elsewhere) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    let reads = vec![
        read(&fresh, &pid, "read with a fresh proof"),
        read(&jtis[0], &pid, "read with a used proof"),
        read(&twice, &pid, "read with a proof"),
        read(&twice, &pid, "read with the same proof again"),
        read(&elsewhere, &PassportId::random(), "read of no passport"),
    ];
    let results = store.write_batch(&reads).await;
    let outcome = |i: usize| match &results[i] {
        Ok(w) => (w.admitted, w.entry.as_ref().map(|e| e.reason.clone())),
        Err(e) => panic!("item {i}: {e:?}"),
    };
    assert_eq!(outcome(0), (true, Some("read with a fresh proof".into())));
    assert_eq!(outcome(1), (false, None), "a used proof writes no entry");
    assert_eq!(outcome(2), (true, Some("read with a proof".into())));
    assert_eq!(outcome(3), (false, None), "a proof twice in one batch");
    assert_eq!(
        results[4].as_ref().err().and_then(|e| e.kind()),
        Some(ProblemType::Gone)
    );
    // The proof of a request that found no passport is used all the same.
    let again = store.write_batch(&[admit(&elsewhere)]).await;
    assert!(matches!(&again[0], Ok(w) if !w.admitted), "{again:?}");

    // The chain stayed whole, and holds the admitted reads' entries only.
    let entries = alice
        .own_passport(pid.as_str())
        .verified_access_log()
        .await
        .unwrap();
    let reasons: Vec<&str> = entries.iter().map(|e| e.reason.as_str()).collect();
    assert!(reasons.contains(&"read with a fresh proof"), "{reasons:?}");
    assert!(reasons.contains(&"read with a proof"), "{reasons:?}");
    assert!(!reasons.contains(&"read with a used proof"), "{reasons:?}");
    assert!(
        !reasons.contains(&"read with the same proof again"),
        "{reasons:?}"
    );
    store.close().await;
    server.stop().await;
}

/// A method a route does not have: 405 `method-not-allowed`, with `Allow` (RFC 9110 15.5.6).
async fn method_not_allowed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let response = reqwest::Client::new()
        .delete(format!("{}/v1/token", server.url))
        .send()
        .await
        .unwrap();
    let allow = response
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (status, problem) = problem_of(response).await;
    assert_eq!(
        (status, problem.kind()),
        (405, Some(ProblemType::MethodNotAllowed))
    );
    assert_eq!(allow, "POST");
    server.stop().await;
}

/// Every problem names the request it answers (`instance`, the `x-request-id`), whether the
/// server made the id or the client sent it.
async fn problems_carry_the_request_id(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let token = alice.access_token().await.unwrap();
    let http = reqwest::Client::new();
    let responses = vec![
        http.get(format!("{}/v1/nowhere", server.url))
            .send()
            .await
            .unwrap(),
        http.get(format!("{}/v1/me", server.url))
            .send()
            .await
            .unwrap(),
        http.put(format!("{}/v1/me", server.url))
            .send()
            .await
            .unwrap(),
        http.post(format!("{}/v1/parties", server.url))
            .body("{}")
            .send()
            .await
            .unwrap(),
        raw_request(&alice, Method::GET, "/v1/passports/%00", &token, None).await,
    ];
    for response in responses {
        let id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .expect("a request id")
            .to_owned();
        let (status, problem) = problem_of(response).await;
        assert_eq!(problem.instance.as_deref(), Some(id.as_str()), "{status}");
    }
    let sent = http
        .get(format!("{}/v1/me", server.url))
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    let (_, problem) = problem_of(sent).await;
    assert_eq!(problem.instance.as_deref(), Some("client-chosen-42"));
    // Under a caller's W3C trace, the request id is its trace id and a span id of the
    // server's own; an invalid traceparent starts no trace (a plain UUID).
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    for (traceparent, traced) in [
        (format!("00-{trace}-00f067aa0ba902b7-01"), true),
        (
            format!("00-{}-00f067aa0ba902b7-01", trace.to_uppercase()),
            false,
        ),
        (
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01".into(),
            false,
        ),
        (format!("00-{trace}-00f067aa0ba902b7"), false),
    ] {
        let response = http
            .get(format!("{}/v1/me", server.url))
            .header("traceparent", &traceparent)
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let (_, problem) = problem_of(response).await;
        assert_eq!(problem.instance.as_deref(), Some(id.as_str()));
        match id.strip_prefix(&format!("{trace}-")) {
            Some(span) if traced => assert!(
                span.len() == 16 && span.bytes().all(|b| b.is_ascii_hexdigit()),
                "{id}"
            ),
            _ => assert!(
                !traced && uuid::Uuid::parse_str(&id).is_ok(),
                "{traceparent} gave the request id {id}"
            ),
        }
    }
    // A client's own request id still wins.
    let sent = http
        .get(format!("{}/v1/me", server.url))
        .header("x-request-id", "client-chosen-43")
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    let (_, problem) = problem_of(sent).await;
    assert_eq!(problem.instance.as_deref(), Some("client-chosen-43"));
    server.stop().await;
}

/// A record id has one form, lower-case hyphenated: an upper-case id is refused in a version's
/// payload (so it never becomes a second record) and names nothing in a path.
async fn record_ids_are_canonical(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let pid = alice.create_passport().await.unwrap().id;
    let token = alice.access_token().await.unwrap();
    let record = uuid::Uuid::new_v4().to_string();
    let sign = |record: &str| {
        json!({"jws": proofs::sign_version(alice.key(), alice.party_id().unwrap(), VersionDraft {
            passport: pid.clone(),
            record: record.into(),
            section: Section::Summary,
            version: 1,
            prev: None,
            body: Some(example_body(Section::Summary)),
        })})
    };
    let path = format!("/v1/passports/{pid}/records");
    for other in [
        record.to_uppercase(),
        record.replace('-', ""),
        format!("{{{record}}}"),
        format!("urn:uuid:{record}"),
    ] {
        let response = raw_request(&alice, Method::POST, &path, &token, Some(&sign(&other))).await;
        let (status, problem) = problem_of(response).await;
        assert_eq!(
            (status, problem.kind()),
            (422, Some(ProblemType::InvalidBody)),
            "{other}"
        );
        assert_eq!(problem.errors[0].field, "record");
    }
    let created = raw_request(&alice, Method::POST, &path, &token, Some(&sign(&record))).await;
    assert_eq!(created.status(), 201);
    let upper = format!("{path}/{}", record.to_uppercase());
    let (status, problem) =
        problem_of(raw_request(&alice, Method::GET, &upper, &token, None).await).await;
    assert_eq!((status, problem.kind()), (404, Some(ProblemType::NotFound)));
    let view = alice.own_passport(&pid).read_raw().await.unwrap();
    assert_eq!(view.sections[&Section::Summary].len(), 1);
    server.stop().await;
}

/// A request over the time limit is answered 503 with a problem naming the request, not with
/// an empty body.
async fn timeouts_are_problems(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start_with(backend, |s| s.request_timeout = 1).await;
    // A body announced but never finished keeps the request running past the limit.
    let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    socket
        .write_all(
            b"POST /v1/parties HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"name\"",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("}") {
        let n = socket.read(&mut buffer).await.unwrap();
        assert!(n > 0, "the server closed without an answer");
        answer.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(text.starts_with("http/1.1 503"), "{text}");
    assert!(
        text.contains("content-type: application/problem+json"),
        "{text}"
    );
    assert!(
        text.contains("urn:work-passport:problem:unavailable"),
        "{text}"
    );
    assert!(text.contains("took longer"), "{text}");
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("a request id")
        .trim()
        .to_owned();
    assert!(text.contains(&format!("\"instance\":\"{id}\"")), "{text}");
    server.stop().await;
}

backend_tests!(
    timeouts_are_problems,
    poisoned_requests_fail_alone,
    store_batch_isolates_a_failing_item,
    method_not_allowed,
    problems_carry_the_request_id,
    record_ids_are_canonical,
);
