//! The signed objects a client makes: client assertions (RFC 7523), DPoP proofs (RFC 9449),
//! proofs of key possession, and record versions.

use serde_json::Value;
use wp_schemas::api::{
    AssertionClaims, DPOP_TYP, DpopClaims, JWT_TYP, KeyProofClaims, VERSION_TYP, VersionPayload,
};
use wp_schemas::jose::{KeyRef, SigningKey, sha256_b64};
use wp_schemas::sections::Section;

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn jti() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A client assertion for the token endpoint, valid for 2 minutes.
pub fn assertion(key: &SigningKey, party_id: &str, audience: &str) -> String {
    let iat = now();
    key.sign_json(
        JWT_TYP,
        KeyRef::Kid,
        &AssertionClaims {
            iss: party_id.into(),
            sub: party_id.into(),
            aud: audience.into(),
            iat,
            exp: iat + 120,
            jti: jti(),
        },
    )
}

/// A DPoP proof for one request; `access_token` binds it to the token (`ath`).
pub fn dpop(key: &SigningKey, method: &str, url: &str, access_token: Option<&str>) -> String {
    key.sign_json(
        DPOP_TYP,
        KeyRef::Jwk,
        &DpopClaims {
            jti: jti(),
            htm: method.into(),
            htu: url.into(),
            iat: now(),
            ath: access_token.map(|t| sha256_b64(t.as_bytes())),
        },
    )
}

/// A proof that the caller holds `key`, for the URL it is sent to.
pub fn key_proof(key: &SigningKey, url: &str) -> String {
    let iat = now();
    key.sign_json(
        JWT_TYP,
        KeyRef::Kid,
        &KeyProofClaims {
            aud: url.into(),
            iat,
            exp: iat + 120,
            jti: jti(),
        },
    )
}

/// What a new version says, before it is signed.
#[derive(Debug, Clone)]
pub struct VersionDraft {
    pub passport: String,
    pub record: String,
    pub section: Section,
    pub version: i64,
    pub prev: Option<String>,
    pub body: Option<Value>,
}

/// Signs a version as its author.
pub fn sign_version(key: &SigningKey, author: &str, draft: VersionDraft) -> String {
    let payload = VersionPayload {
        passport: draft.passport,
        record: draft.record,
        section: draft.section,
        version: draft.version,
        prev: draft.prev,
        author: author.into(),
        iat: now(),
        deleted: draft.body.is_none(),
        body: draft.body,
    };
    key.sign_json(VERSION_TYP, KeyRef::Kid, &payload)
}
