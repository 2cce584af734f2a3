//! Group commit for the small writes every request makes: admitting its DPoP proof (the `jti`
//! replay check) and appending to an access log. Requests hand their write to one task per
//! server instance, which applies everything that arrived meanwhile in one statement or one
//! transaction and answers each request after the commit: the same durability as a commit per
//! request, at a fraction of the commits (PRODUCT.md 4b: commits, not SQL, are the cost).

use std::collections::{BTreeMap, HashSet};

use tokio::sync::{mpsc, oneshot};
use wp_schemas::api::AccessLogEntry;

use super::log::{outcome_text, sections_text};
use super::{Store, numbered_params, with_pool};
use crate::domain::audit::LogEvent;
use crate::error::{Error, Result};

/// Most writes in one batch (SQLite allows 32766 parameters; a log entry takes 11).
const MAX_BATCH: usize = 256;

struct Admission {
    jti: String,
    expires_at: i64,
    kid: String,
    party_id: String,
    reply: oneshot::Sender<Result<bool>>,
}

struct Append {
    passport_id: String,
    event: LogEvent,
    now: i64,
    reply: oneshot::Sender<Result<AccessLogEntry>>,
}

enum Job {
    Admit(Admission),
    Log(Append),
}

/// The handle requests use; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

fn gone() -> Error {
    Error::Other(anyhow::anyhow!("the write task has stopped"))
}

