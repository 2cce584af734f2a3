//! A local replica of passports in SQLite: what an HR system or a professional's tool keeps so
//! that it reads without a round trip, pulls only what changed, and notices when the server
//! misbehaves.
//!
//! [`Replica::sync`] pulls `GET /v1/passports/{pid}/changes?since=<cursor>` (with the last
//! `ETag` as `If-None-Match`, so that nothing new costs a 304) and, before anything is written:
//! - checks the server-signed checkpoint against the server's JWKS, and against the checkpoint
//!   seen before: an older sequence is a [`ClientError::Rollback`], the same sequence with another
//!   history hash a [`ClientError::Fork`];
//! - checks every version's signature, author, section and place in its record's chain (a record
//!   held at version k continues with version k+1 naming k's hash; a new record starts at 1);
//! - when the replica has seen every version of the passport (an owner, or a grant over every
//!   section), recomputes the history hash itself and compares it with the checkpoint's.
//!
//! A response is applied whole or not at all: its versions, the cursor, the checkpoint and the
//! `ETag` are written in one transaction. A cursor ahead of the server's history (409) is a
//! rollback; nothing is ever "resolved" by syncing again from scratch. When consent ends (the
//! grant was revoked or expired, the grantee is refused, the passport was erased), every local
//! row of the passport is deleted in one transaction and the error is returned.
//!
//! One replica file may hold several passports.

mod feed;
mod store;
mod verify;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use wp_schemas::api::Party;
use wp_schemas::jose::PublicJwk;
use wp_schemas::sections::Section;

use crate::error::{ClientError, Result};
use crate::passport::PassportClient;
use crate::verify::VerifiedVersion;
use feed::Answer;

/// The replica's schema (`client-lib/migrations/`), applied at open.
/// (Embedded by `build.rs`.)
static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| include!(concat!(env!("OUT_DIR"), "/replica_migrations.rs")));

/// What one [`Replica::sync`] did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    pub passport_id: String,
    /// The versions verified and applied, in sequence order.
    pub applied: Vec<VerifiedVersion>,
    /// Response bodies received, in bytes (a 304 has none).
    pub bytes: u64,
    /// The server answered 304: nothing new since the last sync.
    pub unchanged: bool,
    /// Requests made to the changes feed.
    pub requests: u32,
    /// The cursor after the sync.
    pub cursor: i64,
    /// The sequence of the latest checkpoint held.
    pub checkpoint_seq: i64,
}

/// Where a passport's sync stands in the replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    pub passport_id: String,
    /// The grant the replica syncs under; None for the owner.
    pub grant_id: Option<String>,
    pub cursor: i64,
    pub etag: Option<String>,
    /// The latest server-signed checkpoint (compact JWS) and what it claims.
    pub checkpoint: String,
    pub checkpoint_seq: i64,
    pub checkpoint_head: String,
    /// The history hash recomputed locally up to this sequence, while every version of the
    /// passport has been seen (None once some were not readable).
    pub chain: Option<(i64, String)>,
    pub synced_at: DateTime<Utc>,
}

/// The latest version of a live record, as held locally.
#[derive(Debug, Clone)]
pub struct LocalRecord {
    pub record_id: String,
    pub section: Section,
    pub version: i64,
    /// The passport-wide sequence number of this version.
    pub seq: i64,
    /// The author's party id, as signed.
    pub author: String,
    /// The author as their signature was checked (with a professional's registration).
    pub author_party: Party,
    pub hash: String,
    pub body: Value,
    /// The author's JWS, byte for byte.
    pub jws: String,
    pub created_at: DateTime<Utc>,
}

/// A local, verified copy of passports.
pub struct Replica {
    pool: SqlitePool,
    /// `limit` sent to the changes feed; None: the server's default.
    page_limit: Option<i64>,
    /// Server signing keys, by server base URL.
    jwks: std::sync::Mutex<HashMap<String, Vec<PublicJwk>>>,
    /// One sync at a time through this handle.
    sync_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("page_limit", &self.page_limit)
            .finish_non_exhaustive()
    }
}

fn fail(why: impl Into<String>) -> ClientError {
    ClientError::Verification(why.into())
}

