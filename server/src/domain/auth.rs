//! Credentials: client assertions (RFC 7523), access and consent tokens (RFC 9068) and their
//! DPoP binding (RFC 9449). Verification uses ring; tokens are signed with josekit.

use wp_schemas::api::{
    ACCESS_TOKEN_JWS, ADMIN_INVITATION_JWS, ADMIN_INVITATION_TYP, ASSERTION_JWS, AccessTokenClaims,
    AdminInvitationClaims, AssertionClaims, AuthorizationDetail, Confirmation, DPOP_JWS,
    DpopClaims, OnBehalfOf, PartyKind, Role, Scope,
};
pub use wp_schemas::api::{AT_TYP, DPOP_TYP};
use wp_schemas::jose::{CompactJws, KeyRef, PublicJwk, SigningKey, sha256_b64};

use super::ids::{GrantId, Kid, PartyId, PassportId};
use super::organisation::OrganisationRefusal;
use super::party::{CLOCK_SKEW_SECS, RegisteredKey, check_lifetime};
use super::time::Timestamp;

/// Access and consent tokens live at most this long (PRODUCT.md: at most 15 minutes).
pub const TOKEN_TTL_SECS: i64 = 15 * 60;
/// A DPoP proof is accepted this long after (and `CLOCK_SKEW_SECS` before) its `iat`; its `jti`
/// is remembered for as long.
pub const DPOP_MAX_AGE_SECS: i64 = 120;
pub const AUTHORIZATION_DETAIL_TYPE: &str = "work_passport";

/// Why a credential is refused, by the kind of credential (`http/error.rs` makes each a 401
/// problem of its own type).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialRefusal {
    /// A client assertion (RFC 7523).
    #[error("{0}")]
    Assertion(String),
    /// A DPoP proof (RFC 9449).
    #[error("{0}")]
    DpopProof(String),
    /// An access or consent token (RFC 9068).
    #[error("{0}")]
    Token(String),
}

type Result<T, E = CredentialRefusal> = std::result::Result<T, E>;

/// The server's signing keys as the token rules see them: the key that signs, and the keys
/// whose signatures still count. `keys::ServerKeys` is the one implementation: this module
/// does not depend on how keys are kept.
pub trait TokenKeys {
    fn signing_key(&self) -> &SigningKey;
    /// The raw Ed25519 public key `kid`, if its signatures are still accepted at `now`.
    fn verifying_key(&self, kid: &str, now: Timestamp) -> Option<[u8; 32]>;
}

/// The audience values an assertion may name: the issuer or its token endpoint (RFC 7523 3.3).
pub fn token_endpoint(issuer: &str) -> String {
    format!("{issuer}{}", wp_schemas::paths::TOKEN)
}

/// Parses a client assertion far enough to find its key: its header must be `{alg, kid, typ?}`
/// (see [`ASSERTION_JWS`]).
pub fn parse_assertion(assertion: &str) -> Result<CompactJws<'_>> {
    CompactJws::parse_as(assertion, &ASSERTION_JWS)
        .map_err(|e| CredentialRefusal::Assertion(e.to_string()))
}

/// Checks a client assertion signed by `key`. The caller has already looked `key` up by the
/// assertion's `kid`; the replay check on `jti` follows in the store.
pub fn verify_assertion(
    jws: &CompactJws<'_>,
    key: &RegisteredKey,
    issuer: &str,
    now: Timestamp,
) -> Result<AssertionClaims> {
    let bad = |why: &str| CredentialRefusal::Assertion(why.to_owned());
    if !key.active_at(now) {
        return Err(bad("the assertion's key is revoked"));
    }
    jws.verify(&key.jwk)
        .map_err(|_| bad("the assertion signature does not verify"))?;
    let claims: AssertionClaims = jws.claims().map_err(|e| bad(&e.to_string()))?;
    if claims.iss != key.party_id || claims.sub != key.party_id {
        return Err(bad("iss and sub must be the party that holds the key"));
    }
    if claims.aud != issuer && claims.aud != token_endpoint(issuer) {
        return Err(bad("the assertion is for another audience"));
    }
    check_lifetime(claims.iat, claims.exp, now)
        .map_err(|why| bad(&format!("the assertion is {why}")))?;
    if !super::ids::is_jti(&claims.jti) {
        return Err(bad(
            "the assertion needs a jti of 1 to 200 visible ASCII characters",
        ));
    }
    Ok(claims)
}

