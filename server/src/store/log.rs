//! The access log: append-only and hash-chained per passport.

use sqlx::FromRow;
use wp_schemas::api::{AccessLogEntry, LogAction, Outcome};

use super::{Store, with_pool};
use crate::clock::to_datetime;
use crate::error::Result;

/// Inserts a chained entry inside transaction `$tx`.
macro_rules! insert_log_entry {
    ($tx:expr, $entry:expr, $now:expr) => {{
        let entry = &$entry;
        sqlx::query(
            "INSERT INTO access_log (passport_id, seq, at, actor_id, grant_id, action, sections, outcome, reason, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&entry.passport_id)
        .bind(entry.seq)
        .bind($now)
        .bind(&entry.actor)
        .bind(&entry.grant_id)
        .bind(entry.action.as_str())
        .bind($crate::store::log::sections_text(&entry.sections))
        .bind($crate::store::log::outcome_text(entry.outcome))
        .bind(&entry.reason)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(crate) use insert_log_entry;

/// Appends `$event` to the passport's log inside transaction `$tx`, so that the entry commits
/// (or not) with the change it records. Locks the passport row first: one chain, no forks.
macro_rules! append_log_in {
    ($tx:expr, $passport_id:expr, $event:expr, $now:expr) => {{
        let (seq, prev): (i64, String) = sqlx::query_as(
            "UPDATE passports SET log_seq = log_seq + 1 WHERE id = $1 RETURNING log_seq, log_head",
        )
        .bind($passport_id)
        .fetch_one(&mut *$tx)
        .await?;
        let entry = $event.into_entry($passport_id, seq, $now, prev);
        $crate::store::log::insert_log_entry!($tx, entry, $now);
        sqlx::query("UPDATE passports SET log_head = $2 WHERE id = $1")
            .bind($passport_id)
            .bind(&entry.hash)
            .execute(&mut *$tx)
            .await?;
        entry
    }};
}
pub(crate) use append_log_in;

pub(crate) fn outcome_text(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allowed => "allowed",
        Outcome::Denied => "denied",
    }
}

pub(crate) fn sections_text(sections: &[wp_schemas::sections::Section]) -> String {
    sections
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(FromRow)]
struct LogRow {
    passport_id: String,
    seq: i64,
    at: i64,
    actor_id: Option<String>,
    grant_id: Option<String>,
    action: String,
    sections: String,
    outcome: String,
    reason: String,
    prev_hash: String,
    hash: String,
}

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
            at: to_datetime(self.at),
            actor: self.actor_id,
            grant_id: self.grant_id,
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
        passport_id: &str,
        before: Option<i64>,
        actor: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AccessLogEntry>> {
        let rows: Vec<LogRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT * FROM access_log WHERE passport_id = $1 AND seq < $2 AND ($3 IS NULL OR actor_id = $3) \
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
