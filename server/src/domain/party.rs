//! Parties (employees, employers, professionals, admins) and their keys.

use wp_schemas::api::{KEY_PROOF_JWS, KeyProofClaims, PartyKind, ProfessionalRegistration};
use wp_schemas::jose::{CompactJws, PublicJwk};

use super::ids::{Kid, PartyId};
use super::time::Timestamp;

/// Why a party's name, registration, key or proof of possession is refused (`http/error.rs`
/// makes each a problem).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartyRefusal {
    /// A field of the request breaks its rule.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The key is no acceptable Ed25519 public key.
    #[error("{0}")]
    Key(String),
    /// The proof of possession of the key does not hold.
    #[error("{0}")]
    KeyProof(String),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> PartyRefusal {
    PartyRefusal::Invalid {
        field,
        reason: reason.into(),
    }
}

type Result<T, E = PartyRefusal> = std::result::Result<T, E>;

/// Longest lifetime of a proof of possession, and the clock skew we tolerate.
pub const PROOF_MAX_LIFETIME_SECS: i64 = 300;
pub const CLOCK_SKEW_SECS: i64 = 60;

/// A key as registered for a party.
#[derive(Debug, Clone)]
pub struct RegisteredKey {
    pub kid: Kid,
    pub party_id: PartyId,
    pub party_kind: PartyKind,
    pub jwk: PublicJwk,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl RegisteredKey {
    /// A key signs for its party from registration until revocation.
    pub fn active_at(&self, t: Timestamp) -> bool {
        self.created_at <= t + CLOCK_SKEW_SECS && self.revoked_at.is_none_or(|r| t < r)
    }
}

/// A display name: trimmed, 1 to 200 characters, no control characters.
pub fn display_name(name: &str) -> Result<String> {
    if let Some(why) = wp_schemas::text::refusal(name, wp_schemas::api::MAX_NAME_CHARS, false) {
        return Err(invalid("display_name", why));
    }
    Ok(name.trim().to_owned())
}

/// Professionals must name their registration; nobody else may.
pub fn registration(
    kind: PartyKind,
    registration: Option<ProfessionalRegistration>,
) -> Result<Option<ProfessionalRegistration>> {
    match (kind, registration) {
        (PartyKind::Professional, Some(r)) => {
            for (field, value) in [
                ("registration.profession", &r.profession),
                ("registration.registration_body", &r.registration_body),
                ("registration.registration_number", &r.registration_number),
            ] {
                if let Some(why) =
                    wp_schemas::text::refusal(value, wp_schemas::api::MAX_REGISTRATION_CHARS, false)
                {
                    return Err(invalid(field, why));
                }
            }
            Ok(Some(r))
        }
        (PartyKind::Professional, None) => Err(invalid(
            "registration",
            "a professional must give profession, registration body and number",
        )),
        (_, Some(_)) => Err(invalid(
            "registration",
            "only professionals have a registration",
        )),
        (_, None) => Ok(None),
    }
}

/// Checks a public key and returns it normalised (kid = thumbprint): the one rule for every
/// key that becomes a party's (registration, enrolment, `add-admin`, added keys, invitations,
/// admin links). A small-order or non-canonically encoded point is refused (see
/// [`wp_schemas::jose::weak_point`], the check every verification repeats): anyone could sign
/// for such a key. So is an `x` that is no point of the curve at all (half of all 32-byte
/// strings): no signature ever verifies with it, so it would register a dead key, and ring
/// only finds out at the first verification. curve25519-dalek decompresses the point (RFC 8032
/// section 5.1.3), once per new key, never on the verification hot path.
pub fn public_key(jwk: &PublicJwk) -> Result<PublicJwk> {
    let bytes = jwk
        .key_bytes()
        .map_err(|e| PartyRefusal::Key(e.to_string()))?;
    if curve25519_dalek::edwards::CompressedEdwardsY(bytes)
        .decompress()
        .is_none()
    {
        return Err(PartyRefusal::Key(
            "x is not a point of the Ed25519 curve".into(),
        ));
    }
    Ok(jwk.normalized())
}

/// Checks a proof of possession of `jwk`: a JWS signed by that key, for `audience`, fresh.
/// Returns the proof's `jti` and expiry for replay protection.
pub fn verify_key_proof(
    jwk: &PublicJwk,
    proof: &str,
    audience: &str,
    now: Timestamp,
) -> Result<KeyProofClaims> {
    let bad = |why: &str| PartyRefusal::KeyProof(why.to_owned());
    let jws = CompactJws::parse_as(proof, &KEY_PROOF_JWS).map_err(|e| bad(&e.to_string()))?;
    if jws.header_str("kid") != Some(jwk.thumbprint().as_str()) {
        return Err(bad(
            "the proof's kid must be the submitted key's thumbprint",
        ));
    }
    jws.verify(jwk)
        .map_err(|_| bad("the proof is not signed by the submitted key"))?;
    let claims: KeyProofClaims = jws.claims().map_err(|e| bad(&e.to_string()))?;
    if claims.aud != audience {
        return Err(bad("the proof is for another audience"));
    }
    check_lifetime(claims.iat, claims.exp, now).map_err(bad)?;
    if !super::ids::is_jti(&claims.jti) {
        return Err(bad(
            "the proof needs a jti of 1 to 200 visible ASCII characters",
        ));
    }
    Ok(claims)
}

/// A short-lived signed object: issued not in the future, not expired, living at most 5 minutes.
pub fn check_lifetime(iat: i64, exp: i64, now: Timestamp) -> Result<(), &'static str> {
    let now = now.secs();
    if iat > now + CLOCK_SKEW_SECS {
        return Err("issued in the future");
    }
    if exp <= now {
        return Err("expired");
    }
    if exp - iat > PROOF_MAX_LIFETIME_SECS {
        return Err("lives longer than 5 minutes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_rules() {
        let at = Timestamp::from_secs;
        assert!(check_lifetime(100, 200, at(150)).is_ok());
        assert_eq!(check_lifetime(100, 200, at(200)), Err("expired"));
        assert_eq!(
            check_lifetime(300, 400, at(100)),
            Err("issued in the future")
        );
        assert_eq!(
            check_lifetime(100, 1000, at(150)),
            Err("lives longer than 5 minutes")
        );
    }

    #[test]
    fn new_keys_are_curve_points() {
        let jwk = |bytes: &[u8]| PublicJwk::from_ed25519(bytes);
        // y = 2 has no x on the curve; y = 3 has one (and is of large order).
        let mut off = [0u8; 32];
        off[0] = 2;
        let error = public_key(&jwk(&off)).unwrap_err();
        assert!(
            matches!(&error, PartyRefusal::Key(why) if why.contains("not a point")),
            "{error}"
        );
        let mut on = [0u8; 32];
        on[0] = 3;
        assert!(public_key(&jwk(&on)).is_ok());
        // The small-order rule is still the one `key_bytes` applies.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let error = public_key(&jwk(&identity)).unwrap_err();
        assert!(
            matches!(&error, PartyRefusal::Key(why) if why.contains("small order")),
            "{error}"
        );
    }

    #[test]
    fn registrations() {
        let reg = ProfessionalRegistration {
            profession: "occupational therapist".into(),
            registration_body: "HCPC".into(),
            registration_number: "OT12345".into(),
        };
        assert!(registration(PartyKind::Professional, Some(reg.clone())).is_ok());
        assert!(registration(PartyKind::Professional, None).is_err());
        assert!(registration(PartyKind::Employer, Some(reg)).is_err());
        assert!(registration(PartyKind::Employer, None).is_ok());
    }
}
