//! The check of one stored record version against its author's keys, the same for every reader:
//! the client library on what a server sends (`wp_client::verify`), and anyone checking an
//! export bundle ([`crate::bundle`]), the server's import included.

use crate::api::{Party, VERSION_JWS, VersionEnvelope, VersionPayload};
use crate::chain::version_hash;
use crate::jose::CompactJws;

/// "record R version N", how every refusal names a version.
pub fn what(envelope: &VersionEnvelope) -> String {
    format!("record {} version {}", envelope.record_id, envelope.version)
}

/// Checks one version of passport `passport_id` against its author's keys: its hash, its header
/// (the same allow-list as the server's), its signature by a key `author` holds and that was
/// not revoked before the version was stored, and that the signed payload says what the
/// envelope says. Its place in its record's chain is [`crate::chain::check_successor`]'s
/// question. The error says why, in words, naming the version.
pub fn version(
    envelope: &VersionEnvelope,
    passport_id: &str,
    author: &Party,
) -> Result<VersionPayload, String> {
    let what = what(envelope);
    let jws = CompactJws::parse_as(&envelope.jws, &VERSION_JWS)
        .map_err(|e| format!("{what}: not a record version: {e}"))?;
    if version_hash(&envelope.jws) != envelope.hash {
        return Err(format!("{what}: hash does not match its JWS"));
    }
    let kid = jws.header_str("kid").unwrap_or_default();
    let key = author
        .keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| format!("{what}: signed by a key its author does not hold"))?;
    jws.verify(&key.jwk)
        .map_err(|_| format!("{what}: the signature does not verify"))?;
    let payload: VersionPayload = jws.claims().map_err(|e| format!("{what}: {e}"))?;
    // The server accepts a version only while its key is active; both times are the server's
    // (whole seconds), so a version accepted in the second of the revocation still stands.
    if let Some(revoked) = key.revoked_at
        && envelope.created_at > revoked
    {
        return Err(format!("{what}: signed after its key was revoked"));
    }
    let matches = payload.passport == passport_id
        && payload.record == envelope.record_id
        && payload.section == envelope.section
        && payload.version == envelope.version
        && payload.author == envelope.author
        && payload.author == author.id
        && payload.deleted == envelope.deleted;
    if !matches {
        return Err(format!(
            "{what}: the signed payload does not match where the server put it"
        ));
    }
    Ok(payload)
}
