//! Passports, their data keys, records and record versions.

use wp_schemas::chain::{history_genesis, log_genesis};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::Section;

use super::grants::GrantRow;
use super::log::append_log_in;
use super::organisations::parse_role;
use super::parties::parse_kind;
use super::types::from_row;
use super::{Store, with_pool};
use crate::domain::audit::LogEvent;
use crate::domain::grant::GrantRecord;
use crate::domain::ids::{GrantId, PartyId, PassportId, RecordId};
use crate::domain::organisation::MembershipRecord;
use crate::domain::time::Timestamp;
use crate::domain::version::{AcceptedVersion, Head};
use crate::error::{Error, Result, ResultExt};

#[derive(Debug, Clone)]
pub struct PassportRow {
    pub id: PassportId,
    pub owner_id: PartyId,
    pub seq: i64,
    pub head: String,
    pub created_at: Timestamp,
    pub erased_at: Option<Timestamp>,
    /// The wrapped data key (master key id, wrapped key), when read with the access context.
    pub wrapped_key: Option<(String, Vec<u8>)>,
}
from_row!(PassportRow { id, owner_id, seq, head, created_at, erased_at } |_row| { wrapped_key: None });

/// What a request on a passport is decided on: the passport, the grant its consent token
/// names, and the caller's membership of that grant's grantee organisation.
pub struct AccessContext {
    pub passport: PassportRow,
    pub grant: Option<GrantRecord>,
    pub membership: Option<MembershipRecord>,
}

/// Everything a request on a passport needs to be decided, read in one statement.
struct ContextRow {
    id: PassportId,
    owner_id: PartyId,
    seq: i64,
    head: String,
    created_at: Timestamp,
    erased_at: Option<Timestamp>,
    master_kid: Option<String>,
    wrapped_key: Option<Vec<u8>>,
    g_id: Option<GrantId>,
    g_passport_id: Option<PassportId>,
    g_grantor_id: Option<PartyId>,
    g_grantee_id: Option<PartyId>,
    g_roles: Option<String>,
    g_members: Option<String>,
    g_scopes: Option<String>,
    g_purpose: Option<String>,
    g_consent_text: Option<String>,
    g_starts_at: Option<Timestamp>,
    g_ends_at: Option<Timestamp>,
    g_revoked_at: Option<Timestamp>,
    g_created_at: Option<Timestamp>,
    m_organisation_kind: Option<String>,
    m_organisation_name: Option<String>,
    m_role: Option<String>,
    m_joined_at: Option<Timestamp>,
    m_removed_at: Option<Timestamp>,
}
from_row!(ContextRow {
    id,
    owner_id,
    seq,
    head,
    created_at,
    erased_at,
    master_kid,
    wrapped_key,
    g_id,
    g_passport_id,
    g_grantor_id,
    g_grantee_id,
    g_roles,
    g_members,
    g_scopes,
    g_purpose,
    g_consent_text,
    g_starts_at,
    g_ends_at,
    g_revoked_at,
    g_created_at,
    m_organisation_kind,
    m_organisation_name,
    m_role,
    m_joined_at,
    m_removed_at
});

/// A stored version; `sealed` is its JWS encrypted with the passport's data key.
#[derive(Debug, Clone)]
pub struct VersionRow {
    pub record_id: RecordId,
    pub version: i64,
    pub seq: i64,
    pub section: Section,
    pub author_id: PartyId,
    pub hash: String,
    pub deleted: bool,
    pub sealed: Vec<u8>,
    pub created_at: Timestamp,
}
from_row!(VersionRow { record_id, version, seq, section as String, author_id, hash, deleted, sealed, created_at });

struct HeadRow {
    section: Section,
    head_version: i64,
    head_hash: String,
    deleted: bool,
}
from_row!(HeadRow { section as String, head_version, head_hash, deleted });

/// A version to append: accepted, sealed with the passport's data key, with the record head it
/// must follow (None: a new record) and the log entry that allows it. The group-commit writer
/// appends it ([`crate::service::store::Writer::append_version`]).
#[derive(Debug, Clone)]
pub struct VersionAppend {
    pub passport_id: PassportId,
    pub version: AcceptedVersion,
    pub sealed: Vec<u8>,
    pub expected: Option<Head>,
    pub max_records: i64,
    pub event: LogEvent,
    pub now: Timestamp,
    /// Notifications the version causes, written with it.
    pub notices: Vec<crate::domain::notification::Notice>,
    /// What the version does to its record's review date (adjustments only).
    pub review: Option<ReviewChange>,
}