fn to_datetime(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

impl Replica {
    /// Opens (creating if missing) the replica file at `path`, in WAL mode.
    pub async fn open(path: impl AsRef<Path>) -> Result<Replica> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        if !path.exists() {
            // The replica holds health data: readable by its owner only.
            let mut options = wp_schemas::files::owner_only();
            options.write(true).create_new(true);
            match options.open(path) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Self::with_pool(pool).await
    }

    /// A replica in memory, gone when dropped (for tests and one-off tools).
    pub async fn in_memory() -> Result<Replica> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?;
        // One connection that never closes: each in-memory connection is its own database.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Self::with_pool(pool).await
    }

    async fn with_pool(pool: SqlitePool) -> Result<Replica> {
        // Two processes opening a new file at once may both try the first migration; the one
        // that loses finds it applied when it looks again.
        if MIGRATOR.run(&pool).await.is_err() {
            MIGRATOR
                .run(&pool)
                .await
                .map_err(|e| sqlx::Error::Migrate(Box::new(e)))?;
        }
        Ok(Replica {
            pool,
            page_limit: None,
            jwks: std::sync::Mutex::new(HashMap::new()),
            sync_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Asks the feed for at most `limit` versions per request (the server allows 1 to 1000).
    pub fn with_page_limit(mut self, limit: i64) -> Self {
        self.page_limit = Some(limit);
        self
    }

    /// Closes the replica's connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    // -----------------------------------------------------------------------------------------
    // Sync

    /// Pulls what changed in `passport` since the last sync, verifies it, and applies it.
    ///
    /// Errors: [`ClientError::Verification`] (nothing applied), [`ClientError::Rollback`],
    /// [`ClientError::Fork`], and [`ClientError::ConsentEnded`] (or a 403 for a grantee, or a
    /// 410 for an erased passport) after the passport's local copy was deleted.
    pub async fn sync(&self, passport: &PassportClient<'_>) -> Result<SyncReport> {
        let _one_at_a_time = self.sync_lock.lock().await;
        let pid = passport.id.as_str();
        let mut report = SyncReport {
            passport_id: pid.to_owned(),
            applied: Vec::new(),
            bytes: 0,
            unchanged: false,
            requests: 0,
            cursor: 0,
            checkpoint_seq: 0,
        };
        loop {
            let state = self.state(pid).await?;
            // A replica kept under another grant (or as owner) starts over from the beginning:
            // another grant may cover other sections. The old checkpoint still guards rollback.
            let fresh = state
                .as_ref()
                .is_none_or(|s| s.grant_id.as_deref() != passport.grant_id());
            let (since, etag) = match &state {
                Some(s) if !fresh => (s.cursor, s.etag.clone()),
                _ => (0, None),
            };
            report.requests += 1;
            let answer = match self.fetch(passport, since, etag.as_deref()).await {
                Ok(answer) => answer,
                Err(e) => return Err(self.refused(passport, state.as_ref(), e).await),
            };
            let (changes, etag, bytes) = match answer {
                Answer::NotModified => {
                    let s = state.expect("a 304 answers a request with an ETag");
                    report.unchanged = report.requests == 1;
                    report.cursor = s.cursor;
                    report.checkpoint_seq = s.checkpoint_seq;
                    return Ok(report);
                }
                Answer::Changes {
                    changes,
                    etag,
                    bytes,
                } => (changes, etag, bytes),
            };
            report.bytes += bytes;
            let batch = self
                .verify_batch(passport, state.as_ref(), fresh, since, &changes)
                .await?;
            // An ETag stands for a complete answer only: with more to come, it would hide the
            // versions after this page.
            let etag = if changes.more { None } else { etag };
            self.apply(
                pid,
                passport.grant_id(),
                state.as_ref(),
                fresh,
                &batch,
                changes.next_since,
                etag,
            )
            .await?;
            report.cursor = changes.next_since;
            report.checkpoint_seq = batch.claims.seq;
            report.applied.extend(batch.versions);
            if !changes.more {
                return Ok(report);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_empty_replica() {
        let replica = Replica::in_memory().await.unwrap();
        assert!(!replica.has_passport("p").await.unwrap());
        assert_eq!(replica.cursor("p").await.unwrap(), None);
        assert!(replica.records("p").await.unwrap().is_empty());
        assert_eq!(replica.verify_all("p").await.unwrap(), 0);
        assert!(!replica.purge("p").await.unwrap());
    }

    #[tokio::test]
    async fn purging_a_grant_deletes_only_the_passports_kept_under_it() {
        let replica = Replica::in_memory().await.unwrap();
        for (pid, grant) in [("p1", Some("g1")), ("p2", Some("g2")), ("p3", None)] {
            sqlx::query(
                "INSERT INTO replica_passports (passport_id, grant_id, cursor_seq, checkpoint, \
                 checkpoint_seq, checkpoint_head, checkpoint_jwk, synced_at) \
                 VALUES (?1, ?2, 0, '', 0, '', '', 0)",
            )
            .bind(pid)
            .bind(grant)
            .execute(&replica.pool)
            .await
            .unwrap();
        }
        assert_eq!(replica.purge_grant("g1").await.unwrap(), ["p1"]);
        assert_eq!(replica.passports().await.unwrap(), ["p2", "p3"]);
        assert!(replica.purge_grant("g1").await.unwrap().is_empty());
    }
}
