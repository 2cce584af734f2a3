//! The OpenAPI 3.1 document of the HTTP API, served at `/openapi.json` and checked in as
//! `schemas/openapi.json` (the `openapi_file` test keeps the two in step).
//!
//! The operations are a table (see [`operations`]). Every schema under `components/schemas` is
//! generated from the Rust wire types by schemars as JSON Schema 2020-12, which OpenAPI 3.1 uses
//! as it is, so the document cannot drift from the types. Only the JWK set and the token form,
//! which have no wire type of their own, are written by hand.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use crate::api::{
    ASSERTION_TYPE, AccessLogPage, AccessTokenClaims, AddKey, AssertionClaims, Changes,
    CheckpointClaims, CreateGrant, DpopClaims, EnrolParty, GRANT_TYPE, Grant, Health,
    KeyProofClaims, Me, Party, PassportInfo, PassportView, RecordHistory, RegisterEmployee,
    SubmitVersion, TokenResponse, VersionEnvelope, VersionPayload,
};
use crate::jose::PublicJwk;
use crate::problem::{Problem, ProblemType};
use crate::sections::{
    AdjustmentsBody, ConditionsBody, FitNotesBody, ImpactsBody, PlansBody, Section, SummaryBody,
};

const SCHEMAS: &str = "#/components/schemas/";
const PARAMETERS: &str = "#/components/parameters/";
const JSON: &str = "application/json";
const PROBLEM_JSON: &str = "application/problem+json";

const DESCRIPTION: &str = "\
An employee-owned health and work passport. The employee owns the passport and grants \
employers and professionals time-limited consent to sections of it; every record version is \
a JWS signed by its author, and every access is written to a hash-chained access log that the \
owner reads.

**Authentication.** No passwords: a party signs a short-lived client assertion \
(`AssertionClaims`, RFC 7523) with its Ed25519 key and sends it to `POST /v1/token` with a DPoP \
proof (`DpopClaims`, RFC 9449); the answer is an access token (`AccessTokenClaims`, RFC 9068), \
or with `grant_id` a consent token, bound to that key. Every other request sends \
`Authorization: DPoP <token>` and a fresh `DPoP` proof for its method and URL. Token and \
checkpoint signatures verify with `/.well-known/jwks.json`.

**Ids.** Party, passport, record and grant ids are UUIDs in canonical form only: lower-case, \
hyphenated (`8-4-4-4-12`). Any other spelling (upper case, braces, `urn:uuid:`, no hyphens) is \
refused, never normalised: in a path it names nothing (404 `not-found`); in a body, such as a \
version's `record`, it is 422 `invalid-body`. Key ids are RFC 7638 thumbprints. A `jti` is 1 to \
200 visible ASCII characters; names, purposes and other text carry no control characters.

**Errors** are RFC 9457 `application/problem+json` (`Problem`), whose `instance` is the request \
id (also in the `x-request-id` response header). A method a path does not support answers 405 \
`method-not-allowed` with an `Allow` header. Match on `type`, one of these stable URIs (also \
listed in `x-problem-types`):
";

/// Path parameters, by name.
const PATH_PARAMS: [(&str, &str, &str); 5] = [
    (
        "party_id",
        "A party's id (a lower-case UUID).",
        UUID_PATTERN,
    ),
    (
        "kid",
        "A key's id: the RFC 7638 thumbprint of the key.",
        "^[A-Za-z0-9_-]{43}$",
    ),
    ("pid", "A passport's id (a lower-case UUID).", UUID_PATTERN),
    ("rid", "A record's id (a lower-case UUID).", UUID_PATTERN),
    (
        "gid",
        "A consent grant's id (a lower-case UUID).",
        UUID_PATTERN,
    ),
];

/// The one accepted spelling of a UUID id; a path id of another form answers 404.
const UUID_PATTERN: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

const TAGS: [(&str, &str); 6] = [
    (
        "meta",
        "Liveness, readiness, the server's keys and this document.",
    ),
    ("tokens", "Access and consent tokens."),
    (
        "parties",
        "Employees, employers, professionals and admins, and their keys.",
    ),
    ("passports", "Passports, the sync feed and the access log."),
    ("records", "Signed record versions and their history."),
    ("grants", "Consent grants."),
];

