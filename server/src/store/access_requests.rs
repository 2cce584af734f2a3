//! Access requests.

use wp_schemas::api::Role;

use super::grants::{insert_grant_in, list_text, parse_list};
use super::types::from_row;
use super::{Store, with_pool};
use crate::domain::access_request::{AccessRequestRecord, Decision};
use crate::domain::audit::LogEvent;
use crate::domain::grant::GrantRecord;
use crate::domain::ids::{AccessRequestId, GrantId, PartyId};
use crate::domain::notification::Notice;
use crate::domain::time::Timestamp;
use crate::error::Result;

struct RequestRow {
    id: AccessRequestId,
    organisation_id: PartyId,
    organisation_name: String,
    requested_by: PartyId,
    requested_by_name: String,
    roles: String,
    scopes: String,
    purpose: String,
    duration_days: i64,
    employee_id: Option<PartyId>,
    code_hash: String,
    created_at: Timestamp,
    expires_at: Timestamp,
    decided_at: Option<Timestamp>,
    decision: Option<String>,
    grant_id: Option<GrantId>,
}
from_row!(RequestRow {
    id,
    organisation_id,
    organisation_name,
    requested_by,
    requested_by_name,
    roles,
    scopes,
    purpose,
    duration_days,
    employee_id,
    code_hash,
    created_at,
    expires_at,
    decided_at,
    decision,
    grant_id
});

impl RequestRow {
    fn into_record(self) -> Result<AccessRequestRecord> {
        let decision = match self.decision.as_deref() {
            None => None,
            Some(text) => Some(
                Decision::parse(text)
                    .ok_or_else(|| anyhow::anyhow!("bad decision {text} in store"))?,
            ),
        };
        Ok(AccessRequestRecord {
            id: self.id,
            organisation: self.organisation_id,
            organisation_name: self.organisation_name,
            requested_by: self.requested_by,
            requested_by_name: self.requested_by_name,
            roles: parse_list(&self.roles, Role::parse)?,
            scopes: serde_json::from_str(&self.scopes).map_err(anyhow::Error::from)?,
            purpose: self.purpose,
            duration_days: self.duration_days,
            employee: self.employee_id,
            code_hash: self.code_hash,
            created_at: self.created_at,
            expires_at: self.expires_at,
            decided_at: self.decided_at,
            decision,
            grant_id: self.grant_id,
        })
    }
}

const REQUEST_COLUMNS: &str = "SELECT r.id, r.organisation_id, o.display_name AS organisation_name, \
     r.requested_by, p.display_name AS requested_by_name, r.roles, r.scopes, r.purpose, \
     r.duration_days, r.employee_id, r.code_hash, r.created_at, r.expires_at, r.decided_at, \
     r.decision, r.grant_id \
     FROM access_requests r JOIN parties o ON o.id = r.organisation_id \
     JOIN parties p ON p.id = r.requested_by";

impl Store {
    /// Stores a request, and writes `notices` (the employee's, when it names one) with it.
    pub async fn create_access_request(
        &self,
        request: &AccessRequestRecord,
        notices: &[Notice],
    ) -> Result<()> {
        let scopes = serde_json::to_string(&request.scopes).map_err(anyhow::Error::from)?;
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO access_requests (id, organisation_id, requested_by, roles, scopes, purpose, \
                 duration_days, employee_id, code_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&request.id)
            .bind(&request.organisation)
            .bind(&request.requested_by)
            .bind(list_text(&request.roles, |r| r.as_str()))
            .bind(&scopes)
            .bind(&request.purpose)
            .bind(request.duration_days)
            .bind(&request.employee)
            .bind(&request.code_hash)
            .bind(request.created_at)
            .bind(request.expires_at)
            .execute(&mut *tx)
            .await?;
            super::insert_notices_in!(tx, notices, request.created_at);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn access_request_by_code_hash(
        &self,
        code_hash: &str,
    ) -> Result<Option<AccessRequestRecord>> {
        let row: Option<RequestRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("{REQUEST_COLUMNS} WHERE r.code_hash = $1"))
                .bind(code_hash)
                .fetch_optional(pool)
                .await?
        });
        row.map(RequestRow::into_record).transpose()
    }

    /// An organisation's requests, newest first.
    pub async fn access_requests(
        &self,
        organisation: &PartyId,
    ) -> Result<Vec<AccessRequestRecord>> {
        let rows: Vec<RequestRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "{REQUEST_COLUMNS} WHERE r.organisation_id = $1 ORDER BY r.created_at DESC, r.id"
            ))
            .bind(organisation)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(RequestRow::into_record).collect()
    }

    /// Declines a pending request, writing `notices` (the requester's) with the decision;
    /// false if it was decided meanwhile.
    pub async fn decline_access_request(
        &self,
        id: &AccessRequestId,
        notices: &[Notice],
        now: Timestamp,
    ) -> Result<bool> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            let declined = sqlx::query(
                "UPDATE access_requests SET decided_at = $2, decision = 'declined' \
                 WHERE id = $1 AND decided_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if declined != 1 {
                return Ok(false);
            }
            super::insert_notices_in!(tx, notices, now);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Approves a pending request by making `grant` (and logging it), in one transaction: a
    /// request is approved once even when two approvals race. False if it was decided meanwhile.
    pub async fn approve_access_request(
        &self,
        id: &AccessRequestId,
        grant: &GrantRecord,
        event: LogEvent,
        notices: &[Notice],
        now: Timestamp,
    ) -> Result<bool> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(
                "UPDATE access_requests SET decided_at = $2, decision = 'approved', grant_id = $3 \
                 WHERE id = $1 AND decided_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .bind(&grant.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed != 1 {
                return Ok(false);
            }
            insert_grant_in!(tx, grant, event, now);
            super::insert_notices_in!(tx, notices, now);
            tx.commit().await?;
            Ok(true)
        })
    }
}
