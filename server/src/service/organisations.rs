//! Organisations and their people, without the HTTP: the service admin creates an
//! organisation; the admin or an org_admin invites people with one-time codes; a person
//! redeems a code with a key they prove they hold and becomes a member; members are listed and
//! removed (or leave). Who may do which is `domain::organisation`'s rule.

use wp_schemas::api::{
    CreateInvitation, CreateOrganisation, DEFAULT_INVITATION_DAYS, Invitation, MAX_INVITATION_DAYS,
    MAX_NAME_CHARS, Member, OrganisationEntry, OrganisationListing, OrganisationSummary, Party,
    PartyKind, RedeemInvitation, SetListing,
};
use wp_schemas::paths;

use super::parties::{check_key_proof, party_or_404};
use super::store::{Joiner, ListingChange};
use super::{AppState, Caller};
use crate::clock;
use crate::domain::grant::GrantRecord;
use crate::domain::ids::{InvitationId, PartyId};
use crate::domain::notification::Facts;
use crate::domain::organisation::{
    self, InvitationRecord, ListingRecord, MembershipRecord, OrganisationRefusal, check_manager,
    check_member_or_admin, check_role,
};
use crate::domain::party;
use crate::domain::time::Timestamp;
use crate::error::{Error, Result};

/// At most this many organisations answer a directory look-up.
const DIRECTORY_LIMIT: i64 = 20;

/// At most this many organisations in the service admin's list (narrowed by name past that).
pub const ADMIN_LIST_LIMIT: i64 = 200;

/// The service admin creates an employer or a practice (without a key: its members act).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    request: CreateOrganisation,
) -> Result<Party> {
    caller.require_kind(
        PartyKind::Admin,
        "only the service admin creates organisations",
    )?;
    if !request.kind.is_organisation() {
        return Err(Error::invalid_field("kind", "must be employer or practice"));
    }
    let name = party::display_name(&request.display_name)?;
    let id = PartyId::random();
    state
        .store
        .create_organisation(&id, request.kind, &name, clock::now())
        .await?;
    tracing::info!(organisation = %id, kind = request.kind.as_str(), by = %caller.party_id, "organisation created");
    party_or_404(state, &id).await
}

/// The caller acts as a party of its own: a consent token names one passport, and finds no
/// organisation.
fn require_own_credentials(caller: &Caller) -> Result<()> {
    if caller.acting_kind().is_none() {
        return Err(Error::forbidden(
            "a consent token acts only on its passport: use an access token",
        ));
    }
    Ok(())
}

/// Listed organisations whose name contains `name`, for an employee who looks for whom to
/// share with: never one that did not choose to be listed, and never a share code.
pub async fn find(state: &AppState, caller: &Caller, name: &str) -> Result<Vec<OrganisationEntry>> {
    require_own_credentials(caller)?;
    // As the document says: at most 200 characters as sent, at least 2 once trimmed.
    let too_long = name.chars().count() > MAX_NAME_CHARS;
    let name = name.trim();
    if name.chars().count() < 2 || too_long {
        return Err(Error::bad_request(
            "name: 2 to 200 characters of the organisation's name",
        ));
    }
    // No name holds a control character (and PostgreSQL refuses a NUL): none is found.
    if name.chars().any(char::is_control) {
        return Ok(Vec::new());
    }
    let found = state
        .store
        .find_organisations(name, DIRECTORY_LIMIT)
        .await?;
    Ok(found.iter().map(ListingRecord::to_entry).collect())
}

/// The organisation whose share code is `code` (as a person typed it), listed or not.
pub async fn by_share_code(
    state: &AppState,
    caller: &Caller,
    code: &str,
) -> Result<OrganisationEntry> {
    require_own_credentials(caller)?;
    let code = organisation::parse_share_code(code).ok_or(OrganisationRefusal::UnknownShareCode)?;
    let found = state.store.listing_by_share_code(&code).await?;
    let found = found.ok_or(OrganisationRefusal::UnknownShareCode)?;
    Ok(found.to_entry())
}

/// A new share code: 60 of the system's random bits.
fn new_share_code(state: &AppState) -> Result<String> {
    let random = state.random_secret()?;
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&random[..8]);
    Ok(organisation::share_code_of(&bytes))
}

