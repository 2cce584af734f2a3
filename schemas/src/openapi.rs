//! The OpenAPI 3.1 document of the HTTP API, served at `/openapi.json` and checked in as
//! `schemas/openapi.json`.
//!
//! The paths and methods are not listed here: the server's route table
//! (`server/src/http/routes.rs`) pairs each route's handler with its [`Operation`], builds its
//! router from that table and passes the same table to [`document`], so a route cannot be added
//! without its operation (or the reverse). Every schema under `components/schemas` is generated
//! from the Rust wire types by schemars as JSON Schema 2020-12, which OpenAPI 3.1 uses as it is,
//! so the document cannot drift from the types. Only the JWK set and the token form, which have
//! no wire type of their own, are written by hand. The server's `openapi_file` test keeps the
//! checked-in file in step.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use crate::api::{
    ASSERTION_TYPE, AccessTokenClaims, AssertionClaims, CheckpointClaims, DpopClaims, GRANT_TYPE,
    KeyProofClaims, UUID_PATTERN, VersionPayload,
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
const PATH_PARAMS: [(&str, &str, &str); 11] = [
    (
        "nid",
        "A notification's id (a lower-case UUID).",
        UUID_PATTERN,
    ),
    (
        "token",
        "The secret an email's unsubscribe link or a calendar feed's address carries.",
        "^[A-Za-z0-9_.-]{1,200}$",
    ),
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
    (
        "oid",
        "An organisation's party id (a lower-case UUID).",
        UUID_PATTERN,
    ),
    (
        "iid",
        "An invitation's id (a lower-case UUID).",
        UUID_PATTERN,
    ),
    (
        "mid",
        "A member's party id (a lower-case UUID).",
        UUID_PATTERN,
    ),
    (
        "share_code",
        "An organisation's share code, as its members show it (`K7PD-4MQX-93HN`): case and \
         hyphens do not matter, I and L read as 1, O as 0.",
        crate::api::SHARE_CODE_PATTERN,
    ),
];

const TAGS: [(&str, &str); 9] = [
    (
        "meta",
        "Liveness, readiness, the server's keys and this document.",
    ),
    ("tokens", "Access and consent tokens."),
    (
        "parties",
        "Employees, employers, practices, professionals, members and admins, and their keys.",
    ),
    ("passports", "Passports, the sync feed and the access log."),
    ("records", "Signed record versions and their history."),
    ("grants", "Consent grants."),
    (
        "organisations",
        "Employers and practices, the people who act for them, and the invitations that bring them in.",
    ),
    (
        "access requests",
        "An organisation asks an employee for access; the employee approves, narrows or declines.",
    ),
    (
        "notifications",
        "What happened, in words without health data: in the pages, by email to a verified address, and as a calendar feed of review and consent end dates.",
    ),
];

/// One route of the API as the document sees it: its method (`"get"`, `"post"`...), its path
/// template (`/v1/passports/{pid}`), its tag (one of the document's tags) and its operation.
pub struct Endpoint<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub tag: &'a str,
    pub operation: &'a Operation,
}

