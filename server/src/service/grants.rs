//! Consent grants, without the HTTP: the owner creates, lists and revokes them; a grantee lists
//! its own. (An access request's approval makes its grant in [`super::access_requests`].)

use wp_schemas::api::{CreateGrant, Grant, LogAction};
use wp_schemas::sections::Section;

use super::{AppState, AuthorizedPassport, Caller, Logged, organisations};
use crate::clock;
use crate::domain::audit::LogEvent;
use crate::domain::grant;
use crate::domain::ids::{GrantId, PassportId};
use crate::error::{Error, Result};

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

/// The owner grants a party (or an organisation's roles and members) consent to sections of
/// passport `pid`; the grant and its log entry commit together.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    pid: &PassportId,
    request: CreateGrant,
) -> Result<Grant> {
    let sections: Vec<Section> = request.scopes.iter().map(|s| s.section).collect();
    let action = LogAction::GrantCreated;
    let guard = owner_only(state, caller, pid, action, &sections, "grant consent").await?;
    let now = guard.now;
    let grantee_id = grant::grantee_id(&request.grantee)?;
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
    let record = grant::new_grant(&request, pid, &caller.party_id, grantee, now)?;
    organisations::check_members(state, &grantee_id, &record.members).await?;
    let event = LogEvent::allowed(
        &caller.party_id,
        Some(&record.id),
        LogAction::GrantCreated,
        sections,
        "owner",
    );
    state.store.create_grant(&record, event, now).await?;
    Ok(record.to_wire(now))
}

/// The passport's grants, for its owner: only a refusal is logged (see the route table).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    pid: &PassportId,
) -> Result<Logged<Vec<Grant>>> {
    let action = LogAction::GrantsListed;
    let guard = owner_only(state, caller, pid, action, &[], "list grants").await?;
    let now = guard.now;
    let grants = state.store.grants_of_passport(pid).await?;
    let grants = grants.iter().map(|g| g.to_wire(now)).collect();
    Ok(guard.unlogged().answer(grants))
}

/// The owner revokes grant `gid`, effective on the grantee's next request; the revocation and
/// its log entry commit together.
pub async fn revoke(
    state: &AppState,
    caller: &Caller,
    pid: &PassportId,
    gid: &GrantId,
) -> Result<Grant> {
    let action = LogAction::GrantRevoked;
    let guard = owner_only(state, caller, pid, action, &[], "revoke consent").await?;
    let now = guard.now;
    let event = LogEvent::allowed(
        &caller.party_id,
        Some(gid),
        LogAction::GrantRevoked,
        vec![],
        "owner",
    );
    let grant = state
        .store
        .revoke_grant(pid, gid, event, now)
        .await?
        .ok_or_else(|| Error::not_found("no such grant on this passport"))?;
    Ok(grant.to_wire(now))
}

/// The grants made to the caller (and, for a member, those to their organisation that cover
/// them), with their current status. Not a passport's: nothing is logged.
pub async fn mine(state: &AppState, caller: &Caller) -> Result<Vec<Grant>> {
    let now = clock::now();
    let grants = organisations::grants_for(state, &caller.party_id, now).await?;
    Ok(grants.iter().map(|g| g.to_wire(now)).collect())
}