/// The whole document, with every object's keys sorted so that it serializes the same way
/// whether or not serde_json preserves insertion order in this build.
pub fn document() -> Value {
    let mut schemas = Schemas::new();
    let problem = schemas.of::<Problem>();
    let mut paths = Map::new();
    for (tag, ops) in operations(&mut schemas) {
        for op in ops {
            let (path, method) = (op.path, op.method);
            let item = paths.entry(path).or_insert_with(|| json!({}));
            item[method] = op.build(tag, &problem);
        }
    }
    // Types that appear inside signed objects rather than in bodies, so that clients can
    // validate what they sign and verify.
    let section_bodies: Map<String, Value> = Section::ALL
        .into_iter()
        .map(|section| (section.as_str().to_owned(), schemas.body_of(section)))
        .collect();
    schemas.of::<VersionPayload>();
    schemas.of::<AssertionClaims>();
    schemas.of::<DpopClaims>();
    schemas.of::<KeyProofClaims>();
    schemas.of::<AccessTokenClaims>();
    schemas.of::<CheckpointClaims>();

    let problem_types: Vec<Value> = ProblemType::ALL
        .into_iter()
        .map(|kind| json!({"type": kind.uri(), "status": kind.status(), "title": kind.title()}))
        .collect();
    let mut description = DESCRIPTION.to_owned();
    for kind in ProblemType::ALL {
        description.push_str(&format!(
            "\n- `{}` ({}): {}",
            kind.uri(),
            kind.status(),
            kind.title()
        ));
    }
    let parameters: Map<String, Value> = PATH_PARAMS
        .into_iter()
        .map(|(name, text, pattern)| {
            let param = json!({"name": name, "in": "path", "required": true,
                "description": text, "schema": {"type": "string", "pattern": pattern}});
            (name.to_owned(), param)
        })
        .chain([(
            "DPoP".to_owned(),
            json!({
                "name": "DPoP", "in": "header", "required": true, "schema": {"type": "string"},
                "description": "A DPoP proof (RFC 9449): a JWT of type `dpop+jwt` over \
                    `DpopClaims`, signed with the caller's key (the one the access token is bound \
                    to, or on `/v1/token` the one that signed the assertion), fresh and used once, \
                    for this request's method and URL; with an access token, `ath` is its hash.",
            }),
        )])
        .collect();

    let mut document = json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Work Passport",
            "version": env!("CARGO_PKG_VERSION"),
            "license": {"name": env!("CARGO_PKG_LICENSE"), "identifier": env!("CARGO_PKG_LICENSE")},
            "description": description,
        },
        "tags": TAGS.map(|(name, text)| json!({"name": name, "description": text})),
        "security": [{"DPoP": []}],
        "paths": paths,
        "components": {
            "schemas": schemas.into_definitions(),
            "parameters": parameters,
            "securitySchemes": {"DPoP": {
                "type": "http",
                "scheme": "DPoP",
                "description": "`Authorization: DPoP <access token>` from `POST /v1/token`, with \
                    a `DPoP` proof header by the key the token is bound to (RFC 9449). A 401 \
                    answer carries `WWW-Authenticate: DPoP error=...`.",
            }},
        },
        "x-problem-types": problem_types,
        "x-section-bodies": section_bodies,
    });
    document.sort_all_objects();
    document
}

