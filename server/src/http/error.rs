//! The error response: RFC 9457 problem+json with a stable `type`. Internal errors are logged
//! with their full chain and answered with a generic 500 that leaks nothing.

use axum::body::Body;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use wp_schemas::problem::{OAuthError, Problem, ProblemType};

use crate::domain::access::Denial;
use crate::domain::access_request::RequestRefusal;
use crate::domain::auth::CredentialRefusal;
use crate::domain::grant::GrantRefusal;
use crate::domain::import::ImportRefusal;
use crate::domain::organisation::OrganisationRefusal;
use crate::domain::party::PartyRefusal;
use crate::domain::version::VersionRefusal;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::service::limits::RateLimited;
use crate::service::versions::WriteFailure;

pub const PROBLEM_JSON: &str = "application/problem+json";
/// The request id header: set by the server when the client sends none.
pub const REQUEST_ID: &str = "x-request-id";

/// How long a client should wait before retrying when the database is unavailable.
const RETRY_AFTER_SECS: &str = "1";

/// The problem as a response. The problem also rides along as a response extension, so that
/// [`with_instance`] can name the request it answers.
pub fn problem_response(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = problem.kind();
    let mut response = (status, axum::Json(problem.clone())).into_response();
    response.extensions_mut().insert(problem);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    // RFC 9449 section 7.1 and RFC 6750 section 3: a 401 names the scheme the client must use.
    if status == StatusCode::UNAUTHORIZED {
        let error = match kind {
            Some(ProblemType::InvalidDpopProof | ProblemType::ReplayedDpopProof) => {
                "invalid_dpop_proof"
            }
            Some(ProblemType::InvalidAssertion | ProblemType::ReplayedAssertion) => {
                "invalid_client"
            }
            _ => "invalid_token",
        };
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&format!("DPoP error=\"{error}\", algs=\"EdDSA\""))
                .expect("ascii header"),
        );
    }
    response
}

/// Middleware: sets `instance` (RFC 9457 section 3.1.5) on every problem answer to the request
/// id, the one in the `x-request-id` header and the server's log lines, wherever in the stack
/// the problem was made (handlers, extractors, fallbacks, the panic handler); and counts every
/// problem by its type, there for the same reason (`wp_problems_total`, `wp_auth_refusals_total`).
pub async fn with_instance(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut response = next.run(request).await;
    if let Some(kind) = response
        .extensions()
        .get::<Problem>()
        .and_then(Problem::kind)
    {
        metrics.problem(kind);
    }
    let (Some(id), Some(mut problem)) = (id, response.extensions_mut().remove::<Problem>()) else {
        return response;
    };
    problem.instance = Some(id);
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = serde_json::to_vec(&problem).expect("a problem serializes");
    Response::from_parts(parts, Body::from(body))
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Client {
                kind,
                detail,
                errors,
                current_head,
            } => {
                tracing::info!(problem = kind.slug(), "request refused");
                let mut problem = Problem::new(kind, detail);
                problem.errors = errors;
                problem.current_head = current_head.map(|h| *h);
                problem_response(problem)
            }
            other if other.is_unavailable() => {
                tracing::warn!(error = ?other, "database unavailable");
                let mut response = problem_response(Problem::new(
                    ProblemType::DatabaseUnavailable,
                    "the database is unavailable; retry after the seconds in Retry-After",
                ));
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECS),
                );
                response
            }
            other => {
                // The chain may name SQL or files; it goes to the log only.
                tracing::error!(error = ?other, "internal error");
                problem_response(Problem::new(
                    ProblemType::Internal,
                    "an internal error occurred; it has been logged",
                ))
            }
        }
    }
}

/// Why `POST /v1/token` failed: its form's own checks, or any error on the way to a token.
/// Answered as the same problem as elsewhere, plus the OAuth 2.0 `error` code (RFC 6749
/// section 5.2, RFC 9449) on a client error, for OAuth clients that match on it.
#[derive(Debug)]
pub enum TokenFailure {
    /// `grant_type` is not `client_credentials`.
    UnsupportedGrantType,
    /// `client_assertion_type` is not the JWT bearer assertion: an unsupported way for the
    /// client to authenticate.
    UnsupportedAssertionType,
    Failed(Error),
}

impl From<Error> for TokenFailure {
    fn from(error: Error) -> Self {
        TokenFailure::Failed(error)
    }
}