/// An organisation made here (not one known only from an imported passport).
async fn local_organisation(state: &AppState, id: &PartyId) -> Result<Party> {
    let org = organisation(state, id).await?;
    if org.origin.is_some() {
        return Err(Error::not_found("no such organisation"));
    }
    Ok(org)
}

/// Organisation `id`'s listing and share code, made (unlisted) the first time it is asked for.
async fn listing_of(state: &AppState, id: &PartyId) -> Result<ListingRecord> {
    if let Some(listing) = state.store.listing(id).await? {
        return Ok(listing);
    }
    let code = new_share_code(state)?;
    state.store.ensure_listing(id, &code, clock::now()).await
}

/// How employees find organisation `id`, share code included: for its active members (who
/// show the code) and the service admin.
pub async fn listing(
    state: &AppState,
    caller: &Caller,
    id: &PartyId,
) -> Result<OrganisationListing> {
    local_organisation(state, id).await?;
    require_member_or_admin(state, caller, id).await?;
    Ok(listing_of(state, id).await?.to_wire())
}

/// Its managers (the service admin, an org_admin of it) list organisation `id` in the
/// directory or take it out, say where it is and what it is, or give it a new share code.
pub async fn set_listing(
    state: &AppState,
    caller: &Caller,
    id: &PartyId,
    request: SetListing,
) -> Result<OrganisationListing> {
    local_organisation(state, id).await?;
    let membership = membership_of(state, caller).await?;
    check_manager(caller.acting_kind(), membership.as_ref(), id, clock::now())?;
    let place = organisation::listing_place(request.place.as_deref())
        .map_err(|why| Error::invalid_field("place", why))?;
    let about = organisation::listing_about(request.about.as_deref())
        .map_err(|why| Error::invalid_field("about", why))?;
    let current = listing_of(state, id).await?;
    let now = clock::now();
    let share_code = match request.new_share_code {
        true => Some(new_share_code(state)?),
        false => None,
    };
    let listing = state
        .store
        .set_listing(ListingChange {
            organisation: id,
            listed_at: request.listed.then(|| current.listed_at.unwrap_or(now)),
            place: place.as_deref(),
            about: about.as_deref(),
            share_code: share_code.as_deref(),
            by: &caller.party_id,
            now,
        })
        .await?;
    tracing::info!(organisation = %id, listed = request.listed, new_share_code = request.new_share_code, by = %caller.party_id, "listing set");
    Ok(listing.to_wire())
}

/// Every organisation made here, for the service admin (at most [`ADMIN_LIST_LIMIT`], by
/// name; those whose name contains `name`, if given).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    name: Option<&str>,
) -> Result<Vec<OrganisationSummary>> {
    caller.require_kind(
        PartyKind::Admin,
        "only the service admin lists every organisation",
    )?;
    if name.is_some_and(|n| n.chars().count() > MAX_NAME_CHARS) {
        return Err(Error::bad_request(
            "name: at most 200 characters of the organisation's name",
        ));
    }
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    // No name holds a control character (and PostgreSQL refuses a NUL): none is found.
    if name.is_some_and(|n| n.chars().any(char::is_control)) {
        return Ok(Vec::new());
    }
    let found = state.store.organisations(name, ADMIN_LIST_LIMIT).await?;
    Ok(found
        .into_iter()
        .map(|o| OrganisationSummary {
            id: o.id.to_string(),
            kind: o.kind,
            display_name: o.display_name,
            listed: o.listed,
            place: o.place,
            members: o.members,
            admins: o.admins,
            created_at: o.created_at.to_datetime(),
        })
        .collect())
}

/// The organisation `id`, which must be an employer or a practice.
async fn organisation(state: &AppState, id: &PartyId) -> Result<Party> {
    let org = party_or_404(state, id).await?;
    if !org.kind.is_organisation() {
        return Err(Error::not_found("no such organisation"));
    }
    Ok(org)
}

