//! Consent grants: the owner creates, lists and revokes them; a grantee lists its own.

use axum::Json;
use axum::extract::State;
use wp_schemas::api::{CreateGrant, Grant};

use super::AppState;
use super::extract::{ApiJson, ApiPath, Caller};
use super::reply::Created;
use crate::domain::ids::{GrantId, PassportId};
use crate::error::Result;
use crate::service::{Logged, grants};

/// `POST /v1/passports/{pid}/grants`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(pid): ApiPath<PassportId>,
    ApiJson(req): ApiJson<CreateGrant>,
) -> Result<Created<Grant>> {
    let grant = grants::create(&state, &caller, &pid, req).await?;
    Ok(Created(grant))
}

/// `GET /v1/passports/{pid}/grants`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(pid): ApiPath<PassportId>,
) -> Result<Json<Logged<Vec<Grant>>>> {
    Ok(Json(grants::list(&state, &caller, &pid).await?))
}

/// `POST /v1/passports/{pid}/grants/{gid}/revoke`: effective on the grantee's next request.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((pid, gid)): ApiPath<(PassportId, GrantId)>,
) -> Result<Json<Grant>> {
    Ok(Json(grants::revoke(&state, &caller, &pid, &gid).await?))
}

/// `GET /v1/grants`: the grants made to the caller (and, for a member, those to their
/// organisation that cover them), with their current status.
pub async fn mine(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<Grant>>> {
    Ok(Json(grants::mine(&state, &caller).await?))
}
