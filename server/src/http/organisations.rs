//! Organisations, members and invitations (`service::organisations`).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use wp_schemas::api::{
    CreateInvitation, CreateOrganisation, Invitation, Member, OrganisationEntry,
    OrganisationListing, OrganisationSummary, Party, RedeemInvitation, SetListing,
};

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::reply::Created;
use crate::domain::ids::{InvitationId, PartyId};
use crate::error::Result;
use crate::service::organisations;

/// `POST /v1/admin/organisations`: the service admin creates an employer or a practice.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateOrganisation>,
) -> Result<Created<Party>> {
    let org = organisations::create(&state, &caller, req).await?;
    Ok(Created(org))
}

#[derive(Deserialize)]
pub struct FindQuery {
    name: String,
}

/// `GET /v1/organisations?name=`: the directory of listed organisations.
pub async fn find(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<FindQuery>,
) -> Result<Json<Vec<OrganisationEntry>>> {
    Ok(Json(
        organisations::find(&state, &caller, &query.name).await?,
    ))
}

/// `GET /v1/share-codes/{share_code}`: the organisation a share code names.
pub async fn by_share_code(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<OrganisationEntry>> {
    Ok(Json(
        organisations::by_share_code(&state, &caller, &code).await?,
    ))
}

/// `GET /v1/organisations/{oid}/listing`.
pub async fn listing(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(oid): ApiPath<PartyId>,
) -> Result<Json<OrganisationListing>> {
    Ok(Json(organisations::listing(&state, &caller, &oid).await?))
}

/// `PUT /v1/organisations/{oid}/listing`.
pub async fn set_listing(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(oid): ApiPath<PartyId>,
    ApiJson(req): ApiJson<SetListing>,
) -> Result<Json<OrganisationListing>> {
    Ok(Json(
        organisations::set_listing(&state, &caller, &oid, req).await?,
    ))
}

#[derive(Deserialize)]
pub struct ListQuery {
    name: Option<String>,
}

/// `GET /v1/admin/organisations`: every organisation, for the service admin.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<OrganisationSummary>>> {
    Ok(Json(
        organisations::list(&state, &caller, query.name.as_deref()).await?,
    ))
}

/// `POST /v1/organisations/{oid}/invitations`.
pub async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(oid): ApiPath<PartyId>,
    ApiJson(req): ApiJson<CreateInvitation>,
) -> Result<Created<Invitation>> {
    let invitation = organisations::invite(&state, &caller, &oid, req).await?;
    Ok(Created(invitation))
}

/// `GET /v1/organisations/{oid}/invitations`.
pub async fn invitations(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(oid): ApiPath<PartyId>,
) -> Result<Json<Vec<Invitation>>> {
    Ok(Json(
        organisations::invitations(&state, &caller, &oid).await?,
    ))
}

/// `POST /v1/organisations/{oid}/invitations/{iid}/revoke`.
pub async fn revoke_invitation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((oid, iid)): ApiPath<(PartyId, InvitationId)>,
) -> Result<Json<Invitation>> {
    Ok(Json(
        organisations::revoke_invitation(&state, &caller, &oid, &iid).await?,
    ))
}

/// `POST /v1/invitations/redeem`: a person joins with a key they prove they hold.
pub async fn redeem(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RedeemInvitation>,
) -> Result<Created<Party>> {
    Ok(Created(organisations::redeem(&state, req).await?))
}

/// `GET /v1/organisations/{oid}/members`.
pub async fn members(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(oid): ApiPath<PartyId>,
) -> Result<Json<Vec<Member>>> {
    Ok(Json(organisations::members(&state, &caller, &oid).await?))
}

/// `POST /v1/organisations/{oid}/members/{mid}/remove`: by its managers, or the member leaving.
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((oid, mid)): ApiPath<(PartyId, PartyId)>,
) -> Result<Json<Member>> {
    Ok(Json(
        organisations::remove_member(&state, &caller, &oid, &mid).await?,
    ))
}
