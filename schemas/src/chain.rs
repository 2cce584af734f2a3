//! The hash chains both sides recompute: a passport's version history and its access log.

use crate::api::AccessLogEntry;
use crate::jose::sha256_b64;

/// base64url SHA-256 of a version's JWS: what the next version names as `prev`.
pub fn version_hash(jws: &str) -> String {
    sha256_b64(jws.as_bytes())
}

/// The head of an empty passport history; per passport, so that histories cannot be spliced.
pub fn history_genesis(passport_id: &str) -> String {
    sha256_b64(format!("work-passport/history/{passport_id}").as_bytes())
}

/// The head after appending a version with hash `version_hash`.
pub fn history_next(head: &str, version_hash: &str) -> String {
    sha256_b64(format!("{head}.{version_hash}").as_bytes())
}

/// The `prev_hash` of a passport's first access-log entry.
pub fn log_genesis(passport_id: &str) -> String {
    sha256_b64(format!("work-passport/access-log/{passport_id}").as_bytes())
}

/// The hash of an access-log entry: over every field but `hash`, in a fixed order, chained by
/// `prev_hash`. Times are hashed as whole seconds so that the text form cannot change the hash.
pub fn log_entry_hash(entry: &AccessLogEntry) -> String {
    let canonical = serde_json::json!([
        entry.passport_id,
        entry.seq,
        entry.at.timestamp(),
        entry.actor,
        entry.grant_id,
        entry.action.as_str(),
        entry
            .sections
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        entry.outcome,
        entry.reason,
        entry.prev_hash,
    ]);
    sha256_b64(canonical.to_string().as_bytes())
}

/// Why a log chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: &'static str,
}

/// Verifies entries given oldest first. The first entry must be seq 1 (whole chain) unless
/// `anchor` gives the hash of the entry before it.
pub fn verify_log(
    passport_id: &str,
    entries: &[AccessLogEntry],
    anchor: Option<&str>,
) -> Result<(), ChainBreak> {
    let genesis = log_genesis(passport_id);
    let mut prev: Option<(i64, String)> = None;
    for entry in entries {
        let expected_prev = match &prev {
            Some((seq, hash)) => {
                if entry.seq != seq + 1 {
                    return Err(ChainBreak {
                        seq: entry.seq,
                        reason: "sequence gap",
                    });
                }
                hash.clone()
            }
            None if entry.seq == 1 => genesis.clone(),
            None => match anchor {
                Some(a) => a.to_owned(),
                None => {
                    return Err(ChainBreak {
                        seq: entry.seq,
                        reason: "chain does not start at 1",
                    });
                }
            },
        };
        if entry.passport_id != passport_id {
            return Err(ChainBreak {
                seq: entry.seq,
                reason: "entry of another passport",
            });
        }
        if entry.prev_hash != expected_prev {
            return Err(ChainBreak {
                seq: entry.seq,
                reason: "prev_hash does not match",
            });
        }
        if log_entry_hash(entry) != entry.hash {
            return Err(ChainBreak {
                seq: entry.seq,
                reason: "entry hash does not match",
            });
        }
        prev = Some((entry.seq, entry.hash.clone()));
    }
    Ok(())
}
