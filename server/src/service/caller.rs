//! Who is asking: a request's access token and DPoP proof, checked (RFC 9068, RFC 9449) into
//! the authenticated [`Caller`], without the HTTP.

use wp_schemas::api::PartyKind;
use wp_schemas::problem::ProblemType;

use super::AppState;
use super::store::Admission;
use crate::clock;
use crate::domain::auth::{self, ConsentClaim};
use crate::domain::ids::{Kid, PartyId};
use crate::error::{Error, Result};

/// The authenticated caller: a valid access token, sent with the DPoP scheme, with a fresh,
/// unreplayed DPoP proof for this request by the key the token is bound to, whose key is still
/// registered and not revoked.
#[derive(Debug, Clone)]
pub struct Caller {
    pub party_id: PartyId,
    pub kind: PartyKind,
    pub jkt: Kid,
    /// Present when the token is a consent token.
    pub consent: Option<ConsentClaim>,
}

/// What a request presents to be authenticated.
pub struct Credentials<'a> {
    /// The one `Authorization` header: `DPoP <token>`.
    pub authorization: &'a str,
    /// The one `DPoP` proof header, or why there is not exactly one (told after the token is
    /// checked: a bad token is the first thing a client hears about).
    pub dpop: Result<&'a str>,
    pub method: &'a str,
    /// The request's path, which with the issuer makes the URL the proof must name.
    pub path: &'a str,
}

fn invalid_token(why: &str) -> Error {
    Error::client(ProblemType::InvalidToken, why.to_owned())
}

/// A caller whose token and proof verify, with the proof not yet admitted. A read admits it
/// in the transaction that writes the read's access-log entry
/// ([`super::AuthorizedRead::authorize`]): one commit for both, and never an
/// entry for a replayed proof.
#[derive(Debug, Clone)]
pub struct PendingCaller {
    pub caller: Caller,
    pub proof: Admission,
}

impl Caller {
    /// The kind of party the caller acts as: its own, under its own access token; none under a
    /// consent token, which acts for its grant only (to read or write the passport), whoever
    /// holds it. The one place a caller's kind is decided.
    pub fn acting_kind(&self) -> Option<PartyKind> {
        match self.consent {
            Some(_) => None,
            None => Some(self.kind),
        }
    }

    /// Whether the caller acts as a party of `kind`.
    pub fn acts_as(&self, kind: PartyKind) -> bool {
        self.acting_kind() == Some(kind)
    }

    /// The caller must act as a party of `kind`; otherwise refused (403) with `refusal`, which
    /// says who may.
    pub fn require_kind(&self, kind: PartyKind, refusal: &'static str) -> Result<()> {
        if self.acts_as(kind) {
            Ok(())
        } else {
            Err(Error::forbidden(refusal))
        }
    }

    /// Verifies the credentials and admits the proof (once, across instances).
    pub async fn authenticate(state: &AppState, credentials: Credentials<'_>) -> Result<Caller> {
        let pending = Caller::verify(state, credentials)?;
        state.admit_proof(&pending.proof).await?;
        Ok(pending.caller)
    }

    /// The checks that need no database: the token (RFC 9068) and the proof (RFC 9449), bound
    /// to each other. The proof is still to be admitted.
    pub fn verify(state: &AppState, credentials: Credentials<'_>) -> Result<PendingCaller> {
        let now = clock::now();
        let token = dpop_token(credentials.authorization)?;
        let claims = state.verify_token(token, now)?;
        let htu = format!("{}{}", state.issuer, credentials.path);
        let dpop = credentials.dpop?;
        let proof = auth::verify_dpop(dpop, credentials.method, &htu, Some(token), now)?;
        if proof.jkt != claims.cnf.jkt {
            return Err(Error::client(
                ProblemType::InvalidDpopProof,
                "the proof is not signed by the key the token is bound to",
            ));
        }
        let party_id = auth::subject_of(&claims)?;
        let admission = Admission {
            jti: format!("dpop:{}:{}", proof.jkt, proof.jti),
            expires_at: proof.replay_until,
            kid: proof.jkt.clone(),
            party_id: party_id.clone(),
        };
        Ok(PendingCaller {
            caller: Caller {
                consent: auth::consent_of(&claims)?,
                party_id,
                kind: claims.party_kind,
                jkt: proof.jkt,
            },
            proof: admission,
        })
    }
}

/// The token of an `Authorization: DPoP <token>` header; a bearer token is refused, because
/// every token is bound to a key.
fn dpop_token(authorization: &str) -> Result<&str> {
    match authorization.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("dpop") => Ok(token.trim()),
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("bearer") => Err(invalid_token(
            "tokens are DPoP-bound: use the DPoP scheme with a DPoP proof",
        )),
        _ => Err(invalid_token("unsupported authorization scheme")),
    }
}
