//! Access requests, without the HTTP: a member asks an employee for access on behalf of their
//! organisation; the employee opens the request by its one-time code and approves it (as asked
//! or narrowed: this makes the grant on their passport) or declines it. A request grants
//! nothing by itself, expires, and is decided once.

use wp_schemas::api::{
    AccessRequest, ApproveAccessRequest, CreateAccessRequest, CreateGrant, DEFAULT_REQUEST_DAYS,
    Grant, LogAction, MAX_GRANT_DAYS, MAX_PURPOSE_CHARS, MAX_REQUEST_DAYS, PartyKind,
};

use super::organisations::{membership_of, require_member_or_admin};
use super::parties::party_or_404;
use super::{AppState, Caller};
use crate::clock;
use crate::domain::access_request::{self, AccessRequestRecord, RequestRefusal};
use crate::domain::audit::LogEvent;
use crate::domain::grant;
use crate::domain::ids::{AccessRequestId, PartyId};
use crate::domain::notification::{Facts, Notice, day_of};
use crate::domain::organisation::{OrganisationRefusal, check_role, code_hash};
use crate::domain::time::Timestamp;
use crate::error::{Error, Result};
use wp_schemas::api::NotificationKind as Kind;

/// A member of organisation `oid` asks for access; the code for the employee is in this
/// answer only.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    oid: &PartyId,
    request: CreateAccessRequest,
) -> Result<AccessRequest> {
    let now = clock::now();
    let membership = membership_of(state, caller)
        .await?
        .filter(|m| m.organisation == *oid && m.active_at(now))
        .ok_or(OrganisationRefusal::NotMember)?;
    let kind = membership.organisation_kind;
    let roles = match request.roles.is_empty() {
        true => vec![membership.role],
        false => request.roles.clone(),
    };
    for role in &roles {
        check_role(*role, kind).map_err(|e| Error::invalid_field("roles", e.to_string()))?;
    }
    let scopes = grant::check_scopes(&request.scopes, kind)?;
    if let Some(why) = wp_schemas::text::refusal(&request.purpose, MAX_PURPOSE_CHARS, false) {
        return Err(Error::invalid_field("purpose", why));
    }
    if !(1..=MAX_GRANT_DAYS).contains(&request.duration_days) {
        return Err(Error::invalid_field("duration_days", "1 to 732 days"));
    }
    let days = request.expires_in_days.unwrap_or(DEFAULT_REQUEST_DAYS);
    if !(1..=MAX_REQUEST_DAYS).contains(&days) {
        return Err(Error::invalid_field("expires_in_days", "1 to 30 days"));
    }
    let employee = match &request.employee {
        None => None,
        Some(text) => Some(PartyId::parse(text).ok_or_else(|| {
            Error::invalid_field("employee", "must be a party id (a lower-case UUID)")
        })?),
    };
    let code = access_request::code_of(&state.random_secret()?);
    let requester = party_or_404(state, &caller.party_id).await?;
    let record = AccessRequestRecord {
        id: AccessRequestId::random(),
        organisation: oid.clone(),
        organisation_name: membership.organisation_name.clone(),
        requested_by: caller.party_id.clone(),
        requested_by_name: requester.display_name,
        roles,
        scopes,
        purpose: request.purpose.trim().to_owned(),
        duration_days: request.duration_days,
        employee,
        code_hash: code_hash(&code),
        created_at: now,
        expires_at: now + days * 86_400,
        decided_at: None,
        decision: None,
        grant_id: None,
    };
    // The employee it names hears of it (the organisation's name only; the code is the
    // member's to give).
    let notices: Vec<Notice> = record
        .employee
        .iter()
        .map(|e| {
            Notice::new(
                e,
                Kind::AccessRequested,
                Facts::who(&record.organisation_name),
            )
        })
        .collect();
    state.store.create_access_request(&record, &notices).await?;
    state.notifications.written();
    tracing::info!(organisation = %oid, request = %record.id, by = %caller.party_id, "access request created");
    Ok(record.to_wire(Some(code), now))
}

/// The requests of organisation `oid`, for its members and the service admin.
pub async fn list(state: &AppState, caller: &Caller, oid: &PartyId) -> Result<Vec<AccessRequest>> {
    let now = clock::now();
    require_member_or_admin(state, caller, oid).await?;
    let requests = state.store.access_requests(oid).await?;
    Ok(requests.iter().map(|r| r.to_wire(None, now)).collect())
}