/// The OAuth 2.0 error code of a token endpoint problem, by its type; None for a server error
/// (RFC 6749 section 5.2 has no code for one at this endpoint).
fn oauth_error(kind: ProblemType) -> Option<OAuthError> {
    use ProblemType as P;
    Some(match kind {
        P::InvalidAssertion | P::ReplayedAssertion => OAuthError::InvalidClient,
        P::InvalidDpopProof | P::ReplayedDpopProof => OAuthError::InvalidDpopProof,
        P::Forbidden | P::ConsentInactive | P::NotFound => OAuthError::InvalidGrant,
        kind if kind.status() < 500 => OAuthError::InvalidRequest,
        _ => return None,
    })
}

impl IntoResponse for TokenFailure {
    fn into_response(self) -> Response {
        let (error, code) = match self {
            TokenFailure::UnsupportedGrantType => (
                Error::bad_request(format!(
                    "grant_type must be {}",
                    wp_schemas::api::GRANT_TYPE
                )),
                Some(OAuthError::UnsupportedGrantType),
            ),
            TokenFailure::UnsupportedAssertionType => (
                Error::bad_request(format!(
                    "client_assertion_type must be {}",
                    wp_schemas::api::ASSERTION_TYPE
                )),
                Some(OAuthError::InvalidClient),
            ),
            TokenFailure::Failed(error) => {
                let code = error.kind().and_then(oauth_error);
                (error, code)
            }
        };
        let response = error.into_response();
        let Some(code) = code else {
            return response;
        };
        let (mut parts, body) = response.into_parts();
        let Some(problem) = parts.extensions.get_mut::<Problem>() else {
            return Response::from_parts(parts, body);
        };
        problem.error = Some(code.as_str().to_owned());
        let body = serde_json::to_vec(problem).expect("a problem serializes");
        parts.headers.remove(header::CONTENT_LENGTH);
        Response::from_parts(parts, Body::from(body))
    }
}

/// A request over a rate limit (`service::limits`): 429 with the whole seconds until the
/// budget has room again in `Retry-After` (RFC 9110 section 10.2.3), at least 1.
impl IntoResponse for RateLimited {
    fn into_response(self) -> Response {
        let whom = if self.per_address {
            "this address has"
        } else {
            "all clients together have"
        };
        let seconds = self.retry_after.as_secs_f64().ceil().max(1.0) as u64;
        let mut response = problem_response(Problem::new(
            ProblemType::RateLimited,
            format!("{whom} made too many requests; retry after {seconds} s"),
        ));
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        response
    }
}

/// A refusal of access as the problem a client sees (RFC 9457). A record the caller may not
/// see is told apart from nothing: it is answered as a missing record.
impl From<Denial> for Error {
    fn from(denial: Denial) -> Self {
        let kind = match denial {
            Denial::GrantGone
            | Denial::Revoked
            | Denial::Expired
            | Denial::NotStarted
            | Denial::NoLongerMember => ProblemType::ConsentInactive,
            Denial::NoSuchRecord => return Error::not_found("no such record"),
            Denial::NoConsent
            | Denial::OtherPassport
            | Denial::OtherParty
            | Denial::NotCovered
            | Denial::NotAllowed { .. }
            | Denial::OwnerOnly(_) => ProblemType::Forbidden,
        };
        Error::client(kind, denial.to_string())
    }
}

/// A refused organisation request as the problem a client sees (RFC 9457).
impl From<OrganisationRefusal> for Error {
    fn from(refusal: OrganisationRefusal) -> Self {
        use OrganisationRefusal as R;
        let kind = match refusal {
            R::NotManager | R::NotMember => ProblemType::Forbidden,
            R::RoleDoesNotFit(..) => return Error::invalid_field("role", refusal.to_string()),
            R::UnknownCode => ProblemType::InvalidInvitation,
            R::Used => ProblemType::InvitationUsed,
            R::Expired => ProblemType::InvitationExpired,
            R::Revoked => ProblemType::InvitationRevoked,
            R::UnknownShareCode => ProblemType::NotFound,
        };
        Error::client(kind, refusal.to_string())
    }
}