/// The operations, grouped by tag.
fn operations(s: &mut Schemas) -> Vec<(&'static str, Vec<Op>)> {
    use ProblemType as P;
    const PASSPORT: &[ProblemType] = &[P::Forbidden, P::ConsentInactive, P::NotFound, P::Gone];
    const WRITE: &[ProblemType] = &[
        P::InvalidSignature,
        P::InvalidVersion,
        P::Forbidden,
        P::ConsentInactive,
        P::NotFound,
        P::Conflict,
        P::VersionConflict,
        P::Gone,
        P::LimitExceeded,
    ];
    let int64 = |default: i64| json!({"type": "integer", "format": "int64", "default": default});
    let meta = vec![
        get("/healthz", "getHealth")
            .summary("Liveness: the process answers")
            .public()
            .ok(200, s.of::<Health>()),
        get("/readyz", "getReadiness")
            .summary("Readiness: the database answers")
            .public()
            .ok(200, s.of::<Health>())
            .problems(&[P::Unavailable]),
        get("/.well-known/jwks.json", "getJwks")
            .summary("The public keys that verify tokens and checkpoints")
            .public()
            .ok(200, s.jwk_set()),
        get("/openapi.json", "getOpenApi")
            .summary("This OpenAPI document")
            .public()
            .ok(200, json!({"type": "object"})),
    ];
    let tokens = vec![
        post("/v1/token", "createToken")
            .summary("Exchange a signed client assertion for a DPoP-bound access or consent token")
            .about(
                "No access token: the client authenticates with `client_assertion` (RFC 7523) \
                and a DPoP proof by the same key. With `grant_id`, the caller must be the grant's \
                grantee and the grant active; the consent token lasts at most 15 minutes and \
                never past the grant's end.",
            )
            .dpop_proof_only()
            .form_body(s.token_request())
            .ok(200, s.of::<TokenResponse>())
            .problems(&[
                P::InvalidAssertion,
                P::ReplayedAssertion,
                P::Forbidden,
                P::ConsentInactive,
            ]),
    ];
    let parties = vec![
        post("/v1/parties", "registerEmployee")
            .summary("Register as an employee, proving possession of the key")
            .public()
            .json_body(s.of::<RegisterEmployee>())
            .ok(201, s.of::<Party>())
            .problems(&[P::InvalidKey, P::InvalidKeyProof, P::Conflict]),
        post("/v1/admin/parties", "enrolParty")
            .summary("Enrol an employer, a professional or an admin (admins only)")
            .json_body(s.of::<EnrolParty>())
            .ok(201, s.of::<Party>())
            .problems(&[P::InvalidKey, P::Forbidden, P::Conflict]),
        get("/v1/me", "getMe")
            .summary("The caller's party and passport id")
            .ok(200, s.of::<Me>()),
        get("/v1/parties/{party_id}", "getParty")
            .summary("A party's public facts and keys, to check who signed what")
            .ok(200, s.of::<Party>())
            .problems(&[P::NotFound]),
        post("/v1/parties/{party_id}/keys", "addKey")
            .summary("Add a key to the caller (rotation), proving possession of it")
            .json_body(s.of::<AddKey>())
            .ok(201, s.of::<Party>())
            .problems(&[P::InvalidKey, P::InvalidKeyProof, P::Forbidden, P::Conflict]),
        post("/v1/parties/{party_id}/keys/{kid}/revoke", "revokeKey")
            .summary("Revoke one of the caller's keys; tokens bound to it stop working")
            .ok(200, s.of::<Party>())
            .problems(&[P::Forbidden, P::NotFound, P::Conflict]),
    ];
    let passports = vec![
        post("/v1/passports", "createPassport")
            .summary("Create the caller's own passport (employees only)")
            .ok(201, s.of::<PassportInfo>())
            .problems(&[P::Forbidden, P::Conflict]),
        get("/v1/passports/{pid}", "getPassport")
            .summary("The latest version of every live record the caller may read")
            .ok(200, s.of::<PassportView>())
            .problems(PASSPORT),
        delete("/v1/passports/{pid}", "erasePassport")
            .summary("Erase the passport by destroying its data key (owner only)")
            .reply(
                204,
                json!({"description": "Erased: the passport now answers 410."}),
            )
            .problems(PASSPORT),
        get("/v1/passports/{pid}/changes", "getChanges")
            .summary("Sync feed: the versions after a cursor, with a signed checkpoint")
            .about(
                "Versions after `since` in the sections the caller may read, in sequence order, \
                and a server-signed checkpoint (`CheckpointClaims`). A cursor ahead of the \
                server's history answers 409: a rollback alarm, never a reason to resync.",
            )
            .query(
                "since",
                json!({"type": "integer", "format": "int64", "minimum": 0, "default": 0}),
                "The `next_since` of the previous answer; 0 at first.",
            )
            .query(
                "limit",
                int64(500),
                "Versions to scan at most; clamped to 1..=1000.",
            )
            .header("If-None-Match", "The `ETag` of an earlier answer.")
            .ok(200, s.of::<Changes>())
            .response_header(
                200,
                "ETag",
                "On the last page only (`more: false`): a tag to send as `If-None-Match` with \
                 its `next_since` next time.",
            )
            .reply(
                304,
                json!({"description": "Nothing new since the `If-None-Match` tag."}),
            )
            .problems(&[P::BadRequest, P::Conflict])
            .problems(PASSPORT),
        get("/v1/passports/{pid}/access-log", "getAccessLog")
            .summary("The passport's access log, newest first (owner only)")
            .query(
                "before",
                json!({"type": "integer", "format": "int64"}),
                "The `next_before` of the previous page.",
            )
            .query("limit", int64(100), "Entries per page; clamped to 1..=500.")
            .query(
                "actor",
                json!({"type": "string", "pattern": crate::api::UUID_PATTERN}),
                "Only the entries of this party.",
            )
            .ok(200, s.of::<AccessLogPage>())
            .problems(&[P::BadRequest])
            .problems(PASSPORT),
    ];
    let records = vec![
        post("/v1/passports/{pid}/records", "createRecord")
            .summary("Submit the first version of a new record")
            .about(
                "`jws` is a compact JWS of type `wp-version+jws` over a `VersionPayload` with \
                `version` 1 and no `prev`, signed with the caller's key; its `body` must match the \
                section's schema (see `x-section-bodies`).",
            )
            .json_body(s.of::<SubmitVersion>())
            .ok(201, s.of::<VersionEnvelope>())
            .problems(WRITE),
        get("/v1/passports/{pid}/records/{rid}", "getRecord")
            .summary("A record's latest version")
            .ok(200, s.of::<VersionEnvelope>())
            .problems(PASSPORT),
        get(
            "/v1/passports/{pid}/records/{rid}/versions",
            "getRecordHistory",
        )
        .summary("A record's whole version history")
        .ok(200, s.of::<RecordHistory>())
        .problems(PASSPORT),
        post(
            "/v1/passports/{pid}/records/{rid}/versions",
            "addRecordVersion",
        )
        .summary("Submit the next version of a record, naming the one it replaces")
        .about(
            "The `VersionPayload` names the current head in `prev` and has the next \
            `version`; a tombstone sets `deleted` and has no `body`. A stale write answers \
            409 `version-conflict` with the record's `current_head` to rebase on: nothing \
            is ever overwritten.",
        )
        .json_body(s.of::<SubmitVersion>())
        .ok(201, s.of::<VersionEnvelope>())
        .problems(WRITE),
    ];
    let grants = vec![
        get("/v1/passports/{pid}/grants", "listPassportGrants")
            .summary("The passport's consent grants (owner only)")
            .ok(200, s.of::<Vec<Grant>>())
            .problems(PASSPORT),
        post("/v1/passports/{pid}/grants", "createGrant")
            .summary("Grant a party consent to sections of the passport (owner only)")
            .json_body(s.of::<CreateGrant>())
            .ok(201, s.of::<Grant>())
            .problems(PASSPORT),
        post("/v1/passports/{pid}/grants/{gid}/revoke", "revokeGrant")
            .summary("Revoke a consent grant, effective on the grantee's next request")
            .ok(200, s.of::<Grant>())
            .problems(PASSPORT),
        get("/v1/grants", "listMyGrants")
            .summary("The grants made to the caller, with their current status")
            .ok(200, s.of::<Vec<Grant>>()),
    ];
    vec![
        ("meta", meta),
        ("tokens", tokens),
        ("parties", parties),
        ("passports", passports),
        ("records", records),
        ("grants", grants),
    ]
}