/// The pending request behind `code`, if `caller` (an employee) may decide it now.
async fn pending(
    state: &AppState,
    caller: &Caller,
    code: &str,
    now: Timestamp,
) -> Result<AccessRequestRecord> {
    caller.require_kind(
        PartyKind::Employee,
        "only an employee opens an access request",
    )?;
    let request = state
        .store
        .access_request_by_code_hash(&code_hash(code))
        .await?;
    let request = request.ok_or(RequestRefusal::UnknownCode)?;
    request.check_open(&caller.party_id, now)?;
    Ok(request)
}

/// The employee opens a request: who asks for what, why, and for how long.
pub async fn open(state: &AppState, caller: &Caller, code: &str) -> Result<AccessRequest> {
    let now = clock::now();
    Ok(pending(state, caller, code, now).await?.to_wire(None, now))
}

/// The employee declines a request.
pub async fn decline(state: &AppState, caller: &Caller, code: &str) -> Result<AccessRequest> {
    let now = clock::now();
    let request = pending(state, caller, code, now).await?;
    let employee = party_or_404(state, &caller.party_id).await?;
    let told = Notice::new(
        &request.requested_by,
        Kind::RequestDeclined,
        Facts::who(employee.display_name),
    );
    if !state
        .store
        .decline_access_request(&request.id, &[told], now)
        .await?
    {
        return Err(decided_meanwhile(state, &request).await);
    }
    state.notifications.written();
    tracing::info!(request = %request.id, "access request declined");
    let declined = AccessRequestRecord {
        decided_at: Some(now),
        decision: Some(access_request::Decision::Declined),
        ..request
    };
    Ok(declined.to_wire(None, now))
}

/// The employee approves a request, as asked or narrowed: the grant on their passport, to
/// the organisation and the roles asked for, is made and logged with the decision.
pub async fn approve(
    state: &AppState,
    caller: &Caller,
    approval: ApproveAccessRequest,
) -> Result<Grant> {
    let now = clock::now();
    let request = pending(state, caller, &approval.code, now).await?;
    let passport = state.store.passport_of_owner(&caller.party_id).await?;
    let passport = passport.ok_or(RequestRefusal::NoPassport)?;
    let ends_at = approval.ends_at.as_ref().map(Timestamp::of);
    let (scopes, ends_at) = request.narrow(approval.scopes.as_deref(), ends_at, now)?;
    let organisation = party_or_404(state, &request.organisation).await?;
    let asked = CreateGrant {
        grantee: request.organisation.to_string(),
        roles: request.roles.clone(),
        members: Vec::new(),
        scopes,
        purpose: request.purpose.clone(),
        starts_at: None,
        ends_at: ends_at.to_datetime(),
        consent_text: approval.consent_text,
    };
    let grantee = (&request.organisation, organisation.kind);
    let record = grant::new_grant(&asked, &passport, &caller.party_id, grantee, now)?;
    let sections = record.scopes.iter().map(|s| s.section).collect();
    let event = LogEvent::allowed(
        &caller.party_id,
        Some(&record.id),
        LogAction::GrantCreated,
        sections,
        "owner approved an access request",
    );
    // The member who asked hears what was approved: the sections' names and the end date.
    let employee = party_or_404(state, &caller.party_id).await?;
    let told = Notice::new(
        &request.requested_by,
        Kind::RequestApproved,
        Facts {
            sections: record
                .scopes
                .iter()
                .map(|s| s.section.as_str().to_owned())
                .collect(),
            ..Facts::who_on(employee.display_name, &day_of(record.ends_at))
        },
    );
    if !state
        .store
        .approve_access_request(&request.id, &record, event, &[told], now)
        .await?
    {
        return Err(decided_meanwhile(state, &request).await);
    }
    state.notifications.written();
    tracing::info!(request = %request.id, grant = %record.id, "access request approved");
    Ok(record.to_wire(now))
}

/// The refusal for a request another approval or decline got to first.
async fn decided_meanwhile(state: &AppState, request: &AccessRequestRecord) -> Error {
    let now_stored = state
        .store
        .access_request_by_code_hash(&request.code_hash)
        .await;
    match now_stored {
        Ok(stored) => {
            let decision = stored.and_then(|r| r.decision);
            RequestRefusal::Decided(decision.unwrap_or(access_request::Decision::Approved)).into()
        }
        Err(e) => e,
    }
}
