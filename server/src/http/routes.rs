//! The route table: every route of the API once, with its method, path, handler and what the
//! OpenAPI document says about it. [`super::router`] is built from this table and so is the
//! document ([`document`]), so neither can list a route the other lacks.

use std::sync::LazyLock;

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{self, MethodRouter};
use serde_json::{Value, json};
use wp_schemas::api::{
    AccessRequestCode, AddKey, ApproveAccessRequest, Changes, CreateAccessRequest, CreateGrant,
    CreateInvitation, CreateOrganisation, EnrolParty, JoinAsAdmin, RedeemInvitation,
    RegisterEmployee, SetEmailChoices, SetListing, SetNotificationEmail, SubmitVersion,
    UUID_PATTERN, VerifyEmail,
};
use wp_schemas::bundle::Bundle;
use wp_schemas::openapi::{self, Endpoint, Operation, Schemas};
use wp_schemas::paths;
use wp_schemas::problem::ProblemType;

use super::reply::{Answers, Documented};
use super::{
    AppState, access_requests, grants, meta, notifications, organisations, parties, passports,
    token,
};

/// One route: a method and path, the handler that answers it, its operation, and how it is
/// logged.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub tag: &'static str,
    pub handler: MethodRouter<AppState>,
    pub operation: Operation,
    pub audit: Audit,
}

/// Whether and how a route's requests are written to a passport's access log: decided for
/// every route here (a route without it does not compile), described in docs/PROTOCOL.md
/// section 10, and what the replay and audit tests (`tests/tests/attacks.rs`) are derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// Not about one passport: nothing is logged.
    None,
    /// A read of the passport in the path (`PendingCaller`, `service::AuthorizedRead`): every
    /// answer but a server failure is logged, allowed or denied, and the request's DPoP proof is
    /// admitted in the entry's transaction, so a replay is refused and leaves no entry.
    Read,
    /// A request on the passport in the path: a refusal is logged, and so is success, its
    /// entry committed with the change it makes (or, for the export, once it is read).
    Logged,
    /// A request on the passport in the path whose refusals alone are logged: the owner's own
    /// list of its grants, which shows no one else anything (`service::AuthorizedPassport::
    /// unlogged`); the erasure, which erases the log with the passport.
    RefusalsOnly,
    /// Logged on a passport its path does not name: a consent token's issue or refusal on its
    /// grant's passport; a passport's creation or import, and a grant made by approving an
    /// access request, on that passport, with the change.
    Elsewhere,
}

/// A route still to say how it is logged ([`Unaudited::audit`]).
pub struct Unaudited(Route);

impl Unaudited {
    fn audit(self, audit: Audit) -> Route {
        Route { audit, ..self.0 }
    }
}

/// A handler the route table takes: an axum handler whose return type names its success
/// answer, or says that its operation does ([`Documented`]).
trait ApiHandler<T, A>: Handler<T, AppState> + Answers<A, Output: Documented> {}

impl<H, T, A> ApiHandler<T, A> for H
where
    H: Handler<T, AppState> + Answers<A>,
    H::Output: Documented,
{
}

/// The operation's success answer is the one the handler's return type names.
fn route<H: ApiHandler<T, A>, T, A>(
    method: Method,
    path: &'static str,
    handler: MethodRouter<AppState>,
    operation: Operation,
) -> Unaudited {
    Unaudited(Route {
        method,
        path,
        tag: "",
        handler,
        operation: operation.answers(<H::Output as Documented>::success()),
        audit: Audit::None,
    })
}

fn get<H: ApiHandler<T, A>, T: 'static, A>(path: &'static str, h: H, op: Operation) -> Unaudited {
    route::<H, T, A>(Method::GET, path, routing::get(h), op)
}

fn post<H: ApiHandler<T, A>, T: 'static, A>(path: &'static str, h: H, op: Operation) -> Unaudited {
    route::<H, T, A>(Method::POST, path, routing::post(h), op)
}

fn put<H: ApiHandler<T, A>, T: 'static, A>(path: &'static str, h: H, op: Operation) -> Unaudited {
    route::<H, T, A>(Method::PUT, path, routing::put(h), op)
}

fn delete<H: ApiHandler<T, A>, T: 'static, A>(
    path: &'static str,
    h: H,
    op: Operation,
) -> Unaudited {
    route::<H, T, A>(Method::DELETE, path, routing::delete(h), op)
}

