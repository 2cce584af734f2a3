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

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode, header};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use wp_schemas::api::{
    CHECKPOINT_JWS, Changes, CheckpointClaims, Party, VersionEnvelope, VersionPayload,
};
use wp_schemas::chain::{history_genesis, history_next, version_hash};
use wp_schemas::jose::{CompactJws, PublicJwk};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::Section;

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::passport::PassportClient;
use crate::verify::{self, VerifiedVersion};

/// The replica's tables; created at open, kept as they are when they exist.
const SCHEMA: &[&str] = &[
    // One row per passport: where its sync stands and what the server last signed.
    "CREATE TABLE IF NOT EXISTS replica_passports (
        passport_id     TEXT PRIMARY KEY,
        -- the grant the replica syncs under; NULL for the owner
        grant_id        TEXT,
        -- the `since` of the next sync
        cursor_seq      INTEGER NOT NULL,
        -- the ETag of the last complete answer, sent as If-None-Match
        etag            TEXT,
        -- the latest server-signed checkpoint, its claims, and the server key that verified it
        checkpoint      TEXT NOT NULL,
        checkpoint_seq  INTEGER NOT NULL,
        checkpoint_head TEXT NOT NULL,
        checkpoint_jwk  TEXT NOT NULL,
        -- the history hash recomputed locally, while every version so far was seen
        chain_seq       INTEGER,
        chain_head      TEXT,
        synced_at       INTEGER NOT NULL
    )",
    // Every version received, byte for byte as its author signed it.
    "CREATE TABLE IF NOT EXISTS replica_versions (
        passport_id TEXT NOT NULL,
        record_id   TEXT NOT NULL,
        version     INTEGER NOT NULL,
        seq         INTEGER NOT NULL,
        section     TEXT NOT NULL,
        author      TEXT NOT NULL,
        hash        TEXT NOT NULL,
        deleted     INTEGER NOT NULL,
        jws         TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (passport_id, record_id, version),
        UNIQUE (passport_id, seq)
    )",
    // The authors as their signatures were checked (with their keys, for `verify_all`).
    "CREATE TABLE IF NOT EXISTS replica_parties (
        passport_id TEXT NOT NULL,
        party_id    TEXT NOT NULL,
        party       TEXT NOT NULL,
        PRIMARY KEY (passport_id, party_id)
    )",
];

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

/// An answer of the changes feed.
enum Answer {
    NotModified,
    Changes {
        changes: Changes,
        etag: Option<String>,
        bytes: u64,
    },
}

/// A response that passed every check, ready to be written.
struct Batch {
    versions: Vec<VerifiedVersion>,
    claims: CheckpointClaims,
    checkpoint: String,
    jwk: PublicJwk,
    chain: Option<(i64, String)>,
}

/// Rollback and fork checks of a verified checkpoint against the one seen before.
fn check_checkpoint(seen: Option<(i64, &str)>, served: &CheckpointClaims) -> Result<()> {
    if let Some((seq, head)) = seen {
        if served.seq < seq {
            return Err(ClientError::Rollback {
                seen: seq,
                served: served.seq,
            });
        }
        if served.seq == seq && served.head != head {
            return Err(ClientError::Fork { seq });
        }
    }
    Ok(())
}

/// Extends the locally recomputed history hash over `versions` (in sequence order). The chain
/// stops (None) at the first sequence number the replica did not receive.
fn extend_chain(
    chain: Option<(i64, String)>,
    versions: &[VersionEnvelope],
    next_since: i64,
) -> Option<(i64, String)> {
    let (mut seq, mut head) = chain?;
    for v in versions {
        if v.seq != seq + 1 {
            return None;
        }
        head = history_next(&head, &version_hash(&v.jws));
        seq = v.seq;
    }
    // The cursor moved past sequence numbers that were not sent: versions not readable here.
    (seq == next_since).then_some((seq, head))
}

