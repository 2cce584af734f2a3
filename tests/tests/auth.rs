//! Authentication from the attacker's side: registration, assertions, tokens and DPoP proofs.
//! Each case must be refused with its own status and problem type.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wp_client::{Client, ClientError, SigningKey, proofs};
use wp_schemas::api::{ASSERTION_TYPE, AssertionClaims, DpopClaims, GRANT_TYPE};
use wp_schemas::jose::{KeyRef, sha256_b64};
use wp_schemas::problem::{Problem, ProblemType};
use wp_tests::{Backend, TestServer, backend_tests};

fn kind(e: ClientError) -> Option<ProblemType> {
    e.problem_type()
}

/// Checks a raw response: the status, problem+json, and the problem type.
async fn expect_problem(
    response: reqwest::Response,
    status: StatusCode,
    kind: ProblemType,
) -> Problem {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let problem: Problem = response.json().await.unwrap();
    assert_eq!(problem.kind(), Some(kind), "{problem:?}");
    problem
}

async fn token_request(
    server: &TestServer,
    assertion: &str,
    dpop: Option<String>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/token", server.url))
        .form(&[
            ("grant_type", GRANT_TYPE),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ]);
    if let Some(proof) = dpop {
        request = request.header("DPoP", proof);
    }
    request.send().await.unwrap()
}

fn assertion_with(key: &SigningKey, party: &str, aud: &str, iat: i64, exp: i64) -> String {
    key.sign_json(
        "JWT",
        KeyRef::Kid,
        &AssertionClaims {
            iss: party.into(),
            sub: party.into(),
            aud: aud.into(),
            iat,
            exp,
            jti: uuid::Uuid::new_v4().to_string(),
        },
    )
}

async fn get_me(
    server: &TestServer,
    authorization: Option<String>,
    dpop: Option<String>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}/v1/me", server.url));
    if let Some(a) = authorization {
        request = request.header("Authorization", a);
    }
    if let Some(p) = dpop {
        request = request.header("DPoP", p);
    }
    request.send().await.unwrap()
}

