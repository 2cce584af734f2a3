//! `POST /v1/token`: a signed client assertion (RFC 7523) and a DPoP proof in; an access token,
//! or with `grant_id` a consent token, bound to the caller's key out.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use wp_schemas::api::{ASSERTION_TYPE, GRANT_TYPE, TokenResponse};

use super::AppState;
use super::error::TokenFailure;
use super::extract::{ApiForm, dpop_header};
use crate::error::Error;
use crate::service::tokens;

#[derive(Deserialize)]
pub struct TokenRequest {
    grant_type: String,
    client_assertion_type: String,
    client_assertion: String,
    /// Ask for a consent token under this grant.
    #[serde(default)]
    grant_id: Option<String>,
}

/// Every failure here, the form's included, is answered with its OAuth 2.0 `error` code too
/// (`TokenFailure`).
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<ApiForm<TokenRequest>, Error>,
) -> Result<Json<TokenResponse>, TokenFailure> {
    issue(&state, &headers, form).await
}

async fn issue(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<ApiForm<TokenRequest>, Error>,
) -> Result<Json<TokenResponse>, TokenFailure> {
    let ApiForm(req) = form?;
    if req.grant_type != GRANT_TYPE {
        return Err(TokenFailure::UnsupportedGrantType);
    }
    if req.client_assertion_type != ASSERTION_TYPE {
        return Err(TokenFailure::UnsupportedAssertionType);
    }
    let request = tokens::TokenRequest {
        assertion: &req.client_assertion,
        dpop: dpop_header(headers)?,
        grant_id: req.grant_id.as_deref(),
    };
    Ok(Json(tokens::issue(state, request).await?))
}