/// The component schemas, generated from the Rust types as they are referenced.
struct Schemas(SchemaGenerator);

impl Schemas {
    fn new() -> Self {
        let settings = SchemaSettings::draft2020_12().with(|s| s.definitions_path = SCHEMAS.into());
        Schemas(settings.into_generator())
    }

    /// `T`'s schema: a `$ref` into the components, which it joins, or inline for `Vec` etc.
    fn of<T: JsonSchema>(&mut self) -> Value {
        self.0.subschema_for::<T>().to_value()
    }

    fn body_of(&mut self, section: Section) -> Value {
        match section {
            Section::Summary => self.of::<SummaryBody>(),
            Section::Impacts => self.of::<ImpactsBody>(),
            Section::Conditions => self.of::<ConditionsBody>(),
            Section::Adjustments => self.of::<AdjustmentsBody>(),
            Section::FitNotes => self.of::<FitNotesBody>(),
            Section::Plans => self.of::<PlansBody>(),
        }
    }

    /// Adds a hand-written schema to the components and returns a reference to it.
    fn define(&mut self, name: &str, schema: Value) -> Value {
        let previous = self.0.definitions_mut().insert(name.to_owned(), schema);
        assert!(previous.is_none(), "two schemas are named {name}");
        json!({"$ref": format!("{SCHEMAS}{name}")})
    }

