//! An independent client, written from `docs/PROTOCOL.md` alone: it proves the document right.
//!
//! Nothing here uses the project's client library or its JOSE code (ring, josekit): keys,
//! signatures and JWS are made by hand with `ed25519-dalek`, hashes with `sha2`, and every
//! request is plain `reqwest` with `serde_json`. Section numbers (§) refer to PROTOCOL.md.
//! The one shortcut: the first admin is put in the database directly, as the operator's
//! `add-admin` command does (§3.2); everything else goes over HTTP.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use rand_core::OsRng;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wp_tests::{Backend, TestServer, backend_tests};

backend_tests!(interop);

// ---------------------------------------------------------------------------------------------
// §1 Encodings and keys

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("canonical base64url")
}

/// base64url(SHA-256(bytes)): the form of every hash on the wire.
fn sha256_b64(bytes: &[u8]) -> String {
    b64(&Sha256::digest(bytes))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// An Ed25519 key pair, its public JWK and its RFC 7638 thumbprint (the `kid`).
struct Key {
    secret: ed25519_dalek::SigningKey,
    x: String,
    kid: String,
}

impl Key {
    fn generate() -> Self {
        let secret = ed25519_dalek::SigningKey::generate(&mut OsRng);
        let x = b64(secret.verifying_key().as_bytes());
        // RFC 7638: the required members in lexicographic order, no white space.
        let kid = sha256_b64(format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#).as_bytes());
        Key { secret, x, kid }
    }

    fn jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid})
    }

    /// A compact JWS (RFC 7515) with exactly this protected header.
    fn sign(&self, header: &Value, payload: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(payload.to_string().as_bytes())
        );
        let signature: Signature = self.secret.sign(input.as_bytes());
        format!("{input}.{}", b64(&signature.to_bytes()))
    }

    /// §4.2 client assertion (RFC 7523).
    fn assertion(&self, party_id: &str, audience: &str) -> String {
        let iat = now();
        self.sign(
            &json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid}),
            &json!({"iss": party_id, "sub": party_id, "aud": audience, "iat": iat,
                    "exp": iat + 120, "jti": uuid::Uuid::new_v4().to_string()}),
        )
    }

    /// §5 DPoP proof (RFC 9449): `htu` is the public base URL and path, no query.
    fn dpop(&self, method: &str, htu: &str, access_token: Option<&str>) -> String {
        let mut claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": method,
                                "htu": htu, "iat": now()});
        if let Some(token) = access_token {
            claims["ath"] = json!(sha256_b64(token.as_bytes()));
        }
        self.sign(
            &json!({"alg": "EdDSA", "typ": "dpop+jwt", "jwk": self.jwk()}),
            &claims,
        )
    }

    /// §3.1 proof of possession, for the URL it is sent to.
    fn key_proof(&self, url: &str) -> String {
        let iat = now();
        self.sign(
            &json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid}),
            &json!({"aud": url, "iat": iat, "exp": iat + 120,
                    "jti": uuid::Uuid::new_v4().to_string()}),
        )
    }

    /// §6.1 a record version.
    fn version(&self, payload: &Value) -> String {
        self.sign(
            &json!({"alg": "EdDSA", "typ": "wp-version+jws", "kid": self.kid}),
            payload,
        )
    }
}

/// Splits a compact JWS, checks its Ed25519 signature with `x` (strict verification: no
/// small-order keys, canonical signatures) and returns (header, payload).
fn verify_jws(jws: &str, x: &str) -> (Value, Value) {
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS has three parts");
    let key_bytes: [u8; 32] = unb64(x).try_into().expect("32-byte key");
    let key = VerifyingKey::from_bytes(&key_bytes).expect("a valid Ed25519 point");
    let signature = Signature::from_slice(&unb64(parts[2])).expect("64-byte signature");
    let input = format!("{}.{}", parts[0], parts[1]);
    key.verify_strict(input.as_bytes(), &signature)
        .expect("the signature verifies");
    let header: Value = serde_json::from_slice(&unb64(parts[0])).expect("JSON header");
    let payload: Value = serde_json::from_slice(&unb64(parts[1])).expect("JSON payload");
    (header, payload)
}

