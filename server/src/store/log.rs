//! The access log: append-only and hash-chained per passport.

use wp_schemas::api::{AccessLogEntry, LogAction, OnBehalfOf, Outcome, Role};

use super::types::from_row;
use super::{Store, with_pool};
use crate::domain::ids::{PartyId, PassportId};
use crate::domain::time::Timestamp;
use crate::error::Result;

/// Most entries in one INSERT (13 parameters each; SQLite allows 32766 in a statement).
pub const MAX_ENTRIES_PER_INSERT: usize = 256;

/// Inserts chained entries (from [`crate::domain::audit::chain`]) inside transaction `$tx`, in
/// as few statements as the parameter limit allows. The one INSERT of the access log: the
/// group-commit writer, the single-transaction writes and the benchmark seeder all come here.
/// A macro, like `with_pool!`, because it expands once per backend's transaction type.
#[macro_export]
macro_rules! insert_log_entries {
    ($tx:expr, $entries:expr) => {{
        for part in $entries.chunks($crate::service::store::log::MAX_ENTRIES_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO access_log (passport_id, seq, at, actor_id, grant_id, action, sections, outcome, reason, prev_hash, hash, organisation_id, role) ",
            );
            insert.push_values(part, |mut row, entry| {
                let entry: &wp_schemas::api::AccessLogEntry = entry;
                row.push_bind(&entry.passport_id)
                    .push_bind(entry.seq)
                    .push_bind(entry.at.timestamp())
                    .push_bind(&entry.actor)
                    .push_bind(&entry.grant_id)
                    .push_bind(entry.action.as_str())
                    .push_bind($crate::service::store::log::sections_text(&entry.sections))
                    .push_bind($crate::service::store::log::outcome_text(entry.outcome))
                    .push_bind(&entry.reason)
                    .push_bind(&entry.prev_hash)
                    .push_bind(&entry.hash)
                    .push_bind(entry.on_behalf_of.as_ref().map(|o| o.organisation.as_str()))
                    .push_bind(entry.on_behalf_of.as_ref().map(|o| o.role.as_str()));
            });
            insert.build().execute(&mut *$tx).await?;
        }
    }};
}

/// Appends `$event` to the passport's log inside transaction `$tx`, so that the entry commits
/// (or not) with the change it records. Claims the next sequence number first, which locks the
/// passport row: one chain, no forks.
macro_rules! append_log_in {
    ($tx:expr, $passport_id:expr, $event:expr, $now:expr) => {{
        let (seq, head): (i64, String) = sqlx::query_as(
            "UPDATE passports SET log_seq = log_seq + 1 WHERE id = $1 RETURNING log_seq, log_head",
        )
        .bind($passport_id)
        .fetch_one(&mut *$tx)
        .await?;
        let entries = $crate::domain::audit::chain($passport_id, seq, head, [($event, $now)]);
        $crate::insert_log_entries!($tx, entries);
        sqlx::query("UPDATE passports SET log_head = $2 WHERE id = $1")
            .bind($passport_id)
            .bind(&entries[0].hash)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(crate) use append_log_in;

pub fn outcome_text(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allowed => "allowed",
        Outcome::Denied => "denied",
    }
}

pub fn sections_text(sections: &[wp_schemas::sections::Section]) -> String {
    sections
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// A stored entry, its text columns read as they are: the log is evidence, checked by its
/// hash chain, so an entry someone altered is served as it stands for the owner's client to
/// catch, never refused as a corrupt row.
struct LogRow {
    passport_id: String,
    seq: i64,
    at: Timestamp,
    actor_id: Option<String>,
    grant_id: Option<String>,
    action: String,
    sections: String,
    outcome: String,
    reason: String,
    prev_hash: String,
    hash: String,
    organisation_id: Option<String>,
    role: Option<String>,
}
from_row!(LogRow {
    passport_id,
    seq,
    at,
    actor_id,
    grant_id,
    action,
    sections,
    outcome,
    reason,
    prev_hash,
    hash,
    organisation_id,
    role
});

impl LogRow {
    fn into_entry(self) -> Result<AccessLogEntry> {
        let sections = self
            .sections
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| anyhow::anyhow!("bad section in log")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AccessLogEntry {
            passport_id: self.passport_id,
            seq: self.seq,
            at: self.at.to_datetime(),
            actor: self.actor_id,
            grant_id: self.grant_id,
            on_behalf_of: match (self.organisation_id, self.role) {
                (Some(organisation), Some(role)) => Some(OnBehalfOf {
                    organisation,
                    role: Role::parse(&role).ok_or_else(|| anyhow::anyhow!("bad role in log"))?,
                }),
                _ => None,
            },
            action: LogAction::parse(&self.action)
                .ok_or_else(|| anyhow::anyhow!("bad log action"))?,
            sections,
            outcome: if self.outcome == "denied" {
                Outcome::Denied
            } else {
                Outcome::Allowed
            },
            reason: self.reason,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

impl Store {
    /// A page of the log, newest first: entries with `seq < before`, optionally of one actor.
    pub async fn log_page(
        &self,
        passport_id: &PassportId,
        before: Option<i64>,
        actor: Option<&PartyId>,
        limit: i64,
    ) -> Result<Vec<AccessLogEntry>> {
        let rows: Vec<LogRow> = with_pool!(self, pool => {
            sqlx::query_as(
                // The columns LogRow decodes, named (never `*`: see store/grants.rs).
                "SELECT passport_id, seq, at, actor_id, grant_id, action, sections, outcome, reason, \
                 prev_hash, hash, organisation_id, role FROM access_log \
                 WHERE passport_id = $1 AND seq < $2 AND ($3 IS NULL OR actor_id = $3) \
                 ORDER BY seq DESC LIMIT $4",
            )
            .bind(passport_id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(actor)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(LogRow::into_entry).collect()
    }
}