    fn jwk_set(&mut self) -> Value {
        let jwk = self.of::<PublicJwk>();
        self.define(
            "JwkSet",
            json!({
                "description": "The server's public signing keys (RFC 7517), including retired \
                    keys whose tokens may still be valid.",
                "type": "object",
                "required": ["keys"],
                "properties": {"keys": {"type": "array", "items": {
                    "allOf": [jwk],
                    "required": ["kid", "alg", "use"],
                    "properties": {"alg": {"const": "EdDSA"}, "use": {"const": "sig"}},
                }}},
            }),
        )
    }

    fn token_request(&mut self) -> Value {
        self.define("TokenRequest", json!({
            "description": "The token request (RFC 6749 section 4.4, client authentication \
                by RFC 7523 assertion).",
            "type": "object",
            "required": ["grant_type", "client_assertion_type", "client_assertion"],
            "properties": {
                "grant_type": {"const": GRANT_TYPE},
                "client_assertion_type": {"const": ASSERTION_TYPE},
                "client_assertion": {"type": "string", "description": "A compact JWS over \
                    `AssertionClaims`, signed with one of the caller's registered keys; `aud` is \
                    this endpoint's URL."},
                "grant_id": {"type": "string", "description": "Ask for a consent token under \
                    this grant, of which the caller is the grantee."},
            },
        }))
    }

    fn into_definitions(mut self) -> Map<String, Value> {
        self.0.take_definitions(true)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// No credentials.
    Public,
    /// A DPoP proof but no access token (the token endpoint).
    DpopProof,
    /// `Authorization: DPoP <token>` and a DPoP proof.
    Token,
}

/// One operation, built up by the methods below and turned into JSON by [`Op::build`].
struct Op {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    description: Option<&'static str>,
    auth: Auth,
    parameters: Vec<Value>,
    body: Option<Value>,
    responses: Map<String, Value>,
    problems: Vec<ProblemType>,
}

fn op(method: &'static str, path: &'static str, id: &'static str) -> Op {
    Op {
        method,
        path,
        id,
        summary: "",
        description: None,
        auth: Auth::Token,
        parameters: Vec::new(),
        body: None,
        responses: Map::new(),
        problems: Vec::new(),
    }
}

fn get(path: &'static str, id: &'static str) -> Op {
    op("get", path, id)
}

fn post(path: &'static str, id: &'static str) -> Op {
    op("post", path, id)
}

fn delete(path: &'static str, id: &'static str) -> Op {
    op("delete", path, id)
}

impl Op {
    fn public(self) -> Self {
        Op {
            auth: Auth::Public,
            ..self
        }
    }

    fn dpop_proof_only(self) -> Self {
        Op {
            auth: Auth::DpopProof,
            ..self
        }
    }

    fn summary(self, summary: &'static str) -> Self {
        Op { summary, ..self }
    }

    fn about(self, description: &'static str) -> Self {
        Op {
            description: Some(description),
            ..self
        }
    }

    /// An optional query or header parameter.
    fn param(mut self, place: &str, name: &str, schema: Value, description: &str) -> Self {
        let param =
            json!({"name": name, "in": place, "schema": schema, "description": description});
        self.parameters.push(param);
        self
    }

    fn query(self, name: &str, schema: Value, description: &str) -> Self {
        self.param("query", name, schema, description)
    }

    fn header(self, name: &str, description: &str) -> Self {
        self.param("header", name, json!({"type": "string"}), description)
    }

    fn body(mut self, media_type: &str, schema: Value, problems: &[ProblemType]) -> Self {
        self.body = Some(json!({"required": true, "content": {media_type: {"schema": schema}}}));
        self.problems(&[
            ProblemType::PayloadTooLarge,
            ProblemType::UnsupportedMediaType,
        ])
        .problems(problems)
    }

    /// A JSON body; one that does not match its schema answers 422 naming the field.
    fn json_body(self, schema: Value) -> Self {
        self.body(JSON, schema, &[ProblemType::InvalidBody])
    }

    fn form_body(self, schema: Value) -> Self {
        self.body(
            "application/x-www-form-urlencoded",
            schema,
            &[ProblemType::BadRequest],
        )
    }

