//! Verification of everything the server hands back: a record version is data only after its
//! author's signature, its place in the record's chain and its section have been checked.

use wp_schemas::api::{Action, Party, Scope, VERSION_JWS, VersionEnvelope, VersionPayload};
use wp_schemas::chain::version_hash;
use wp_schemas::jose::CompactJws;
use wp_schemas::sections::Section;

use crate::error::{ClientError, Result};

/// A version whose signature, author and contents were checked.
#[derive(Debug, Clone)]
pub struct VerifiedVersion {
    pub envelope: VersionEnvelope,
    pub payload: VersionPayload,
    /// The party that signed it, with its registration for professionals.
    pub author: Party,
}

fn fail(why: impl Into<String>) -> ClientError {
    ClientError::Verification(why.into())
}

/// Checks one version of passport `passport_id` against its author's registered keys.
/// `expected_prev`: `Some(prev)` when the previous version is known and must be named.
pub fn version(
    envelope: &VersionEnvelope,
    passport_id: &str,
    author: &Party,
    expected_prev: Option<Option<&str>>,
) -> Result<VersionPayload> {
    let what = format!("record {} version {}", envelope.record_id, envelope.version);
    // The same header rules as the server's: a version that a stricter verifier would refuse
    // is refused here too.
    let jws = CompactJws::parse_as(&envelope.jws, &VERSION_JWS)
        .map_err(|e| fail(format!("{what}: not a record version: {e}")))?;
    if version_hash(&envelope.jws) != envelope.hash {
        return Err(fail(format!("{what}: hash does not match its JWS")));
    }
    let kid = jws.header_str("kid").unwrap_or_default();
    let key = author
        .keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| fail(format!("{what}: signed by a key its author does not hold")))?;
    jws.verify(&key.jwk)
        .map_err(|_| fail(format!("{what}: the signature does not verify")))?;
    let payload: VersionPayload = jws.claims().map_err(|e| fail(format!("{what}: {e}")))?;
    // The server accepts a version only while its key is active; both times are the server's
    // (whole seconds), so a version accepted in the second of the revocation still stands.
    if let Some(revoked) = key.revoked_at
        && envelope.created_at > revoked
    {
        return Err(fail(format!("{what}: signed after its key was revoked")));
    }
    let matches = payload.passport == passport_id
        && payload.record == envelope.record_id
        && payload.section == envelope.section
        && payload.version == envelope.version
        && payload.author == envelope.author
        && payload.author == author.id
        && payload.deleted == envelope.deleted;
    if !matches {
        return Err(fail(format!(
            "{what}: the signed payload does not match where the server put it"
        )));
    }
    if let Some(prev) = expected_prev
        && payload.prev.as_deref() != prev
    {
        return Err(fail(format!(
            "{what}: does not chain to the previous version"
        )));
    }
    Ok(payload)
}

/// Checks that a history is one unbroken chain from version 1.
pub fn chain(versions: &[VersionEnvelope]) -> Result<()> {
    let mut prev: Option<&VersionEnvelope> = None;
    for v in versions {
        let expected_version = prev.map_or(1, |p| p.version + 1);
        if v.version != expected_version {
            return Err(fail(format!(
                "record {}: version {} is out of order",
                v.record_id, v.version
            )));
        }
        if let Some(p) = prev
            && (p.record_id != v.record_id || p.section != v.section)
        {
            return Err(fail("a history mixes records"));
        }
        prev = Some(v);
    }
    Ok(())
}

/// Sections a grantee may read, from its consent token's scopes; None for the owner.
pub fn readable(scopes: Option<&[Scope]>) -> Option<Vec<Section>> {
    scopes.map(|s| {
        s.iter()
            .filter(|s| s.actions.contains(&Action::Read))
            .map(|s| s.section)
            .collect()
    })
}

/// Data from a section outside the caller's scopes means the server is misbehaving.
pub fn in_scope(section: Section, readable: Option<&[Section]>) -> Result<()> {
    match readable {
        Some(sections) if !sections.contains(&section) => Err(fail(format!(
            "the server returned {section}, which this consent does not cover"
        ))),
        _ => Ok(()),
    }
}