/// The OpenAPI document of [`table`], built once.
pub fn document() -> &'static Value {
    static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
        let routes = table();
        let methods: Vec<String> = routes
            .iter()
            .map(|r| r.method.as_str().to_ascii_lowercase())
            .collect();
        openapi::document(routes.iter().zip(&methods).map(|(r, method)| Endpoint {
            method,
            path: r.path,
            tag: r.tag,
            operation: &r.operation,
        }))
    });
    &DOCUMENT
}

/// Every route, grouped by tag.
pub fn table() -> Vec<Route> {
    [
        ("meta", meta_routes()),
        ("tokens", token_routes()),
        ("parties", party_routes()),
        ("passports", passport_routes()),
        ("records", record_routes()),
        ("grants", grant_routes()),
        ("organisations", organisation_routes()),
        ("access requests", access_request_routes()),
        ("notifications", notification_routes()),
    ]
    .into_iter()
    .flat_map(|(tag, routes)| routes.into_iter().map(move |r| Route { tag, ..r }))
    .collect()
}

/// What a request on a passport may be refused with.
const PASSPORT: &[ProblemType] = &[
    ProblemType::Forbidden,
    ProblemType::ConsentInactive,
    ProblemType::NotFound,
    ProblemType::Gone,
];

/// What a version write may be refused with.
const WRITE: &[ProblemType] = &[
    ProblemType::InvalidSignature,
    ProblemType::InvalidVersion,
    ProblemType::Forbidden,
    ProblemType::ConsentInactive,
    ProblemType::NotFound,
    ProblemType::Conflict,
    ProblemType::VersionConflict,
    ProblemType::Gone,
    ProblemType::LimitExceeded,
];

/// Liveness, readiness, the server's keys and the document itself.
fn meta_routes() -> Vec<Route> {
    use ProblemType as P;
    let op = Operation::new;
    vec![
        get(
            paths::HEALTHZ,
            meta::healthz,
            op("getHealth")
                .summary("Liveness: the process answers")
                .public(),
        )
        .audit(Audit::None),
        get(
            paths::READYZ,
            meta::readyz,
            op("getReadiness")
                .summary("Readiness: the database answers")
                .public()
                .problems(&[P::Unavailable]),
        )
        .audit(Audit::None),
        get(
            paths::JWKS,
            meta::jwks,
            op("getJwks")
                .summary("The public keys that verify tokens and checkpoints")
                .public(),
        )
        .audit(Audit::None),
        get(
            paths::OPENAPI,
            meta::openapi,
            op("getOpenApi").summary("This OpenAPI document").public(),
        )
        .audit(Audit::None),
    ]
}

/// Access and consent tokens.
fn token_routes() -> Vec<Route> {
    use ProblemType as P;
    let op = Operation::new;
    vec![
        post(
            paths::TOKEN,
            token::token,
            op("createToken")
                .summary(
                    "Exchange a signed client assertion for a DPoP-bound access or consent token",
                )
                .about(
                    "No access token: the client authenticates with `client_assertion` (RFC 7523) \
                and a DPoP proof by the same key. With `grant_id`, the caller must be the grant's \
                grantee and the grant active; the consent token lasts at most 15 minutes and \
                never past the grant's end. Every client error (4xx) carries, besides its \
                problem `type`, the OAuth 2.0 `error` code (RFC 6749 section 5.2, RFC 9449): \
                `unsupported_grant_type` for a wrong `grant_type`; `invalid_client` for a wrong \
                `client_assertion_type` and for `invalid-assertion` and `replayed-assertion`; \
                `invalid_dpop_proof` for `invalid-dpop-proof` and `replayed-dpop-proof`; \
                `invalid_grant` for `forbidden` and `consent-inactive` (the grant); \
                `invalid_request` for any other (a malformed form, its media type, its size).",
                )
                .oauth_errors()
                .dpop_proof_only()
                .rate_limited()
                .form_body(Schemas::token_request)
                .problems(&[
                    P::InvalidAssertion,
                    P::ReplayedAssertion,
                    P::Forbidden,
                    P::ConsentInactive,
                ]),
        )
        .audit(Audit::Elsewhere),
    ]
}

