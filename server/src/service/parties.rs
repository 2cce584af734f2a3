//! Parties and their keys, without the HTTP: an employee registers with a key they prove they
//! hold, an admin enrols the other kinds, and a party adds and revokes its own keys.

use wp_schemas::api::{AddKey, EnrolParty, JoinAsAdmin, Me, Party, PartyKind, RegisterEmployee};
use wp_schemas::jose::PublicJwk;
use wp_schemas::paths;
use wp_schemas::problem::ProblemType;

use super::store::KeyRevocation;
use super::{AppState, Caller};
use crate::clock;
use crate::domain::ids::{Kid, PartyId};
use crate::domain::notification::{Facts, Notice};
use crate::domain::organisation::OrganisationRefusal;
use crate::domain::time::Timestamp;
use crate::domain::{auth, party};
use crate::error::{Error, Result};
use wp_schemas::api::NotificationKind;

/// An employee registers with a key they prove they hold.
pub async fn register(state: &AppState, request: RegisterEmployee) -> Result<Party> {
    let now = clock::now();
    let name = party::display_name(&request.display_name)?;
    let jwk = party::public_key(&request.jwk)?;
    check_key_proof(state, &jwk, &request.proof, paths::PARTIES, now).await?;
    let id = PartyId::random();
    state
        .store
        .create_party(&id, PartyKind::Employee, &name, None, &jwk, now)
        .await?;
    tracing::info!(party = %id, "employee registered");
    party_or_404(state, &id).await
}

/// Whoever holds the operator's one-time admin invitation (`work-passport-server admin-link`)
/// becomes an admin with a key they prove they hold; the invitation works once.
pub async fn join_as_admin(state: &AppState, request: JoinAsAdmin) -> Result<Party> {
    let now = clock::now();
    let invitation =
        auth::verify_admin_invitation(&request.invitation, &state.keys, &state.issuer, now)?;
    let name = party::display_name(&request.display_name)?;
    let jwk = party::public_key(&request.jwk)?;
    check_key_proof(state, &jwk, &request.proof, paths::ADMIN_JOIN, now).await?;
    let once = format!("admin-invitation:{}", invitation.jti);
    if !state
        .store
        .use_jti(&once, Timestamp::from_secs(invitation.exp))
        .await?
    {
        return Err(OrganisationRefusal::Used.into());
    }
    let id = PartyId::random();
    state
        .store
        .create_party(&id, PartyKind::Admin, &name, None, &jwk, now)
        .await?;
    tracing::info!(party = %id, "admin joined with the operator's invitation");
    party_or_404(state, &id).await
}

/// An admin enrols an employer, a professional or an admin.
pub async fn enrol(state: &AppState, caller: &Caller, request: EnrolParty) -> Result<Party> {
    caller.require_kind(PartyKind::Admin, "only an admin enrols parties")?;
    if !wp_schemas::api::ENROLLED_KINDS.contains(&request.kind) {
        return Err(Error::invalid_field(
            "kind",
            "an admin enrols an employer, a professional or an admin; employees register, \
             practices are organisations (POST /v1/admin/organisations) and members join by \
             invitation",
        ));
    }
    let now = clock::now();
    let name = party::display_name(&request.display_name)?;
    let jwk = party::public_key(&request.jwk)?;
    let registration = party::registration(request.kind, request.registration)?;
    let id = PartyId::random();
    state
        .store
        .create_party(&id, request.kind, &name, registration.as_ref(), &jwk, now)
        .await?;
    tracing::info!(party = %id, kind = request.kind.as_str(), by = %caller.party_id, "party enrolled");
    party_or_404(state, &id).await
}

/// A party adds a key (rotation), proving it holds it.
pub async fn add_key(
    state: &AppState,
    caller: &Caller,
    party_id: &PartyId,
    request: AddKey,
) -> Result<Party> {
    require_self(caller, party_id)?;
    let now = clock::now();
    let jwk = party::public_key(&request.jwk)?;
    let path = paths::party_keys(party_id);
    check_key_proof(state, &jwk, &request.proof, &path, now).await?;
    let alert = Notice::new(party_id, NotificationKind::KeyAdded, Facts::default());
    state.store.add_key(party_id, &jwk, &[alert], now).await?;
    state.notifications.written();
    party_or_404(state, party_id).await
}

/// A party revokes one of its keys; tokens bound to it stop working at once. The last active
/// key stays, so that a party cannot lock itself out.
pub async fn revoke_key(
    state: &AppState,
    caller: &Caller,
    party_id: &PartyId,
    kid: &Kid,
) -> Result<Party> {
    require_self(caller, party_id)?;
    let alert = Notice::new(party_id, NotificationKind::KeyRevoked, Facts::default());
    match state
        .store
        .revoke_key(party_id, kid, &[alert], clock::now())
        .await?
    {
        KeyRevocation::Revoked => {
            state.notifications.written();
            party_or_404(state, party_id).await
        }
        KeyRevocation::NotFound => Err(Error::not_found("no such active key")),
        KeyRevocation::LastActiveKey => Err(Error::client(
            ProblemType::Conflict,
            "this is the last active key: add another before revoking it",
        )),
    }
}

/// A party's public facts (kind, name, registration, keys), which anyone authenticated needs
/// to check who signed a record.
/// The caller's party and the id of their passport, if they have one.
pub async fn me(state: &AppState, caller: &Caller) -> Result<Me> {
    let party = party_or_404(state, &caller.party_id).await?;
    let passport_id = state.store.passport_of_owner(&caller.party_id).await?;
    Ok(Me {
        party,
        passport_id: passport_id.map(String::from),
    })
}

pub async fn party_or_404(state: &AppState, id: &PartyId) -> Result<Party> {
    state
        .store
        .party(id)
        .await?
        .ok_or_else(|| Error::not_found("no such party"))
}

fn require_self(caller: &Caller, party_id: &PartyId) -> Result<()> {
    if caller.party_id != *party_id || caller.consent.is_some() {
        return Err(Error::forbidden("a party manages only its own keys"));
    }
    Ok(())
}

/// Checks a proof of possession of `jwk` sent to `path`, once only.
pub(super) async fn check_key_proof(
    state: &AppState,
    jwk: &PublicJwk,
    proof: &str,
    path: &str,
    now: Timestamp,
) -> Result<()> {
    let audience = format!("{}{path}", state.issuer);
    let claims = party::verify_key_proof(jwk, proof, &audience, now)?;
    let jti = format!("proof:{}:{}", jwk.thumbprint(), claims.jti);
    if !state
        .store
        .use_jti(&jti, Timestamp::from_secs(claims.exp))
        .await?
    {
        return Err(Error::client(
            ProblemType::InvalidKeyProof,
            "the proof was already used",
        ));
    }
    Ok(())
}
