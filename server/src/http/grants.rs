//! Consent grants: the owner creates, lists and revokes them; a grantee lists its own.

use axum::Json;
use axum::extract::State;
use wp_schemas::api::{CreateGrant, Grant, LogAction};
use wp_schemas::sections::Section;

use super::AppState;
use super::extract::{ApiJson, ApiPath, Caller};
use super::reply::Created;
use crate::clock;
use crate::domain::audit::LogEvent;
use crate::domain::grant;
use crate::domain::ids::{GrantId, PassportId};
use crate::error::{Error, Result};
use crate::service::{AuthorizedPassport, organisations};

/// The guard for an owner-only `action`; a caller who is not the owner is refused and logged.
async fn owner_only<'a>(
    state: &'a AppState,
    caller: &'a Caller,
    pid: &PassportId,
    action: LogAction,
    sections: &[Section],
    what: &'static str,
) -> Result<AuthorizedPassport<'a>> {
    let guard = AuthorizedPassport::authorize(state, caller, pid, action, sections).await?;
    guard.require_owner(what).await?;
    Ok(guard)
}

/// `POST /v1/passports/{pid}/grants`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(pid): ApiPath<PassportId>,
    ApiJson(req): ApiJson<CreateGrant>,
) -> Result<Created<Grant>> {
    let sections: Vec<Section> = req.scopes.iter().map(|s| s.section).collect();
    let action = LogAction::GrantCreated;
    let guard = owner_only(&state, &caller, &pid, action, &sections, "grant consent").await?;
    let now = guard.now;
    let grantee_id = grant::grantee_id(&req.grantee)?;
    let grantee = state
        .store
        .party(&grantee_id)
        .await?
        .ok_or_else(|| Error::invalid_field("grantee", "no such party"))?;
    if grantee.origin.is_some() {
        // Known here only as the author of an imported passport's versions: it cannot sign in.
        return Err(Error::invalid_field(
            "grantee",
            "an external party (known here only from an imported passport) cannot be granted",
        ));
    }
    let grantee = (&grantee_id, grantee.kind);
    let record = grant::new_grant(&req, &pid, &caller.party_id, grantee, now)?;
    organisations::check_members(&state, &grantee_id, &record.members).await?;
    let event = LogEvent::allowed(
        &caller.party_id,
        Some(&record.id),
        LogAction::GrantCreated,
        sections,
        "owner",
    );
    state.store.create_grant(&record, event, now).await?;
    Ok(Created(record.to_wire(now)))
}

/// `GET /v1/passports/{pid}/grants`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(pid): ApiPath<PassportId>,
) -> Result<Json<Vec<Grant>>> {
    let action = LogAction::GrantsListed;
    let guard = owner_only(&state, &caller, &pid, action, &[], "list grants").await?;
    let now = guard.now;
    let grants = state.store.grants_of_passport(&pid).await?;
    Ok(Json(grants.iter().map(|g| g.to_wire(now)).collect()))
}

/// `POST /v1/passports/{pid}/grants/{gid}/revoke`: effective on the grantee's next request.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((pid, gid)): ApiPath<(PassportId, GrantId)>,
) -> Result<Json<Grant>> {
    let action = LogAction::GrantRevoked;
    let guard = owner_only(&state, &caller, &pid, action, &[], "revoke consent").await?;
    let now = guard.now;
    let event = LogEvent::allowed(
        &caller.party_id,
        Some(&gid),
        LogAction::GrantRevoked,
        vec![],
        "owner",
    );
    let grant = state
        .store
        .revoke_grant(&pid, &gid, event, now)
        .await?
        .ok_or_else(|| Error::not_found("no such grant on this passport"))?;
    Ok(Json(grant.to_wire(now)))
}

/// `GET /v1/grants`: the grants made to the caller (and, for a member, those to their
/// organisation that cover them), with their current status.
pub async fn mine(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<Grant>>> {
    let now = clock::now();
    let grants = organisations::grants_for(&state, &caller.party_id, now).await?;
    Ok(Json(grants.iter().map(|g| g.to_wire(now)).collect()))
}
