//! RFC 9457 problem details: the one error body of the API, with stable `type` URIs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The stable problem types. The URI is what clients match on; the title is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    BadRequest,
    InvalidBody,
    InvalidKey,
    InvalidKeyProof,
    InvalidAssertion,
    ReplayedAssertion,
    InvalidToken,
    InvalidDpopProof,
    ReplayedDpopProof,
    Forbidden,
    ConsentInactive,
    NotFound,
    MethodNotAllowed,
    Gone,
    Conflict,
    VersionConflict,
    InvalidSignature,
    InvalidVersion,
    LimitExceeded,
    PayloadTooLarge,
    UnsupportedMediaType,
    Internal,
    Unavailable,
    DatabaseUnavailable,
    InvalidInvitation,
    InvitationUsed,
    InvitationExpired,
    InvitationRevoked,
    RequestDecided,
    RequestExpired,
    InvalidBundle,
    BundleNotYours,
    PassportExists,
    OriginUnverified,
    RateLimited,
}

pub const PROBLEM_BASE: &str = "urn:work-passport:problem:";

impl ProblemType {
    pub const ALL: [ProblemType; 35] = [
        Self::BadRequest,
        Self::InvalidBody,
        Self::InvalidKey,
        Self::InvalidKeyProof,
        Self::InvalidAssertion,
        Self::ReplayedAssertion,
        Self::InvalidToken,
        Self::InvalidDpopProof,
        Self::ReplayedDpopProof,
        Self::Forbidden,
        Self::ConsentInactive,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Gone,
        Self::Conflict,
        Self::VersionConflict,
        Self::InvalidSignature,
        Self::InvalidVersion,
        Self::LimitExceeded,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::Internal,
        Self::Unavailable,
        Self::DatabaseUnavailable,
        Self::InvalidInvitation,
        Self::InvitationUsed,
        Self::InvitationExpired,
        Self::InvitationRevoked,
        Self::RequestDecided,
        Self::RequestExpired,
        Self::InvalidBundle,
        Self::BundleNotYours,
        Self::PassportExists,
        Self::OriginUnverified,
        Self::RateLimited,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::InvalidBody => "invalid-body",
            Self::InvalidKey => "invalid-key",
            Self::InvalidKeyProof => "invalid-key-proof",
            Self::InvalidAssertion => "invalid-assertion",
            Self::ReplayedAssertion => "replayed-assertion",
            Self::InvalidToken => "invalid-token",
            Self::InvalidDpopProof => "invalid-dpop-proof",
            Self::ReplayedDpopProof => "replayed-dpop-proof",
            Self::Forbidden => "forbidden",
            Self::ConsentInactive => "consent-inactive",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Gone => "gone",
            Self::Conflict => "conflict",
            Self::VersionConflict => "version-conflict",
            Self::InvalidSignature => "invalid-signature",
            Self::InvalidVersion => "invalid-version",
            Self::LimitExceeded => "limit-exceeded",
            Self::PayloadTooLarge => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
            Self::DatabaseUnavailable => "database-unavailable",
            Self::InvalidInvitation => "invalid-invitation",
            Self::InvitationUsed => "invitation-used",
            Self::InvitationExpired => "invitation-expired",
            Self::InvitationRevoked => "invitation-revoked",
            Self::RequestDecided => "request-decided",
            Self::RequestExpired => "request-expired",
            Self::InvalidBundle => "invalid-bundle",
            Self::BundleNotYours => "bundle-not-yours",
            Self::PassportExists => "passport-exists",
            Self::OriginUnverified => "origin-unverified",
            Self::RateLimited => "rate-limited",
        }
    }

    pub fn uri(self) -> String {
        format!("{PROBLEM_BASE}{}", self.slug())
    }

    pub fn from_uri(uri: &str) -> Option<Self> {
        let slug = uri.strip_prefix(PROBLEM_BASE)?;
        Self::ALL.into_iter().find(|t| t.slug() == slug)
    }

    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest | Self::InvalidKey | Self::InvalidKeyProof | Self::InvalidVersion => {
                400
            }
            Self::InvalidSignature => 400,
            Self::InvalidAssertion
            | Self::ReplayedAssertion
            | Self::InvalidToken
            | Self::InvalidDpopProof
            | Self::ReplayedDpopProof => 401,
            Self::Forbidden | Self::ConsentInactive | Self::BundleNotYours => 403,
            Self::NotFound | Self::InvalidInvitation => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict
            | Self::VersionConflict
            | Self::InvitationUsed
            | Self::RequestDecided
            | Self::PassportExists => 409,
            Self::Gone
            | Self::InvitationExpired
            | Self::InvitationRevoked
            | Self::RequestExpired => 410,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::RateLimited => 429,
            Self::InvalidBody
            | Self::LimitExceeded
            | Self::InvalidBundle
            | Self::OriginUnverified => 422,
            Self::Internal => 500,
            Self::Unavailable | Self::DatabaseUnavailable => 503,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::BadRequest => "The request is malformed",
            Self::InvalidBody => "The body does not match its schema",
            Self::InvalidKey => "The key is not an acceptable Ed25519 public key",
            Self::InvalidKeyProof => "The proof of key possession does not verify",
            Self::InvalidAssertion => "The client assertion is not acceptable",
            Self::ReplayedAssertion => "The client assertion was already used",
            Self::InvalidToken => "The access token is missing, invalid or expired",
            Self::InvalidDpopProof => "The DPoP proof is missing or invalid",
            Self::ReplayedDpopProof => "The DPoP proof was already used",
            Self::Forbidden => "The caller may not do this",
            Self::ConsentInactive => "The consent grant is not active",
            Self::NotFound => "No such resource",
            Self::MethodNotAllowed => "The resource does not support this method (see Allow)",
            Self::Gone => "The resource was erased",
            Self::Conflict => "The request conflicts with the current state",
            Self::VersionConflict => "The record has a newer version",
            Self::InvalidSignature => "The signature does not verify",
            Self::InvalidVersion => "The signed version is not acceptable",
            Self::LimitExceeded => "A limit would be exceeded",
            Self::PayloadTooLarge => "The body is too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::Internal => "Internal server error",
            Self::Unavailable => "The service is not ready",
            Self::DatabaseUnavailable => {
                "The database is unavailable for a moment; retry after Retry-After seconds"
            }
            Self::InvalidInvitation => "No such invitation code",
            Self::InvitationUsed => "The invitation was already used",
            Self::InvitationExpired => "The invitation has expired",
            Self::InvitationRevoked => "The invitation was revoked",
            Self::RequestDecided => "The access request was already approved or declined",
            Self::RequestExpired => "The access request has expired",
            Self::InvalidBundle => "The bundle is malformed or does not verify",
            Self::BundleNotYours => "The bundle is not the caller's passport",
            Self::PassportExists => "The passport is already on this server",
            Self::OriginUnverified => {
                "The server the bundle came from could not be checked; import only with the \
                 owner's acknowledgement"
            }
            Self::RateLimited => {
                "Too many requests from this address, or from all; retry after Retry-After seconds"
            }
        }
    }
}