/// A verified DPoP proof.
#[derive(Debug, Clone)]
pub struct DpopProof {
    /// Thumbprint of the proof's key.
    pub jkt: Kid,
    pub jti: String,
    /// Until when the `jti` must be remembered.
    pub replay_until: Timestamp,
}

/// Checks a DPoP proof for a request (RFC 9449 section 4.3): well formed, signed by the key it
/// carries, for this method and URL, fresh, and (with a token) bound to that token by `ath`.
pub fn verify_dpop(
    proof: &str,
    method: &str,
    url: &str,
    access_token: Option<&str>,
    now: Timestamp,
) -> Result<DpopProof> {
    let bad = |why: &str| CredentialRefusal::DpopProof(why.to_owned());
    // The header is `{alg, typ: dpop+jwt, jwk}` and `jwk` holds no `d` (see [`DPOP_JWS`]).
    let jws = CompactJws::parse_as(proof, &DPOP_JWS).map_err(|e| bad(&e.to_string()))?;
    let jwk: PublicJwk = jws
        .header
        .get("jwk")
        .and_then(|jwk| serde_json::from_value(jwk.clone()).ok())
        .ok_or_else(|| bad("the proof's jwk is not an Ed25519 key"))?;
    // A small-order key or a kid that is not its thumbprint is refused here, before ring.
    jwk.key_bytes().map_err(|e| bad(&e.to_string()))?;
    jws.verify(&jwk)
        .map_err(|_| bad("the proof signature does not verify"))?;
    let claims: DpopClaims = jws.claims().map_err(|e| bad(&e.to_string()))?;
    if claims.htm != method {
        return Err(bad("the proof is for another HTTP method"));
    }
    if claims.htu != url {
        return Err(bad("the proof is for another URL"));
    }
    let iat = Timestamp::from_secs(claims.iat);
    if iat > now + CLOCK_SKEW_SECS || iat < now - DPOP_MAX_AGE_SECS {
        return Err(bad("the proof is not fresh"));
    }
    if !super::ids::is_jti(&claims.jti) {
        return Err(bad(
            "the proof needs a jti of 1 to 200 visible ASCII characters",
        ));
    }
    match (access_token, claims.ath.as_deref()) {
        (Some(token), Some(ath)) if ath == sha256_b64(token.as_bytes()) => {}
        (Some(_), _) => return Err(bad("ath does not match the access token")),
        (None, _) => {}
    }
    let jkt = Kid::try_from(jwk.thumbprint()).map_err(|e| bad(&e.to_string()))?;
    Ok(DpopProof {
        jkt,
        jti: claims.jti,
        replay_until: iat + DPOP_MAX_AGE_SECS + CLOCK_SKEW_SECS,
    })
}

/// What a consent token carries: the grant it was issued under and the grant's scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentClaim {
    pub grant_id: GrantId,
    pub passport_id: PassportId,
    pub scopes: Vec<Scope>,
    /// For a member under a grant to their organisation: the organisation and their role.
    pub on_behalf_of: Option<(PartyId, Role)>,
}

impl ConsentClaim {
    /// `on_behalf_of` as tokens and token responses carry it.
    pub fn on_behalf_of_wire(&self) -> Option<OnBehalfOf> {
        self.on_behalf_of
            .as_ref()
            .map(|(organisation, role)| OnBehalfOf {
                organisation: organisation.to_string(),
                role: *role,
            })
    }
}