/// Parties and their keys.
fn party_routes() -> Vec<Route> {
    use ProblemType as P;
    let op = Operation::new;
    vec![
        post(
            paths::PARTIES,
            parties::register,
            op("registerEmployee")
                .summary("Register as an employee, proving possession of the key")
                .about(
                    "No access token. `jwk` must be an Ed25519 public key that is a valid, not small-order curve point \
                    (`invalid-key` otherwise; the schema cannot say this); `proof` a key proof (docs/PROTOCOL.md section 3.1): a compact JWS \
                    signed by that key, `kid` its thumbprint, `aud` exactly the URL it is sent to, \
                    unexpired, its `jti` unused (`invalid-key-proof` otherwise: only the signature \
                    and claim checks can refuse it, not the schema).",
                )
                .public()
                .rate_limited()
                .json_body(Schemas::of::<RegisterEmployee>)
                .problems(&[P::InvalidKey, P::InvalidKeyProof, P::Conflict]),
        )
.audit(Audit::None),
        post(
            paths::ADMIN_JOIN,
            parties::join_as_admin,
            op("joinAsAdmin")
                .summary("Become an admin with the operator's one-time invitation, proving possession of the key")
                .about(
                    "No access token. `jwk` must be an Ed25519 public key that is a valid, not small-order curve point \
                    (`invalid-key` otherwise; the schema cannot say this); `proof` a key proof (docs/PROTOCOL.md section 3.1): a compact JWS \
                    signed by that key, `kid` its thumbprint, `aud` exactly the URL it is sent to, \
                    unexpired, its `jti` unused (`invalid-key-proof` otherwise: only the signature \
                    and claim checks can refuse it, not the schema). `invitation` is a JWT the server signed for the operator's link: only its signature check can refuse a forged one (`invalid-invitation`).",
                )
                .public()
                .rate_limited()
                .json_body(Schemas::of::<JoinAsAdmin>)
                .problems(&[
                    P::InvalidInvitation,
                    P::InvitationUsed,
                    P::InvitationExpired,
                    P::InvalidKey,
                    P::InvalidKeyProof,
                    P::Conflict,
                ]),
        )
.audit(Audit::None),
        post(
            paths::ADMIN_PARTIES,
            parties::enrol,
            op("enrolParty")
                .summary("Enrol an employer, a professional or an admin (admins only)")
                .about(
                    "`jwk` must be an Ed25519 public key that is a valid, not small-order curve point \
                    (`invalid-key` otherwise; the schema cannot say this). A `registration` is required for a professional and refused for the others.",
                )
                .json_body(Schemas::of::<EnrolParty>)
                .problems(&[P::InvalidKey, P::Forbidden, P::Conflict]),
        )
.audit(Audit::None),
        get(
            paths::ME,
            parties::me,
            op("getMe")
                .summary("The caller's party and passport id")
        )
.audit(Audit::None),
        get(
            paths::PARTY,
            parties::get,
            op("getParty")
                .summary("A party's public facts and keys, to check who signed what")
                .problems(&[P::NotFound]),
        )
.audit(Audit::None),
        post(
            paths::PARTY_KEYS,
            parties::add_key,
            op("addKey")
                .summary("Add a key to the caller (rotation), proving possession of it")
                .about(
                    "`jwk` must be an Ed25519 public key that is a valid, not small-order curve point \
                    (`invalid-key` otherwise; the schema cannot say this); `proof` a key proof (docs/PROTOCOL.md section 3.1): a compact JWS \
                    signed by that key, `kid` its thumbprint, `aud` exactly the URL it is sent to, \
                    unexpired, its `jti` unused (`invalid-key-proof` otherwise: only the signature \
                    and claim checks can refuse it, not the schema).",
                )
                .json_body(Schemas::of::<AddKey>)
                .problems(&[P::InvalidKey, P::InvalidKeyProof, P::Forbidden, P::Conflict]),
        )
.audit(Audit::None),
        post(
            paths::PARTY_KEY_REVOKE,
            parties::revoke_key,
            op("revokeKey")
                .summary("Revoke one of the caller's keys; tokens bound to it stop working")
                .problems(&[P::Forbidden, P::NotFound, P::Conflict]),
        )
.audit(Audit::None),
    ]
}