async fn operations_endpoints(backend: Backend) {
    let server = TestServer::start(backend).await;
    let http = reqwest::Client::new();
    let health: Value = http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = http
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let jwks: Value = http
        .get(format!("{}/.well-known/jwks.json", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    let served: Value = http
        .get(format!("{}/openapi.json", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let checked_in: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../schemas/openapi.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        served, checked_in,
        "the served OpenAPI document differs from schemas/openapi.json"
    );
    let missing = http
        .get(format!("{}/v1/nothing-here", server.url))
        .send()
        .await
        .unwrap();
    expect_problem(missing, StatusCode::NOT_FOUND, ProblemType::NotFound).await;
    // A request id comes back, to match log lines.
    let response = http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("x-request-id"));
    server.stop().await;
}

async fn registration_refusals(backend: Backend) {
    let server = TestServer::start(backend).await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/parties", server.url);
    let key = SigningKey::generate();

    // A key that is not Ed25519.
    let mut bad_jwk = serde_json::to_value(key.public_jwk()).unwrap();
    bad_jwk["crv"] = json!("P-256");
    let body =
        json!({"display_name": "Mallory", "jwk": bad_jwk, "proof": proofs::key_proof(&key, &url)});
    let response = http.post(&url).json(&body).send().await.unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST, ProblemType::InvalidKey).await;

    // A proof signed by another key than the one registered.
    let other = SigningKey::generate();
    let body = json!({"display_name": "Mallory", "jwk": key.public_jwk(), "proof": proofs::key_proof(&other, &url)});
    let response = http.post(&url).json(&body).send().await.unwrap();
    expect_problem(
        response,
        StatusCode::BAD_REQUEST,
        ProblemType::InvalidKeyProof,
    )
    .await;

    // A proof for another audience.
    let body = json!({"display_name": "Mallory", "jwk": key.public_jwk(), "proof": proofs::key_proof(&key, "http://elsewhere/v1/parties")});
    let response = http.post(&url).json(&body).send().await.unwrap();
    expect_problem(
        response,
        StatusCode::BAD_REQUEST,
        ProblemType::InvalidKeyProof,
    )
    .await;

    // A body that does not match the schema names the field.
    let response = http
        .post(&url)
        .json(&json!({"display_name": 5}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        ProblemType::InvalidBody,
    )
    .await;
    assert_eq!(problem.errors[0].field, "display_name");

    // Not JSON at all.
    let response = http.post(&url).body("display_name=x").send().await.unwrap();
    expect_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ProblemType::UnsupportedMediaType,
    )
    .await;

    // A replayed registration proof, and the same key twice.
    let proof = proofs::key_proof(&key, &url);
    let body = json!({"display_name": "Alice", "jwk": key.public_jwk(), "proof": proof});
    assert_eq!(
        http.post(&url).json(&body).send().await.unwrap().status(),
        StatusCode::CREATED
    );
    let response = http.post(&url).json(&body).send().await.unwrap();
    expect_problem(
        response,
        StatusCode::BAD_REQUEST,
        ProblemType::InvalidKeyProof,
    )
    .await;
    let body = json!({"display_name": "Alice", "jwk": key.public_jwk(), "proof": proofs::key_proof(&key, &url)});
    let response = http.post(&url).json(&body).send().await.unwrap();
    expect_problem(response, StatusCode::CONFLICT, ProblemType::Conflict).await;
    server.stop().await;
}

async fn assertion_refusals(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let party = alice.party_id().unwrap().to_owned();
    let token_url = format!("{}/v1/token", server.url);
    let key = alice.key();
    let now = proofs::now();
    let dpop = || Some(proofs::dpop(key, "POST", &token_url, None));

    // The genuine article works.
    let good = assertion_with(key, &party, &token_url, now, now + 60);
    assert_eq!(
        token_request(&server, &good, dpop()).await.status(),
        StatusCode::OK
    );

    // The same assertion again: a replay.
    expect_problem(
        token_request(&server, &good, dpop()).await,
        StatusCode::UNAUTHORIZED,
        ProblemType::ReplayedAssertion,
    )
    .await;

    // A forged signature: the payload altered after signing.
    let genuine = assertion_with(key, &party, &token_url, now, now + 60);
    let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&wp_schemas::jose::b64_decode(&parts[1]).unwrap()).unwrap();
    claims["exp"] = json!(now + 100);
    parts[1] = wp_schemas::jose::b64(claims.to_string().as_bytes());
    let forged = parts.join(".");
    expect_problem(
        token_request(&server, &forged, dpop()).await,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidAssertion,
    )
    .await;

    // Signed by a stranger's key that claims Alice's kid.
    let mallory = SigningKey::generate();
    let mut header = json!({"alg": "EdDSA", "typ": "JWT", "kid": key.kid()});
    let payload = json!({"iss": party, "sub": party, "aud": token_url, "iat": now, "exp": now + 60, "jti": "x1"});
    header["kid"] = json!(key.kid());
    let input = format!(
        "{}.{}",
        wp_schemas::jose::b64(header.to_string().as_bytes()),
        wp_schemas::jose::b64(payload.to_string().as_bytes())
    );
    let stranger_sig = mallory.sign("JWT", KeyRef::Kid, payload.to_string().as_bytes());
    let stolen_kid = format!("{input}.{}", stranger_sig.rsplit('.').next().unwrap());
    expect_problem(
        token_request(&server, &stolen_kid, dpop()).await,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidAssertion,
    )
    .await;

    // Expired.
    let expired = assertion_with(key, &party, &token_url, now - 200, now - 100);
    expect_problem(
        token_request(&server, &expired, dpop()).await,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidAssertion,
    )
    .await;

    // Living too long.
    let long = assertion_with(key, &party, &token_url, now, now + 3600);
    expect_problem(
        token_request(&server, &long, dpop()).await,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidAssertion,
    )
    .await;

    // Wrong audience.
    let elsewhere = assertion_with(key, &party, "http://elsewhere/v1/token", now, now + 60);
    expect_problem(
        token_request(&server, &elsewhere, dpop()).await,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidAssertion,
    )
    .await;

    // Claiming to be another party with one's own key.
    let bob = server.employee("Bob").await;
    let impersonation = assertion_with(key, bob.party_id().unwrap(), &token_url, now, now + 60);
    expect_problem(
        token_request(&server, &impersonation, dpop()).await,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidAssertion,
    )
    .await;

    // An unregistered key.
    let unknown = assertion_with(&mallory, &party, &token_url, now, now + 60);
    expect_problem(
        token_request(
            &server,
            &unknown,
            Some(proofs::dpop(&mallory, "POST", &token_url, None)),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidAssertion,
    )
    .await;

    // No DPoP proof, or one by another key than the assertion's.
    let fresh = || assertion_with(key, &party, &token_url, now, now + 60);
    expect_problem(
        token_request(&server, &fresh(), None).await,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidDpopProof,
    )
    .await;
    let foreign = Some(proofs::dpop(&mallory, "POST", &token_url, None));
    expect_problem(
        token_request(&server, &fresh(), foreign).await,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidDpopProof,
    )
    .await;

    // Not a form.
    let response = reqwest::Client::new()
        .post(&token_url)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ProblemType::UnsupportedMediaType,
    )
    .await;
    server.stop().await;
}

