//! Access requests (`service::access_requests`).

use axum::Json;
use axum::extract::State;
use wp_schemas::api::{
    AccessRequest, AccessRequestCode, ApproveAccessRequest, CreateAccessRequest, Grant,
};

use super::AppState;
use super::extract::{ApiJson, ApiPath, Caller};
use super::reply::Created;
use crate::domain::ids::PartyId;
use crate::error::Result;
use crate::service::access_requests;

/// `POST /v1/organisations/{oid}/access-requests`: a member asks an employee for access.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(oid): ApiPath<PartyId>,
    ApiJson(req): ApiJson<CreateAccessRequest>,
) -> Result<Created<AccessRequest>> {
    let request = access_requests::create(&state, &caller, &oid, req).await?;
    Ok(Created(request))
}

/// `GET /v1/organisations/{oid}/access-requests`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(oid): ApiPath<PartyId>,
) -> Result<Json<Vec<AccessRequest>>> {
    Ok(Json(access_requests::list(&state, &caller, &oid).await?))
}

/// `POST /v1/access-requests/open`: the employee sees who asks for what, and why.
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<AccessRequestCode>,
) -> Result<Json<AccessRequest>> {
    Ok(Json(
        access_requests::open(&state, &caller, &req.code).await?,
    ))
}

/// `POST /v1/access-requests/approve`: makes the grant, as asked or narrowed.
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ApproveAccessRequest>,
) -> Result<Created<Grant>> {
    let grant = access_requests::approve(&state, &caller, req).await?;
    Ok(Created(grant))
}

/// `POST /v1/access-requests/decline`.
pub async fn decline(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<AccessRequestCode>,
) -> Result<Json<AccessRequest>> {
    Ok(Json(
        access_requests::decline(&state, &caller, &req.code).await?,
    ))
}