/// A record's review date after a version: set (with the organisation whose member agreed the
/// adjustment, if one did) or gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewChange {
    Set {
        on: String,
        agreed_by: Option<PartyId>,
    },
    Cleared,
}

/// Why a version was not appended.
#[derive(Debug)]
pub enum AppendError {
    /// Someone else's version got there first; the caller reports the current head.
    Stale,
    /// A new record would pass the passport's limit of records.
    Full,
    Other(Error),
}

impl From<Error> for AppendError {
    fn from(e: Error) -> Self {
        AppendError::Other(e)
    }
}

impl From<sqlx::Error> for AppendError {
    fn from(e: sqlx::Error) -> Self {
        AppendError::Other(e.into())
    }
}

const VERSION_COLUMNS: &str = "v.record_id, v.version, v.seq, v.section, v.author_id, v.hash, v.deleted, v.sealed, v.created_at";

impl Store {
    /// Creates a passport with its wrapped data key and logs it, atomically.
    pub async fn create_passport(
        &self,
        id: &PassportId,
        owner: &PartyId,
        master_kid: &str,
        wrapped_key: &[u8],
        event: LogEvent,
        now: Timestamp,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO passports (id, owner_id, seq, head, log_seq, log_head, created_at) VALUES ($1, $2, 0, $3, 0, $4, $5)",
            )
            .bind(id)
            .bind(owner)
            .bind(history_genesis(id.as_str()))
            .bind(log_genesis(id.as_str()))
            .bind(now)
            .execute(&mut *tx)
            .await
            .on_unique_violation(|| Error::client(ProblemType::Conflict, "you already have a passport"))?;
            sqlx::query("INSERT INTO passport_keys (passport_id, master_kid, wrapped_key) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(master_kid)
                .bind(wrapped_key)
                .execute(&mut *tx)
                .await?;
            append_log_in!(tx, id, event, now);
            tx.commit().await?;
        });
        Ok(())
    }

    #[cfg(feature = "testing")]
    pub async fn passport(&self, id: &PassportId) -> Result<Option<PassportRow>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as("SELECT id, owner_id, seq, head, created_at, erased_at FROM passports WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The passport, its wrapped data key and (when `grant_id` is given) that grant with the
    /// caller's membership of its grantee, as they are now: one statement, because every
    /// authorised request starts here.
    pub async fn access_context(
        &self,
        passport_id: &PassportId,
        grant_id: Option<&GrantId>,
        caller: &PartyId,
    ) -> Result<Option<AccessContext>> {
        let row: Option<ContextRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT p.id, p.owner_id, p.seq, p.head, p.created_at, p.erased_at, k.master_kid, k.wrapped_key, \
                 g.id AS g_id, g.passport_id AS g_passport_id, g.grantor_id AS g_grantor_id, g.grantee_id AS g_grantee_id, \
                 g.scopes AS g_scopes, g.purpose AS g_purpose, g.consent_text AS g_consent_text, g.starts_at AS g_starts_at, \
                 g.ends_at AS g_ends_at, g.revoked_at AS g_revoked_at, g.created_at AS g_created_at, \
                 g.roles AS g_roles, g.members AS g_members, o.kind AS m_organisation_kind, \
                 o.display_name AS m_organisation_name, m.role AS m_role, m.joined_at AS m_joined_at, \
                 m.removed_at AS m_removed_at \
                 FROM passports p \
                 LEFT JOIN passport_keys k ON k.passport_id = p.id \
                 LEFT JOIN grants g ON g.id = $2 \
                 LEFT JOIN memberships m ON m.member_id = $3 AND m.organisation_id = g.grantee_id \
                 LEFT JOIN parties o ON o.id = m.organisation_id \
                 WHERE p.id = $1",
            )
            .bind(passport_id)
            .bind(grant_id)
            .bind(caller)
            .fetch_optional(pool)
            .await?
        });
        let Some(r) = row else { return Ok(None) };
        let grant = match (
            r.g_id,
            r.g_passport_id,
            r.g_grantor_id,
            r.g_grantee_id,
            r.g_scopes,
            r.g_purpose,
            r.g_consent_text,
            r.g_starts_at,
            r.g_ends_at,
            r.g_created_at,
            r.g_roles,
            r.g_members,
        ) {
            (
                Some(id),
                Some(passport_id),
                Some(grantor_id),
                Some(grantee_id),
                Some(scopes),
                Some(purpose),
                Some(consent_text),
                Some(starts_at),
                Some(ends_at),
                Some(created_at),
                Some(roles),
                Some(members),
            ) => Some(
                GrantRow {
                    id,
                    passport_id,
                    grantor_id,
                    grantee_id,
                    roles,
                    members,
                    scopes,
                    purpose,
                    consent_text,
                    starts_at,
                    ends_at,
                    revoked_at: r.g_revoked_at,
                    created_at,
                }
                .into_grant()?,
            ),
            _ => None,
        };
        let membership = match (
            &grant,
            r.m_organisation_kind,
            r.m_organisation_name,
            r.m_role,
        ) {
            (Some(g), Some(kind), Some(name), Some(role)) => Some(MembershipRecord {
                member: caller.clone(),
                organisation: g.grantee.clone(),
                organisation_kind: parse_kind(&kind)?,
                organisation_name: name,
                role: parse_role(&role)?,
                joined_at: r.m_joined_at.unwrap_or(Timestamp::EPOCH),
                removed_at: r.m_removed_at,
            }),
            _ => None,
        };
        let passport = PassportRow {
            id: r.id,
            owner_id: r.owner_id,
            seq: r.seq,
            head: r.head,
            created_at: r.created_at,
            erased_at: r.erased_at,
            wrapped_key: r.master_kid.zip(r.wrapped_key),
        };
        Ok(Some(AccessContext {
            passport,
            grant,
            membership,
        }))
    }

    pub async fn passport_of_owner(&self, owner: &PartyId) -> Result<Option<PassportId>> {
        let row: Option<(PassportId,)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id FROM passports WHERE owner_id = $1 AND erased_at IS NULL")
                .bind(owner)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|r| r.0))
    }

    /// The passport's wrapped data key: (master key id, wrapped key). For the tests and the
    /// benchmark ([`crate::service::vault::data_key`]).
    #[cfg(feature = "testing")]
    pub async fn wrapped_data_key(
        &self,
        passport_id: &PassportId,
    ) -> Result<Option<(String, Vec<u8>)>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as("SELECT master_kid, wrapped_key FROM passport_keys WHERE passport_id = $1")
                .bind(passport_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    pub async fn record_head(
        &self,
        passport_id: &PassportId,
        record_id: &RecordId,
    ) -> Result<Option<Head>> {
        let row: Option<HeadRow> = with_pool!(self, pool => {
            sqlx::query_as("SELECT section, head_version, head_hash, deleted FROM records WHERE passport_id = $1 AND id = $2")
                .bind(passport_id)
                .bind(record_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|r| Head {
            section: r.section,
            version: r.head_version,
            hash: r.head_hash,
            deleted: r.deleted,
        }))
    }

    /// The head version of one record.
    pub async fn head_version(
        &self,
        passport_id: &PassportId,
        record_id: &RecordId,
    ) -> Result<Option<VersionRow>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {VERSION_COLUMNS} FROM records r JOIN record_versions v \
                 ON v.passport_id = r.passport_id AND v.record_id = r.id AND v.version = r.head_version \
                 WHERE r.passport_id = $1 AND r.id = $2"
            ))
            .bind(passport_id)
            .bind(record_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// The head version of every live (not deleted) record, in sequence order. For the
    /// benchmark; a read asks for the sections its caller may see ([`Store::live_heads_in`]).
    #[cfg(feature = "testing")]
    pub async fn live_heads(&self, passport_id: &PassportId) -> Result<Vec<VersionRow>> {
        self.live_heads_in(passport_id, &Section::ALL).await
    }

    /// The same, in the given sections only: rows a caller may not see are never read.
    pub async fn live_heads_in(
        &self,
        passport_id: &PassportId,
        sections: &[Section],
    ) -> Result<Vec<VersionRow>> {
        if sections.is_empty() {
            return Ok(Vec::new());
        }
        Ok(with_pool!(self, pool => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {VERSION_COLUMNS} FROM records r JOIN record_versions v \
                 ON v.passport_id = r.passport_id AND v.record_id = r.id AND v.version = r.head_version \
                 WHERE r.deleted = FALSE AND r.passport_id = "
            ));
            query.push_bind(passport_id).push(" AND r.section IN (");
            let mut list = query.separated(", ");
            for section in sections {
                list.push_bind(section.as_str());
            }
            query.push(") ORDER BY v.seq");
            query.build_query_as().fetch_all(pool).await?
        }))
    }

    pub async fn history(
        &self,
        passport_id: &PassportId,
        record_id: &RecordId,
    ) -> Result<Vec<VersionRow>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {VERSION_COLUMNS} FROM record_versions v WHERE v.passport_id = $1 AND v.record_id = $2 ORDER BY v.version"
            ))
            .bind(passport_id)
            .bind(record_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Versions with sequence numbers after `since` and up to `up_to`, oldest first, at most
    /// `limit`.
    pub async fn versions_since(
        &self,
        passport_id: &PassportId,
        since: i64,
        up_to: i64,
        limit: i64,
    ) -> Result<Vec<VersionRow>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {VERSION_COLUMNS} FROM record_versions v WHERE v.passport_id = $1 AND v.seq > $2 AND v.seq <= $3 ORDER BY v.seq LIMIT $4"
            ))
            .bind(passport_id)
            .bind(since)
            .bind(up_to)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Erases a passport: destroys its data key (crypto-shredding), then deletes its records,
    /// grants, log and review dates. The passport row stays, marked erased, so that later
    /// requests get 410. `notices` (the owner's alert) are written with the erasure.
    pub async fn erase_passport(
        &self,
        passport_id: &PassportId,
        notices: &[crate::domain::notification::Notice],
        now: Timestamp,
    ) -> Result<bool> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            let erased = sqlx::query("UPDATE passports SET erased_at = $2 WHERE id = $1 AND erased_at IS NULL")
                .bind(passport_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if erased == 0 {
                return Ok(false);
            }
            for table in ["passport_keys", "record_versions", "records", "grants", "access_log", "review_dates"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE passport_id = $1"))
                    .bind(passport_id)
                    .execute(&mut *tx)
                    .await?;
            }
            super::insert_notices_in!(tx, notices, now);
            tx.commit().await?;
        });
        Ok(true)
    }
}