/// Passports, the sync feed and the access log.
fn passport_routes() -> Vec<Route> {
    use ProblemType as P;
    let op = Operation::new;
    let mut routes = vec![
        post(
            paths::PASSPORTS,
            passports::create,
            op("createPassport")
                .summary("Create the caller's own passport (employees only)")
                .problems(&[P::Forbidden, P::Conflict]),
        )
        .audit(Audit::Elsewhere),
        get(
            paths::PASSPORT,
            passports::read,
            op("getPassport")
                .summary("The latest version of every live record the caller may read")
                .problems(PASSPORT),
        )
        .audit(Audit::Read),
        delete(
            paths::PASSPORT,
            passports::erase,
            op("erasePassport")
                .summary("Erase the passport by destroying its data key (owner only)")
                .reply(204, "Erased: the passport now answers 410.")
                .problems(PASSPORT),
        )
        .audit(Audit::RefusalsOnly),
        get(
            paths::PASSPORT_EXPORT,
            passports::export,
            op("exportPassport")
                .summary("The whole passport as one verifiable bundle (owner only)")
                .about(
                    "Every version of every record as its author's JWS, the parties and keys \
                    that check them, the grants, the whole access log, a server-signed \
                    checkpoint over the history and the log, and the server's attestation over \
                    the whole body (docs/BUNDLE.md). The owner's client \
                    signs the body's digest before the bundle travels. With `format=fhir`, the \
                    same content as a FHIR R4 Bundle (`application/fhir+json`, docs/FHIR.md): \
                    adjustments as Flags, grants as Consents, every version a Provenance carrying \
                    its JWS. Logged as `exported` either way.",
                )
                .query(
                    "format",
                    json!({"type": "string", "enum": ["bundle", "fhir"], "default": "bundle"}),
                    "`bundle` (docs/BUNDLE.md) or `fhir` (FHIR R4, docs/FHIR.md).",
                )
                .ok(200, Schemas::of::<Bundle>)
                .ok_also(200, wp_schemas::fhir::FHIR_JSON, Schemas::fhir_bundle)
                .problems(PASSPORT)
                .problems(&[P::BadRequest]),
        )
        .audit(Audit::Logged),
        post(
            paths::PASSPORT_IMPORT,
            passports::import,
            op("importPassport")
                .summary("Continue a passport here from a bundle its owner signed (employees)")
                .rate_limited()
                .about(
                    "The caller must hold, registered here, the key that signed the bundle as its \
                    owner, a key the exporting server's attested key history gave the owner at \
                    export. Every signature and chain is checked, and the exporting server's \
                    attestation: when this server trusts that server (`--trusted-origin`) it \
                    fetches its published keys and requires the attestation key among them; \
                    otherwise, or when it cannot be reached, the import is refused \
                    (`origin-unverified`) unless `acknowledge_unverified_origin=true`, and the \
                    log says so. A party already known here is used as it is, and a bundle that \
                    disagrees with it (keys, revocations, kind, membership) is refused. The \
                    versions, their authors (as external parties) and the access log are kept as \
                    they were, the log continues with a `passport_imported` entry; grants do not \
                    travel. All or nothing. The body limit is the server's `--max-bundle-bytes`, \
                    not the API's (docs/BUNDLE.md section 5).",
                )
                .query(
                    "acknowledge_unverified_origin",
                    json!({"type": "boolean", "default": false}),
                    "`true`: the owner knows the exporting server could not be checked and \
                    imports anyway (recorded in the access log).",
                )
                .json_body(Schemas::of::<Bundle>)
                .problems(&[
                    P::Forbidden,
                    P::InvalidBundle,
                    P::BundleNotYours,
                    P::OriginUnverified,
                    P::PassportExists,
                    P::Conflict,
                    P::LimitExceeded,
                ]),
        )
        .audit(Audit::Elsewhere),
    ];
    routes.extend(feed_routes());
    routes
}