impl Writer {
    /// Starts the write task for `store`; it ends when every handle is dropped.
    pub fn spawn(store: Store) -> Self {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(store, rx));
        Writer { jobs }
    }

    /// Admits a request's DPoP proof: records its `jti` if, and only if, the id is new and the
    /// key it is bound to is still registered to `party_id` and not revoked. False means one of
    /// the two failed; [`Store::key`] tells which.
    pub async fn admit(
        &self,
        jti: String,
        expires_at: i64,
        kid: &str,
        party_id: &str,
    ) -> Result<bool> {
        let (reply, answer) = oneshot::channel();
        let job = Admission {
            jti,
            expires_at,
            kid: kid.to_owned(),
            party_id: party_id.to_owned(),
            reply,
        };
        self.jobs.send(Job::Admit(job)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Appends an event to a passport's access log; answers once it is committed.
    pub async fn log(
        &self,
        passport_id: &str,
        event: LogEvent,
        now: i64,
    ) -> Result<AccessLogEntry> {
        let (reply, answer) = oneshot::channel();
        let job = Append {
            passport_id: passport_id.to_owned(),
            event,
            now,
            reply,
        };
        self.jobs.send(Job::Log(job)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut admissions = Vec::new();
        let mut appends = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next {
            match job {
                Job::Admit(a) => admissions.push(a),
                Job::Log(l) => appends.push(l),
            }
            next = if admissions.len() + appends.len() < MAX_BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !admissions.is_empty() {
            store.admit_batch(admissions).await;
        }
        if !appends.is_empty() {
            store.append_batch(appends).await;
        }
    }
}

/// Answers every request of a failed batch with the error (logged once, here).
fn fail_all<T>(replies: impl IntoIterator<Item = oneshot::Sender<Result<T>>>, error: &Error) {
    tracing::error!(error = ?error, "batched write failed");
    for reply in replies {
        let _ = reply.send(Err(if error.is_unavailable() {
            Error::Unavailable
        } else {
            Error::Other(anyhow::anyhow!("batched write failed"))
        }));
    }
}

impl Store {
    /// One statement for all admissions: a `jti` is recorded only if it is new and its key is
    /// active. Run on its own (not in the log transaction) so that it holds no row lock while
    /// waiting on another instance's insert of the same `jti`.
    async fn admit_batch(&self, jobs: Vec<Admission>) {
        // A jti twice in one batch: the second is a replay of the first.
        let mut seen = HashSet::new();
        let (fresh, replays): (Vec<_>, Vec<_>) =
            jobs.into_iter().partition(|j| seen.insert(j.jti.clone()));
        for job in replays {
            let _ = job.reply.send(Ok(false));
        }
        if fresh.is_empty() {
            return;
        }
        let values = (0..fresh.len())
            .map(|i| {
                format!(
                    "(${}, ${}, ${}, ${})",
                    4 * i + 1,
                    4 * i + 2,
                    4 * i + 3,
                    4 * i + 4
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO used_jtis (jti, expires_at) SELECT v.column1, v.column2 FROM (VALUES {values}) AS v \
             WHERE EXISTS (SELECT 1 FROM party_keys k WHERE k.kid = v.column3 AND k.party_id = v.column4 AND k.revoked_at IS NULL) \
             ON CONFLICT (jti) DO NOTHING RETURNING jti"
        );
        let admitted: std::result::Result<Vec<(String,)>, sqlx::Error> = with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut query = sqlx::query_as(&sql);
            for job in &fresh {
                query = query.bind(&job.jti).bind(job.expires_at).bind(&job.kid).bind(&job.party_id);
            }
            query.fetch_all(pool).await
        });
        match admitted {
            Ok(rows) => {
                let admitted: HashSet<String> = rows.into_iter().map(|r| r.0).collect();
                for job in fresh {
                    let _ = job.reply.send(Ok(admitted.contains(&job.jti)));
                }
            }
            Err(e) => fail_all(fresh.into_iter().map(|j| j.reply), &e.into()),
        }
    }

    /// One transaction for all log appends. Passports are locked in id order, so that two
    /// instances' batches can never wait on each other in a cycle.
    async fn append_batch(&self, jobs: Vec<Append>) {
        let mut by_passport: BTreeMap<String, Vec<Append>> = BTreeMap::new();
        for job in jobs {
            by_passport
                .entry(job.passport_id.clone())
                .or_default()
                .push(job);
        }
        match self.write_appends(&by_passport).await {
            Ok(mut entries) => {
                for (pid, jobs) in by_passport {
                    let mut entries = entries.remove(&pid).map(Vec::into_iter);
                    for job in jobs {
                        let result = match entries.as_mut().and_then(Iterator::next) {
                            Some(entry) => Ok(entry),
                            None => Err(Error::client(
                                wp_schemas::problem::ProblemType::Gone,
                                "the passport was erased by its owner",
                            )),
                        };
                        let _ = job.reply.send(result);
                    }
                }
            }
            Err(e) => fail_all(by_passport.into_values().flatten().map(|j| j.reply), &e),
        }
    }

    async fn write_appends(
        &self,
        by_passport: &BTreeMap<String, Vec<Append>>,
    ) -> Result<BTreeMap<String, Vec<AccessLogEntry>>> {
        let mut written: BTreeMap<String, Vec<AccessLogEntry>> = BTreeMap::new();
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            let ids: Vec<&String> = by_passport.keys().collect();
            if matches!(self, Store::Postgres(_)) {
                // Row locks in id order (PostgreSQL only: SQLite has one writer and no FOR UPDATE),
                // so that batches of several instances never wait on each other in a cycle.
                let sql = format!(
                    "SELECT id FROM passports WHERE id IN ({}) ORDER BY id FOR UPDATE",
                    numbered_params(1, ids.len())
                );
                let mut lock = sqlx::query(&sql);
                for id in &ids {
                    lock = lock.bind(*id);
                }
                lock.execute(&mut *tx).await?;
            }
            // Claim each passport's next log sequence numbers, and read its chain head, at once.
            let cases = (0..ids.len()).map(|i| format!("WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2)).collect::<Vec<_>>().join(" ");
            let list = (0..ids.len()).map(|i| format!("${}", 2 * i + 1)).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "UPDATE passports SET log_seq = log_seq + CASE id {cases} END \
                 WHERE id IN ({list}) AND erased_at IS NULL RETURNING id, log_seq, log_head"
            );
            let mut claim = sqlx::query_as(&sql);
            for (pid, jobs) in by_passport {
                claim = claim.bind(pid).bind(jobs.len() as i64);
            }
            let claimed: Vec<(String, i64, String)> = claim.fetch_all(&mut *tx).await?;
            for (pid, last, mut prev) in claimed {
                let Some(jobs) = by_passport.get(&pid) else { continue };
                let mut entries = Vec::with_capacity(jobs.len());
                for (i, job) in jobs.iter().enumerate() {
                    let seq = last - jobs.len() as i64 + 1 + i as i64;
                    let entry = job.event.clone().into_entry(&pid, seq, job.now, prev);
                    prev = entry.hash.clone();
                    entries.push(entry);
                }
                written.insert(pid, entries);
            }
            if !written.is_empty() {
                let cases = (0..written.len()).map(|i| format!("WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2)).collect::<Vec<_>>().join(" ");
                let list = (0..written.len()).map(|i| format!("${}", 2 * i + 1)).collect::<Vec<_>>().join(", ");
                let sql = format!("UPDATE passports SET log_head = CASE id {cases} END WHERE id IN ({list})");
                let mut heads = sqlx::query(&sql);
                for (pid, entries) in &written {
                    heads = heads.bind(pid).bind(&entries.last().expect("one entry at least").hash);
                }
                heads.execute(&mut *tx).await?;
            }
            let all: Vec<&AccessLogEntry> = written.values().flatten().collect();
            for chunk in all.chunks(MAX_BATCH) {
                let values = (0..chunk.len())
                    .map(|i| {
                        let b = 11 * i;
                        format!(
                            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                            b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9, b + 10, b + 11
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "INSERT INTO access_log (passport_id, seq, at, actor_id, grant_id, action, sections, outcome, reason, prev_hash, hash) VALUES {values}"
                );
                let mut query = sqlx::query(&sql);
                for e in chunk {
                    query = query
                        .bind(&e.passport_id)
                        .bind(e.seq)
                        .bind(e.at.timestamp())
                        .bind(&e.actor)
                        .bind(&e.grant_id)
                        .bind(e.action.as_str())
                        .bind(sections_text(&e.sections))
                        .bind(outcome_text(e.outcome))
                        .bind(&e.reason)
                        .bind(&e.prev_hash)
                        .bind(&e.hash);
                }
                query.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(written)
    }
}