/// Appends a version (a `&VersionAppend`) inside transaction `$tx` if the record's head is still
/// the one it names (for a new record: the record does not exist and the passport has room),
/// gives it the passport's next sequence number, extends the history hash and logs the write.
/// Evaluates to the version's sequence number, or why it was refused; a database error returns
/// from the enclosing function. The record's head moves first, by compare-and-set, so a refused
/// version has written nothing and the rest of its transaction goes on. On PostgreSQL the
/// caller holds the passport's row lock already (the writer locks its batch's passports in id
/// order), so the sequence numbers have no gaps.
macro_rules! append_version_in {
    ($tx:expr, $job:expr) => {{
        let job: &$crate::service::store::VersionAppend = $job;
        let (passport_id, v) = (&job.passport_id, &job.version);
        let moved = match &job.expected {
            None => sqlx::query(
                "INSERT INTO records (passport_id, id, section, head_version, head_hash, deleted) \
                 SELECT $1, $2, $3, $4, $5, $6 \
                 WHERE (SELECT COUNT(*) FROM records WHERE passport_id = $1) < $7 \
                 AND EXISTS (SELECT 1 FROM passports WHERE id = $1 AND erased_at IS NULL) \
                 ON CONFLICT (passport_id, id) DO NOTHING",
            )
            .bind(passport_id)
            .bind(v.record())
            .bind(v.section().as_str())
            .bind(v.version())
            .bind(v.hash())
            .bind(v.deleted())
            .bind(job.max_records)
            .execute(&mut *$tx)
            .await?,
            // An erased passport has no records left to match.
            Some(e) => sqlx::query(
                "UPDATE records SET head_version = $3, head_hash = $4, deleted = $5 \
                 WHERE passport_id = $1 AND id = $2 AND head_version = $6 AND head_hash = $7",
            )
            .bind(passport_id)
            .bind(v.record())
            .bind(v.version())
            .bind(v.hash())
            .bind(v.deleted())
            .bind(e.version)
            .bind(&e.hash)
            .execute(&mut *$tx)
            .await?,
        }
        .rows_affected();
        if moved == 0 {
            // Refused: the passport is gone, another writer got there first, or (for a new
            // record) the passport is full.
            let live: Option<(bool,)> =
                sqlx::query_as("SELECT erased_at IS NULL FROM passports WHERE id = $1")
                    .bind(passport_id)
                    .fetch_optional(&mut *$tx)
                    .await?;
            if live != Some((true,)) {
                Err($crate::service::store::AppendError::Other($crate::error::Error::client(
                    wp_schemas::problem::ProblemType::Gone,
                    "the passport was erased",
                )))
            } else if job.expected.is_some() {
                Err($crate::service::store::AppendError::Stale)
            } else {
                // A new record: refused because it exists already, or because there is no room.
                let exists: Option<(i64,)> = sqlx::query_as(
                    "SELECT head_version FROM records WHERE passport_id = $1 AND id = $2",
                )
                .bind(passport_id)
                .bind(v.record())
                .fetch_optional(&mut *$tx)
                .await?;
                Err(match exists {
                    Some(_) => $crate::service::store::AppendError::Stale,
                    None => $crate::service::store::AppendError::Full,
                })
            }
        } else {
            // Claim the next version and log sequence numbers in one statement.
            let (seq, history_head, log_seq, log_head): (i64, String, i64, String) =
                sqlx::query_as(
                    "UPDATE passports SET seq = seq + 1, log_seq = log_seq + 1 WHERE id = $1 \
                     RETURNING seq, head, log_seq, log_head",
                )
                .bind(passport_id)
                .fetch_one(&mut *$tx)
                .await?;
            sqlx::query(
                "INSERT INTO record_versions (passport_id, record_id, version, seq, section, author_id, hash, deleted, sealed, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(passport_id)
            .bind(v.record())
            .bind(v.version())
            .bind(seq)
            .bind(v.section().as_str())
            .bind(v.author())
            .bind(v.hash())
            .bind(v.deleted())
            .bind(&job.sealed)
            .bind(job.now)
            .execute(&mut *$tx)
            .await?;
            let entries = $crate::domain::audit::chain(
                passport_id,
                log_seq,
                log_head,
                [(job.event.clone(), job.now)],
            );
            $crate::insert_log_entries!($tx, entries);
            sqlx::query("UPDATE passports SET head = $2, log_head = $3 WHERE id = $1")
                .bind(passport_id)
                .bind(wp_schemas::chain::history_next(&history_head, v.hash()))
                .bind(&entries[0].hash)
                .execute(&mut *$tx)
                .await?;
            match &job.review {
                None => {}
                Some($crate::service::store::ReviewChange::Cleared) => {
                    sqlx::query("DELETE FROM review_dates WHERE passport_id = $1 AND record_id = $2")
                        .bind(passport_id)
                        .bind(v.record())
                        .execute(&mut *$tx)
                        .await?;
                }
                // An agreement is remembered until a later version that is not one: the
                // organisation that agreed stays the one reminded while its consent lasts.
                Some($crate::service::store::ReviewChange::Set { on, agreed_by }) => {
                    sqlx::query(
                        "INSERT INTO review_dates (passport_id, record_id, review_on, set_at, agreed_by) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (passport_id, record_id) DO UPDATE \
                         SET review_on = $3, set_at = CASE WHEN review_dates.review_on = $3 \
                         THEN review_dates.set_at ELSE $4 END, \
                         agreed_by = COALESCE($5, review_dates.agreed_by)",
                    )
                    .bind(passport_id)
                    .bind(v.record())
                    .bind(on)
                    .bind(job.now)
                    .bind(agreed_by)
                    .execute(&mut *$tx)
                    .await?;
                }
            }
            $crate::service::store::insert_notices_in!($tx, &job.notices, job.now);
            Ok(seq)
        }
    }};
}
pub(crate) use append_version_in;