/// A recomputed history hash that reaches the checkpoint's sequence must match its head.
fn check_chain(chain: Option<&(i64, String)>, claims: &CheckpointClaims) -> Result<()> {
    match chain {
        Some((seq, head)) if *seq == claims.seq && *head != claims.head => {
            Err(ClientError::Fork { seq: *seq })
        }
        _ => Ok(()),
    }
}

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
    /// Opens (creating if missing) the replica file at `path`, in WAL mode.
    pub async fn open(path: impl AsRef<Path>) -> Result<Replica> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        if !path.exists() {
            // The replica holds health data: readable by its owner only.
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
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
        let mut tx = pool.begin().await?;
        for statement in SCHEMA {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        tx.commit().await?;
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

    /// One request to the changes feed, with `If-None-Match` when there is a tag.
    async fn fetch(
        &self,
        passport: &PassportClient<'_>,
        since: i64,
        etag: Option<&str>,
    ) -> Result<Answer> {
        let mut path = format!("/v1/passports/{}/changes?since={since}", passport.id);
        if let Some(limit) = self.page_limit {
            path.push_str(&format!("&limit={limit}"));
        }
        let extra = etag.map(|t| (header::IF_NONE_MATCH, t.to_owned()));
        let response = passport
            .client()
            .send(Method::GET, &path, passport.grant_id(), None::<&()>, extra)
            .await?;
        if response.status() == StatusCode::NOT_MODIFIED {
            if etag.is_none() {
                return Err(ClientError::Protocol(
                    "304 to a request without If-None-Match".into(),
                ));
            }
            return Ok(Answer::NotModified);
        }
        let etag = response
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await?;
        let changes: Changes = serde_json::from_slice(&body)
            .map_err(|e| ClientError::Protocol(format!("the changes feed: {e}")))?;
        Ok(Answer::Changes {
            changes,
            etag,
            bytes: body.len() as u64,
        })
    }

    /// Turns a refusal into what the caller must know: consent ended (local copy deleted), or
    /// a rollback for a cursor the server no longer reaches.
    async fn refused(
        &self,
        passport: &PassportClient<'_>,
        state: Option<&SyncState>,
        error: ClientError,
    ) -> ClientError {
        let kind = error.problem_type();
        let consent_over = matches!(error, ClientError::ConsentEnded(_))
            || (kind == Some(ProblemType::Forbidden) && passport.grant_id().is_some())
            || kind == Some(ProblemType::Gone);
        if consent_over {
            return match self.purge(&passport.id).await {
                Ok(_) => error,
                // The caller must know the copy is still there.
                Err(e) => e,
            };
        }
        if let Some(state) = state
            && kind == Some(ProblemType::Conflict)
            && error.status() == Some(409)
        {
            let served = self.served_seq(passport).await.unwrap_or(-1);
            return ClientError::Rollback {
                seen: state.checkpoint_seq.max(state.cursor),
                served,
            };
        }
        error
    }

    /// The sequence the server now signs for, for a rollback report (-1 if it gives none).
    async fn served_seq(&self, passport: &PassportClient<'_>) -> Result<i64> {
        let path = format!("/v1/passports/{}/changes?since=0&limit=1", passport.id);
        let changes: Changes = passport
            .client()
            .call(Method::GET, &path, passport.grant_id(), None::<&()>)
            .await?;
        let (claims, _) = self
            .verify_checkpoint(passport.client(), &passport.id, &changes.checkpoint)
            .await?;
        Ok(claims.seq)
    }

    /// Every check, before anything is written.
    async fn verify_batch(
        &self,
        passport: &PassportClient<'_>,
        state: Option<&SyncState>,
        fresh: bool,
        since: i64,
        changes: &Changes,
    ) -> Result<Batch> {
        let pid = passport.id.as_str();
        if changes.passport_id != pid {
            return Err(fail("the feed answered with another passport"));
        }
        if changes.since != since
            || changes.next_since < since
            || (changes.more && changes.next_since == since)
        {
            return Err(ClientError::Protocol(format!(
                "the feed moved the cursor from {since} to {} (more: {})",
                changes.next_since, changes.more
            )));
        }
        let (claims, jwk) = self
            .verify_checkpoint(passport.client(), pid, &changes.checkpoint)
            .await?;
        check_checkpoint(
            state.map(|s| (s.checkpoint_seq, s.checkpoint_head.as_str())),
            &claims,
        )?;
        if claims.seq < changes.next_since {
            return Err(fail(format!(
                "the checkpoint (sequence {}) does not cover the cursor {}",
                claims.seq, changes.next_since
            )));
        }

        // Each record's head as known so far: (version, hash, section, deleted).
        let mut heads: HashMap<String, (i64, String, Section, bool)> = HashMap::new();
        let mut previous_seq = since;
        let mut versions = Vec::with_capacity(changes.versions.len());
        for envelope in &changes.versions {
            let what = format!("record {} version {}", envelope.record_id, envelope.version);
            if envelope.seq <= previous_seq || envelope.seq > changes.next_since {
                return Err(fail(format!(
                    "{what}: sequence {} is out of order",
                    envelope.seq
                )));
            }
            previous_seq = envelope.seq;
            if fresh && let Some(hash) = self.hash_at(pid, envelope.seq).await? {
                // Starting over under another grant: what was seen before must not change.
                if hash != envelope.hash {
                    return Err(ClientError::Fork { seq: envelope.seq });
                }
            }
            let known = match heads.get(&envelope.record_id) {
                Some(head) => Some(head.clone()),
                None if fresh => None,
                None => self.record_head(pid, &envelope.record_id).await?,
            };
            let expected_prev = match &known {
                Some((version, hash, section, deleted)) => {
                    if envelope.version <= *version {
                        // The server presents again a version held with another content.
                        return Err(ClientError::Fork { seq: envelope.seq });
                    }
                    if envelope.version != version + 1 {
                        return Err(fail(format!(
                            "{what}: version {} was never received",
                            version + 1
                        )));
                    }
                    if *section != envelope.section {
                        return Err(fail(format!("{what}: moved from {section}")));
                    }
                    if *deleted {
                        return Err(fail(format!("{what}: written after its tombstone")));
                    }
                    Some(hash.as_str())
                }
                None => {
                    if envelope.version != 1 {
                        return Err(fail(format!(
                            "{what}: the record's earlier versions were never received"
                        )));
                    }
                    None
                }
            };
            let verified = passport.verify(envelope, Some(expected_prev)).await?;
            heads.insert(
                envelope.record_id.clone(),
                (
                    envelope.version,
                    envelope.hash.clone(),
                    envelope.section,
                    envelope.deleted,
                ),
            );
            versions.push(verified);
        }

        // While every version has been seen, the history hash is checked here too.
        let start = if fresh {
            Some((0, history_genesis(pid)))
        } else {
            state.and_then(|s| s.chain.clone())
        };
        let chain = extend_chain(start, &changes.versions, changes.next_since);
        check_chain(chain.as_ref(), &claims)?;
        Ok(Batch {
            versions,
            claims,
            checkpoint: changes.checkpoint.clone(),
            jwk,
            chain,
        })
    }

    /// Verifies a checkpoint's signature with the server's published keys and its passport.
    async fn verify_checkpoint(
        &self,
        client: &Client,
        pid: &str,
        checkpoint: &str,
    ) -> Result<(CheckpointClaims, PublicJwk)> {
        let jws = CompactJws::parse_as(checkpoint, &CHECKPOINT_JWS)
            .map_err(|e| fail(format!("the checkpoint is not a checkpoint: {e}")))?;
        let kid = jws.header_str("kid").unwrap_or_default();
        let jwk = self.server_key(client, kid).await?;
        jws.verify(&jwk)
            .map_err(|_| fail("the checkpoint's signature does not verify"))?;
        let claims: CheckpointClaims =
            jws.claims().map_err(|e| fail(format!("checkpoint: {e}")))?;
        if claims.passport != pid {
            return Err(fail("the checkpoint is for another passport"));
        }
        Ok((claims, jwk))
    }

    fn cached_key(&self, base: &str, kid: &str) -> Option<PublicJwk> {
        self.jwks
            .lock()
            .expect("jwks cache")
            .get(base)
            .and_then(|keys| keys.iter().find(|k| k.kid.as_deref() == Some(kid)).cloned())
    }

    /// The server key `kid`, from the cached JWKS, fetched again once when the kid is unknown.
    async fn server_key(&self, client: &Client, kid: &str) -> Result<PublicJwk> {
        let base = client.base_url();
        if let Some(key) = self.cached_key(base, kid) {
            return Ok(key);
        }
        let url = format!("{base}/.well-known/jwks.json");
        let response = client.http().get(&url).send().await?;
        if !response.status().is_success() {
            return Err(ClientError::Protocol(format!(
                "the JWKS answered HTTP {}",
                response.status().as_u16()
            )));
        }
        let jwks: Value = response.json().await?;
        let keys: Vec<PublicJwk> = jwks
            .get("keys")
            .and_then(Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| serde_json::from_value::<PublicJwk>(k.clone()).ok())
                    .filter(|k| k.kid.is_some() && k.key_bytes().is_ok())
                    .collect()
            })
            .unwrap_or_default();
        self.jwks
            .lock()
            .expect("jwks cache")
            .insert(base.to_owned(), keys);
        self.cached_key(base, kid)
            .ok_or_else(|| fail("the checkpoint is signed by a key the server does not publish"))
    }

    /// Writes a verified response: versions, authors, cursor, checkpoint and ETag together.
    #[allow(clippy::too_many_arguments)]
    async fn apply(
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
        match state {
            Some(s) => {
                // Only on top of the state this batch was checked against.
                let updated = sqlx::query(
                    "UPDATE replica_passports SET grant_id = ?2, cursor_seq = ?3, etag = ?4, checkpoint = ?5, \
                     checkpoint_seq = ?6, checkpoint_head = ?7, checkpoint_jwk = ?8, chain_seq = ?9, chain_head = ?10, synced_at = ?11 \
                     WHERE passport_id = ?1 AND cursor_seq = ?12 AND checkpoint_seq = ?13 AND checkpoint_head = ?14",
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
                .bind(s.cursor)
                .bind(s.checkpoint_seq)
                .bind(&s.checkpoint_head)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated != 1 {
                    return Err(ClientError::Other(
                        "the replica was synced by someone else meanwhile; nothing applied".into(),
                    ));
                }
            }
            None => {
                sqlx::query(
                    "INSERT INTO replica_passports (passport_id, grant_id, cursor_seq, etag, checkpoint, checkpoint_seq, \
                     checkpoint_head, checkpoint_jwk, chain_seq, chain_head, synced_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
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
                .execute(&mut *tx)
                .await?;
            }
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
        Ok(row.map(
            |(
                passport_id,
                grant_id,
                cursor,
                etag,
                checkpoint,
                checkpoint_seq,
                checkpoint_head,
                chain_seq,
                chain_head,
                synced_at,
            )| SyncState {
                passport_id,
                grant_id,
                cursor,
                etag,
                checkpoint,
                checkpoint_seq,
                checkpoint_head,
                chain: chain_seq.zip(chain_head),
                synced_at: to_datetime(synced_at),
            },
        ))
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
    pub async fn verify_all(&self, pid: &str) -> Result<usize> {
        let versions = self.history(pid).await?;
        let Some(state) = self.state(pid).await? else {
            if versions.is_empty() {
                return Ok(0);
            }
            return Err(fail("versions held without a sync state"));
        };
        let (jwk,): (String,) =
            sqlx::query_as("SELECT checkpoint_jwk FROM replica_passports WHERE passport_id = ?1")
                .bind(pid)
                .fetch_one(&self.pool)
                .await?;
        let jwk: PublicJwk =
            serde_json::from_str(&jwk).map_err(|_| fail("the stored server key is not a JWK"))?;
        let jws = CompactJws::parse_as(&state.checkpoint, &CHECKPOINT_JWS)
            .map_err(|e| fail(format!("the stored checkpoint: {e}")))?;
        jws.verify(&jwk)
            .map_err(|_| fail("the stored checkpoint's signature does not verify"))?;
        let claims: CheckpointClaims = jws
            .claims()
            .map_err(|e| fail(format!("the stored checkpoint: {e}")))?;
        if claims.passport != pid
            || claims.seq != state.checkpoint_seq
            || claims.head != state.checkpoint_head
            || state.cursor > claims.seq
        {
            return Err(fail("the stored sync state does not match its checkpoint"));
        }

        let parties: Vec<(String, String)> =
            sqlx::query_as("SELECT party_id, party FROM replica_parties WHERE passport_id = ?1")
                .bind(pid)
                .fetch_all(&self.pool)
                .await?;
        let parties: HashMap<String, Party> = parties
            .into_iter()
            .filter_map(|(id, json)| Some((id, serde_json::from_str(&json).ok()?)))
            .collect();
        let mut heads: HashMap<&str, (i64, &str, Section, bool)> = HashMap::new();
        for v in &versions {
            let what = format!("record {} version {}", v.record_id, v.version);
            if v.seq > state.cursor {
                return Err(fail(format!("{what}: beyond the cursor")));
            }
            let author = parties
                .get(&v.author)
                .ok_or_else(|| fail(format!("{what}: its author is unknown")))?;
            let expected_prev = match heads.get(v.record_id.as_str()) {
                Some((version, hash, section, deleted)) => {
                    if v.version != version + 1 || *section != v.section || *deleted {
                        return Err(fail(format!("{what}: breaks its record's chain")));
                    }
                    Some(*hash)
                }
                None if v.version == 1 => None,
                None => return Err(fail(format!("{what}: its earlier versions are missing"))),
            };
            verify::version(v, pid, author, Some(expected_prev))?;
            heads.insert(&v.record_id, (v.version, &v.hash, v.section, v.deleted));
        }
        if let Some((seq, head)) = &state.chain {
            let upto: Vec<VersionEnvelope> =
                versions.iter().filter(|v| v.seq <= *seq).cloned().collect();
            let recomputed = extend_chain(Some((0, history_genesis(pid))), &upto, *seq);
            if recomputed.as_ref().map(|c| &c.1) != Some(head) {
                return Err(fail(
                    "the stored history does not hash to its recorded head",
                ));
            }
        }
        Ok(versions.len())
    }

    /// The hash of the version held at sequence `seq`.
    async fn hash_at(&self, pid: &str, seq: i64) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT hash FROM replica_versions WHERE passport_id = ?1 AND seq = ?2")
                .bind(pid)
                .bind(seq)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.0))
    }

    /// A record's latest version held: (version, hash, section, deleted).
    async fn record_head(
        &self,
        pid: &str,
        record_id: &str,
    ) -> Result<Option<(i64, String, Section, bool)>> {
        let row: Option<(i64, String, String, bool)> = sqlx::query_as(
            "SELECT version, hash, section, deleted FROM replica_versions \
             WHERE passport_id = ?1 AND record_id = ?2 ORDER BY version DESC LIMIT 1",
        )
        .bind(pid)
        .bind(record_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(version, hash, section, deleted)| {
            let section = section
                .parse()
                .map_err(|_| fail(format!("the replica holds an unknown section {section}")))?;
            Ok((version, hash, section, deleted))
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(seq: i64, head: &str) -> CheckpointClaims {
        CheckpointClaims {
            passport: "p".into(),
            seq,
            head: head.into(),
            iat: 0,
        }
    }

    #[test]
    fn checkpoints_detect_rollback_and_fork() {
        assert!(check_checkpoint(None, &claims(0, "h0")).is_ok());
        assert!(check_checkpoint(Some((3, "h3")), &claims(3, "h3")).is_ok());
        assert!(check_checkpoint(Some((3, "h3")), &claims(5, "h5")).is_ok());
        assert!(matches!(
            check_checkpoint(Some((3, "h3")), &claims(2, "h2")),
            Err(ClientError::Rollback { seen: 3, served: 2 })
        ));
        assert!(matches!(
            check_checkpoint(Some((3, "h3")), &claims(3, "other")),
            Err(ClientError::Fork { seq: 3 })
        ));
    }

    fn envelope(seq: i64, jws: &str) -> VersionEnvelope {
        VersionEnvelope {
            seq,
            record_id: "r".into(),
            section: Section::Summary,
            version: seq,
            author: "a".into(),
            hash: version_hash(jws),
            deleted: false,
            jws: jws.into(),
            created_at: to_datetime(0),
        }
    }

    #[test]
    fn the_history_hash_is_recomputed_only_over_every_version() {
        let genesis = history_genesis("p");
        let (a, b) = (envelope(1, "a"), envelope(2, "b"));
        let head = history_next(&history_next(&genesis, &a.hash), &b.hash);
        let chain = extend_chain(Some((0, genesis.clone())), &[a.clone(), b.clone()], 2);
        assert_eq!(chain, Some((2, head.clone())));
        assert!(check_chain(chain.as_ref(), &claims(2, &head)).is_ok());
        assert!(matches!(
            check_chain(chain.as_ref(), &claims(2, "forged")),
            Err(ClientError::Fork { seq: 2 })
        ));
        // Not compared when the checkpoint is further on.
        assert!(check_chain(chain.as_ref(), &claims(3, "later")).is_ok());
        // A gap (a version not readable here) stops the chain for good.
        let gap = std::slice::from_ref(&b);
        assert_eq!(extend_chain(Some((0, genesis.clone())), gap, 2), None);
        assert_eq!(extend_chain(Some((0, genesis)), &[a], 2), None);
        assert_eq!(extend_chain(None, gap, 2), None);
    }

    #[tokio::test]
    async fn an_empty_replica() {
        let replica = Replica::in_memory().await.unwrap();
        assert!(!replica.has_passport("p").await.unwrap());
        assert_eq!(replica.cursor("p").await.unwrap(), None);
        assert!(replica.records("p").await.unwrap().is_empty());
        assert_eq!(replica.verify_all("p").await.unwrap(), 0);
        assert!(!replica.purge("p").await.unwrap());
    }
}