/// The whole document for these endpoints, with every object's keys sorted so that it
/// serializes the same way whether or not serde_json preserves insertion order in this build.
///
/// Panics if two endpoints share a method and path, or an endpoint's tag is not a known one.
pub fn document<'a>(endpoints: impl IntoIterator<Item = Endpoint<'a>>) -> Value {
    let mut schemas = Schemas::new();
    let problem = schemas.of::<Problem>();
    let mut paths = Map::new();
    for Endpoint {
        method,
        path,
        tag,
        operation,
    } in endpoints
    {
        assert!(
            TAGS.iter().any(|(name, _)| *name == tag),
            "{method} {path}: unknown tag `{tag}`"
        );
        let item = paths.entry(path).or_insert_with(|| json!({}));
        assert!(
            item.get(method).is_none(),
            "{method} {path} is listed twice"
        );
        item[method] = operation.build(path, tag, &problem, &mut schemas);
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

/// The component schemas, generated from the Rust types as they are referenced.
pub struct Schemas(SchemaGenerator);

/// How an operation's body or answer gets its schema once the document is built, for example
/// `Schemas::of::<Party>`: the type is named where the operation is, the schema generated with
/// all the others.
pub type SchemaOf = fn(&mut Schemas) -> Value;

impl Schemas {
    fn new() -> Self {
        let settings = SchemaSettings::draft2020_12().with(|s| s.definitions_path = SCHEMAS.into());
        Schemas(settings.into_generator())
    }

    /// `T`'s schema: a `$ref` into the components, which it joins, or inline for `Vec` etc.
    pub fn of<T: JsonSchema>(&mut self) -> Value {
        self.0.subschema_for::<T>().to_value()
    }

    /// A FHIR R4 Bundle (its own schema is FHIR's, not ours: docs/FHIR.md).
    pub fn fhir_bundle(&mut self) -> Value {
        json!({
            "type": "object",
            "description": "A FHIR R4 Bundle of type `collection` (docs/FHIR.md); it validates \
                against the FHIR R4 JSON Schema (http://hl7.org/fhir/R4/fhir.schema.json).",
            "required": ["resourceType", "id", "type", "entry"],
            "properties": {
                "resourceType": {"const": "Bundle"},
                "id": {"type": "string", "description": "The passport id."},
                "meta": {"type": "object", "properties": {"lastUpdated": {"type": "string"}}},
                "identifier": {
                    "type": "object",
                    "properties": {"system": {"type": "string"}, "value": {"type": "string"}},
                },
                "type": {"const": "collection"},
                "timestamp": {"type": "string", "description": "When it was exported."},
                "entry": {"type": "array", "items": {
                    "type": "object",
                    "required": ["fullUrl", "resource"],
                    "properties": {
                        "fullUrl": {"type": "string", "description": "`urn:uuid:` and the resource's id."},
                        "resource": {
                            "type": "object",
                            "description": "A FHIR R4 resource (docs/FHIR.md says which).",
                            "required": ["resourceType", "id"],
                            "additionalProperties": true,
                        },
                    },
                }},
            },
        })
    }

    /// Any JSON object (this document's own schema).
    pub fn any_object(&mut self) -> Value {
        json!({"type": "object"})
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

    /// The server's JWK set (`/.well-known/jwks.json`).
    pub fn jwk_set(&mut self) -> Value {
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

    /// The form of `POST /v1/token`.
    pub fn token_request(&mut self) -> Value {
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

/// One answer of an operation.
enum Reply {
    /// JSON of this schema.
    Json(SchemaOf),
    /// A response object written out (no body).
    Fixed(Value),
}

/// What the document says about one operation, built up by the methods below; the route it
/// belongs to (method and path) and its tag come from the server's route table. Path
/// parameters, the DPoP header, the authentication problems and the problems every operation
/// can answer are added from the path and [`Operation::public`] / [`Operation::dpop_proof_only`].
pub struct Operation {
    id: &'static str,
    summary: &'static str,
    description: Option<&'static str>,
    auth: Auth,
    parameters: Vec<Value>,
    body: Option<(&'static str, SchemaOf)>,
    responses: Vec<(u16, Reply)>,
    /// Other media types a response may come in (chosen by a query parameter).
    alternatives: Vec<(u16, &'static str, SchemaOf)>,
    response_headers: Vec<(u16, &'static str, &'static str)>,
    problems: Vec<ProblemType>,
    /// Its client errors carry the OAuth 2.0 `error` member (the token endpoint).
    oauth_errors: bool,
}

impl Operation {
    /// An operation with this `operationId` that needs an access token.
    pub fn new(id: &'static str) -> Self {
        Operation {
            id,
            summary: "",
            description: None,
            auth: Auth::Token,
            parameters: Vec::new(),
            body: None,
            responses: Vec::new(),
            alternatives: Vec::new(),
            response_headers: Vec::new(),
            problems: Vec::new(),
            oauth_errors: false,
        }
    }

    /// Its problems with a 4xx status always carry `error`, the OAuth 2.0 error code (RFC 6749
    /// section 5.2, RFC 9449): the token endpoint's. Said in their descriptions; the schema
    /// stays the one `Problem`.
    pub fn oauth_errors(self) -> Self {
        Operation {
            oauth_errors: true,
            ..self
        }
    }

    /// No credentials.
    pub fn public(self) -> Self {
        Operation {
            auth: Auth::Public,
            ..self
        }
    }

    /// A DPoP proof but no access token.
    pub fn dpop_proof_only(self) -> Self {
        Operation {
            auth: Auth::DpopProof,
            ..self
        }
    }

    /// One line.
    pub fn summary(self, summary: &'static str) -> Self {
        Operation { summary, ..self }
    }

    pub fn about(self, description: &'static str) -> Self {
        Operation {
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

    /// An optional query parameter.
    pub fn query(self, name: &str, schema: Value, description: &str) -> Self {
        self.param("query", name, schema, description)
    }

    /// A query parameter the request must carry (400 without it).
    pub fn required_query(mut self, name: &str, schema: Value, description: &str) -> Self {
        self = self.param("query", name, schema, description);
        let last = self.parameters.last_mut().expect("just added");
        last["required"] = json!(true);
        self
    }

    /// An optional request header.
    pub fn header(self, name: &str, description: &str) -> Self {
        self.param("header", name, json!({"type": "string"}), description)
    }

    fn body(
        mut self,
        media_type: &'static str,
        schema: SchemaOf,
        problems: &[ProblemType],
    ) -> Self {
        self.body = Some((media_type, schema));
        self.problems(&[
            ProblemType::PayloadTooLarge,
            ProblemType::UnsupportedMediaType,
        ])
        .problems(problems)
    }

    /// A JSON body; one that does not match its schema answers 422 naming the field.
    pub fn json_body(self, schema: SchemaOf) -> Self {
        self.body(JSON, schema, &[ProblemType::InvalidBody])
    }

    /// An `application/x-www-form-urlencoded` body.
    pub fn form_body(self, schema: SchemaOf) -> Self {
        self.body(
            "application/x-www-form-urlencoded",
            schema,
            &[ProblemType::BadRequest],
        )
    }

    /// A JSON answer with this status.
    pub fn ok(mut self, status: u16, schema: SchemaOf) -> Self {
        self.responses.push((status, Reply::Json(schema)));
        self
    }

    /// The answer with this status may instead be `media_type`, of this schema.
    pub fn ok_also(mut self, status: u16, media_type: &'static str, schema: SchemaOf) -> Self {
        self.alternatives.push((status, media_type, schema));
        self
    }

    /// A header of the answer with this status.
    pub fn response_header(
        mut self,
        status: u16,
        name: &'static str,
        description: &'static str,
    ) -> Self {
        self.response_headers.push((status, name, description));
        self
    }

    /// The success answer its handler's return type names (`status` and `schema`), or with
    /// None, one the operation says itself: the route table passes what the handler's type
    /// says, so that the document cannot disagree with the handler.
    ///
    /// Panics if the type names the answer and the operation says it too, or neither does.
    pub fn answers(self, success: Option<(u16, SchemaOf)>) -> Self {
        let said = |status: u16| {
            self.responses
                .iter()
                .any(|(s, reply)| *s == status && matches!(reply, Reply::Json(_)))
        };
        match success {
            Some((status, schema)) => {
                assert!(
                    !said(status),
                    "{}: its handler's type names its {status} answer; do not say it again",
                    self.id
                );
                self.ok(status, schema)
            }
            None => {
                assert!(
                    self.responses.iter().any(|(s, _)| (200..300).contains(s)),
                    "{}: its handler builds its answer by hand, so the operation must say it",
                    self.id
                );
                self
            }
        }
    }

    /// An answer without a body, described in words.
    pub fn reply(mut self, status: u16, description: &str) -> Self {
        let response = json!({ "description": description });
        self.responses.push((status, Reply::Fixed(response)));
        self
    }

    /// Limited per client address and in all (the server's `--rate-limit-*` settings): may
    /// answer 429 `rate-limited` with `Retry-After`. The server's router applies the limit to
    /// exactly the operations that say so.
    pub fn rate_limited(self) -> Self {
        self.problems(&[ProblemType::RateLimited])
    }

    /// The query parameters the operation declares; the server refuses any other (400).
    pub fn query_names(&self) -> impl Iterator<Item = &str> {
        self.parameters
            .iter()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str())
    }

    pub fn is_rate_limited(&self) -> bool {
        self.problems.contains(&ProblemType::RateLimited)
    }

    /// Problems this operation answers besides those every operation of its kind does.
    pub fn problems(mut self, problems: &[ProblemType]) -> Self {
        self.problems.extend_from_slice(problems);
        self
    }

    fn build(&self, path: &str, tag: &str, problem: &Value, schemas: &mut Schemas) -> Value {
        let mut problems = self.problems.clone();
        let path_params = path.split('/').filter_map(|segment| {
            let name = segment.strip_prefix('{')?.strip_suffix('}')?;
            assert!(
                PATH_PARAMS.iter().any(|(known, ..)| *known == name),
                "{path}: no parameter `{name}` in PATH_PARAMS"
            );
            Some(json!({"$ref": format!("{PARAMETERS}{name}")}))
        });
        let mut parameters: Vec<Value> = path_params.collect();
        if !parameters.is_empty() {
            // An id of the wrong form names nothing.
            problems.push(ProblemType::NotFound);
        }
        match self.auth {
            Auth::Public => {}
            Auth::DpopProof => problems.extend([
                ProblemType::InvalidDpopProof,
                ProblemType::ReplayedDpopProof,
            ]),
            Auth::Token => problems.extend([
                ProblemType::InvalidToken,
                ProblemType::InvalidDpopProof,
                ProblemType::ReplayedDpopProof,
            ]),
        }
        if self.auth != Auth::Public {
            parameters.push(json!({"$ref": format!("{PARAMETERS}DPoP")}));
        }
        parameters.extend(self.parameters.iter().cloned());
        // A query parameter the operation does not declare is refused.
        problems.push(ProblemType::BadRequest);
        problems.push(ProblemType::Internal);
        if path.starts_with("/v1/") {
            problems.push(ProblemType::DatabaseUnavailable);
        }

        let mut responses = Map::new();
        for (status, reply) in &self.responses {
            let response = match reply {
                Reply::Json(schema) => {
                    let description = if *status == 201 { "Created" } else { "OK" };
                    json!({"description": description, "content": {JSON: {"schema": schema(schemas)}}})
                }
                Reply::Fixed(response) => response.clone(),
            };
            responses.insert(status.to_string(), response);
        }
        for (status, media_type, schema) in &self.alternatives {
            let response = responses
                .get_mut(&status.to_string())
                .unwrap_or_else(|| panic!("{}: an alternative to no response {status}", self.id));
            response["content"][*media_type] = json!({"schema": schema(schemas)});
        }
        for (status, name, description) in &self.response_headers {
            let response = responses
                .get_mut(&status.to_string())
                .unwrap_or_else(|| panic!("{}: a header of no response {status}", self.id));
            response["headers"][*name] =
                json!({"description": description, "schema": {"type": "string"}});
        }
        let mut by_status: BTreeMap<u16, Vec<ProblemType>> = BTreeMap::new();
        for kind in ProblemType::ALL
            .into_iter()
            .filter(|k| problems.contains(k))
        {
            by_status.entry(kind.status()).or_default().push(kind);
        }
        for (status, kinds) in by_status {
            let mut response = problem_response(problem, status, &kinds);
            if self.oauth_errors && status < 500 {
                // The schema stays the one `Problem`, whose `error` is optional elsewhere.
                let description = response["description"].as_str().unwrap_or_default();
                response["description"] = json!(format!(
                    "{description}\n\nAlways with `error`, the OAuth 2.0 error code (see the \
                     operation's description)."
                ));
            }
            responses.insert(status.to_string(), response);
        }

        let mut operation = json!({
            "operationId": self.id,
            "summary": self.summary,
            "tags": [tag],
            "responses": responses,
        });
        if let Some(description) = self.description {
            operation["description"] = json!(description);
        }
        if !parameters.is_empty() {
            operation["parameters"] = json!(parameters);
        }
        if let Some((media_type, schema)) = self.body {
            operation["requestBody"] =
                json!({"required": true, "content": {media_type: {"schema": schema(schemas)}}});
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
    if kinds.contains(&ProblemType::RateLimited) {
        response["headers"] = json!({"Retry-After": {
            "description": "Seconds to wait before the limit lets this client through again.",
            "schema": {"type": "integer", "minimum": 1},
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
