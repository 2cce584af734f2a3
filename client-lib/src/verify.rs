//! Verification of everything the server hands back: a record version is data only after its
//! author's signature, its place in the record's chain and its section have been checked.

use wp_schemas::api::{Action, Party, Scope, VersionEnvelope, VersionPayload};
use wp_schemas::chain::{self, NotSuccessor, RecordHead};
use wp_schemas::sections::Section;
use wp_schemas::verify;

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

/// Checks one version of passport `passport_id` against its author's registered keys. Its
/// place in its record's chain is [`successor`]'s question. The rule is
/// [`wp_schemas::verify::version`], which export bundles are checked with too.
pub fn version(
    envelope: &VersionEnvelope,
    passport_id: &str,
    author: &Party,
) -> Result<VersionPayload> {
    wp_schemas::verify::version(envelope, passport_id, author).map_err(ClientError::Verification)
}

/// The head a verified version leaves its record at, for checking the next one.
pub fn head_of(envelope: &VersionEnvelope) -> RecordHead<'_> {
    RecordHead {
        section: envelope.section,
        version: envelope.version,
        hash: &envelope.hash,
        deleted: envelope.deleted,
    }
}

/// Checks that a verified version's `payload` is the next link of its record's chain after
/// `head` (None: the record is new here), with the rule the server applies
/// ([`chain::check_successor`]). A version at or below the head presented again is a fork of
/// the history at its sequence.
pub fn successor(
    envelope: &VersionEnvelope,
    head: Option<&RecordHead<'_>>,
    payload: &VersionPayload,
) -> Result<()> {
    let why = match (chain::check_successor(head, payload), head) {
        (Ok(()), _) => return Ok(()),
        (Err(NotSuccessor::Stale), _) => return Err(ClientError::Fork { seq: envelope.seq }),
        (Err(NotSuccessor::Gap), Some(head)) => {
            format!("version {} was never received", head.version + 1)
        }
        (Err(NotSuccessor::MovedSection), Some(head)) => format!("moved from {}", head.section),
        (Err(NotSuccessor::AfterTombstone), _) => "written after its tombstone".to_owned(),
        (Err(NotSuccessor::NotFirst), _) => {
            "the record's earlier versions were never received".to_owned()
        }
        (Err(_), _) => "does not chain to the previous version".to_owned(),
    };
    Err(fail(format!("{}: {why}", verify::what(envelope))))
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
