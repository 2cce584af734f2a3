//! Every check on what the server sent, before anything is written: the signed checkpoint,
//! each version's signature and place in its record's chain, and the history hash.

use std::collections::HashMap;

use serde_json::Value;
use wp_schemas::api::{CHECKPOINT_JWS, Changes, CheckpointClaims, VersionEnvelope};
use wp_schemas::chain::{history_genesis, history_next, version_hash};
use wp_schemas::jose::{CompactJws, PublicJwk};
use wp_schemas::paths;

use super::{Replica, SyncState, fail};
use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::passport::PassportClient;
use crate::verify::{self, VerifiedVersion, head_of};

/// A response that passed every check, ready to be written.
pub(super) struct Batch {
    pub(super) versions: Vec<VerifiedVersion>,
    pub(super) claims: CheckpointClaims,
    pub(super) checkpoint: String,
    pub(super) jwk: PublicJwk,
    pub(super) chain: Option<(i64, String)>,
}

/// Rollback and fork checks of a verified checkpoint against the one seen before.
fn check_checkpoint(seen: Option<(i64, &str)>, served: &CheckpointClaims) -> Result<()> {
    if let Some((seq, head)) = seen {
        if served.seq < seq {
            return Err(ClientError::Rollback {
                seen: seq,
                served: served.seq,
            });
        }
        if served.seq == seq && served.head != head {
            return Err(ClientError::Fork { seq });
        }
    }
    Ok(())
}

/// Extends the locally recomputed history hash over `versions` (in sequence order). The chain
/// stops (None) at the first sequence number the replica did not receive.
fn extend_chain(
    chain: Option<(i64, String)>,
    versions: &[VersionEnvelope],
    next_since: i64,
) -> Option<(i64, String)> {
    let (mut seq, mut head) = chain?;
    for v in versions {
        if v.seq != seq + 1 {
            return None;
        }
        head = history_next(&head, &version_hash(&v.jws));
        seq = v.seq;
    }
    // The cursor moved past sequence numbers that were not sent: versions not readable here.
    (seq == next_since).then_some((seq, head))
}

/// A recomputed history hash that reaches the checkpoint's sequence must match its head.
fn check_chain(chain: Option<&(i64, String)>, claims: &CheckpointClaims) -> Result<()> {
    match chain {
        Some((seq, head)) if *seq == claims.seq && *head != claims.head => {
            Err(ClientError::Fork { seq: *seq })
        }
        _ => Ok(()),
    }
}

impl Replica {
    /// Every check, before anything is written.
    pub(super) async fn verify_batch(
        &self,
        passport: &PassportClient<'_>,
        state: Option<&SyncState>,
        fresh: bool,
        since: i64,
        changes: &Changes,
    ) -> Result<Batch> {
        let pid = passport.id.as_str();
        if changes.passport_id != pid {
            return Err(fail("the feed answered with another passport"));
        }
        if changes.since != since
            || changes.next_since < since
            || (changes.more && changes.next_since == since)
        {
            return Err(ClientError::Protocol(format!(
                "the feed moved the cursor from {since} to {} (more: {})",
                changes.next_since, changes.more
            )));
        }
        let (claims, jwk) = self
            .verify_checkpoint(passport.client(), pid, &changes.checkpoint)
            .await?;
        check_checkpoint(
            state.map(|s| (s.checkpoint_seq, s.checkpoint_head.as_str())),
            &claims,
        )?;
        if claims.seq < changes.next_since {
            return Err(fail(format!(
                "the checkpoint (sequence {}) does not cover the cursor {}",
                claims.seq, changes.next_since
            )));
        }

        // Each record's latest version as known so far.
        let mut heads: HashMap<String, VersionEnvelope> = HashMap::new();
        let mut previous_seq = since;
        let mut versions = Vec::with_capacity(changes.versions.len());
        for envelope in &changes.versions {
            if envelope.seq <= previous_seq || envelope.seq > changes.next_since {
                return Err(fail(format!(
                    "record {} version {}: sequence {} is out of order",
                    envelope.record_id, envelope.version, envelope.seq
                )));
            }
            previous_seq = envelope.seq;
            if fresh && let Some(hash) = self.hash_at(pid, envelope.seq).await? {
                // Starting over under another grant: what was seen before must not change.
                if hash != envelope.hash {
                    return Err(ClientError::Fork { seq: envelope.seq });
                }
            }
            let known = match heads.get(&envelope.record_id) {
                Some(head) => Some(head.clone()),
                None if fresh => None,
                None => self.record_head(pid, &envelope.record_id).await?,
            };
            let verified = passport.verify(envelope).await?;
            verify::successor(
                envelope,
                known.as_ref().map(head_of).as_ref(),
                &verified.payload,
            )?;
            heads.insert(envelope.record_id.clone(), envelope.clone());
            versions.push(verified);
        }

        // While every version has been seen, the history hash is checked here too.
        let start = if fresh {
            Some((0, history_genesis(pid)))
        } else {
            state.and_then(|s| s.chain.clone())
        };
        let chain = extend_chain(start, &changes.versions, changes.next_since);
        check_chain(chain.as_ref(), &claims)?;
        Ok(Batch {
            versions,
            claims,
            checkpoint: changes.checkpoint.clone(),
            jwk,
            chain,
        })
    }

