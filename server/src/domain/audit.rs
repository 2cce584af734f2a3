//! Access-log events. An event names who did what to which sections and why it was allowed or
//! denied; it never carries a section's contents.

use wp_schemas::api::{AccessLogEntry, LogAction, OnBehalfOf, Outcome, Role};
use wp_schemas::chain::log_entry_hash;
use wp_schemas::sections::Section;

use super::ids::{GrantId, PartyId, PassportId};
use super::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub actor: Option<PartyId>,
    pub grant_id: Option<GrantId>,
    /// For a member: the organisation they acted for, and their role there.
    pub on_behalf_of: Option<(PartyId, Role)>,
    pub action: LogAction,
    pub sections: Vec<Section>,
    pub outcome: Outcome,
    pub reason: String,
}

impl LogEvent {
    pub fn allowed(
        actor: &PartyId,
        grant_id: Option<&GrantId>,
        action: LogAction,
        sections: Vec<Section>,
        reason: impl Into<String>,
    ) -> Self {
        LogEvent {
            actor: Some(actor.clone()),
            grant_id: grant_id.cloned(),
            on_behalf_of: None,
            action,
            sections,
            outcome: Outcome::Allowed,
            reason: reason.into(),
        }
    }

    pub fn denied(
        actor: &PartyId,
        grant_id: Option<&GrantId>,
        action: LogAction,
        sections: Vec<Section>,
        reason: impl Into<String>,
    ) -> Self {
        LogEvent {
            outcome: Outcome::Denied,
            ..Self::allowed(actor, grant_id, action, sections, reason)
        }
    }

    /// The same event by a member acting for `organisation` as `role`.
    pub fn acting_for(self, on_behalf_of: Option<(PartyId, Role)>) -> Self {
        LogEvent {
            on_behalf_of,
            ..self
        }
    }

    /// The chained entry this event becomes at position `seq` after `prev_hash`.
    pub fn into_entry(
        self,
        passport_id: &PassportId,
        seq: i64,
        at: Timestamp,
        prev_hash: String,
    ) -> AccessLogEntry {
        let mut entry = AccessLogEntry {
            passport_id: passport_id.to_string(),
            seq,
            at: at.to_datetime(),
            actor: self.actor.map(String::from),
            grant_id: self.grant_id.map(String::from),
            on_behalf_of: self.on_behalf_of.map(|(organisation, role)| OnBehalfOf {
                organisation: organisation.into(),
                role,
            }),
            action: self.action,
            sections: self.sections,
            outcome: self.outcome,
            reason: self.reason,
            prev_hash,
            hash: String::new(),
        };
        entry.hash = log_entry_hash(&entry);
        entry
    }
}

/// Extends a passport's log with `events` (each with the time it happened): the first becomes
/// entry `first_seq`, chained after the entry whose hash is `head`. The one place a log chain
/// is extended; the hash of each entry is [`log_entry_hash`].
pub fn chain(
    passport_id: &PassportId,
    first_seq: i64,
    head: String,
    events: impl IntoIterator<Item = (LogEvent, Timestamp)>,
) -> Vec<AccessLogEntry> {
    let mut prev = head;
    events
        .into_iter()
        .zip(first_seq..)
        .map(|((event, at), seq)| {
            let entry = event.into_entry(passport_id, seq, at, std::mem::take(&mut prev));
            prev.clone_from(&entry.hash);
            entry
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wp_schemas::chain::{log_genesis, verify_log};

    #[test]
    fn a_chain_links_each_entry_to_the_one_before() {
        let (p, actor) = (PassportId::nth(1), PartyId::nth(1));
        let event = |reason: &str| {
            let e = LogEvent::allowed(&actor, None, LogAction::PassportRead, vec![], reason);
            (e, Timestamp::from_secs(100))
        };
        let first = chain(&p, 1, log_genesis(p.as_str()), [event("one")]);
        let more = chain(&p, 2, first[0].hash.clone(), [event("two"), event("three")]);
        assert_eq!(first[0].prev_hash, log_genesis(p.as_str()));
        assert_eq!(more.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(more[0].prev_hash, first[0].hash);
        assert_eq!(more[1].prev_hash, more[0].hash);
        assert_eq!(more[1].hash, log_entry_hash(&more[1]));
        let all = [first, more].concat();
        assert_eq!(verify_log(p.as_str(), &all, None), Ok(()));
    }
}
