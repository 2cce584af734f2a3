//! Access-log events. An event names who did what to which sections and why it was allowed or
//! denied; it never carries a section's contents.

use wp_schemas::api::{AccessLogEntry, LogAction, Outcome};
use wp_schemas::chain::log_entry_hash;
use wp_schemas::sections::Section;

use crate::clock::to_datetime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub actor: Option<String>,
    pub grant_id: Option<String>,
    pub action: LogAction,
    pub sections: Vec<Section>,
    pub outcome: Outcome,
    pub reason: String,
}

impl LogEvent {
    pub fn allowed(
        actor: &str,
        grant_id: Option<&str>,
        action: LogAction,
        sections: Vec<Section>,
        reason: impl Into<String>,
    ) -> Self {
        LogEvent {
            actor: Some(actor.to_owned()),
            grant_id: grant_id.map(str::to_owned),
            action,
            sections,
            outcome: Outcome::Allowed,
            reason: reason.into(),
        }
    }

    pub fn denied(
        actor: &str,
        grant_id: Option<&str>,
        action: LogAction,
        sections: Vec<Section>,
        reason: impl Into<String>,
    ) -> Self {
        LogEvent {
            outcome: Outcome::Denied,
            ..Self::allowed(actor, grant_id, action, sections, reason)
        }
    }

    /// The chained entry this event becomes at position `seq` after `prev_hash`.
    pub fn into_entry(
        self,
        passport_id: &str,
        seq: i64,
        at: i64,
        prev_hash: String,
    ) -> AccessLogEntry {
        let mut entry = AccessLogEntry {
            passport_id: passport_id.to_owned(),
            seq,
            at: to_datetime(at),
            actor: self.actor,
            grant_id: self.grant_id,
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