    /// Verifies a checkpoint's signature with the server's published keys and its passport.
    pub(super) async fn verify_checkpoint(
        &self,
        client: &Client,
        pid: &str,
        checkpoint: &str,
    ) -> Result<(CheckpointClaims, PublicJwk)> {
        let jws = CompactJws::parse_as(checkpoint, &CHECKPOINT_JWS)
            .map_err(|e| fail(format!("the checkpoint is not a checkpoint: {e}")))?;
        let kid = jws.header_str("kid").unwrap_or_default();
        let jwk = self.server_key(client, kid).await?;
        jws.verify(&jwk)
            .map_err(|_| fail("the checkpoint's signature does not verify"))?;
        let claims: CheckpointClaims =
            jws.claims().map_err(|e| fail(format!("checkpoint: {e}")))?;
        if claims.passport != pid {
            return Err(fail("the checkpoint is for another passport"));
        }
        Ok((claims, jwk))
    }

    fn cached_key(&self, base: &str, kid: &str) -> Option<PublicJwk> {
        self.jwks
            .lock()
            .expect("jwks cache")
            .get(base)
            .and_then(|keys| keys.iter().find(|k| k.kid.as_deref() == Some(kid)).cloned())
    }

    /// The server key `kid`, from the cached JWKS, fetched again once when the kid is unknown.
    async fn server_key(&self, client: &Client, kid: &str) -> Result<PublicJwk> {
        let base = client.base_url();
        if let Some(key) = self.cached_key(base, kid) {
            return Ok(key);
        }
        let url = format!("{base}{}", paths::JWKS);
        let response = client.http().get(&url).send().await?;
        if !response.status().is_success() {
            return Err(ClientError::Protocol(format!(
                "the JWKS answered HTTP {}",
                response.status().as_u16()
            )));
        }
        let jwks: Value = response.json().await?;
        let keys: Vec<PublicJwk> = jwks
            .get("keys")
            .and_then(Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| serde_json::from_value::<PublicJwk>(k.clone()).ok())
                    .filter(|k| k.kid.is_some() && k.key_bytes().is_ok())
                    .collect()
            })
            .unwrap_or_default();
        self.jwks
            .lock()
            .expect("jwks cache")
            .insert(base.to_owned(), keys);
        self.cached_key(base, kid)
            .ok_or_else(|| fail("the checkpoint is signed by a key the server does not publish"))
    }

    pub async fn verify_all(&self, pid: &str) -> Result<usize> {
        let versions = self.history(pid).await?;
        let Some(state) = self.state(pid).await? else {
            if versions.is_empty() {
                return Ok(0);
            }
            return Err(fail("versions held without a sync state"));
        };
        let jwk = self.checkpoint_jwk(pid).await?;
        let jwk: PublicJwk =
            serde_json::from_str(&jwk).map_err(|_| fail("the stored server key is not a JWK"))?;
        let jws = CompactJws::parse_as(&state.checkpoint, &CHECKPOINT_JWS)
            .map_err(|e| fail(format!("the stored checkpoint: {e}")))?;
        jws.verify(&jwk)
            .map_err(|_| fail("the stored checkpoint's signature does not verify"))?;
        let claims: CheckpointClaims = jws
            .claims()
            .map_err(|e| fail(format!("the stored checkpoint: {e}")))?;
        if claims.passport != pid
            || claims.seq != state.checkpoint_seq
            || claims.head != state.checkpoint_head
            || state.cursor > claims.seq
        {
            return Err(fail("the stored sync state does not match its checkpoint"));
        }

        let parties = self.parties(pid).await?;
        let mut heads: HashMap<&str, &VersionEnvelope> = HashMap::new();
        for v in &versions {
            if v.seq > state.cursor {
                return Err(fail(format!(
                    "record {} version {}: beyond the cursor",
                    v.record_id, v.version
                )));
            }
            let author = parties.get(&v.author).ok_or_else(|| {
                fail(format!(
                    "record {} version {}: its author is unknown",
                    v.record_id, v.version
                ))
            })?;
            let payload = verify::version(v, pid, author)?;
            let head = heads.get(v.record_id.as_str()).map(|h| head_of(h));
            verify::successor(v, head.as_ref(), &payload)?;
            heads.insert(&v.record_id, v);
        }
        if let Some((seq, head)) = &state.chain {
            let upto: Vec<VersionEnvelope> =
                versions.iter().filter(|v| v.seq <= *seq).cloned().collect();
            let recomputed = extend_chain(Some((0, history_genesis(pid))), &upto, *seq);
            if recomputed.as_ref().map(|c| &c.1) != Some(head) {
                return Err(fail(
                    "the stored history does not hash to its recorded head",
                ));
            }
        }
        Ok(versions.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::to_datetime;
    use wp_schemas::sections::Section;

    fn claims(seq: i64, head: &str) -> CheckpointClaims {
        CheckpointClaims {
            passport: "p".into(),
            seq,
            head: head.into(),
            iat: 0,
            log_seq: None,
            log_head: None,
        }
    }

    #[test]
    fn checkpoints_detect_rollback_and_fork() {
        assert!(check_checkpoint(None, &claims(0, "h0")).is_ok());
        assert!(check_checkpoint(Some((3, "h3")), &claims(3, "h3")).is_ok());
        assert!(check_checkpoint(Some((3, "h3")), &claims(5, "h5")).is_ok());
        assert!(matches!(
            check_checkpoint(Some((3, "h3")), &claims(2, "h2")),
            Err(ClientError::Rollback { seen: 3, served: 2 })
        ));
        assert!(matches!(
            check_checkpoint(Some((3, "h3")), &claims(3, "other")),
            Err(ClientError::Fork { seq: 3 })
        ));
    }

    fn envelope(seq: i64, jws: &str) -> VersionEnvelope {
        VersionEnvelope {
            seq,
            record_id: "r".into(),
            section: Section::Summary,
            version: seq,
            author: "a".into(),
            hash: version_hash(jws),
            deleted: false,
            jws: jws.into(),
            created_at: to_datetime(0),
        }
    }

    #[test]
    fn the_history_hash_is_recomputed_only_over_every_version() {
        let genesis = history_genesis("p");
        let (a, b) = (envelope(1, "a"), envelope(2, "b"));
        let head = history_next(&history_next(&genesis, &a.hash), &b.hash);
        let chain = extend_chain(Some((0, genesis.clone())), &[a.clone(), b.clone()], 2);
        assert_eq!(chain, Some((2, head.clone())));
        assert!(check_chain(chain.as_ref(), &claims(2, &head)).is_ok());
        assert!(matches!(
            check_chain(chain.as_ref(), &claims(2, "forged")),
            Err(ClientError::Fork { seq: 2 })
        ));
        // Not compared when the checkpoint is further on.
        assert!(check_chain(chain.as_ref(), &claims(3, "later")).is_ok());
        // A gap (a version not readable here) stops the chain for good.
        let gap = std::slice::from_ref(&b);
        assert_eq!(extend_chain(Some((0, genesis.clone())), gap, 2), None);
        assert_eq!(extend_chain(Some((0, genesis)), &[a], 2), None);
        assert_eq!(extend_chain(None, gap, 2), None);
    }
}
