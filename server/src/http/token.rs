//! `POST /v1/token`: a signed client assertion (RFC 7523) and a DPoP proof in; an access token,
//! or with `grant_id` a consent token, bound to the caller's key out.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use wp_schemas::api::{ASSERTION_TYPE, GRANT_TYPE, LogAction, TokenResponse};
use wp_schemas::problem::ProblemType;

use super::AppState;
use super::extract::{ApiForm, dpop_header};
use crate::clock;
use crate::domain::access::resolve;
use crate::domain::audit::LogEvent;
use crate::domain::auth::{self, ConsentClaim};
use crate::domain::ids::{GrantId, Kid};
use crate::domain::time::Timestamp;
use crate::error::{Error, Result};

#[derive(Deserialize)]
pub struct TokenRequest {
    grant_type: String,
    client_assertion_type: String,
    client_assertion: String,
    /// Ask for a consent token under this grant.
    #[serde(default)]
    grant_id: Option<String>,
}

pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiForm(req): ApiForm<TokenRequest>,
) -> Result<Json<TokenResponse>> {
    let now = clock::now();
    if req.grant_type != GRANT_TYPE {
        return Err(Error::bad_request(format!(
            "grant_type must be {GRANT_TYPE}"
        )));
    }
    if req.client_assertion_type != ASSERTION_TYPE {
        return Err(Error::bad_request(format!(
            "client_assertion_type must be {ASSERTION_TYPE}"
        )));
    }
    let bad_assertion = |why: &str| Error::client(ProblemType::InvalidAssertion, why.to_owned());
    let assertion = auth::parse_assertion(&req.client_assertion)?;
    let kid = assertion
        .header_str("kid")
        .and_then(Kid::parse)
        .ok_or_else(|| bad_assertion("the assertion names no key by its thumbprint"))?;
    let key = state
        .store
        .key(&kid)
        .await?
        .ok_or_else(|| bad_assertion("the assertion's key is not registered"))?;
    let claims = auth::verify_assertion(&assertion, &key, &state.issuer, now)?;
    let proof = auth::verify_dpop(
        dpop_header(&headers)?,
        "POST",
        &auth::token_endpoint(&state.issuer),
        None,
        now,
    )?;
    if proof.jkt != key.kid {
        return Err(Error::client(
            ProblemType::InvalidDpopProof,
            "the DPoP proof must be signed by the key that signed the assertion",
        ));
    }
    if !state
        .store
        .use_jti(
            &format!("assertion:{}:{}", key.kid, claims.jti),
            Timestamp::from_secs(claims.exp),
        )
        .await?
    {
        return Err(Error::client(
            ProblemType::ReplayedAssertion,
            "the assertion was already used",
        ));
    }
    if !state
        .store
        .use_jti(
            &format!("dpop:{}:{}", proof.jkt, proof.jti),
            proof.replay_until,
        )
        .await?
    {
        return Err(Error::client(
            ProblemType::ReplayedDpopProof,
            "the DPoP proof was already used",
        ));
    }

    let Some(grant_id) = req.grant_id else {
        let (token, claims) = auth::issue_token(
            &state.keys,
            &state.issuer,
            &key.party_id,
            key.party_kind,
            &proof.jkt,
            None,
            now,
        );
        return Ok(Json(TokenResponse {
            access_token: token,
            token_type: "DPoP".into(),
            expires_in: claims.exp - now.secs(),
            grant_id: None,
            passport_id: None,
            scopes: None,
        }));
    };

    // A consent token: only the grant's grantee, only while the grant is active.
    // A grant id that is not a canonical UUID names no grant: the same answer as an unknown one.
    let grant = match GrantId::parse(&grant_id) {
        Some(grant_id) => state.store.grant(&grant_id).await?,
        None => None,
    }
    .ok_or_else(|| Error::forbidden("no such grant for this party"))?;
    let consent = ConsentClaim {
        grant_id: grant.id.clone(),
        passport_id: grant.passport_id.clone(),
        scopes: grant.scopes.clone(),
    };
    let sections: Vec<_> = grant.scopes.iter().map(|s| s.section).collect();
    // The grantor is passed as the owner: a consent names the grantee, so only the grant can
    // give access here.
    if let Err(denial) = resolve(
        &key.party_id,
        Some(&consent),
        &grant.passport_id,
        &grant.grantor,
        Some(&grant),
        now,
    ) {
        let event = LogEvent::denied(
            &key.party_id,
            Some(&grant.id),
            LogAction::TokenIssued,
            sections,
            denial.to_string(),
        );
        state.writer.log(&grant.passport_id, event, now).await?;
        return Err(denial.into());
    }
    let (token, claims) = auth::issue_token(
        &state.keys,
        &state.issuer,
        &key.party_id,
        key.party_kind,
        &proof.jkt,
        Some((&consent, grant.ends_at)),
        now,
    );
    let event = LogEvent::allowed(
        &key.party_id,
        Some(&grant.id),
        LogAction::TokenIssued,
        sections,
        "consent token issued under an active grant",
    );
    state.writer.log(&grant.passport_id, event, now).await?;
    Ok(Json(TokenResponse {
        access_token: token,
        token_type: "DPoP".into(),
        expires_in: claims.exp - now.secs(),
        grant_id: Some(grant.id.into()),
        passport_id: Some(grant.passport_id.into()),
        scopes: Some(grant.scopes),
    }))
}
