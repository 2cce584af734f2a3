//! Parties: employee self-registration, admin enrolment, keys (`service::parties`).

use axum::Json;
use axum::extract::State;
use wp_schemas::api::{AddKey, EnrolParty, JoinAsAdmin, Me, Party, RegisterEmployee};

use super::AppState;
use super::extract::{ApiJson, ApiPath, Caller};
use super::reply::Created;
use crate::domain::ids::{Kid, PartyId};
use crate::error::Result;
use crate::service::parties;

/// `POST /v1/parties`: an employee registers with a key they prove they hold.
pub async fn register(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RegisterEmployee>,
) -> Result<Created<Party>> {
    Ok(Created(parties::register(&state, req).await?))
}

/// `POST /v1/admin/join`: the operator's one-time admin invitation, redeemed with a key.
pub async fn join_as_admin(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<JoinAsAdmin>,
) -> Result<Created<Party>> {
    Ok(Created(parties::join_as_admin(&state, req).await?))
}

/// `POST /v1/admin/parties`: an admin enrols an employer, a professional or an admin.
pub async fn enrol(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<EnrolParty>,
) -> Result<Created<Party>> {
    let party = parties::enrol(&state, &caller, req).await?;
    Ok(Created(party))
}

/// `GET /v1/me`: the caller's party and passport.
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>> {
    Ok(Json(parties::me(&state, &caller).await?))
}

/// `GET /v1/parties/{id}`: public facts about a party (kind, name, registration, keys), which any
/// authenticated party needs to check who signed a record.
pub async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(party_id): ApiPath<PartyId>,
) -> Result<Json<Party>> {
    Ok(Json(parties::party_or_404(&state, &party_id).await?))
}

/// `POST /v1/parties/{id}/keys`: add a key (rotation).
pub async fn add_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(party_id): ApiPath<PartyId>,
    ApiJson(req): ApiJson<AddKey>,
) -> Result<Created<Party>> {
    let party = parties::add_key(&state, &caller, &party_id, req).await?;
    Ok(Created(party))
}

/// `POST /v1/parties/{id}/keys/{kid}/revoke`: tokens bound to the key stop working at once.
pub async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((party_id, kid)): ApiPath<(PartyId, Kid)>,
) -> Result<Json<Party>> {
    Ok(Json(
        parties::revoke_key(&state, &caller, &party_id, &kid).await?,
    ))
}