/// A refused access-request step as the problem a client sees (RFC 9457).
impl From<RequestRefusal> for Error {
    fn from(refusal: RequestRefusal) -> Self {
        use RequestRefusal as R;
        let kind = match refusal {
            R::UnknownCode => ProblemType::NotFound,
            R::NotForCaller | R::NoPassport => ProblemType::Forbidden,
            R::Decided(_) => ProblemType::RequestDecided,
            R::Expired => ProblemType::RequestExpired,
            R::Widens(why) => return Error::invalid_field("scopes", why),
        };
        Error::client(kind, refusal.to_string())
    }
}

/// A refused version as the problem a client sees (RFC 9457).
impl From<VersionRefusal> for Error {
    fn from(refusal: VersionRefusal) -> Self {
        use VersionRefusal as R;
        let kind = match &refusal {
            R::InvalidBody { field, reason } => return Error::invalid_field(field, reason),
            R::OutsideScope(denial) => return denial.clone().into(),
            R::NoSuchRecord => ProblemType::NotFound,
            R::Erased => ProblemType::Gone,
            R::PassportFull(_) => ProblemType::LimitExceeded,
            R::Deleted => ProblemType::Conflict,
            R::Newer | R::WrongPrev | R::Stale | R::NotSuccessor => ProblemType::VersionConflict,
            R::OwnerDeletesOnly
            | R::AgreementDeletes
            | R::AgreementNotAgreed
            | R::NotAgreeable
            | R::AgreementChangesMore
            | R::AgreedByOther(_) => ProblemType::Forbidden,
            R::BadJws(_)
            | R::UnregisteredKey
            | R::NotCallersKey
            | R::NotByAuthor
            | R::KeyRevoked
            | R::BadSignature => ProblemType::InvalidSignature,
            R::WrongType
            | R::OtherPassport
            | R::OtherRecord
            | R::OutOfTime
            | R::BadStart
            | R::StartsDeleted
            | R::TombstoneWithBody
            | R::ChangedSection
            | R::Skipped => ProblemType::InvalidVersion,
        };
        Error::client(kind, refusal.to_string())
    }
}

/// A refused credential as the problem a client sees (RFC 9457): a 401 of its own type.
impl From<CredentialRefusal> for Error {
    fn from(refusal: CredentialRefusal) -> Self {
        let kind = match refusal {
            CredentialRefusal::Assertion(_) => ProblemType::InvalidAssertion,
            CredentialRefusal::DpopProof(_) => ProblemType::InvalidDpopProof,
            CredentialRefusal::Token(_) => ProblemType::InvalidToken,
        };
        Error::client(kind, refusal.to_string())
    }
}

/// A refused name, registration, key or key proof as the problem a client sees (RFC 9457).
impl From<PartyRefusal> for Error {
    fn from(refusal: PartyRefusal) -> Self {
        match refusal {
            PartyRefusal::Invalid { field, reason } => Error::invalid_field(field, reason),
            PartyRefusal::Key(why) => Error::client(ProblemType::InvalidKey, why),
            PartyRefusal::KeyProof(why) => Error::client(ProblemType::InvalidKeyProof, why),
        }
    }
}

/// A refused grant request as the problem a client sees (RFC 9457): 422 naming the field.
impl From<GrantRefusal> for Error {
    fn from(refusal: GrantRefusal) -> Self {
        Error::invalid_field(refusal.field(), refusal.to_string())
    }
}

/// A refused import as the problem a client sees (RFC 9457).
impl From<ImportRefusal> for Error {
    fn from(refusal: ImportRefusal) -> Self {
        use ImportRefusal as R;
        let kind = match refusal {
            R::Invalid(_) => ProblemType::InvalidBundle,
            R::NotYours(_) => ProblemType::BundleNotYours,
            R::TooManyRecords => ProblemType::LimitExceeded,
            R::OriginUnverified(_) => ProblemType::OriginUnverified,
            R::PassportExists => ProblemType::PassportExists,
        };
        Error::client(kind, refusal.to_string())
    }
}

/// A version write that did not happen: a refusal (with the current head for a writer who may
/// read it) or an internal error.
impl From<WriteFailure> for Error {
    fn from(failure: WriteFailure) -> Self {
        match failure {
            WriteFailure::Refused {
                refusal,
                current_head: Some(head),
            } => Error::from(refusal).with_current_head(*head),
            WriteFailure::Refused { refusal, .. } => refusal.into(),
            WriteFailure::Failed(error) => error,
        }
    }
}