/// The OAuth 2.0 error code a problem of the token endpoint (`POST /v1/token`) also carries as
/// `error`, for OAuth clients that match on it: RFC 6749 section 5.2, and
/// `invalid_dpop_proof` from RFC 9449 section 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthError {
    /// The form is malformed: a field missing or repeated, the wrong media type, too large.
    InvalidRequest,
    /// The client assertion (or its type) is not acceptable, or was used before.
    InvalidClient,
    /// The grant named by `grant_id` is unknown, not the caller's, or not active.
    InvalidGrant,
    /// `grant_type` is not `client_credentials`.
    UnsupportedGrantType,
    /// The DPoP proof is missing, invalid, or was used before.
    InvalidDpopProof,
}

impl OAuthError {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidDpopProof => "invalid_dpop_proof",
        }
    }
}

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FieldError {
    /// Path of the field, e.g. `body.status` or `scopes[1].section`.
    pub field: String,
    /// Why it was refused.
    pub reason: String,
}

/// An RFC 9457 problem details document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    /// A stable URI naming the kind of problem (`urn:work-passport:problem:...`).
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request id (the `x-request-id` response header), to find the matching server log
    /// lines. Set on every problem the server answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Fields that failed validation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// With `version-conflict`: the record's current head version, so the writer can rebase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_head: Option<crate::api::VersionEnvelope>,
    /// On the token endpoint's client errors only (`POST /v1/token`, 4xx): the OAuth 2.0 error
    /// code (RFC 6749 section 5.2, RFC 9449), beside the problem `type`. Read as text, so that
    /// a code added later does not make the whole problem unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<OAuthError>")]
    pub error: Option<String>,
}

impl Problem {
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Problem {
            type_uri: kind.uri(),
            title: kind.title().into(),
            status: kind.status(),
            detail: Some(detail.into()),
            instance: None,
            errors: Vec::new(),
            current_head: None,
            error: None,
        }
    }

    /// The OAuth 2.0 error code, if this problem carries one it knows.
    pub fn oauth_error(&self) -> Option<OAuthError> {
        serde_json::from_value(serde_json::Value::String(self.error.clone()?)).ok()
    }

    pub fn kind(&self) -> Option<ProblemType> {
        ProblemType::from_uri(&self.type_uri)
    }
}