/// The caller's membership, if they are a member anywhere (never under a consent token).
pub(super) async fn membership_of(
    state: &AppState,
    caller: &Caller,
) -> Result<Option<MembershipRecord>> {
    if !caller.acts_as(PartyKind::Member) {
        return Ok(None);
    }
    state.store.membership(&caller.party_id).await
}

/// The caller must be the service admin or an active member of organisation `id`.
pub(super) async fn require_member_or_admin(
    state: &AppState,
    caller: &Caller,
    id: &PartyId,
) -> Result<()> {
    let membership = membership_of(state, caller).await?;
    check_member_or_admin(caller.acting_kind(), membership.as_ref(), id, clock::now())?;
    Ok(())
}

/// The caller must manage organisation `id` (the service admin, or an org_admin of it).
async fn require_manager(state: &AppState, caller: &Caller, id: &PartyId) -> Result<Party> {
    let org = organisation(state, id).await?;
    let membership = membership_of(state, caller).await?;
    check_manager(caller.acting_kind(), membership.as_ref(), id, clock::now())?;
    Ok(org)
}

/// Invites a person to join organisation `id` as `role`: the code is in this answer only.
pub async fn invite(
    state: &AppState,
    caller: &Caller,
    id: &PartyId,
    request: CreateInvitation,
) -> Result<Invitation> {
    let org = require_manager(state, caller, id).await?;
    check_role(request.role, org.kind).map_err(|e| Error::invalid_field("role", e.to_string()))?;
    let days = request.expires_in_days.unwrap_or(DEFAULT_INVITATION_DAYS);
    if !(1..=MAX_INVITATION_DAYS).contains(&days) {
        return Err(Error::invalid_field("expires_in_days", "1 to 30 days"));
    }
    let email = match request.email.as_deref().map(str::trim) {
        None => None,
        Some(address) => {
            super::notifications::require_email(state)?;
            if !super::notifications::plausible_address(address) {
                return Err(Error::invalid_field(
                    "email",
                    "must be an email address: one @, no spaces, at most 254 characters",
                ));
            }
            Some(address)
        }
    };
    let code = organisation::code_of(&state.random_secret()?);
    let now = clock::now();
    let invitation = InvitationRecord {
        id: InvitationId::random(),
        organisation: id.clone(),
        role: request.role,
        code_hash: organisation::code_hash(&code),
        created_by: caller.party_id.clone(),
        created_at: now,
        expires_at: now + days * 86_400,
        redeemed_at: None,
        redeemed_by: None,
        revoked_at: None,
    };
    // The person invited gets the link by email: the organisation's name, the role, the
    // code until it is sent.
    let facts = Facts {
        who: Some(org.display_name.clone()),
        role: Some(request.role.title().to_owned()),
        on: Some(crate::domain::notification::day_of(invitation.expires_at)),
        code: Some(code.clone()),
        ..Facts::default()
    };
    let emailed = email.map(|address| (address, &facts));
    state.store.create_invitation(&invitation, emailed).await?;
    if emailed.is_some() {
        state.notifications.written();
    }
    tracing::info!(organisation = %id, invitation = %invitation.id, role = request.role.as_str(), by = %caller.party_id, "invitation created");
    Ok(invitation.to_wire(Some(code), now))
}

pub async fn invitations(
    state: &AppState,
    caller: &Caller,
    id: &PartyId,
) -> Result<Vec<Invitation>> {
    require_manager(state, caller, id).await?;
    let now = clock::now();
    let list = state.store.invitations(id).await?;
    Ok(list.iter().map(|i| i.to_wire(None, now)).collect())
}

pub async fn revoke_invitation(
    state: &AppState,
    caller: &Caller,
    id: &PartyId,
    invitation: &InvitationId,
) -> Result<Invitation> {
    require_manager(state, caller, id).await?;
    let now = clock::now();
    let revoked = state.store.revoke_invitation(id, invitation, now).await?;
    let revoked = revoked.ok_or_else(|| Error::not_found("no such invitation"))?;
    // A used invitation made its member: revoking it would change nothing, so it is refused
    // rather than answered as if it had worked (remove the member instead).
    if revoked.redeemed_at.is_some() {
        return Err(OrganisationRefusal::Used.into());
    }
    Ok(revoked.to_wire(None, now))
}