/// The header members of a JWS, sorted.
fn header_members(header: &Value) -> Vec<String> {
    let mut names: Vec<String> = header
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

/// The key `kid` of the server's JWKS (§9).
async fn server_key(http: &reqwest::Client, base: &str, kid: &str) -> String {
    let jwks: Value = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("the signing key is published");
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    key["x"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------------
// A party speaking the protocol

struct Party {
    http: reqwest::Client,
    base: String,
    key: Key,
    token: String,
}

impl Party {
    /// §4.1: `POST /v1/token` with an assertion and a DPoP proof; with `grant_id`, a consent token.
    async fn token_response(
        http: &reqwest::Client,
        base: &str,
        key: &Key,
        id: &str,
        grant_id: Option<&str>,
    ) -> reqwest::Response {
        let endpoint = format!("{base}/v1/token");
        let assertion = key.assertion(id, &endpoint);
        let mut form = vec![
            ("grant_type", "client_credentials".to_owned()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ),
            ("client_assertion", assertion),
        ];
        if let Some(g) = grant_id {
            form.push(("grant_id", g.to_owned()));
        }
        http.post(&endpoint)
            .header("DPoP", key.dpop("POST", &endpoint, None))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    async fn login(http: &reqwest::Client, base: &str, key: Key, id: &str) -> Party {
        let response = Self::token_response(http, base, &key, id, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "DPoP");
        Party {
            http: http.clone(),
            base: base.to_owned(),
            key,
            token: body["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A request with `Authorization: DPoP <token>` and a fresh proof (§5).
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        if_none_match: Option<&str>,
    ) -> reqwest::Response {
        self.call_with(&self.token, method, path_and_query, body, if_none_match)
            .await
    }

    async fn call_with(
        &self,
        token: &str,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        if_none_match: Option<&str>,
    ) -> reqwest::Response {
        let path = path_and_query.split('?').next().unwrap();
        let htu = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path_and_query}", self.base))
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", self.key.dpop(method.as_str(), &htu, Some(token)));
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(tag) = if_none_match {
            request = request.header("If-None-Match", tag);
        }
        request.send().await.unwrap()
    }

    /// A call that must succeed with `status`; returns its JSON body.
    async fn ok(&self, method: Method, path: &str, body: Option<&Value>, status: u16) -> Value {
        let response = self.call(method, path, body, None).await;
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "{path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

/// Status and problem `type` slug of a refusal (§11).
async fn problem(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    let slug = body["type"]
        .as_str()
        .unwrap()
        .strip_prefix("urn:work-passport:problem:")
        .expect("a stable problem URI")
        .to_owned();
    (status, slug)
}

// ---------------------------------------------------------------------------------------------
// §6 versions, §8 checkpoint, §10 access log: what a client recomputes

fn version_payload(
    pid: &str,
    rid: &str,
    section: &str,
    version: i64,
    prev: Option<&str>,
    author: &str,
    body: Value,
) -> Value {
    let mut payload = json!({"passport": pid, "record": rid, "section": section,
                             "version": version, "author": author, "iat": now(), "body": body});
    if let Some(prev) = prev {
        payload["prev"] = json!(prev);
    }
    payload
}

/// Checks one record's history (§6.3): every signature by its author's registered key, every
/// hash, and the chain from version 1.
async fn verify_history(reader: &Party, pid: &str, versions: &[Value]) {
    let mut prev: Option<String> = None;
    for (i, envelope) in versions.iter().enumerate() {
        let jws = envelope["jws"].as_str().unwrap();
        assert_eq!(
            envelope["hash"],
            sha256_b64(jws.as_bytes()),
            "hash of the JWS"
        );
        let author: Value = reader
            .ok(
                Method::GET,
                &format!("/v1/parties/{}", envelope["author"].as_str().unwrap()),
                None,
                200,
            )
            .await;
        let parts: Vec<&str> = jws.split('.').collect();
        let header: Value = serde_json::from_slice(&unb64(parts[0])).unwrap();
        assert_eq!(header_members(&header), ["alg", "kid", "typ"]);
        assert_eq!(header["typ"], "wp-version+jws");
        let key = author["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .expect("signed by a key of its author");
        let (_, payload) = verify_jws(jws, key["jwk"]["x"].as_str().unwrap());
        assert_eq!(payload["passport"], pid);
        assert_eq!(payload["record"], envelope["record_id"]);
        assert_eq!(payload["section"], envelope["section"]);
        assert_eq!(payload["author"], envelope["author"]);
        assert_eq!(payload["version"], (i + 1) as i64);
        assert_eq!(payload["version"], envelope["version"]);
        assert_eq!(payload["prev"].as_str(), prev.as_deref(), "the chain rule");
        prev = Some(envelope["hash"].as_str().unwrap().to_owned());
    }
}

/// §8: the passport history hash over every version, in sequence order.
fn history_head(pid: &str, versions: &[Value]) -> String {
    let mut head = sha256_b64(format!("work-passport/history/{pid}").as_bytes());
    for v in versions {
        head = sha256_b64(format!("{head}.{}", v["hash"].as_str().unwrap()).as_bytes());
    }
    head
}

/// §10: a JSON string as the server's canonical form writes it.
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_opt(v: &Value) -> String {
    v.as_str().map_or("null".to_owned(), json_string)
}

/// §10: an access-log entry's hash, recomputed from the document's rule.
fn log_entry_hash(e: &Value) -> String {
    let at = chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    let sections: Vec<String> = e["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json_string(s.as_str().unwrap()))
        .collect();
    let canonical = format!(
        "[{},{},{},{},{},{},[{}],{},{},{}]",
        json_string(e["passport_id"].as_str().unwrap()),
        e["seq"].as_i64().unwrap(),
        at,
        json_opt(&e["actor"]),
        json_opt(&e["grant_id"]),
        json_string(e["action"].as_str().unwrap()),
        sections.join(","),
        json_string(e["outcome"].as_str().unwrap()),
        json_string(e["reason"].as_str().unwrap()),
        json_string(e["prev_hash"].as_str().unwrap()),
    );
    sha256_b64(canonical.as_bytes())
}

// ---------------------------------------------------------------------------------------------

async fn interop(backend: Backend) {
    let server = TestServer::start(backend).await;
    let base = server.url.clone();
    let http = reqwest::Client::new();

    // §3.1 An employee registers with proof of possession of its key.
    let employee_key = Key::generate();
    let proof = employee_key.key_proof(&format!("{base}/v1/parties"));
    let register = json!({"display_name": "Alex", "jwk": employee_key.jwk(), "proof": proof});
    let response = http
        .post(format!("{base}/v1/parties"))
        .json(&register)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let party: Value = response.json().await.unwrap();
    assert_eq!(party["kind"], "employee");
    assert_eq!(
        party["keys"][0]["kid"], employee_key.kid,
        "kid is the RFC 7638 thumbprint"
    );
    let employee_id = party["id"].as_str().unwrap().to_owned();
    // The same proof again is refused: a proof is used once.
    let again = http
        .post(format!("{base}/v1/parties"))
        .json(&register)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(again).await, (400, "invalid-key-proof".into()));

    // §4 An access token for an assertion and a DPoP proof; the token verifies with the JWKS.
    let assertion_again_key = Key {
        secret: employee_key.secret.clone(),
        x: employee_key.x.clone(),
        kid: employee_key.kid.clone(),
    };
    let employee = Party::login(&http, &base, employee_key, &employee_id).await;
    let token_parts: Vec<&str> = employee.token.split('.').collect();
    let token_header: Value = serde_json::from_slice(&unb64(token_parts[0])).unwrap();
    assert_eq!(header_members(&token_header), ["alg", "kid", "typ"]);
    assert_eq!(token_header["typ"], "at+jwt");
    let server_x = server_key(&http, &base, token_header["kid"].as_str().unwrap()).await;
    let (_, claims) = verify_jws(&employee.token, &server_x);
    assert_eq!(claims["iss"], base);
    assert_eq!(claims["aud"], base);
    assert_eq!(claims["sub"], employee_id);
    assert_eq!(claims["client_id"], employee_id);
    assert_eq!(claims["party_kind"], "employee");
    assert_eq!(claims["cnf"]["jkt"], employee.key.kid);
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 900);
    assert!(claims.get("authorization_details").is_none());

    // A replayed assertion is refused (a fresh DPoP proof, the same assertion).
    let endpoint = format!("{base}/v1/token");
    let assertion = assertion_again_key.assertion(&employee_id, &base);
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    for expected in [None, Some("replayed-assertion")] {
        let response = http
            .post(&endpoint)
            .header("DPoP", assertion_again_key.dpop("POST", &endpoint, None))
            .form(&form)
            .send()
            .await
            .unwrap();
        match expected {
            None => assert_eq!(response.status(), StatusCode::OK),
            Some(slug) => {
                let auth = response.headers()["www-authenticate"].to_str().unwrap();
                assert!(auth.starts_with("DPoP "), "{auth}");
                assert_eq!(problem(response).await, (401, slug.into()));
            }
        }
    }

    // §5 One proof per request: the same proof twice is a replay; a query in htu is refused;
    // a bearer token is refused.
    let me_url = format!("{base}/v1/me");
    let proof = employee.key.dpop("GET", &me_url, Some(&employee.token));
    for expected in [None, Some("replayed-dpop-proof")] {
        let response = http
            .get(&me_url)
            .header("Authorization", format!("DPoP {}", employee.token))
            .header("DPoP", &proof)
            .send()
            .await
            .unwrap();
        match expected {
            None => assert_eq!(response.status(), StatusCode::OK),
            Some(slug) => assert_eq!(problem(response).await, (401, slug.into())),
        }
    }
    let with_query = employee.key.dpop(
        "GET",
        &format!("{base}/v1/passports/x/changes?since=0"),
        Some(&employee.token),
    );
    let response = http
        .get(format!("{base}/v1/passports/x/changes?since=0"))
        .header("Authorization", format!("DPoP {}", employee.token))
        .header("DPoP", with_query)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response).await, (401, "invalid-dpop-proof".into()));
    let response = http
        .get(&me_url)
        .header("Authorization", format!("Bearer {}", employee.token))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response).await, (401, "invalid-token".into()));

    // §3.2 The first admin comes from the operator (`add-admin`); it enrols an employer over HTTP.
    let admin_key = Key::generate();
    let admin_id = wp_tests::PartyId::random();
    let store = server.store().await;
    store
        .create_party(
            &admin_id,
            wp_schemas::api::PartyKind::Admin,
            "Operator",
            None,
            &wp_schemas::jose::PublicJwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: admin_key.x.clone(),
                kid: None,
            },
            wp_tests::Timestamp::from_secs(now()),
        )
        .await
        .unwrap();
    store.close().await;
    let admin = Party::login(&http, &base, admin_key, admin_id.as_str()).await;
    let employer_key = Key::generate();
    let enrolled = admin
        .ok(
            Method::POST,
            "/v1/admin/parties",
            Some(&json!({"kind": "employer", "display_name": "Acme Ltd",
                          "jwk": employer_key.jwk()})),
            201,
        )
        .await;
    let employer_id = enrolled["id"].as_str().unwrap().to_owned();
    let employer = Party::login(&http, &base, employer_key, &employer_id).await;

    // §6 A passport, a record and its second version; record ids are the client's.
    let passport = employee.ok(Method::POST, "/v1/passports", None, 201).await;
    let pid = passport["id"].as_str().unwrap().to_owned();
    assert_eq!(passport["seq"], 0);
    let records = format!("/v1/passports/{pid}/records");
    let summary_id = uuid::Uuid::new_v4().to_string();
    let summary_v1 = json!({"about_me": "I work best with written follow-ups.",
                            "what_helps": ["Agendas before meetings"]});
    let jws1 = employee.key.version(&version_payload(
        &pid,
        &summary_id,
        "summary",
        1,
        None,
        &employee_id,
        summary_v1,
    ));
    let v1 = employee
        .ok(Method::POST, &records, Some(&json!({"jws": jws1})), 201)
        .await;
    assert_eq!(v1["hash"], sha256_b64(jws1.as_bytes()));
    assert_eq!(
        (v1["seq"].as_i64(), v1["version"].as_i64()),
        (Some(1), Some(1))
    );
    let hash1 = v1["hash"].as_str().unwrap().to_owned();
    let versions_path = format!("{records}/{summary_id}/versions");
    let summary_v2 = json!({"about_me": "I work best with written follow-ups and quiet time."});
    let jws2 = employee.key.version(&version_payload(
        &pid,
        &summary_id,
        "summary",
        2,
        Some(&hash1),
        &employee_id,
        summary_v2.clone(),
    ));
    let v2 = employee
        .ok(
            Method::POST,
            &versions_path,
            Some(&json!({"jws": jws2})),
            201,
        )
        .await;
    assert_eq!(
        (v2["seq"].as_i64(), v2["version"].as_i64()),
        (Some(2), Some(2))
    );

    // §6.4 A stale write (version 2 again, naming version 1) is a 409 with the current head.
    let stale = employee.key.version(&version_payload(
        &pid,
        &summary_id,
        "summary",
        2,
        Some(&hash1),
        &employee_id,
        summary_v2,
    ));
    let response = employee
        .call(
            Method::POST,
            &versions_path,
            Some(&json!({"jws": stale})),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let conflict: Value = response.json().await.unwrap();
    assert_eq!(
        conflict["type"],
        "urn:work-passport:problem:version-conflict"
    );
    assert_eq!(conflict["current_head"]["hash"], v2["hash"]);

    // A conditions record the employer will not see, and an adjustment it will agree.
    let conditions_id = uuid::Uuid::new_v4().to_string();
    let conditions_jws = employee.key.version(&version_payload(
        &pid,
        &conditions_id,
        "conditions",
        1,
        None,
        &employee_id,
        json!({"categories": ["mental_health"]}),
    ));
    let conditions_v1 = employee
        .ok(
            Method::POST,
            &records,
            Some(&json!({"jws": conditions_jws})),
            201,
        )
        .await;
    let adjustment_id = uuid::Uuid::new_v4().to_string();
    let adjustment = json!({"title": "Noise-cancelling headphones",
                            "category": "equipment_assistive_technology",
                            "addresses": "Concentration in the open-plan office.",
                            "status": "requested", "start_date": "2026-01-05"});
    let adjustment_jws = employee.key.version(&version_payload(
        &pid,
        &adjustment_id,
        "adjustments",
        1,
        None,
        &employee_id,
        adjustment.clone(),
    ));
    let adjustment_v1 = employee
        .ok(
            Method::POST,
            &records,
            Some(&json!({"jws": adjustment_jws})),
            201,
        )
        .await;

    // §7 Grants: read on summary, read and agree on adjustments; and one with agree only.
    let ends_at = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let grants = format!("/v1/passports/{pid}/grants");
    let grant = employee
        .ok(
            Method::POST,
            &grants,
            Some(&json!({"grantee": employer_id,
                "scopes": [{"section": "summary", "actions": ["read"]},
                           {"section": "adjustments", "actions": ["agree", "read"]}],
                "purpose": "Workplace adjustments at Acme Ltd", "ends_at": ends_at,
                "consent_text": "I agree that Acme Ltd may read my summary and adjustments."})),
            201,
        )
        .await;
    assert_eq!(grant["status"], "active");
    let grant_id = grant["id"].as_str().unwrap().to_owned();
    let agree_only = employee
        .ok(
            Method::POST,
            &grants,
            Some(&json!({"grantee": employer_id,
                "scopes": [{"section": "adjustments", "actions": ["agree"]}],
                "purpose": "Agreement only", "ends_at": ends_at,
                "consent_text": "Acme Ltd may record agreements."})),
            201,
        )
        .await;

    // §4.1, §4.3 Consent tokens.
    let consent = |grant: &str| {
        let (http, base, key, id) = (&http, &base, &employer.key, &employer_id);
        let grant = grant.to_owned();
        async move {
            let response = Party::token_response(http, base, key, id, Some(&grant)).await;
            assert_eq!(response.status(), StatusCode::OK);
            let body: Value = response.json().await.unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let consent_token = consent(&grant_id).await;
    let (_, claims) = verify_jws(&consent_token, &server_x);
    let detail = &claims["authorization_details"][0];
    assert_eq!(detail["type"], "work_passport");
    assert_eq!(detail["grant_id"], grant_id);
    assert_eq!(detail["passport_id"], pid);
    assert_eq!(claims["cnf"]["jkt"], employer.key.kid);
    assert_eq!(claims["party_kind"], "employer");
    let grant_end = chrono::DateTime::parse_from_rfc3339(&ends_at)
        .unwrap()
        .timestamp();
    assert!(claims["exp"].as_i64().unwrap() <= grant_end);

    // `agree` does not imply `read`.
    let agree_token = consent(agree_only["id"].as_str().unwrap()).await;
    let response = employer
        .call_with(
            &agree_token,
            Method::GET,
            &format!("{records}/{adjustment_id}"),
            None,
            None,
        )
        .await;
    let (status, _) = problem(response).await;
    assert!(status == 403 || status == 404, "status {status}");
    let view: Value = employer
        .call_with(
            &agree_token,
            Method::GET,
            &format!("/v1/passports/{pid}"),
            None,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["sections"], json!({}), "agree alone reads nothing");

    // The employer reads what it was granted, and nothing else.
    let employer_call = |method: Method, path: String, body: Option<Value>| {
        let (employer, token) = (&employer, &consent_token);
        async move {
            employer
                .call_with(token, method, &path, body.as_ref(), None)
                .await
        }
    };
    let view: Value = employer_call(Method::GET, format!("/v1/passports/{pid}"), None)
        .await
        .json()
        .await
        .unwrap();
    let mut sections: Vec<&String> = view["sections"].as_object().unwrap().keys().collect();
    sections.sort();
    assert_eq!(sections, ["adjustments", "summary"]);

    // §7.2 An agreement: the previous body with status agreed and agreed_by, signed by the employer.
    let mut agreed = adjustment.clone();
    agreed["status"] = json!("agreed");
    agreed["agreed_by"] = json!("Sam Patel, line manager");
    let agreement = employer.key.version(&version_payload(
        &pid,
        &adjustment_id,
        "adjustments",
        2,
        adjustment_v1["hash"].as_str(),
        &employer_id,
        agreed.clone(),
    ));
    let adjustment_versions = format!("{records}/{adjustment_id}/versions");
    let response = employer_call(
        Method::POST,
        adjustment_versions.clone(),
        Some(json!({"jws": agreement})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let agreed_v2: Value = response.json().await.unwrap();
    // An agreement that changes more than status and agreed_by is refused.
    let mut more = agreed.clone();
    more["title"] = json!("A standing desk");
    more["status"] = json!("agreed");
    let overreach = employer.key.version(&version_payload(
        &pid,
        &adjustment_id,
        "adjustments",
        3,
        agreed_v2["hash"].as_str(),
        &employer_id,
        more,
    ));
    let response = employer_call(
        Method::POST,
        adjustment_versions.clone(),
        Some(json!({"jws": overreach})),
    )
    .await;
    assert_eq!(problem(response).await, (403, "forbidden".into()));

    // §6.3 The employer verifies every version and the chain of both records it may read.
    for path in [versions_path.clone(), adjustment_versions.clone()] {
        let history: Value = employer_call(Method::GET, path, None)
            .await
            .json()
            .await
            .unwrap();
        verify_history(&employer, &pid, history["versions"].as_array().unwrap()).await;
    }

    // §8 The changes feed and its checkpoint, as the grantee sees them.
    let feed = format!("/v1/passports/{pid}/changes");
    let response = employer_call(Method::GET, format!("{feed}?since=0"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let changes: Value = response.json().await.unwrap();
    assert_eq!(changes["more"], false);
    let seen: Vec<i64> = changes["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, [1, 2, 4, 5], "conditions (seq 3) is not sent");
    assert_eq!(changes["next_since"], 5);
    let checkpoint = changes["checkpoint"].as_str().unwrap();
    let checkpoint_header: Value =
        serde_json::from_slice(&unb64(checkpoint.split('.').next().unwrap())).unwrap();
    assert_eq!(header_members(&checkpoint_header), ["alg", "kid", "typ"]);
    assert_eq!(checkpoint_header["typ"], "wp-checkpoint+jws");
    let x = server_key(&http, &base, checkpoint_header["kid"].as_str().unwrap()).await;
    let (_, grantee_checkpoint) = verify_jws(checkpoint, &x);
    assert_eq!(grantee_checkpoint["passport"], pid);
    assert!(grantee_checkpoint["seq"].as_i64() >= changes["next_since"].as_i64());

    // Nothing new: 304 with the same tag.
    let response = employer
        .call_with(
            &consent_token,
            Method::GET,
            &format!("{feed}?since=5"),
            None,
            Some(&etag),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()["etag"].to_str().unwrap(), etag);
    // A cursor ahead of the server is an alarm.
    let response = employer_call(Method::GET, format!("{feed}?since=99"), None).await;
    assert_eq!(problem(response).await, (409, "conflict".into()));

    // The owner sees every version, so recomputes the head the checkpoint signs.
    let owner_changes = employee
        .ok(Method::GET, &format!("{feed}?since=0"), None, 200)
        .await;
    let all = owner_changes["versions"].as_array().unwrap();
    assert_eq!(all.len(), 5);
    let (_, owner_checkpoint) = verify_jws(owner_changes["checkpoint"].as_str().unwrap(), &x);
    assert_eq!(owner_checkpoint["seq"], 5);
    assert_eq!(owner_checkpoint["head"], history_head(&pid, all));
    assert_eq!(owner_checkpoint["head"], grantee_checkpoint["head"]);

    // §10 The owner reads the access log and recomputes its hash chain.
    let page = employee
        .ok(
            Method::GET,
            &format!("/v1/passports/{pid}/access-log?limit=500"),
            None,
            200,
        )
        .await;
    let mut entries = page["entries"].as_array().unwrap().clone();
    entries.reverse();
    let mut prev = sha256_b64(format!("work-passport/access-log/{pid}").as_bytes());
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry["seq"], (i + 1) as i64);
        assert_eq!(entry["prev_hash"], prev, "entry {}", i + 1);
        assert_eq!(entry["hash"], log_entry_hash(entry), "entry {}", i + 1);
        prev = entry["hash"].as_str().unwrap().to_owned();
    }
    let has = |action: &str, outcome: &str| {
        entries
            .iter()
            .any(|e| e["action"] == action && e["outcome"] == outcome)
    };
    assert!(has("token_issued", "allowed"));
    assert!(has("version_written", "allowed"));
    assert!(
        has("passport_read", "denied"),
        "the agree-only read was refused and logged"
    );
    assert!(has("changes_read", "allowed"));

    // §6.2 The owner ends a record with a tombstone: no body, `deleted: true`; nothing follows it.
    let mut tombstone = version_payload(
        &pid,
        &conditions_id,
        "conditions",
        2,
        conditions_v1["hash"].as_str(),
        &employee_id,
        Value::Null,
    );
    tombstone.as_object_mut().unwrap().remove("body");
    tombstone["deleted"] = json!(true);
    let tombstone = employee.key.version(&tombstone);
    let conditions_versions = format!("{records}/{conditions_id}/versions");
    let ended = employee
        .ok(
            Method::POST,
            &conditions_versions,
            Some(&json!({"jws": tombstone})),
            201,
        )
        .await;
    assert_eq!(ended["deleted"], true);
    let after = employee.key.version(&version_payload(
        &pid,
        &conditions_id,
        "conditions",
        3,
        ended["hash"].as_str(),
        &employee_id,
        json!({"categories": ["mental_health"]}),
    ));
    let response = employee
        .call(
            Method::POST,
            &conditions_versions,
            Some(&json!({"jws": after})),
            None,
        )
        .await;
    assert_eq!(problem(response).await, (409, "conflict".into()));

    // §8 A negative cursor is a bad request.
    let response = employer_call(Method::GET, format!("{feed}?since=-1"), None).await;
    assert_eq!(problem(response).await, (400, "bad-request".into()));

    // §7.1 A revocation stops the grantee's next request, whatever its token says.
    employee
        .ok(
            Method::POST,
            &format!("{grants}/{grant_id}/revoke"),
            None,
            200,
        )
        .await;
    let response = employer_call(Method::GET, format!("/v1/passports/{pid}"), None).await;
    assert_eq!(problem(response).await, (403, "consent-inactive".into()));
    let response =
        Party::token_response(&http, &base, &employer.key, &employer_id, Some(&grant_id)).await;
    assert_eq!(problem(response).await, (403, "consent-inactive".into()));

    server.stop().await;
}

/// The worked examples in PROTOCOL.md, recomputed here.
#[test]
fn documented_examples() {
    // §1.2: RFC 8037 appendix A.3.
    let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    assert_eq!(
        sha256_b64(format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#).as_bytes()),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
    // §10: the first entry of a passport.
    let pid = "9c1d6a3e-0b7e-4b8a-9d55-2f3c1e2a4b6c";
    let genesis = sha256_b64(format!("work-passport/access-log/{pid}").as_bytes());
    assert_eq!(genesis, "-asFqo12WDRNoCX8L1xIOm_34nF_MM9Sj8ET_36mTB4");
    let entry = json!({"passport_id": pid, "seq": 1, "at": "2025-11-24T16:00:00Z",
        "actor": "3f2b8c1e-5d4a-4c2b-9e7f-0a1b2c3d4e5f", "action": "passport_created",
        "sections": [], "outcome": "allowed", "reason": "owner", "prev_hash": genesis});
    assert_eq!(
        log_entry_hash(&entry),
        "LVka1Rno6ykdF_ezjJFW4NhTC2HoyBVhuVTq-UVRqd0"
    );
    // §10: string escaping.
    assert_eq!(json_string("a\"b\\c\n\u{1}é/"), r#""a\"b\\c\n\u0001é/""#);
}
