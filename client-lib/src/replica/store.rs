//! The replica's rows: what a verified batch writes, in one transaction, and what is read back.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::Value;
use sqlx::Row;
use wp_schemas::api::{Party, VersionEnvelope, VersionPayload};
use wp_schemas::jose::CompactJws;

use super::verify::Batch;
use super::{LocalRecord, Replica, SyncState, fail, to_datetime};
use crate::error::{ClientError, Result};

type StateRow = (
    String,
    Option<String>,
    i64,
    Option<String>,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
    i64,
);

type VersionRow = (String, i64, i64, String, String, String, bool, String, i64);

fn envelope_of(row: VersionRow) -> Result<VersionEnvelope> {
    let (record_id, version, seq, section, author, hash, deleted, jws, created_at) = row;
    Ok(VersionEnvelope {
        seq,
        section: section
            .parse()
            .map_err(|_| fail(format!("the replica holds an unknown section {section}")))?,
        record_id,
        version,
        author,
        hash,
        deleted,
        jws,
        created_at: to_datetime(created_at),
    })
}

impl Replica {
    /// Writes a verified response: versions, authors, cursor, checkpoint and ETag together.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn apply(
        &self,
        pid: &str,
        grant_id: Option<&str>,
        state: Option<&SyncState>,
        fresh: bool,
        batch: &Batch,
        next_since: i64,
        etag: Option<String>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if fresh && state.is_some() {
            for table in ["replica_versions", "replica_parties"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE passport_id = ?1"))
                    .bind(pid)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let mut authors: HashMap<&str, &Party> = HashMap::new();
        for v in &batch.versions {
            let e = &v.envelope;
            sqlx::query(
                "INSERT INTO replica_versions (passport_id, record_id, version, seq, section, author, hash, deleted, jws, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .bind(pid)
            .bind(&e.record_id)
            .bind(e.version)
            .bind(e.seq)
            .bind(e.section.as_str())
            .bind(&e.author)
            .bind(&e.hash)
            .bind(e.deleted)
            .bind(&e.jws)
            .bind(e.created_at.timestamp())
            .execute(&mut *tx)
            .await?;
            authors.insert(v.author.id.as_str(), &v.author);
        }
        for (id, party) in authors {
            let json =
                serde_json::to_string(party).map_err(|e| ClientError::Other(e.to_string()))?;
            sqlx::query(
                "INSERT INTO replica_parties (passport_id, party_id, party) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (passport_id, party_id) DO UPDATE SET party = excluded.party",
            )
            .bind(pid)
            .bind(id)
            .bind(json)
            .execute(&mut *tx)
            .await?;
        }
        let jwk =
            serde_json::to_string(&batch.jwk).map_err(|e| ClientError::Other(e.to_string()))?;
        let (chain_seq, chain_head) = batch.chain.clone().unzip();
        let now = Utc::now().timestamp();
        // Inserted for a passport new here; otherwise updated only on top of the state this
        // batch was checked against (a new row racing another sync finds the row there).
        let updated = sqlx::query(
            "INSERT INTO replica_passports (passport_id, grant_id, cursor_seq, etag, checkpoint, checkpoint_seq, \
             checkpoint_head, checkpoint_jwk, chain_seq, chain_head, synced_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (passport_id) DO UPDATE SET grant_id = excluded.grant_id, cursor_seq = excluded.cursor_seq, \
             etag = excluded.etag, checkpoint = excluded.checkpoint, checkpoint_seq = excluded.checkpoint_seq, \
             checkpoint_head = excluded.checkpoint_head, checkpoint_jwk = excluded.checkpoint_jwk, \
             chain_seq = excluded.chain_seq, chain_head = excluded.chain_head, synced_at = excluded.synced_at \
             WHERE replica_passports.cursor_seq = ?12 AND replica_passports.checkpoint_seq = ?13 \
             AND replica_passports.checkpoint_head = ?14",
        )
        .bind(pid)
        .bind(grant_id)
        .bind(next_since)
        .bind(etag)
        .bind(&batch.checkpoint)
        .bind(batch.claims.seq)
        .bind(&batch.claims.head)
        .bind(jwk)
        .bind(chain_seq)
        .bind(chain_head)
        .bind(now)
        .bind(state.map(|s| s.cursor))
        .bind(state.map(|s| s.checkpoint_seq))
        .bind(state.map(|s| s.checkpoint_head.as_str()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            return Err(ClientError::Other(
                "the replica was synced by someone else meanwhile; nothing applied".into(),
            ));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes every local row of passport `pid` in one transaction. True if anything was held.
    pub async fn purge(&self, pid: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let mut deleted = 0;
        for table in ["replica_versions", "replica_parties", "replica_passports"] {
            deleted += sqlx::query(&format!("DELETE FROM {table} WHERE passport_id = ?1"))
                .bind(pid)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Deletes the local copy of every passport kept under grant `grant_id`, for when that
    /// grant is refused before its passport is even named. Returns the passports deleted.
    pub async fn purge_grant(&self, grant_id: &str) -> Result<Vec<String>> {
        let mut purged = Vec::new();
        for pid in self.passports().await? {
            let state = self.state(&pid).await?;
            if state.is_some_and(|s| s.grant_id.as_deref() == Some(grant_id)) {
                self.purge(&pid).await?;
                purged.push(pid);
            }
        }
        Ok(purged)
    }

    // -----------------------------------------------------------------------------------------
    // Reading the replica

    /// Where the sync of passport `pid` stands; None if the replica does not hold it.
    pub async fn state(&self, pid: &str) -> Result<Option<SyncState>> {
        let row: Option<StateRow> = sqlx::query_as(
            "SELECT passport_id, grant_id, cursor_seq, etag, checkpoint, checkpoint_seq, checkpoint_head, \
             chain_seq, chain_head, synced_at FROM replica_passports WHERE passport_id = ?1",
        )
        .bind(pid)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| SyncState {
            passport_id: r.0,
            grant_id: r.1,
            cursor: r.2,
            etag: r.3,
            checkpoint: r.4,
            checkpoint_seq: r.5,
            checkpoint_head: r.6,
            chain: r.7.zip(r.8),
            synced_at: to_datetime(r.9),
        }))
    }

    /// The cursor of passport `pid`: the `since` of its next sync.
    pub async fn cursor(&self, pid: &str) -> Result<Option<i64>> {
        Ok(self.state(pid).await?.map(|s| s.cursor))
    }

    /// Whether the replica holds anything of passport `pid`.
    pub async fn has_passport(&self, pid: &str) -> Result<bool> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM replica_passports WHERE passport_id = ?1) \
             + (SELECT COUNT(*) FROM replica_versions WHERE passport_id = ?1) \
             + (SELECT COUNT(*) FROM replica_parties WHERE passport_id = ?1)",
        )
        .bind(pid)
        .fetch_one(&self.pool)
        .await?;
        Ok(count > 0)
    }

    /// The passports the replica holds.
    pub async fn passports(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT passport_id FROM replica_passports ORDER BY passport_id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// The latest version of each live record of passport `pid`, in sequence order.
    pub async fn records(&self, pid: &str) -> Result<Vec<LocalRecord>> {
        let rows = sqlx::query(
            "SELECT v.record_id, v.version, v.seq, v.section, v.author, v.hash, v.deleted, v.jws, v.created_at, p.party \
             FROM replica_versions v \
             JOIN (SELECT record_id, MAX(version) AS version FROM replica_versions WHERE passport_id = ?1 GROUP BY record_id) h \
               ON h.record_id = v.record_id AND h.version = v.version \
             LEFT JOIN replica_parties p ON p.passport_id = v.passport_id AND p.party_id = v.author \
             WHERE v.passport_id = ?1 AND v.deleted = 0 ORDER BY v.seq",
        )
        .bind(pid)
        .fetch_all(&self.pool)
        .await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let party: Option<String> = row.try_get("party")?;
            let envelope = envelope_of((
                row.try_get("record_id")?,
                row.try_get("version")?,
                row.try_get("seq")?,
                row.try_get("section")?,
                row.try_get("author")?,
                row.try_get("hash")?,
                row.try_get("deleted")?,
                row.try_get("jws")?,
                row.try_get("created_at")?,
            ))?;
            let what = format!("record {} version {}", envelope.record_id, envelope.version);
            let author_party: Party = party
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .ok_or_else(|| fail(format!("{what}: the replica lost its author")))?;
            let payload: VersionPayload = CompactJws::parse(&envelope.jws)
                .and_then(|j| j.claims())
                .map_err(|e| fail(format!("{what}: {e}")))?;
            records.push(LocalRecord {
                record_id: envelope.record_id,
                section: envelope.section,
                version: envelope.version,
                seq: envelope.seq,
                author: envelope.author,
                author_party,
                hash: envelope.hash,
                body: payload.body.unwrap_or(Value::Null),
                jws: envelope.jws,
                created_at: envelope.created_at,
            });
        }
        Ok(records)
    }

    /// Every version of passport `pid` the replica holds, in sequence order.
    pub async fn history(&self, pid: &str) -> Result<Vec<VersionEnvelope>> {
        let rows: Vec<VersionRow> = sqlx::query_as(
            "SELECT record_id, version, seq, section, author, hash, deleted, jws, created_at \
             FROM replica_versions WHERE passport_id = ?1 ORDER BY seq",
        )
        .bind(pid)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(envelope_of).collect()
    }

    /// Checks again, offline, everything stored for passport `pid`: each version's hash and
    /// signature (with its author's keys as they were checked), each record's chain from
    /// version 1, the locally recomputed history hash, and the checkpoint's signature. Detects
    /// tampering with the replica file. Returns the number of versions checked.
    /// The hash of the version held at sequence `seq`.
    pub(super) async fn hash_at(&self, pid: &str, seq: i64) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT hash FROM replica_versions WHERE passport_id = ?1 AND seq = ?2")
                .bind(pid)
                .bind(seq)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.0))
    }

    /// A record's latest version held.
    pub(super) async fn record_head(
        &self,
        pid: &str,
        record_id: &str,
    ) -> Result<Option<VersionEnvelope>> {
        let row: Option<VersionRow> = sqlx::query_as(
            "SELECT record_id, version, seq, section, author, hash, deleted, jws, created_at \
             FROM replica_versions WHERE passport_id = ?1 AND record_id = ?2 ORDER BY version DESC LIMIT 1",
        )
        .bind(pid)
        .bind(record_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(envelope_of).transpose()
    }

    /// The server key that verified the stored checkpoint, as stored.
    pub(super) async fn checkpoint_jwk(&self, pid: &str) -> Result<String> {
        let (jwk,): (String,) =
            sqlx::query_as("SELECT checkpoint_jwk FROM replica_passports WHERE passport_id = ?1")
                .bind(pid)
                .fetch_one(&self.pool)
                .await?;
        Ok(jwk)
    }

    /// The authors of passport `pid`'s versions, as their signatures were checked.
    pub(super) async fn parties(&self, pid: &str) -> Result<HashMap<String, Party>> {
        let parties: Vec<(String, String)> =
            sqlx::query_as("SELECT party_id, party FROM replica_parties WHERE passport_id = ?1")
                .bind(pid)
                .fetch_all(&self.pool)
                .await?;
        Ok(parties
            .into_iter()
            .filter_map(|(id, json)| Some((id, serde_json::from_str(&json).ok()?)))
            .collect())
    }
}
