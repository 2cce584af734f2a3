//! The hash chains both sides recompute: a passport's version history and its access log.

use crate::api::{AccessLogEntry, VersionPayload};
use crate::jose::sha256_b64;
use crate::sections::Section;

/// base64url SHA-256 of a version's JWS: what the next version names as `prev`.
pub fn version_hash(jws: &str) -> String {
    sha256_b64(jws.as_bytes())
}

/// A record's latest version, as whoever checks the next one holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHead<'a> {
    pub section: Section,
    pub version: i64,
    /// The head's [`version_hash`]: what its successor names as `prev`.
    pub hash: &'a str,
    pub deleted: bool,
}

/// Why a version is not the next link of its record's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSuccessor {
    /// A new record starts at version 1, naming no `prev`.
    NotFirst,
    /// A record stays in its section.
    MovedSection,
    /// Nothing follows a tombstone.
    AfterTombstone,
    /// The head is already at this version or past it.
    Stale,
    /// Versions go up by one: the ones in between are missing.
    Gap,
    /// `prev` does not name the head.
    WrongPrev,
}

/// The version chain rule, the one place both sides decide it: a record's first version is 1
/// with no `prev` (`head` None); each later one stays in its section, follows no tombstone, is
/// the head's version + 1 and names the head's hash as `prev`. Checked in this order, so that
/// a stale writer learns of a newer version before anything else.
pub fn check_successor(
    head: Option<&RecordHead<'_>>,
    next: &VersionPayload,
) -> Result<(), NotSuccessor> {
    let Some(head) = head else {
        return if next.version == 1 && next.prev.is_none() {
            Ok(())
        } else {
            Err(NotSuccessor::NotFirst)
        };
    };
    if next.section != head.section {
        return Err(NotSuccessor::MovedSection);
    }
    if head.deleted {
        return Err(NotSuccessor::AfterTombstone);
    }
    if next.version <= head.version {
        return Err(NotSuccessor::Stale);
    }
    if next.version != head.version + 1 {
        return Err(NotSuccessor::Gap);
    }
    if next.prev.as_deref() != Some(head.hash) {
        return Err(NotSuccessor::WrongPrev);
    }
    Ok(())
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
    let mut canonical = serde_json::json!([
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
    // A member's entry also names their organisation and role, as an 11th element; entries
    // without one hash as they always have.
    if let (Some(on_behalf_of), Some(list)) = (&entry.on_behalf_of, canonical.as_array_mut()) {
        list.push(serde_json::json!([
            on_behalf_of.organisation,
            on_behalf_of.role.as_str()
        ]));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(section: Section, version: i64, prev: Option<&str>) -> VersionPayload {
        VersionPayload {
            passport: "p".into(),
            record: "r".into(),
            section,
            version,
            prev: prev.map(str::to_owned),
            author: "a".into(),
            iat: 0,
            body: None,
            deleted: false,
        }
    }

    #[test]
    fn each_rule_of_the_chain_refuses_by_name() {
        let s = Section::Summary;
        assert_eq!(check_successor(None, &payload(s, 1, None)), Ok(()));
        assert_eq!(
            check_successor(None, &payload(s, 2, None)),
            Err(NotSuccessor::NotFirst)
        );
        assert_eq!(
            check_successor(None, &payload(s, 1, Some("h"))),
            Err(NotSuccessor::NotFirst)
        );
        let head = RecordHead {
            section: s,
            version: 2,
            hash: "h2",
            deleted: false,
        };
        let after = |p| check_successor(Some(&head), &p);
        assert_eq!(after(payload(s, 3, Some("h2"))), Ok(()));
        assert_eq!(
            after(payload(Section::Conditions, 3, Some("h2"))),
            Err(NotSuccessor::MovedSection)
        );
        assert_eq!(after(payload(s, 2, Some("h2"))), Err(NotSuccessor::Stale));
        assert_eq!(after(payload(s, 4, Some("h2"))), Err(NotSuccessor::Gap));
        assert_eq!(
            after(payload(s, 3, Some("h1"))),
            Err(NotSuccessor::WrongPrev)
        );
        assert_eq!(after(payload(s, 3, None)), Err(NotSuccessor::WrongPrev));
        let deleted = RecordHead {
            deleted: true,
            ..head
        };
        assert_eq!(
            check_successor(Some(&deleted), &payload(s, 3, Some("h2"))),
            Err(NotSuccessor::AfterTombstone)
        );
    }
}