/// Issues an access token for `party`, bound to `jkt`; with `consent`, a consent token that
/// expires at `not_after` at the latest (the grant's end).
pub fn issue_token(
    keys: &impl TokenKeys,
    issuer: &str,
    party_id: &PartyId,
    party_kind: PartyKind,
    jkt: &Kid,
    consent: Option<(&ConsentClaim, Timestamp)>,
    now: Timestamp,
) -> (String, AccessTokenClaims) {
    let exp = match consent {
        Some((_, not_after)) => (now + TOKEN_TTL_SECS).min(not_after),
        None => now + TOKEN_TTL_SECS,
    };
    let claims = AccessTokenClaims {
        iss: issuer.to_owned(),
        sub: party_id.to_string(),
        aud: issuer.to_owned(),
        client_id: party_id.to_string(),
        iat: now.secs(),
        exp: exp.secs(),
        jti: uuid::Uuid::new_v4().to_string(),
        cnf: Confirmation {
            jkt: jkt.to_string(),
        },
        party_kind,
        authorization_details: consent.map(|(c, _)| {
            vec![AuthorizationDetail {
                kind: AUTHORIZATION_DETAIL_TYPE.into(),
                grant_id: c.grant_id.to_string(),
                passport_id: c.passport_id.to_string(),
                scopes: c.scopes.clone(),
                on_behalf_of: c.on_behalf_of_wire(),
            }]
        }),
    };
    let token = keys.signing_key().sign_json(AT_TYP, KeyRef::Kid, &claims);
    (token, claims)
}

/// Verifies an access token's signature and claims (RFC 9068 section 4). josekit's validator
/// would accept a token without `exp` or `aud`; we require both.
pub fn verify_token(
    token: &str,
    keys: &impl TokenKeys,
    issuer: &str,
    now: Timestamp,
) -> Result<AccessTokenClaims> {
    let bad = |why: &str| CredentialRefusal::Token(why.to_owned());
    let jws = CompactJws::parse_as(token, &ACCESS_TOKEN_JWS).map_err(|e| match e {
        wp_schemas::jose::JoseError::Type(_) => bad("the token is not an access token"),
        _ => bad("the access token is malformed"),
    })?;
    let kid = jws
        .header_str("kid")
        .ok_or_else(|| bad("the token names no key"))?;
    let key = keys
        .verifying_key(kid, now)
        .ok_or_else(|| bad("the token is signed by an unknown key"))?;
    jws.verify_raw(&key)
        .map_err(|_| bad("the token signature does not verify"))?;
    let claims: AccessTokenClaims = jws
        .claims()
        .map_err(|_| bad("the token claims are malformed"))?;
    if claims.iss != issuer || claims.aud != issuer {
        return Err(bad("the token is for another issuer or audience"));
    }
    if claims.exp <= now.secs() {
        return Err(bad("the token has expired"));
    }
    if claims.iat > now.secs() + CLOCK_SKEW_SECS || claims.exp - claims.iat > TOKEN_TTL_SECS {
        return Err(bad("the token's lifetime is not acceptable"));
    }
    Ok(claims)
}

/// The party a verified token speaks for.
pub fn subject_of(claims: &AccessTokenClaims) -> Result<PartyId> {
    PartyId::parse(&claims.sub).ok_or_else(|| CredentialRefusal::Token("bad sub".into()))
}

/// The consent a verified token carries, if it is a consent token.
pub fn consent_of(claims: &AccessTokenClaims) -> Result<Option<ConsentClaim>> {
    let Some(detail) = claims
        .authorization_details
        .iter()
        .flatten()
        .find(|d| d.kind == AUTHORIZATION_DETAIL_TYPE)
    else {
        return Ok(None);
    };
    let bad = || CredentialRefusal::Token("bad authorization_details".into());
    Ok(Some(ConsentClaim {
        grant_id: GrantId::parse(&detail.grant_id).ok_or_else(bad)?,
        passport_id: PassportId::parse(&detail.passport_id).ok_or_else(bad)?,
        scopes: detail.scopes.clone(),
        on_behalf_of: match &detail.on_behalf_of {
            Some(o) => Some((PartyId::parse(&o.organisation).ok_or_else(bad)?, o.role)),
            None => None,
        },
    }))
}

/// An admin invitation lives at most this long.
pub const ADMIN_INVITATION_MAX_HOURS: i64 = 72;

