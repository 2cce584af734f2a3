//! `POST /v1/token` without the HTTP: a signed client assertion (RFC 7523) and a DPoP proof
//! (RFC 9449) in; an access token, or under a grant a consent token, bound to the caller's key
//! out. A consent token is issued only to the grant's grantee while the grant is active, and
//! every issue or refusal of one is in the passport's access log.

use wp_schemas::api::{LogAction, TokenResponse};
use wp_schemas::problem::ProblemType;

use super::AppState;
use crate::clock;
use crate::domain::access::resolve;
use crate::domain::audit::LogEvent;
use crate::domain::auth::{self, ConsentClaim, DpopProof};
use crate::domain::ids::{GrantId, Kid};
use crate::domain::organisation::MembershipRecord;
use crate::domain::party::RegisteredKey;
use crate::domain::time::Timestamp;
use crate::error::{Error, Result};

/// A token request, its form already checked for `grant_type` and `client_assertion_type`.
pub struct TokenRequest<'a> {
    pub assertion: &'a str,
    /// The request's one DPoP proof.
    pub dpop: &'a str,
    /// Ask for a consent token under this grant.
    pub grant_id: Option<&'a str>,
}

/// The client, authenticated by its assertion and the DPoP proof of the same key.
struct Client {
    key: RegisteredKey,
    proof: DpopProof,
}

pub async fn issue(state: &AppState, request: TokenRequest<'_>) -> Result<TokenResponse> {
    let now = clock::now();
    let client = authenticate(state, &request, now).await?;
    match request.grant_id {
        None => Ok(access_token(state, &client, None, now)),
        Some(grant_id) => consent_token(state, &client, grant_id, now).await,
    }
}

/// Checks the assertion and the proof, and admits both once.
async fn authenticate(
    state: &AppState,
    request: &TokenRequest<'_>,
    now: Timestamp,
) -> Result<Client> {
    let bad_assertion = |why: &str| Error::client(ProblemType::InvalidAssertion, why.to_owned());
    let assertion = auth::parse_assertion(request.assertion)?;
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
    let endpoint = auth::token_endpoint(&state.issuer);
    let proof = auth::verify_dpop(request.dpop, "POST", &endpoint, None, now)?;
    if proof.jkt != key.kid {
        return Err(Error::client(
            ProblemType::InvalidDpopProof,
            "the DPoP proof must be signed by the key that signed the assertion",
        ));
    }
    let assertion_jti = format!("assertion:{}:{}", key.kid, claims.jti);
    if !state
        .store
        .use_jti(&assertion_jti, Timestamp::from_secs(claims.exp))
        .await?
    {
        return Err(Error::client(
            ProblemType::ReplayedAssertion,
            "the assertion was already used",
        ));
    }
    let proof_jti = format!("dpop:{}:{}", proof.jkt, proof.jti);
    if !state.store.use_jti(&proof_jti, proof.replay_until).await? {
        return Err(Error::client(
            ProblemType::ReplayedDpopProof,
            "the DPoP proof was already used",
        ));
    }
    Ok(Client { key, proof })
}

/// An access token for the client, or with `consent` a consent token that ends with its grant.
fn access_token(
    state: &AppState,
    client: &Client,
    consent: Option<(&ConsentClaim, Timestamp)>,
    now: Timestamp,
) -> TokenResponse {
    let (token, claims) = auth::issue_token(
        &state.keys,
        &state.issuer,
        &client.key.party_id,
        client.key.party_kind,
        &client.proof.jkt,
        consent,
        now,
    );
    TokenResponse {
        access_token: token,
        token_type: "DPoP".into(),
        expires_in: claims.exp - now.secs(),
        grant_id: consent.map(|(c, _)| c.grant_id.to_string()),
        passport_id: consent.map(|(c, _)| c.passport_id.to_string()),
        scopes: consent.map(|(c, _)| c.scopes.clone()),
        on_behalf_of: consent.and_then(|(c, _)| c.on_behalf_of_wire()),
    }
}

/// A consent token under grant `grant_id`: only for its grantee, only while it is active.
async fn consent_token(
    state: &AppState,
    client: &Client,
    grant_id: &str,
    now: Timestamp,
) -> Result<TokenResponse> {
    // A grant id that is not a canonical UUID names no grant: the same answer as an unknown one.
    let grant = match GrantId::parse(grant_id) {
        Some(grant_id) => state.store.grant(&grant_id).await?,
        None => None,
    }
    .ok_or_else(|| Error::forbidden("no such grant for this party"))?;
    let party = &client.key.party_id;
    // A member of the grantee organisation acts for it under the grant, if it covers them.
    let membership = match grant.grantee == *party {
        true => None,
        false => state.store.membership(party).await?,
    };
    let on_behalf_of = membership
        .as_ref()
        .filter(|m| m.organisation == grant.grantee)
        .map(MembershipRecord::acting_as);
    let consent = ConsentClaim {
        grant_id: grant.id.clone(),
        passport_id: grant.passport_id.clone(),
        scopes: grant.scopes.clone(),
        on_behalf_of: on_behalf_of.clone(),
    };
    let sections: Vec<_> = grant.scopes.iter().map(|s| s.section).collect();
    // With a consent, `resolve` decides by the grant alone; the grantor stands in as owner.
    let decision = resolve(
        party,
        Some(&consent),
        &grant.passport_id,
        &grant.grantor,
        Some(&grant),
        membership.as_ref(),
        now,
    );
    let (event, answer) = match decision {
        Ok(_) => (
            LogEvent::allowed(
                party,
                Some(&grant.id),
                LogAction::TokenIssued,
                sections,
                "consent token issued under an active grant",
            ),
            Ok(access_token(
                state,
                client,
                Some((&consent, grant.ends_at)),
                now,
            )),
        ),
        Err(denial) => (
            LogEvent::denied(
                party,
                Some(&grant.id),
                LogAction::TokenIssued,
                sections,
                denial.to_string(),
            ),
            Err(denial.into()),
        ),
    };
    let event = event.acting_for(on_behalf_of);
    state
        .writer
        .log(&grant.passport_id, event, now, Vec::new())
        .await?;
    answer
}
