//! Consent grants.

use super::log::append_log_in;
use super::types::from_row;
use super::{Store, with_pool};
use crate::domain::audit::LogEvent;
use crate::domain::grant::GrantRecord;
use crate::domain::ids::{GrantId, PartyId, PassportId};
use crate::domain::time::Timestamp;
use crate::error::Result;
use wp_schemas::api::Role;

/// A grant as stored; [`GrantRow::into_grant`] is the one decoding of it, for the grant queries
/// and the access context's join alike.
pub(super) struct GrantRow {
    pub(super) id: GrantId,
    pub(super) passport_id: PassportId,
    pub(super) grantor_id: PartyId,
    pub(super) grantee_id: PartyId,
    pub(super) roles: String,
    pub(super) members: String,
    pub(super) scopes: String,
    pub(super) purpose: String,
    pub(super) consent_text: String,
    pub(super) starts_at: Timestamp,
    pub(super) ends_at: Timestamp,
    pub(super) revoked_at: Option<Timestamp>,
    pub(super) created_at: Timestamp,
}
from_row!(GrantRow {
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
    revoked_at,
    created_at
});

impl GrantRow {
    pub(super) fn into_grant(self) -> Result<GrantRecord> {
        Ok(GrantRecord {
            scopes: serde_json::from_str(&self.scopes).map_err(anyhow::Error::from)?,
            id: self.id,
            passport_id: self.passport_id,
            grantor: self.grantor_id,
            grantee: self.grantee_id,
            roles: parse_list(&self.roles, Role::parse)?,
            members: parse_list(&self.members, PartyId::parse)?,
            purpose: self.purpose,
            consent_text: self.consent_text,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            revoked_at: self.revoked_at,
            created_at: self.created_at,
        })
    }
}

/// A stored comma-separated list (roles, member ids), each item checked.
pub(super) fn parse_list<T>(text: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>> {
    text.split(',')
        .filter(|item| !item.is_empty())
        .map(|item| {
            parse(item).ok_or_else(|| anyhow::anyhow!("bad list item {item:?} in store").into())
        })
        .collect()
}

/// The stored form of a list: comma-separated (no item holds a comma: roles and UUIDs).
pub(super) fn list_text<T>(items: &[T], text: impl Fn(&T) -> &str) -> String {
    items.iter().map(text).collect::<Vec<_>>().join(",")
}

/// Inserts `$grant` and logs its creation (`$event`) inside transaction `$tx`.
macro_rules! insert_grant_in {
    ($tx:expr, $grant:expr, $event:expr, $now:expr) => {{
        let grant: &$crate::domain::grant::GrantRecord = $grant;
        let scopes = serde_json::to_string(&grant.scopes).map_err(anyhow::Error::from)?;
        $crate::service::store::log::append_log_in!($tx, &grant.passport_id, $event, $now);
        sqlx::query(
            "INSERT INTO grants (id, passport_id, grantor_id, grantee_id, scopes, purpose, consent_text, starts_at, ends_at, created_at, roles, members) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&grant.id)
        .bind(&grant.passport_id)
        .bind(&grant.grantor)
        .bind(&grant.grantee)
        .bind(&scopes)
        .bind(&grant.purpose)
        .bind(&grant.consent_text)
        .bind(grant.starts_at)
        .bind(grant.ends_at)
        .bind(grant.created_at)
        .bind($crate::service::store::grants::list_text(&grant.roles, |r| r.as_str()))
        .bind($crate::service::store::grants::list_text(&grant.members, $crate::domain::ids::PartyId::as_str))
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(super) use insert_grant_in;

/// Names the columns the row type decodes, never `*`: a statement prepared on a pooled SQLite
/// connection before a migration adds a column would otherwise stop decoding after it.
macro_rules! select_grants {
    ($where:literal) => {
        concat!(
            "SELECT id, passport_id, grantor_id, grantee_id, roles, members, scopes, purpose, \
             consent_text, starts_at, ends_at, revoked_at, created_at FROM grants ",
            $where
        )
    };
}
pub(super) use select_grants;

fn all(rows: Vec<GrantRow>) -> Result<Vec<GrantRecord>> {
    rows.into_iter().map(GrantRow::into_grant).collect()
}

impl Store {
    /// Stores a grant and logs its creation, atomically.
    pub async fn create_grant(
        &self,
        grant: &GrantRecord,
        event: LogEvent,
        now: Timestamp,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            insert_grant_in!(tx, grant, event, now);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn grant(&self, id: &GrantId) -> Result<Option<GrantRecord>> {
        let row: Option<GrantRow> = with_pool!(self, pool => {
            sqlx::query_as(select_grants!("WHERE id = $1")).bind(id).fetch_optional(pool).await?
        });
        row.map(GrantRow::into_grant).transpose()
    }

    pub async fn grants_of_passport(&self, passport_id: &PassportId) -> Result<Vec<GrantRecord>> {
        all(with_pool!(self, pool => {
            sqlx::query_as(select_grants!("WHERE passport_id = $1 ORDER BY created_at DESC, id"))
                .bind(passport_id)
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn grants_to(&self, grantee: &PartyId) -> Result<Vec<GrantRecord>> {
        all(with_pool!(self, pool => {
            sqlx::query_as(select_grants!("WHERE grantee_id = $1 ORDER BY created_at DESC, id"))
                .bind(grantee)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Revokes a grant (idempotent: a revoked grant keeps its first revocation time) and logs it.
    pub async fn revoke_grant(
        &self,
        passport_id: &PassportId,
        grant_id: &GrantId,
        event: LogEvent,
        now: Timestamp,
    ) -> Result<Option<GrantRecord>> {
        let row: Option<GrantRow> = with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            append_log_in!(tx, passport_id, event, now);
            sqlx::query("UPDATE grants SET revoked_at = $3 WHERE id = $1 AND passport_id = $2 AND revoked_at IS NULL")
                .bind(grant_id)
                .bind(passport_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let row: Option<GrantRow> = sqlx::query_as(select_grants!("WHERE id = $1 AND passport_id = $2"))
                .bind(grant_id)
                .bind(passport_id)
                .fetch_optional(&mut *tx)
                .await?;
            if row.is_some() {
                tx.commit().await?;
            }
            row
        });
        row.map(GrantRow::into_grant).transpose()
    }
}