/// The operator's one-time admin invitation: a JWT signed by the server, for `issuer`, valid
/// for `hours` (1 to [`ADMIN_INVITATION_MAX_HOURS`]). Whoever redeems it first becomes an admin;
/// its `jti` is admitted once, like a proof's.
pub fn issue_admin_invitation(
    keys: &impl TokenKeys,
    issuer: &str,
    hours: i64,
    now: Timestamp,
) -> (String, AdminInvitationClaims) {
    let claims = AdminInvitationClaims {
        iss: issuer.to_owned(),
        aud: issuer.to_owned(),
        iat: now.secs(),
        exp: now.secs() + hours.clamp(1, ADMIN_INVITATION_MAX_HOURS) * 3600,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let token = keys
        .signing_key()
        .sign_json(ADMIN_INVITATION_TYP, KeyRef::Kid, &claims);
    (token, claims)
}

/// Checks an admin invitation's signature, issuer and expiry (not whether it was used: the
/// caller admits its `jti` once). Anything but a genuine invitation of this server is
/// [`OrganisationRefusal::UnknownCode`], as for an invitation code.
pub fn verify_admin_invitation(
    token: &str,
    keys: &impl TokenKeys,
    issuer: &str,
    now: Timestamp,
) -> Result<AdminInvitationClaims, OrganisationRefusal> {
    let unknown = || OrganisationRefusal::UnknownCode;
    let jws = CompactJws::parse_as(token, &ADMIN_INVITATION_JWS).map_err(|_| unknown())?;
    let key = jws
        .header_str("kid")
        .and_then(|kid| keys.verifying_key(kid, now))
        .ok_or_else(unknown)?;
    jws.verify_raw(&key).map_err(|_| unknown())?;
    let claims: AdminInvitationClaims = jws.claims().map_err(|_| unknown())?;
    if claims.iss != issuer || claims.aud != issuer {
        return Err(unknown());
    }
    if claims.exp <= now.secs() {
        return Err(OrganisationRefusal::Expired);
    }
    if claims.iat > now.secs() + CLOCK_SKEW_SECS
        || claims.exp - claims.iat > ADMIN_INVITATION_MAX_HOURS * 3600
    {
        return Err(unknown());
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One key that signs and verifies: what the rules need of the server's keys.
    struct ServerKeys(SigningKey);

    impl ServerKeys {
        fn for_tests() -> Self {
            ServerKeys(SigningKey::generate())
        }
    }

    impl TokenKeys for ServerKeys {
        fn signing_key(&self) -> &SigningKey {
            &self.0
        }

        fn verifying_key(&self, kid: &str, _: Timestamp) -> Option<[u8; 32]> {
            let jwk = self.0.public_jwk();
            (jwk.kid.as_deref() == Some(kid))
                .then(|| jwk.key_bytes().ok())
                .flatten()
        }
    }

    fn proof(key: &SigningKey, htm: &str, htu: &str, iat: i64, ath: Option<String>) -> String {
        key.sign_json(
            DPOP_TYP,
            KeyRef::Jwk,
            &DpopClaims {
                jti: uuid::Uuid::new_v4().to_string(),
                htm: htm.into(),
                htu: htu.into(),
                iat,
                ath,
            },
        )
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    #[test]
    fn dpop_checks() {
        let key = SigningKey::generate();
        let url = "http://h/v1/x";
        let ok = verify_dpop(
            &proof(&key, "GET", url, 1000, None),
            "GET",
            url,
            None,
            at(1000),
        )
        .unwrap();
        assert_eq!(ok.jkt, key.kid());
        assert!(matches!(
            verify_dpop(
                &proof(&key, "POST", url, 1000, None),
                "GET",
                url,
                None,
                at(1000)
            ),
            Err(CredentialRefusal::DpopProof(_))
        ));
        assert!(
            verify_dpop(
                &proof(&key, "GET", "http://h/v1/y", 1000, None),
                "GET",
                url,
                None,
                at(1000)
            )
            .is_err()
        );
        assert!(
            verify_dpop(
                &proof(&key, "GET", url, 500, None),
                "GET",
                url,
                None,
                at(1000)
            )
            .is_err()
        );
        let ath = Some(sha256_b64(b"token"));
        assert!(
            verify_dpop(
                &proof(&key, "GET", url, 1000, ath.clone()),
                "GET",
                url,
                Some("token"),
                at(1000)
            )
            .is_ok()
        );
        assert!(
            verify_dpop(
                &proof(&key, "GET", url, 1000, ath),
                "GET",
                url,
                Some("other"),
                at(1000)
            )
            .is_err()
        );
        assert!(
            verify_dpop(
                &proof(&key, "GET", url, 1000, None),
                "GET",
                url,
                Some("token"),
                at(1000)
            )
            .is_err()
        );
    }

    #[test]
    fn token_round_trip_and_expiry() {
        let keys = ServerKeys::for_tests();
        let (p1, jkt) = (PartyId::nth(1), Kid::parse(&"k".repeat(43)).unwrap());
        let (token, _) = issue_token(
            &keys,
            "http://i",
            &p1,
            PartyKind::Employee,
            &jkt,
            None,
            at(1000),
        );
        let claims = verify_token(&token, &keys, "http://i", at(1001)).unwrap();
        assert_eq!(claims.sub, p1.as_str());
        assert!(verify_token(&token, &keys, "http://i", at(1000 + TOKEN_TTL_SECS)).is_err());
        assert!(verify_token(&token, &keys, "http://other", at(1001)).is_err());
        assert!(verify_token(&token, &ServerKeys::for_tests(), "http://i", at(1001)).is_err());
        let consent = ConsentClaim {
            grant_id: GrantId::nth(1),
            passport_id: PassportId::nth(1),
            scopes: vec![],
            on_behalf_of: Some((PartyId::nth(9), Role::LineManager)),
        };
        let (_, claims) = issue_token(
            &keys,
            "http://i",
            &p1,
            PartyKind::Employer,
            &jkt,
            Some((&consent, at(1100))),
            at(1000),
        );
        assert_eq!(claims.exp, 1100, "a consent token never outlives its grant");
        assert_eq!(consent_of(&claims).unwrap(), Some(consent));
        assert_eq!(subject_of(&claims).unwrap(), p1);
    }

    #[test]
    fn admin_invitations_verify_only_as_issued_and_until_they_expire() {
        let keys = ServerKeys::for_tests();
        let (token, claims) = issue_admin_invitation(&keys, "http://i", 24, at(1000));
        assert_eq!(claims.exp, 1000 + 24 * 3600);
        assert_eq!(
            verify_admin_invitation(&token, &keys, "http://i", at(1001)),
            Ok(claims)
        );
        assert_eq!(
            verify_admin_invitation(&token, &keys, "http://i", at(1000 + 24 * 3600)),
            Err(OrganisationRefusal::Expired)
        );
        assert_eq!(
            verify_admin_invitation(&token, &keys, "http://elsewhere", at(1001)),
            Err(OrganisationRefusal::UnknownCode)
        );
        // Another server's keys, a flipped byte, or an access token are no invitation.
        let other = ServerKeys::for_tests();
        assert_eq!(
            verify_admin_invitation(&token, &other, "http://i", at(1001)),
            Err(OrganisationRefusal::UnknownCode)
        );
        let mut forged = token.clone().into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(
            verify_admin_invitation(&forged, &keys, "http://i", at(1001)),
            Err(OrganisationRefusal::UnknownCode)
        );
        let (access, _) = issue_token(
            &keys,
            "http://i",
            &PartyId::nth(1),
            PartyKind::Admin,
            &Kid::parse(&"A".repeat(43)).unwrap(),
            None,
            at(1000),
        );
        assert_eq!(
            verify_admin_invitation(&access, &keys, "http://i", at(1001)),
            Err(OrganisationRefusal::UnknownCode)
        );
        // At most three days, whatever is asked.
        let (_, long) = issue_admin_invitation(&keys, "http://i", 1000, at(0));
        assert_eq!(long.exp, ADMIN_INVITATION_MAX_HOURS * 3600);
    }
}
