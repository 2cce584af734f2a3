//! Export bundles: reading a passport whole, and writing an imported one in one transaction.

use wp_schemas::api::{AccessLogEntry, PartyKey};
use wp_schemas::problem::ProblemType;

use super::types::from_row;
use super::{Store, with_pool};
use crate::domain::audit::LogEvent;
use crate::domain::ids::{PartyId, PassportId};
use crate::domain::import::{self, ImportPlan};
use crate::domain::time::Timestamp;
use crate::error::{Error, Result, ResultExt};

/// Where a passport's history and log stand: what an export's checkpoint signs.
#[derive(Debug, Clone)]
pub struct PassportHeads {
    pub seq: i64,
    pub head: String,
    pub log_seq: i64,
    pub log_head: String,
}
from_row!(PassportHeads {
    seq,
    head,
    log_seq,
    log_head
});

/// Stored external keys as a bundle's key history, to compare with one.
fn known_keys(rows: Vec<(String, String, Timestamp, Option<Timestamp>)>) -> Result<Vec<PartyKey>> {
    rows.into_iter()
        .map(|(kid, jwk, created_at, revoked_at)| {
            Ok(PartyKey {
                kid,
                jwk: serde_json::from_str(&jwk).map_err(anyhow::Error::from)?,
                created_at: created_at.to_datetime(),
                revoked_at: revoked_at.map(Timestamp::to_datetime),
            })
        })
        .collect()
}