/// A person redeems a code with a key they prove they hold, and becomes a member.
pub async fn redeem(state: &AppState, request: RedeemInvitation) -> Result<Party> {
    let now = clock::now();
    let hash = organisation::code_hash(&request.code);
    let invitation = state.store.invitation_by_code_hash(&hash).await?;
    let invitation = invitation.ok_or_else(|| Error::from(OrganisationRefusal::UnknownCode))?;
    invitation.check_redeemable(now)?;
    let name = party::display_name(&request.display_name)?;
    let jwk = party::public_key(&request.jwk)?;
    let clinician = invitation.role == wp_schemas::api::Role::Clinician;
    let registration = party::registration(
        if clinician {
            PartyKind::Professional
        } else {
            PartyKind::Member
        },
        request.registration,
    )?;
    check_key_proof(state, &jwk, &request.proof, paths::INVITATIONS_REDEEM, now).await?;
    let id = PartyId::random();
    let joiner = Joiner {
        id: &id,
        display_name: &name,
        registration: registration.as_ref(),
        jwk: &jwk,
    };
    if state
        .store
        .redeem_invitation(&hash, joiner, now)
        .await?
        .is_none()
    {
        // Someone else redeemed (or revoked) it between the read and the write.
        let now_seen = state.store.invitation_by_code_hash(&hash).await?;
        let why = now_seen.map_or(Ok(()), |i| i.check_redeemable(now));
        return Err(why.err().unwrap_or(OrganisationRefusal::Used).into());
    }
    state.notifications.written();
    tracing::info!(party = %id, organisation = %invitation.organisation, role = invitation.role.as_str(), "invitation redeemed");
    party_or_404(state, &id).await
}

/// The members of organisation `id`, for the service admin and its members.
pub async fn members(state: &AppState, caller: &Caller, id: &PartyId) -> Result<Vec<Member>> {
    organisation(state, id).await?;
    require_member_or_admin(state, caller, id).await?;
    let members = state.store.members(id).await?;
    Ok(members
        .into_iter()
        .map(|(m, name)| m.to_member(name))
        .collect())
}

/// Removes member `member` from organisation `id`: by its managers, or by the member
/// (leaving). Their access under the organisation's grants ends on their next request, and
/// the invitations they made that are still pending are revoked with the removal.
pub async fn remove_member(
    state: &AppState,
    caller: &Caller,
    id: &PartyId,
    member: &PartyId,
) -> Result<Member> {
    let leaving = caller.party_id == *member && caller.consent.is_none();
    if !leaving {
        require_manager(state, caller, id).await?;
    }
    let now = clock::now();
    let removed = state.store.remove_member(id, member, now).await?;
    let removed = removed.ok_or_else(|| Error::not_found("no such member of this organisation"))?;
    state.notifications.written();
    let name = party_or_404(state, member).await?.display_name;
    tracing::info!(organisation = %id, member = %member, by = %caller.party_id, "member removed");
    Ok(removed.to_member(name))
}

/// Grants to an organisation name only its active members.
pub async fn check_members(
    state: &AppState,
    organisation: &PartyId,
    members: &[PartyId],
) -> Result<()> {
    let now: Timestamp = clock::now();
    for (i, member) in members.iter().enumerate() {
        let active = state
            .store
            .membership(member)
            .await?
            .is_some_and(|m| m.organisation == *organisation && m.active_at(now));
        if !active {
            return Err(Error::invalid_field(
                format!("members[{i}]"),
                "is not an active member of the organisation",
            ));
        }
    }
    Ok(())
}

/// The grants `party` may act under: those to them, and, for an active member, those to their
/// organisation that cover them.
pub async fn grants_for(
    state: &AppState,
    party: &PartyId,
    now: Timestamp,
) -> Result<Vec<GrantRecord>> {
    let mut grants = state.store.grants_to(party).await?;
    if let Some(m) = state
        .store
        .membership(party)
        .await?
        .filter(|m| m.active_at(now))
    {
        let to_organisation = state.store.grants_to(&m.organisation).await?;
        grants.extend(
            to_organisation
                .into_iter()
                .filter(|g| g.covers(party, m.role)),
        );
    }
    Ok(grants)
}