/// The sync feed and the access log of a passport.
fn feed_routes() -> Vec<Route> {
    use ProblemType as P;
    let op = Operation::new;
    let int64 = |default: i64| json!({"type": "integer", "format": "int64", "default": default});
    vec![
        get(
            paths::PASSPORT_CHANGES,
            passports::changes,
            op("getChanges")
                .summary("Sync feed: the versions after a cursor, with a signed checkpoint")
                .about(
                    "Versions after `since` in the sections the caller may read, in sequence \
                    order, and a server-signed checkpoint (`CheckpointClaims`). A cursor ahead of \
                    the server's history answers 409: a rollback alarm, never a reason to resync.",
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
                .ok(200, Schemas::of::<Changes>)
                .response_header(
                    200,
                    "ETag",
                    "On the last page only (`more: false`): a tag to send as `If-None-Match` \
                     with its `next_since` next time.",
                )
                .reply(304, "Nothing new since the `If-None-Match` tag.")
                .problems(&[P::BadRequest, P::Conflict])
                .problems(PASSPORT),
        )
        .audit(Audit::Read),
        get(
            paths::PASSPORT_ACCESS_LOG,
            passports::access_log,
            op("getAccessLog")
                .summary("The passport's access log, newest first (owner only)")
                .query(
                    "before",
                    json!({"type": "integer", "format": "int64"}),
                    "The `next_before` of the previous page.",
                )
                .query("limit", int64(100), "Entries per page; clamped to 1..=500.")
                .query(
                    "actor",
                    json!({"type": "string", "pattern": UUID_PATTERN}),
                    "Only the entries of this party.",
                )
                .problems(&[P::BadRequest])
                .problems(PASSPORT),
        )
        .audit(Audit::Read),
    ]
}

/// Signed record versions and their history.
fn record_routes() -> Vec<Route> {
    let op = Operation::new;
    vec![
        post(
            paths::PASSPORT_RECORDS,
            passports::create_record,
            op("createRecord")
                .summary("Submit the first version of a new record")
                .about(
                    "`jws` is a compact JWS of type `wp-version+jws` over a `VersionPayload` with \
                    `version` 1 and no `prev`, signed with the caller's key; its `body` must match \
                    the section's schema (see `x-section-bodies`).",
                )
                .json_body(Schemas::of::<SubmitVersion>)
                .problems(WRITE),
        )
        .audit(Audit::Logged),
        get(
            paths::PASSPORT_RECORD,
            passports::read_record,
            op("getRecord")
                .summary("A record's latest version")
                .problems(PASSPORT),
        )
        .audit(Audit::Read),
        get(
            paths::PASSPORT_RECORD_VERSIONS,
            passports::history,
            op("getRecordHistory")
                .summary("A record's whole version history")
                .problems(PASSPORT),
        )
        .audit(Audit::Read),
        post(
            paths::PASSPORT_RECORD_VERSIONS,
            passports::add_version,
            op("addRecordVersion")
                .summary("Submit the next version of a record, naming the one it replaces")
                .about(
                    "The `VersionPayload` names the current head in `prev` and has the next \
                    `version`; a tombstone sets `deleted` and has no `body`. A stale write answers \
                    409 `version-conflict` with the record's `current_head` to rebase on: nothing \
                    is ever overwritten.",
                )
                .json_body(Schemas::of::<SubmitVersion>)
                .problems(WRITE),
        )
        .audit(Audit::Logged),
    ]
}

/// Consent grants.
fn grant_routes() -> Vec<Route> {
    let op = Operation::new;
    vec![
        get(
            paths::PASSPORT_GRANTS,
            grants::list,
            op("listPassportGrants")
                .summary("The passport's consent grants (owner only)")
                .problems(PASSPORT),
        )
        .audit(Audit::RefusalsOnly),
        post(
            paths::PASSPORT_GRANTS,
            grants::create,
            op("createGrant")
                .summary("Grant a party consent to sections of the passport (owner only)")
                .json_body(Schemas::of::<CreateGrant>)
                .problems(PASSPORT),
        )
        .audit(Audit::Logged),
        post(
            paths::PASSPORT_GRANT_REVOKE,
            grants::revoke,
            op("revokeGrant")
                .summary("Revoke a consent grant, effective on the grantee's next request")
                .problems(PASSPORT),
        )
        .audit(Audit::Logged),
        get(
            paths::GRANTS,
            grants::mine,
            op("listMyGrants").summary("The grants made to the caller, with their current status"),
        )
        .audit(Audit::None),
    ]
}

/// Organisations, their members and invitations.
fn organisation_routes() -> Vec<Route> {
    use ProblemType as P;
    let op = Operation::new;
    let manage: &[ProblemType] = &[P::Forbidden, P::NotFound];
    vec![
        post(
            paths::ADMIN_ORGANISATIONS,
            organisations::create,
            op("createOrganisation")
                .summary("Create an employer or a practice, whose members act for it (service admin only)")
                .json_body(Schemas::of::<CreateOrganisation>)
                .problems(&[P::Forbidden]),
        )
.audit(Audit::None),
        get(
            paths::ADMIN_ORGANISATIONS,
            organisations::list,
            op("listOrganisations")
                .summary("Every organisation made here, listed or not, with its active members and organisation admins (service admin only; at most 200, by name)")
                .about(
                    "An organisation with no active `admins` needs a new first admin: invite \
                    one with `POST /v1/organisations/{oid}/invitations` and `role: org_admin`.",
                )
                .query(
                    "name",
                    json!({"type": "string", "maxLength": 200}),
                    "Only those whose name contains this, in any case (spaces around it trimmed; \
                    empty: all). No name holds a control character: one in it finds none.",
                )
                .problems(&[P::Forbidden]),
        )
.audit(Audit::None),
        get(
            paths::ORGANISATIONS,
            organisations::find,
            op("findOrganisations")
                .summary("Employers and practices that chose to be listed and whose name contains `name` (at most 20)")
                .about(
                    "For an employee looking for whom to share with: each entry has the place \
                    and the line about it that the organisation gave, to tell two of the same \
                    name apart, and never its share code. An organisation that is not listed is \
                    found only by its share code. Any party with an access token (a consent \
                    token is refused, 403); rate-limited per client address.",
                )
                .required_query(
                    "name",
                    json!({"type": "string", "minLength": 2, "maxLength": 200, "pattern": "\\S[\\s\\S]*\\S"}),
                    "Part of the organisation's name, in any case: at least 2 characters once \
                    spaces around it are trimmed. No name holds a control character: one in \
                    it finds none.",
                )
                .rate_limited()
                .problems(&[P::BadRequest, P::Forbidden]),
        )
.audit(Audit::None),
        get(
            paths::SHARE_CODE,
            organisations::by_share_code,
            op("findOrganisationByShareCode")
                .summary("The organisation a share code names, listed or not")
                .about(
                    "Any party with an access token (a consent token is refused, 403); \
                    rate-limited per client address. A code that names no organisation, or is \
                    not of the form, is 404 `not-found`: 60 random bits and the rate limit make \
                    guessing one hopeless.",
                )
                .rate_limited()
                .problems(&[P::Forbidden]),
        )
.audit(Audit::None),
        get(
            paths::ORGANISATION_LISTING,
            organisations::listing,
            op("getOrganisationListing")
                .summary("How employees find the organisation: whether it is listed, its place and line, and its share code (service admin or an active member)")
                .problems(manage),
        )
.audit(Audit::None),
        put(
            paths::ORGANISATION_LISTING,
            organisations::set_listing,
            op("setOrganisationListing")
                .summary("List the organisation in the directory or take it out, set its place and line, or give it a new share code (service admin or org_admin)")
                .json_body(Schemas::of::<SetListing>)
                .problems(manage),
        )
.audit(Audit::None),
        post(
            paths::ORGANISATION_INVITATIONS,
            organisations::invite,
            op("createInvitation")
                .summary("Invite a person to join as a role: the one-time code is in this answer only (service admin or org_admin)")
                .json_body(Schemas::of::<CreateInvitation>)
                .problems(manage),
        )
.audit(Audit::None),
        get(
            paths::ORGANISATION_INVITATIONS,
            organisations::invitations,
            op("listInvitations")
                .summary("The organisation's invitations, without their codes (service admin or org_admin)")
                .problems(manage),
        )
.audit(Audit::None),
        post(
            paths::ORGANISATION_INVITATION_REVOKE,
            organisations::revoke_invitation,
            op("revokeInvitation")
                .summary("Revoke a pending invitation (service admin or org_admin)")
                .problems(manage),
        )
.audit(Audit::None),
        post(
            paths::INVITATIONS_REDEEM,
            organisations::redeem,
            op("redeemInvitation")
                .summary("Join an organisation with a one-time code and a key you prove you hold (proof `aud`: `{issuer}/v1/invitations/redeem`)")
                .public()
                .rate_limited()
                .json_body(Schemas::of::<RedeemInvitation>)
                .problems(&[
                    P::InvalidKey,
                    P::InvalidKeyProof,
                    P::Conflict,
                    P::InvalidInvitation,
                    P::InvitationUsed,
                    P::InvitationExpired,
                    P::InvitationRevoked,
                ]),
        )
.audit(Audit::None),
        get(
            paths::ORGANISATION_MEMBERS,
            organisations::members,
            op("listMembers")
                .summary("The organisation's members, removed ones included (service admin or a member)")
                .problems(manage),
        )
.audit(Audit::None),
        post(
            paths::ORGANISATION_MEMBER_REMOVE,
            organisations::remove_member,
            op("removeMember")
                .summary("Remove a member (service admin or org_admin), or leave (the member): their access ends on their next request")
                .problems(manage),
        )
.audit(Audit::None),
    ]
}

/// Access requests: an organisation asks, the employee decides.
fn access_request_routes() -> Vec<Route> {
    use ProblemType as P;
    let op = Operation::new;
    let decide: &[ProblemType] = &[
        P::Forbidden,
        P::NotFound,
        P::RequestDecided,
        P::RequestExpired,
    ];
    vec![
        post(
            paths::ORGANISATION_ACCESS_REQUESTS,
            access_requests::create,
            op("createAccessRequest")
                .summary("Ask an employee for access (an active member of the organisation): the one-time code for the employee is in this answer only")
                .json_body(Schemas::of::<CreateAccessRequest>)
                .problems(&[P::Forbidden]),
        )
.audit(Audit::None),
        get(
            paths::ORGANISATION_ACCESS_REQUESTS,
            access_requests::list,
            op("listAccessRequests")
                .summary("The organisation's access requests, without their codes (members and the service admin)")
                .problems(&[P::Forbidden]),
        )
.audit(Audit::None),
        post(
            paths::ACCESS_REQUESTS_OPEN,
            access_requests::open,
            op("openAccessRequest")
                .summary("The employee opens a request by its code: who asks for what, why and for how long")
                .json_body(Schemas::of::<AccessRequestCode>)
                .problems(decide),
        )
.audit(Audit::None),
        post(
            paths::ACCESS_REQUESTS_APPROVE,
            access_requests::approve,
            op("approveAccessRequest")
                .summary("The employee approves, as asked or narrowed: the grant to the organisation is made on their passport")
                .json_body(Schemas::of::<ApproveAccessRequest>)
                .problems(decide),
        )
.audit(Audit::Elsewhere),
        post(
            paths::ACCESS_REQUESTS_DECLINE,
            access_requests::decline,
            op("declineAccessRequest")
                .summary("The employee declines a request")
                .json_body(Schemas::of::<AccessRequestCode>)
                .problems(decide),
        )
.audit(Audit::None),
    ]
}

/// Notifications, the email address and choices, the calendar feed; the links in emails.
fn notification_routes() -> Vec<Route> {
    use ProblemType as P;
    let op = Operation::new;
    let own: &[ProblemType] = &[P::Forbidden];
    vec![
        get(
            paths::NOTIFICATIONS,
            notifications::list,
            op("listNotifications")
                .summary("The caller's notifications, newest first, 50 at a time, with the unread count")
                .about(
                    "In words without health data: each says what happened and links to the \
                    page where to act (docs/PROTOCOL.md section 16). An access token only (a \
                    consent token is refused, 403).",
                )
                .query(
                    "before",
                    json!({"type": "string", "pattern": UUID_PATTERN}),
                    "A notification id (the page's `next_before`): only older ones.",
                )
                .problems(&[P::InvalidBody, P::Forbidden]),
        )
        .audit(Audit::None),
        post(
            paths::NOTIFICATION_READ,
            notifications::read,
            op("readNotification")
                .summary("Mark one of the caller's notifications read")
                .reply(204, "Marked read (again: no change).")
                .problems(&[P::Forbidden, P::NotFound]),
        )
        .audit(Audit::None),
        post(
            paths::NOTIFICATIONS_READ_ALL,
            notifications::read_all,
            op("readAllNotifications")
                .summary("Mark all of the caller's notifications read")
                .reply(204, "Marked read.")
                .problems(own),
        )
        .audit(Audit::None),
        get(
            paths::NOTIFICATION_SETTINGS,
            notifications::settings,
            op("getNotificationSettings")
                .summary("The caller's email address, which kinds come by email, and whether a calendar feed exists")
                .problems(own),
        )
        .audit(Audit::None),
        put(
            paths::NOTIFICATION_SETTINGS,
            notifications::set_choices,
            op("setNotificationChoices")
                .summary("Choose which kinds come by email (security alerts cannot be turned off: 400)")
                .json_body(Schemas::of::<SetEmailChoices>)
                .problems(&[P::InvalidBody, P::Forbidden]),
        )
        .audit(Audit::None),
        put(
            paths::NOTIFICATION_EMAIL,
            notifications::set_email,
            op("setNotificationEmail")
                .summary("Set the address notifications are emailed to: a one-time verification link goes there, and nothing else until it is opened")
                .about(
                    "Replaces any earlier address (its pending emails stop, its unsubscribe \
                    links end). 409 `conflict` when the server sends no email (no \
                    `--smtp-url`).",
                )
                .json_body(Schemas::of::<SetNotificationEmail>)
                .problems(&[P::InvalidBody, P::Forbidden, P::Conflict]),
        )
        .audit(Audit::Elsewhere),
        delete(
            paths::NOTIFICATION_EMAIL,
            notifications::remove_email,
            op("removeNotificationEmail")
                .summary("Remove the address: no more email, pending ones included")
                .reply(204, "Removed.")
                .problems(&[P::Forbidden, P::NotFound]),
        )
        .audit(Audit::Elsewhere),
        post(
            paths::NOTIFICATION_CALENDAR,
            notifications::new_calendar,
            op("newCalendarFeed")
                .summary("A new secret address for the caller's calendar feed of review dates and consent end dates (any earlier address stops working)")
                .problems(own),
        )
        .audit(Audit::Elsewhere),
        delete(
            paths::NOTIFICATION_CALENDAR,
            notifications::remove_calendar,
            op("removeCalendarFeed")
                .summary("Stop the caller's calendar feed")
                .reply(204, "Stopped.")
                .problems(own),
        )
        .audit(Audit::Elsewhere),
        post(
            paths::EMAIL_VERIFY,
            notifications::verify_email,
            op("verifyNotificationEmail")
                .summary("Verify an address by the code its link carries (no sign-in: the code is the proof)")
                .public()
                .json_body(Schemas::of::<VerifyEmail>)
                .reply(204, "Verified: notifications are emailed there from now on.")
                .rate_limited()
                .problems(&[P::NotFound]),
        )
        .audit(Audit::None),
        get(
            paths::CALENDAR,
            notifications::calendar,
            op("calendarFeed")
                .summary("A calendar feed (iCalendar, RFC 5545) of its owner's review dates and consent end dates, at its secret address")
                .about(
                    "For calendar apps, without signing in: the address is the secret (made by \
                    `POST /v1/notifications/calendar`, which replaces it). All-day events in \
                    words without health data, each linking to the page where to act.",
                )
                .public()
                .reply(200, "The calendar, `text/calendar; charset=utf-8`.")
                .rate_limited()
                .problems(&[P::NotFound]),
        )
        .audit(Audit::None),
        post(
            paths::UNSUBSCRIBE,
            notifications::unsubscribe,
            op("unsubscribe")
                .summary("One-click unsubscribe from one kind of email (RFC 8058), without signing in")
                .about(
                    "The URL of an email's `List-Unsubscribe` header: mail clients post \
                    `List-Unsubscribe=One-Click` to it (any body is ignored). The token names \
                    the person and the kind and is proven by an HMAC under the person's \
                    unsubscribe secret, which a new address replaces.",
                )
                .public()
                .reply(204, "Unsubscribed from that kind of email.")
                .rate_limited()
                .problems(&[P::NotFound]),
        )
        .audit(Audit::None),
    ]
}

#[cfg(test)]
mod tests {
    use super::{Audit, table};

    /// A route logged on a passport names it in its path: the log it is written to.
    #[test]
    fn a_route_logged_on_a_passport_names_it() {
        for route in table() {
            let on_path = matches!(
                route.audit,
                Audit::Read | Audit::Logged | Audit::RefusalsOnly
            );
            assert_eq!(
                on_path,
                route.path.contains("{pid}"),
                "{} {}: {:?}",
                route.method,
                route.path,
                route.audit
            );
        }
    }
}
