//! Confidentiality at rest: a record version's JWS is stored sealed with its passport's data
//! key, bound by the AAD to its passport, record and version so a ciphertext cannot be moved.

use wp_schemas::api::VersionEnvelope;

#[cfg(feature = "testing")]
use super::store::Store;
use super::store::VersionRow;
use crate::domain::ids::{PassportId, RecordId};
use crate::error::{Error, Result};
use crate::keys::{DataKey, MasterKeys};

fn aad(passport_id: &PassportId, record_id: &RecordId, version: i64) -> Vec<u8> {
    format!("{passport_id}/{record_id}/{version}").into_bytes()
}

/// Unwraps the passport's data key. None once the passport was erased (the key is destroyed).
/// For the tests and the benchmark: a request unwraps the key its access context read.
#[cfg(feature = "testing")]
pub async fn data_key(
    store: &Store,
    master: &MasterKeys,
    passport_id: &PassportId,
) -> Result<Option<DataKey>> {
    let Some((kid, wrapped)) = store.wrapped_data_key(passport_id).await? else {
        return Ok(None);
    };
    Ok(Some(master.unwrap(&kid, passport_id, &wrapped)?))
}

pub fn seal(
    master: &MasterKeys,
    key: &DataKey,
    passport_id: &PassportId,
    record_id: &RecordId,
    version: i64,
    jws: &str,
) -> Vec<u8> {
    key.seal(
        master.rng(),
        &aad(passport_id, record_id, version),
        jws.as_bytes(),
    )
}

/// Decrypts a stored version into the envelope clients receive, with the author's JWS as it
/// was signed, byte for byte.
pub fn open(key: &DataKey, passport_id: &PassportId, row: VersionRow) -> Result<VersionEnvelope> {
    let plain = key
        .open(&aad(passport_id, &row.record_id, row.version), &row.sealed)
        .ok_or_else(|| Error::Other(anyhow::anyhow!("a stored version does not decrypt")))?;
    let jws = String::from_utf8(plain).map_err(anyhow::Error::from)?;
    Ok(VersionEnvelope {
        seq: row.seq,
        section: row.section,
        record_id: row.record_id.into(),
        version: row.version,
        author: row.author_id.into(),
        hash: row.hash,
        deleted: row.deleted,
        jws,
        created_at: row.created_at.to_datetime(),
    })
}
