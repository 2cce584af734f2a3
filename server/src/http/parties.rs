//! Parties: employee self-registration, admin enrolment, keys.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use wp_schemas::api::{AddKey, EnrolParty, Me, Party, PartyKind, RegisterEmployee};
use wp_schemas::jose::PublicJwk;
use wp_schemas::problem::ProblemType;

use super::AppState;
use super::extract::{ApiJson, ApiPath, Caller};
use crate::clock;
use crate::domain::ids::{Kid, PartyId};
use crate::domain::party;
use crate::domain::time::Timestamp;
use crate::error::{Error, Result};
use crate::store::KeyRevocation;

impl AppState {
    /// Checks a proof of possession of `jwk` sent to `path`, once only.
    async fn check_key_proof(
        &self,
        jwk: &PublicJwk,
        proof: &str,
        path: &str,
        now: Timestamp,
    ) -> Result<()> {
        let claims = party::verify_key_proof(jwk, proof, &format!("{}{path}", self.issuer), now)?;
        let jti = format!("proof:{}:{}", jwk.thumbprint(), claims.jti);
        let until = Timestamp::from_secs(claims.exp);
        if !self.store.use_jti(&jti, until).await? {
            return Err(Error::client(
                ProblemType::InvalidKeyProof,
                "the proof was already used",
            ));
        }
        Ok(())
    }

    async fn party_or_404(&self, id: &PartyId) -> Result<Party> {
        self.store
            .party(id)
            .await?
            .ok_or_else(|| Error::not_found("no such party"))
    }
}

/// `POST /v1/parties`: an employee registers with a key they prove they hold.
pub async fn register(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RegisterEmployee>,
) -> Result<(StatusCode, Json<Party>)> {
    let now = clock::now();
    let name = party::display_name(&req.display_name)?;
    let jwk = party::public_key(&req.jwk)?;
    state
        .check_key_proof(&jwk, &req.proof, "/v1/parties", now)
        .await?;
    let id = PartyId::random();
    state
        .store
        .create_party(&id, PartyKind::Employee, &name, None, &jwk, now)
        .await?;
    tracing::info!(party = %id, "employee registered");
    Ok((StatusCode::CREATED, Json(state.party_or_404(&id).await?)))
}

/// `POST /v1/admin/parties`: an admin enrols an employer, a professional or an admin.
pub async fn enrol(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<EnrolParty>,
) -> Result<(StatusCode, Json<Party>)> {
    if caller.kind != PartyKind::Admin || caller.consent.is_some() {
        return Err(Error::forbidden("only an admin enrols parties"));
    }
    let now = clock::now();
    let name = party::display_name(&req.display_name)?;
    let jwk = party::public_key(&req.jwk)?;
    let registration = party::registration(req.kind, req.registration)?;
    let id = PartyId::random();
    state
        .store
        .create_party(&id, req.kind, &name, registration.as_ref(), &jwk, now)
        .await?;
    tracing::info!(party = %id, kind = req.kind.as_str(), by = %caller.party_id, "party enrolled");
    Ok((StatusCode::CREATED, Json(state.party_or_404(&id).await?)))
}

/// `GET /v1/me`: the caller's party and passport.
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>> {
    let party = state.party_or_404(&caller.party_id).await?;
    let passport_id = state.store.passport_of_owner(&caller.party_id).await?;
    Ok(Json(Me {
        party,
        passport_id: passport_id.map(String::from),
    }))
}

/// `GET /v1/parties/{id}`: public facts about a party (kind, name, registration, keys), which any
/// authenticated party needs to check who signed a record.
pub async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(party_id): ApiPath<PartyId>,
) -> Result<Json<Party>> {
    Ok(Json(state.party_or_404(&party_id).await?))
}

fn require_self(caller: &Caller, party_id: &PartyId) -> Result<()> {
    if caller.party_id != *party_id || caller.consent.is_some() {
        return Err(Error::forbidden("a party manages only its own keys"));
    }
    Ok(())
}

/// `POST /v1/parties/{id}/keys`: add a key (rotation).
pub async fn add_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(party_id): ApiPath<PartyId>,
    ApiJson(req): ApiJson<AddKey>,
) -> Result<(StatusCode, Json<Party>)> {
    require_self(&caller, &party_id)?;
    let now = clock::now();
    let jwk = party::public_key(&req.jwk)?;
    state
        .check_key_proof(
            &jwk,
            &req.proof,
            &format!("/v1/parties/{party_id}/keys"),
            now,
        )
        .await?;
    state.store.add_key(&party_id, &jwk, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(state.party_or_404(&party_id).await?),
    ))
}

/// `POST /v1/parties/{id}/keys/{kid}/revoke`: tokens bound to the key stop working at once.
pub async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((party_id, kid)): ApiPath<(PartyId, Kid)>,
) -> Result<Json<Party>> {
    require_self(&caller, &party_id)?;
    match state
        .store
        .revoke_key(&party_id, &kid, clock::now())
        .await?
    {
        KeyRevocation::Revoked => Ok(Json(state.party_or_404(&party_id).await?)),
        KeyRevocation::NotFound => Err(Error::not_found("no such active key")),
        KeyRevocation::LastActiveKey => Err(Error::client(
            ProblemType::Conflict,
            "this is the last active key: add another before revoking it",
        )),
    }
}