    fn ok(self, status: u16, schema: Value) -> Self {
        let description = if status == 201 { "Created" } else { "OK" };
        self.reply(
            status,
            json!({"description": description, "content": {JSON: {"schema": schema}}}),
        )
    }

    fn response_header(mut self, status: u16, name: &str, description: &str) -> Self {
        let response = &mut self.responses[&status.to_string()];
        response["headers"][name] =
            json!({"description": description, "schema": {"type": "string"}});
        self
    }

    fn reply(mut self, status: u16, response: Value) -> Self {
        self.responses.insert(status.to_string(), response);
        self
    }

    fn problems(mut self, problems: &[ProblemType]) -> Self {
        self.problems.extend_from_slice(problems);
        self
    }

    fn build(mut self, tag: &str, problem: &Value) -> Value {
        let path_params = self.path.split('/').filter_map(|segment| {
            let name = segment.strip_prefix('{')?.strip_suffix('}')?;
            Some(json!({"$ref": format!("{PARAMETERS}{name}")}))
        });
        let mut parameters: Vec<Value> = path_params.collect();
        if !parameters.is_empty() {
            // An id of the wrong form names nothing.
            self.problems.push(ProblemType::NotFound);
        }
        match self.auth {
            Auth::Public => {}
            Auth::DpopProof => self.problems.extend([
                ProblemType::InvalidDpopProof,
                ProblemType::ReplayedDpopProof,
            ]),
            Auth::Token => self.problems.extend([
                ProblemType::InvalidToken,
                ProblemType::InvalidDpopProof,
                ProblemType::ReplayedDpopProof,
            ]),
        }
        if self.auth != Auth::Public {
            parameters.push(json!({"$ref": format!("{PARAMETERS}DPoP")}));
        }
        parameters.append(&mut self.parameters);
        self.problems.push(ProblemType::Internal);
        if self.path.starts_with("/v1/") {
            self.problems.push(ProblemType::DatabaseUnavailable);
        }

        let mut by_status: BTreeMap<u16, Vec<ProblemType>> = BTreeMap::new();
        for kind in ProblemType::ALL
            .into_iter()
            .filter(|k| self.problems.contains(k))
        {
            by_status.entry(kind.status()).or_default().push(kind);
        }
        for (status, kinds) in by_status {
            self.responses.insert(
                status.to_string(),
                problem_response(problem, status, &kinds),
            );
        }

        let mut operation = json!({
            "operationId": self.id,
            "summary": self.summary,
            "tags": [tag],
            "responses": self.responses,
        });
        if let Some(description) = self.description {
            operation["description"] = json!(description);
        }
        if !parameters.is_empty() {
            operation["parameters"] = json!(parameters);
        }
        if let Some(body) = self.body {
            operation["requestBody"] = body;
        }
        if self.auth != Auth::Token {
            operation["security"] = json!([]);
        }
        operation
    }
}

/// A problem+json response whose `type` is one of `kinds`, all of the same `status`. The types
/// are listed in the description and in `x-problem-types`; the schema stays a plain `$ref` so
/// that code generators map every error to the one `Problem` type.
fn problem_response(problem: &Value, status: u16, kinds: &[ProblemType]) -> Value {
    let lines: Vec<String> = kinds
        .iter()
        .map(|kind| {
            let note = match kind {
                ProblemType::VersionConflict => " (with the record's `current_head`)",
                _ => "",
            };
            format!("- `{}`: {}{note}", kind.slug(), kind.title())
        })
        .collect();
    let mut response = json!({
        "description": lines.join("\n"),
        "content": {PROBLEM_JSON: {"schema": problem}},
        "x-problem-types": kinds.iter().map(|kind| kind.uri()).collect::<Vec<_>>(),
    });
    if kinds.contains(&ProblemType::DatabaseUnavailable) {
        response["headers"] = json!({"Retry-After": {
            "description": "Seconds to wait before retrying. Reads (GET) are safe to retry; \
                a write may or may not have been applied: read before writing again.",
            "schema": {"type": "integer", "minimum": 0},
        }});
    }
    if status == 401 {
        response["headers"] = json!({"WWW-Authenticate": {
            "description": "`DPoP error=\"...\", algs=\"EdDSA\"` where the error is \
                `invalid_token`, `invalid_dpop_proof` or `invalid_client`.",
            "schema": {"type": "string"},
        }});
    }
    response
}
