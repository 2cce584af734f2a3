//! `POST /v1/token`: a signed client assertion (RFC 7523) and a DPoP proof in; an access token,
//! or with `grant_id` a consent token, bound to the caller's key out.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use wp_schemas::api::{ASSERTION_TYPE, GRANT_TYPE, TokenResponse};

use super::AppState;
use super::extract::{ApiForm, dpop_header};
use crate::error::{Error, Result};
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

pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiForm(req): ApiForm<TokenRequest>,
) -> Result<Json<TokenResponse>> {
    if req.grant_type != GRANT_TYPE {
        return Err(Error::bad_request(format!(
            "grant_type must be {GRANT_TYPE}"
        )));
    }
    if req.client_assertion_type != ASSERTION_TYPE {
        return Err(Error::bad_request(format!(
            "client_assertion_type must be {ASSERTION_TYPE}"
        )));
    }
    let request = tokens::TokenRequest {
        assertion: &req.client_assertion,
        dpop: dpop_header(&headers)?,
        grant_id: req.grant_id.as_deref(),
    };
    Ok(Json(tokens::issue(&state, request).await?))
}
