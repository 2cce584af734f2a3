//! Extractors whose rejections are problem+json, and the authenticated caller.

use axum::extract::rejection::{BytesRejection, FormRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use wp_schemas::problem::ProblemType;

use super::AppState;
use crate::error::Error;
use crate::service::caller::Credentials;
pub use crate::service::{Caller, PendingCaller};

/// A JSON body. Refuses other media types (415), bodies over the limit (413), and bodies that do
/// not match the type, naming the field that failed (422).
pub struct ApiJson<T>(pub T);

/// Refuses a body that is not `application/json` (415).
pub fn require_json(headers: &HeaderMap) -> Result<(), Error> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or_default().trim();
            mime.eq_ignore_ascii_case("application/json")
        });
    if is_json {
        Ok(())
    } else {
        Err(Error::client(
            ProblemType::UnsupportedMediaType,
            "send the body as application/json",
        ))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        require_json(req.headers())?;
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

/// The request's credentials: its one `Authorization` header and one `DPoP` proof.
fn credentials(parts: &Parts) -> Result<Credentials<'_>, Error> {
    let authorization = single_header(&parts.headers, "authorization")
        .map_err(|()| invalid_token("one Authorization header, please"))?
        .ok_or_else(|| invalid_token("the request carries no access token"))?;
    Ok(Credentials {
        authorization,
        dpop: dpop_header(&parts.headers),
        method: parts.method.as_str(),
        path: parts.uri.path(),
    })
}

/// The authenticated caller ([`Caller::authenticate`]), its proof admitted.
impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        Caller::authenticate(state, credentials(parts)?).await
    }
}

/// A reader whose credentials verify ([`Caller::verify`]), its proof to be admitted with the
/// read's log entry by [`crate::service::AuthorizedRead::authorize`].
impl FromRequestParts<AppState> for PendingCaller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        Caller::verify(state, credentials(parts)?)
    }
}

fn invalid_token(why: &str) -> Error {
    Error::client(ProblemType::InvalidToken, why.to_owned())
}