async fn token_and_proof_refusals(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let me_url = format!("{}/v1/me", server.url);
    let token = alice.access_token().await.unwrap();
    let key = alice.key();
    let proof = |method: &str, url: &str| Some(proofs::dpop(key, method, url, Some(&token)));

    // The genuine request works.
    let ok = get_me(
        &server,
        Some(format!("DPoP {token}")),
        proof("GET", &me_url),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);

    // No token.
    let response = get_me(&server, None, proof("GET", &me_url)).await;
    let p = expect_problem(
        response,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidToken,
    )
    .await;
    assert!(p.detail.unwrap().contains("no access token"));

    // The token as a bearer token, or with the DPoP scheme but no proof.
    let response = get_me(&server, Some(format!("Bearer {token}")), None).await;
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("DPoP")
    );
    expect_problem(
        response,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidToken,
    )
    .await;
    let response = get_me(&server, Some(format!("DPoP {token}")), None).await;
    expect_problem(
        response,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidDpopProof,
    )
    .await;

    // A stolen token with the thief's own proof.
    let thief = SigningKey::generate();
    let response = get_me(
        &server,
        Some(format!("DPoP {token}")),
        Some(proofs::dpop(&thief, "GET", &me_url, Some(&token))),
    )
    .await;
    expect_problem(
        response,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidDpopProof,
    )
    .await;

    // A proof for another method, another URL, another token, or stale.
    let response = get_me(
        &server,
        Some(format!("DPoP {token}")),
        proof("POST", &me_url),
    )
    .await;
    expect_problem(
        response,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidDpopProof,
    )
    .await;
    let response = get_me(
        &server,
        Some(format!("DPoP {token}")),
        proof("GET", &format!("{}/v1/grants", server.url)),
    )
    .await;
    expect_problem(
        response,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidDpopProof,
    )
    .await;
    let response = get_me(
        &server,
        Some(format!("DPoP {token}")),
        Some(proofs::dpop(key, "GET", &me_url, Some("another token"))),
    )
    .await;
    expect_problem(
        response,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidDpopProof,
    )
    .await;
    let stale = key.sign_json(
        "dpop+jwt",
        KeyRef::Jwk,
        &DpopClaims {
            jti: "stale".into(),
            htm: "GET".into(),
            htu: me_url.clone(),
            iat: proofs::now() - 600,
            ath: Some(sha256_b64(token.as_bytes())),
        },
    );
    let response = get_me(&server, Some(format!("DPoP {token}")), Some(stale)).await;
    expect_problem(
        response,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidDpopProof,
    )
    .await;

    // The same proof twice.
    let once = proof("GET", &me_url);
    assert_eq!(
        get_me(&server, Some(format!("DPoP {token}")), once.clone())
            .await
            .status(),
        StatusCode::OK
    );
    let response = get_me(&server, Some(format!("DPoP {token}")), once).await;
    expect_problem(
        response,
        StatusCode::UNAUTHORIZED,
        ProblemType::ReplayedDpopProof,
    )
    .await;

    // A token signed by a key the server does not know (a forged token).
    let mut claims: Value = serde_json::from_slice(
        &wp_schemas::jose::b64_decode(token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    claims["exp"] = json!(proofs::now() + 600);
    let forged = SigningKey::generate().sign_json("at+jwt", KeyRef::Kid, &claims);
    let response = get_me(
        &server,
        Some(format!("DPoP {forged}")),
        Some(proofs::dpop(key, "GET", &me_url, Some(&forged))),
    )
    .await;
    expect_problem(
        response,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidToken,
    )
    .await;

    // A token after its key was revoked: rotate to a new key, revoke the old one.
    let new_key = SigningKey::generate();
    alice.add_key(&new_key).await.unwrap();
    let old_token = alice.access_token().await.unwrap();
    alice.revoke_key(key.kid()).await.unwrap();
    let response = get_me(
        &server,
        Some(format!("DPoP {old_token}")),
        Some(proofs::dpop(key, "GET", &me_url, Some(&old_token))),
    )
    .await;
    expect_problem(
        response,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidToken,
    )
    .await;
    // The new key works; the last active key cannot be revoked.
    let rotated = Client::for_party(&server.url, new_key.clone(), alice.party_id().unwrap());
    let me = rotated.me().await.unwrap();
    assert_eq!(me.party.keys.len(), 2);
    assert_eq!(
        kind(rotated.revoke_key(new_key.kid()).await.unwrap_err()),
        Some(ProblemType::Conflict)
    );
    // The revoked key can no longer obtain tokens.
    let fresh = Client::for_party(&server.url, key.clone(), alice.party_id().unwrap());
    assert_eq!(
        kind(fresh.me().await.unwrap_err()),
        Some(ProblemType::InvalidAssertion)
    );
    server.stop().await;
}

async fn enrolment_is_for_admins(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let key = SigningKey::generate();
    let refused = alice
        .enrol(
            wp_schemas::api::PartyKind::Employer,
            "Acme",
            key.public_jwk(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(kind(refused), Some(ProblemType::Forbidden));
    // A professional must name their registration.
    let refused = server
        .admin()
        .enrol(
            wp_schemas::api::PartyKind::Professional,
            "Olu",
            key.public_jwk(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(kind(refused), Some(ProblemType::InvalidBody));
    let ot = server.professional("Olu Adeyemi").await;
    let me = ot.me().await.unwrap();
    assert_eq!(me.party.registration.unwrap().registration_body, "HCPC");
    // Any party can look up another's public keys and registration, to verify signatures.
    let seen = alice.party(ot.party_id().unwrap()).await.unwrap();
    assert_eq!(seen.keys[0].kid, ot.key().kid());
    server.stop().await;
}

/// Issue 23 item 3: every client error of the token endpoint carries, besides its problem
/// type, the OAuth 2.0 `error` code (RFC 6749 section 5.2, RFC 9449); other endpoints' do not.
async fn token_refusals_carry_oauth_errors(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.employee("Alice").await;
    let acme = server.employer("Acme Ltd").await;
    let party = alice.party_id().unwrap().to_owned();
    let token_url = format!("{}/v1/token", server.url);
    let key = alice.key();
    let dpop = || proofs::dpop(key, "POST", &token_url, None);
    let assertion = || proofs::assertion(key, &party, &token_url);
    let http = reqwest::Client::new();
    let form = |fields: Vec<(&str, String)>, proof: Option<String>| {
        let mut request = http.post(&token_url).form(&fields);
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        request.send()
    };
    let full = |grant_type: &str, assertion_type: &str, assertion: String| {
        vec![
            ("grant_type", grant_type.to_owned()),
            ("client_assertion_type", assertion_type.to_owned()),
            ("client_assertion", assertion),
        ]
    };
    let oauth = |problem: Problem, code: &str| {
        assert_eq!(problem.error.as_deref(), Some(code), "{problem:?}");
        assert_eq!(problem.oauth_error().map(|e| e.as_str()), Some(code));
    };

    let p = expect_problem(
        form(full("password", ASSERTION_TYPE, assertion()), Some(dpop()))
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        ProblemType::BadRequest,
    )
    .await;
    oauth(p, "unsupported_grant_type");
    let p = expect_problem(
        form(
            full(GRANT_TYPE, "urn:example:saml", assertion()),
            Some(dpop()),
        )
        .await
        .unwrap(),
        StatusCode::BAD_REQUEST,
        ProblemType::BadRequest,
    )
    .await;
    oauth(p, "invalid_client");
    // A field missing, or the wrong media type.
    let mut missing = full(GRANT_TYPE, ASSERTION_TYPE, assertion());
    missing.pop();
    let p = expect_problem(
        form(missing, Some(dpop())).await.unwrap(),
        StatusCode::BAD_REQUEST,
        ProblemType::BadRequest,
    )
    .await;
    oauth(p, "invalid_request");
    let as_json = http
        .post(&token_url)
        .header("DPoP", dpop())
        .json(&json!({"grant_type": GRANT_TYPE}))
        .send()
        .await
        .unwrap();
    let p = expect_problem(
        as_json,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ProblemType::UnsupportedMediaType,
    )
    .await;
    oauth(p, "invalid_request");

    // The assertion: not signed by the key it names, then used twice.
    let stranger = SigningKey::generate();
    let forged = proofs::assertion(&stranger, &party, &token_url);
    let p = expect_problem(
        token_request(&server, &forged, Some(dpop())).await,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidAssertion,
    )
    .await;
    oauth(p, "invalid_client");
    let once = assertion();
    assert_eq!(
        token_request(&server, &once, Some(dpop())).await.status(),
        StatusCode::OK
    );
    let p = expect_problem(
        token_request(&server, &once, Some(dpop())).await,
        StatusCode::UNAUTHORIZED,
        ProblemType::ReplayedAssertion,
    )
    .await;
    oauth(p, "invalid_client");

    // The DPoP proof: missing, then used twice.
    let p = expect_problem(
        token_request(&server, &assertion(), None).await,
        StatusCode::UNAUTHORIZED,
        ProblemType::InvalidDpopProof,
    )
    .await;
    oauth(p, "invalid_dpop_proof");
    let proof = dpop();
    assert_eq!(
        token_request(&server, &assertion(), Some(proof.clone()))
            .await
            .status(),
        StatusCode::OK
    );
    let p = expect_problem(
        token_request(&server, &assertion(), Some(proof)).await,
        StatusCode::UNAUTHORIZED,
        ProblemType::ReplayedDpopProof,
    )
    .await;
    oauth(p, "invalid_dpop_proof");

    // The grant: unknown, another party's, no longer active.
    let info = alice.create_passport().await.unwrap();
    let mine = alice.own_passport(&info.id);
    let grant = mine
        .grant(&wp_tests::grant_to(
            &acme,
            &[(
                wp_schemas::sections::Section::Summary,
                &[wp_schemas::api::Action::Read],
            )],
            3600,
        ))
        .await
        .unwrap();
    let with_grant = |grant_id: &str| {
        let mut fields = full(GRANT_TYPE, ASSERTION_TYPE, assertion());
        fields.push(("grant_id", grant_id.to_owned()));
        fields
    };
    for grant_id in [uuid::Uuid::new_v4().to_string(), grant.id.clone()] {
        // Alice is not the grantee of her own grant to Acme.
        let p = expect_problem(
            form(with_grant(&grant_id), Some(dpop())).await.unwrap(),
            StatusCode::FORBIDDEN,
            ProblemType::Forbidden,
        )
        .await;
        oauth(p, "invalid_grant");
    }
    mine.revoke(&grant.id).await.unwrap();
    let acme_url = token_url.clone();
    let acme_form = vec![
        ("grant_type", GRANT_TYPE.to_owned()),
        ("client_assertion_type", ASSERTION_TYPE.to_owned()),
        (
            "client_assertion",
            proofs::assertion(acme.key(), acme.party_id().unwrap(), &acme_url),
        ),
        ("grant_id", grant.id.clone()),
    ];
    let response = http
        .post(&acme_url)
        .form(&acme_form)
        .header("DPoP", proofs::dpop(acme.key(), "POST", &acme_url, None))
        .send()
        .await
        .unwrap();
    let p = expect_problem(
        response,
        StatusCode::FORBIDDEN,
        ProblemType::ConsentInactive,
    )
    .await;
    oauth(p, "invalid_grant");

    // Elsewhere, problems carry no OAuth code.
    let me = get_me(&server, None, None).await;
    let p = expect_problem(me, StatusCode::UNAUTHORIZED, ProblemType::InvalidToken).await;
    assert_eq!(p.error, None, "{p:?}");
    server.stop().await;
}

backend_tests!(
    operations_endpoints,
    registration_refusals,
    assertion_refusals,
    token_and_proof_refusals,
    enrolment_is_for_admins,
    token_refusals_carry_oauth_errors,
);