impl Store {
    /// The passport's history and log heads, read together.
    pub async fn passport_heads(&self, passport_id: &PassportId) -> Result<Option<PassportHeads>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as("SELECT seq, head, log_seq, log_head FROM passports WHERE id = $1 AND erased_at IS NULL")
                .bind(passport_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The access log up to entry `upto`, oldest first.
    pub async fn log_upto(
        &self,
        passport_id: &PassportId,
        upto: i64,
    ) -> Result<Vec<AccessLogEntry>> {
        let mut entries = self
            .log_page(passport_id, Some(upto + 1), None, i64::MAX)
            .await?;
        entries.reverse();
        Ok(entries)
    }

    /// Whether a passport with this id was ever here (erased ones included).
    pub async fn passport_exists(&self, passport_id: &PassportId) -> Result<bool> {
        let row: Option<(String,)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id FROM passports WHERE id = $1")
                .bind(passport_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.is_some())
    }

    /// Writes an imported passport, owned by `owner`, in one transaction: its external parties
    /// and their keys (those already known are left as they are), its records and versions
    /// (`sealed[i]` is `plan.versions[i]`'s JWS sealed with the new data key), its access log
    /// as the origin wrote it, and `event` chained on top. Nothing is written if any of it
    /// fails: a passport id already here is `passport-exists`, an owner who has a passport here
    /// already `conflict`.
    #[allow(clippy::too_many_arguments)]
    pub async fn import_passport(
        &self,
        plan: &ImportPlan,
        owner: &PartyId,
        sealed: &[Vec<u8>],
        master_kid: &str,
        wrapped_key: &[u8],
        event: LogEvent,
        notices: &[crate::domain::notification::Notice],
        now: Timestamp,
    ) -> Result<()> {
        let pid = &plan.passport_id;
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM passports WHERE id = $1")
                .bind(pid)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_some() {
                return Err(Error::client(
                    ProblemType::PassportExists,
                    "this passport is already on this server (was this bundle imported before?)",
                ));
            }
            // An import never changes a party known here: a party already here (checked against
            // the bundle before, and its keys again here, in case another import made it since)
            // is used as it is; only new parties get keys and memberships.
            let mut created: Vec<&PartyId> = Vec::new();
            for external in &plan.parties {
                let p = &external.party;
                let registration = p.registration.as_ref();
                let inserted = sqlx::query(
                    "INSERT INTO parties (id, kind, display_name, profession, registration_body, registration_number, created_at, origin) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
                )
                .bind(&external.id)
                .bind(p.kind.as_str())
                .bind(&p.display_name)
                .bind(registration.map(|r| r.profession.as_str()))
                .bind(registration.map(|r| r.registration_body.as_str()))
                .bind(registration.map(|r| r.registration_number.as_str()))
                .bind(Timestamp::of(&p.created_at))
                .bind(p.origin.as_deref().unwrap_or(&plan.origin))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    let known: Vec<(String, String, Timestamp, Option<Timestamp>)> = sqlx::query_as(
                        "SELECT kid, jwk, created_at, revoked_at FROM external_keys WHERE party_id = $1",
                    )
                    .bind(&external.id)
                    .fetch_all(&mut *tx)
                    .await?;
                    let (origin,): (Option<String>,) = sqlx::query_as("SELECT origin FROM parties WHERE id = $1")
                        .bind(&external.id)
                        .fetch_one(&mut *tx)
                        .await?;
                    // A party of this server: its own keys stand (checked before the import).
                    if origin.is_some() && !import::keys_agree(&p.keys, &known_keys(known)?) {
                        return Err(Error::client(
                            ProblemType::InvalidBundle,
                            format!(
                                "the bundle names party {} with other keys or key revocations \
                                 than this server knows it by: an import never changes a party \
                                 this server knows",
                                external.id
                            ),
                        ));
                    }
                    continue;
                }
                created.push(&external.id);
                for key in &p.keys {
                    let jwk = serde_json::to_string(&key.jwk).map_err(anyhow::Error::from)?;
                    sqlx::query(
                        "INSERT INTO external_keys (party_id, kid, jwk, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&external.id)
                    .bind(&key.kid)
                    .bind(&jwk)
                    .bind(Timestamp::of(&key.created_at))
                    .bind(key.revoked_at.as_ref().map(Timestamp::of))
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for (member, organisation, role, joined) in &plan.memberships {
                if !created.contains(&member) {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO memberships (member_id, organisation_id, role, joined_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(member)
                .bind(organisation)
                .bind(role.as_str())
                .bind(*joined)
                .execute(&mut *tx)
                .await?;
            }
            let log_seq = plan.log.last().map_or(0, |e| e.seq);
            sqlx::query(
                "INSERT INTO passports (id, owner_id, seq, head, log_seq, log_head, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(pid)
            .bind(owner)
            .bind(plan.seq)
            .bind(&plan.head)
            .bind(log_seq)
            .bind(&plan.log_head)
            .bind(plan.created_at)
            .execute(&mut *tx)
            .await
            .on_unique_violation(|| Error::client(ProblemType::Conflict, "you already have a passport here"))?;
            sqlx::query("INSERT INTO passport_keys (passport_id, master_kid, wrapped_key) VALUES ($1, $2, $3)")
                .bind(pid)
                .bind(master_kid)
                .bind(wrapped_key)
                .execute(&mut *tx)
                .await?;
            for record in &plan.records {
                sqlx::query(
                    "INSERT INTO records (passport_id, id, section, head_version, head_hash, deleted) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(pid)
                .bind(&record.id)
                .bind(record.section.as_str())
                .bind(record.version)
                .bind(&record.hash)
                .bind(record.deleted)
                .execute(&mut *tx)
                .await?;
            }
            for (v, sealed) in plan.versions.iter().zip(sealed) {
                sqlx::query(
                    "INSERT INTO record_versions (passport_id, record_id, version, seq, section, author_id, hash, deleted, sealed, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(pid)
                .bind(&v.record_id)
                .bind(v.version)
                .bind(v.seq)
                .bind(v.section.as_str())
                .bind(&v.author)
                .bind(&v.hash)
                .bind(v.deleted)
                .bind(sealed)
                .bind(v.created_at)
                .execute(&mut *tx)
                .await?;
            }
            crate::insert_log_entries!(tx, plan.log);
            super::log::append_log_in!(tx, pid, event, now);
            // The review dates of its adjustments, reminded from now on.
            for (record, on) in crate::domain::import::review_dates(plan) {
                sqlx::query(
                    "INSERT INTO review_dates (passport_id, record_id, review_on, set_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(pid)
                .bind(&record)
                .bind(&on)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            super::insert_notices_in!(tx, notices, now);
            tx.commit().await?;
        });
        Ok(())
    }
}
