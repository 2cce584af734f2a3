//! Extractors whose rejections are problem+json, and the authenticated caller.

use axum::extract::rejection::{BytesRejection, FormRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use wp_schemas::api::PartyKind;
use wp_schemas::problem::ProblemType;

use super::AppState;
use crate::clock;
use crate::domain::auth::{self, ConsentClaim};
use crate::domain::ids::{Kid, PartyId};
use crate::error::Error;

/// A JSON body. Refuses other media types (415), bodies over the limit (413), and bodies that do
/// not match the type, naming the field that failed (422).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let mime = v.split(';').next().unwrap_or_default().trim();
                mime.eq_ignore_ascii_case("application/json")
            });
        if !is_json {
            return Err(Error::client(
                ProblemType::UnsupportedMediaType,
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "(body)".to_owned()
            } else {
                path
            };
            Error::invalid_field(field, e.into_inner().to_string())
        })?;
        Ok(ApiJson(value))
    }
}

fn body_rejection(rejection: BytesRejection) -> Error {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        Error::client(
            ProblemType::PayloadTooLarge,
            "the body is larger than the server accepts",
        )
    } else {
        Error::bad_request("the body could not be read")
    }
}

/// An `application/x-www-form-urlencoded` body (the OAuth token endpoint).
pub struct ApiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiForm<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|f| ApiForm(f.0))
            .map_err(|e: FormRejection| match e {
                FormRejection::InvalidFormContentType(_) => Error::client(
                    ProblemType::UnsupportedMediaType,
                    "send the token request as application/x-www-form-urlencoded",
                ),
                FormRejection::BytesRejection(b) => body_rejection(b),
                other => {
                    Error::bad_request(format!("the form is not acceptable: {}", other.body_text()))
                }
            })
    }
}

/// Path parameters, parsed once at the edge into the domain's id types (`domain::ids`), which
/// hold only the canonical form. A path whose id is of another form names nothing: 404, the same answer
/// as an unknown id, before any of it reaches the store.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| Error::not_found("no such resource"))
    }
}

/// Query parameters.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| {
                Error::bad_request(format!("bad query: {}", e.body_text()))
            })
    }
}

/// The authenticated caller: a valid access token, sent with the DPoP scheme, with a fresh,
/// unreplayed DPoP proof for this request by the key the token is bound to, whose key is still
/// registered and not revoked.
#[derive(Debug, Clone)]
pub struct Caller {
    pub party_id: PartyId,
    pub kind: PartyKind,
    pub jkt: Kid,
    /// Present when the token is a consent token.
    pub consent: Option<ConsentClaim>,
}

/// The single value of a header that must appear once.
fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => v.to_str().map(Some).map_err(|_| ()),
        _ => Err(()),
    }
}

/// The DPoP proof of a request (RFC 9449 section 4.3: exactly one).
pub fn dpop_header(headers: &HeaderMap) -> Result<&str, Error> {
    match single_header(headers, "dpop") {
        Ok(Some(proof)) => Ok(proof),
        Ok(None) => Err(Error::client(
            ProblemType::InvalidDpopProof,
            "the request carries no DPoP proof",
        )),
        Err(()) => Err(Error::client(
            ProblemType::InvalidDpopProof,
            "the request must carry exactly one DPoP proof",
        )),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let now = clock::now();
        let authorization = single_header(&parts.headers, "authorization")
            .map_err(|()| {
                Error::client(
                    ProblemType::InvalidToken,
                    "one Authorization header, please",
                )
            })?
            .ok_or_else(|| {
                Error::client(
                    ProblemType::InvalidToken,
                    "the request carries no access token",
                )
            })?;
        let token = match authorization.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("dpop") => token.trim(),
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("bearer") => {
                return Err(Error::client(
                    ProblemType::InvalidToken,
                    "tokens are DPoP-bound: use the DPoP scheme with a DPoP proof",
                ));
            }
            _ => {
                return Err(Error::client(
                    ProblemType::InvalidToken,
                    "unsupported authorization scheme",
                ));
            }
        };
        let claims = state.verify_token(token, now)?;
        let htu = format!("{}{}", state.issuer, parts.uri.path());
        let proof = auth::verify_dpop(
            dpop_header(&parts.headers)?,
            parts.method.as_str(),
            &htu,
            Some(token),
            now,
        )?;
        if proof.jkt != claims.cnf.jkt {
            return Err(Error::client(
                ProblemType::InvalidDpopProof,
                "the proof is not signed by the key the token is bound to",
            ));
        }
        let party_id = auth::subject_of(&claims)?;
        state.check_key_and_proof(&party_id, &proof).await?;
        Ok(Caller {
            consent: auth::consent_of(&claims)?,
            party_id,
            kind: claims.party_kind,
            jkt: proof.jkt,
        })
    }
}
