//! Group commit for the small writes every request makes: admitting its DPoP proof (the `jti`
//! replay check) and appending to an access log. Requests hand their write to one task per
//! server instance, which applies everything that arrived meanwhile in one statement or one
//! transaction and answers each request after the commit: the same durability as a commit per
//! request, at a fraction of the commits (PRODUCT.md 4b: commits, not SQL, are the cost).

use std::collections::{BTreeMap, HashSet};

use tokio::sync::{mpsc, oneshot};
use wp_schemas::api::AccessLogEntry;

use super::{Store, with_pool};
use crate::domain::audit::LogEvent;
use crate::domain::ids::{Kid, PartyId, PassportId};
use crate::domain::time::Timestamp;
use crate::error::{Error, Result};

/// Most writes in one batch (SQLite allows 32766 parameters; a log entry takes 11).
const MAX_BATCH: usize = 256;

/// A request's DPoP proof to admit: its `jti` is recorded if, and only if, it is new and `kid`
/// is still registered to `party_id` and not revoked.
#[derive(Debug, Clone)]
pub struct Admission {
    pub jti: String,
    pub expires_at: Timestamp,
    pub kid: Kid,
    pub party_id: PartyId,
}

/// An event to append to a passport's access log.
#[derive(Debug, Clone)]
pub struct Append {
    pub passport_id: PassportId,
    pub event: LogEvent,
    pub now: Timestamp,
}

enum Job {
    Admit(Admission, oneshot::Sender<Result<bool>>),
    Log(Append, oneshot::Sender<Result<AccessLogEntry>>),
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
        expires_at: Timestamp,
        kid: &Kid,
        party_id: &PartyId,
    ) -> Result<bool> {
        let (reply, answer) = oneshot::channel();
        let job = Admission {
            jti,
            expires_at,
            kid: kid.clone(),
            party_id: party_id.clone(),
        };
        self.jobs
            .send(Job::Admit(job, reply))
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Appends an event to a passport's access log; answers once it is committed.
    pub async fn log(
        &self,
        passport_id: &PassportId,
        event: LogEvent,
        now: Timestamp,
    ) -> Result<AccessLogEntry> {
        let (reply, answer) = oneshot::channel();
        let job = Append {
            passport_id: passport_id.clone(),
            event,
            now,
        };
        self.jobs
            .send(Job::Log(job, reply))
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let (mut admissions, mut admission_replies) = (Vec::new(), Vec::new());
        let (mut appends, mut append_replies) = (Vec::new(), Vec::new());
        let mut next = Some(first);
        while let Some(job) = next {
            match job {
                Job::Admit(a, reply) => {
                    admissions.push(a);
                    admission_replies.push(reply);
                }
                Job::Log(l, reply) => {
                    appends.push(l);
                    append_replies.push(reply);
                }
            }
            next = if admissions.len() + appends.len() < MAX_BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !admissions.is_empty() {
            let results = store.admit_batch(&admissions).await;
            for (reply, result) in admission_replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        if !appends.is_empty() {
            let results = store.append_batch(&appends).await;
            for (reply, result) in append_replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
    }
}

/// Runs `write` on the whole batch and, if the batch fails, again on each item alone, so that an
/// item the database refuses fails its own request and never another caller's (one statement
/// or one transaction per batch: a failed batch wrote nothing, so a retry is safe). `write`
/// answers one outcome per item, in order.
async fn isolated<'a, J, T, F, Fut>(jobs: &'a [J], write: F) -> Vec<Result<T>>
where
    F: Fn(&'a [J]) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Result<T>>>>,
{
    let failed = |error: &Error| {
        // The chain may name SQL; it goes to the log only.
        tracing::error!(error = ?error, "a batched write failed");
        Err(if error.is_unavailable() {
            Error::Unavailable
        } else {
            Error::Other(anyhow::anyhow!("batched write failed"))
        })
    };
    match write(jobs).await {
        Ok(results) => results,
        // No item is to blame when the database is down: every caller gets a 503 at once.
        Err(e) if jobs.len() == 1 || e.is_unavailable() => {
            jobs.iter().map(|_| failed(&e)).collect()
        }
        Err(e) => {
            tracing::warn!(error = ?e, items = jobs.len(), "a batched write failed; writing its items one by one");
            let mut results = Vec::with_capacity(jobs.len());
            for job in jobs.chunks(1) {
                results.push(match write(job).await {
                    Ok(mut one) => one.pop().unwrap_or_else(|| failed(&gone())),
                    Err(e) => failed(&e),
                });
            }
            results
        }
    }
}

impl Store {
    /// Admits proofs in one statement: a `jti` is recorded only if it is new and its key is
    /// active. Each item gets its own outcome, even if another item makes the statement fail.
    pub async fn admit_batch(&self, jobs: &[Admission]) -> Vec<Result<bool>> {
        // A jti twice in one batch: the second is a replay of the first.
        let mut seen = HashSet::new();
        let fresh: Vec<bool> = jobs.iter().map(|j| seen.insert(j.jti.as_str())).collect();
        let firsts: Vec<&Admission> = jobs
            .iter()
            .zip(&fresh)
            .filter(|(_, f)| **f)
            .map(|(j, _)| j)
            .collect();
        let mut outcomes = isolated(&firsts, |batch| self.admit_statement(batch))
            .await
            .into_iter();
        fresh
            .into_iter()
            .map(|f| match f {
                true => outcomes.next().unwrap_or_else(|| Err(gone())),
                false => Ok(false),
            })
            .collect()
    }

    /// Run on its own (not in the log transaction) so that it holds no row lock while waiting
    /// on another instance's insert of the same `jti`.
    async fn admit_statement(&self, jobs: &[&Admission]) -> Result<Vec<Result<bool>>> {
        let rows: Vec<(String,)> = with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO used_jtis (jti, expires_at) SELECT v.column1, v.column2 FROM (",
            );
            query.push_values(jobs, |mut row, job| {
                row.push_bind(&job.jti)
                    .push_bind(job.expires_at)
                    .push_bind(&job.kid)
                    .push_bind(&job.party_id);
            });
            query.push(
                ") AS v WHERE EXISTS (SELECT 1 FROM party_keys k WHERE k.kid = v.column3 \
                 AND k.party_id = v.column4 AND k.revoked_at IS NULL) \
                 ON CONFLICT (jti) DO NOTHING RETURNING jti",
            );
            query.build_query_as().fetch_all(pool).await?
        });
        let admitted: HashSet<String> = rows.into_iter().map(|r| r.0).collect();
        Ok(jobs.iter().map(|j| Ok(admitted.contains(&j.jti))).collect())
    }

    /// Appends log entries in one transaction; each item gets its own outcome (an erased or
    /// unknown passport is refused with `gone`), even if another item makes the batch fail.
    pub async fn append_batch(&self, jobs: &[Append]) -> Vec<Result<AccessLogEntry>> {
        isolated(jobs, |batch| self.append_transaction(batch)).await
    }

    async fn append_transaction(&self, jobs: &[Append]) -> Result<Vec<Result<AccessLogEntry>>> {
        let mut by_passport: BTreeMap<&PassportId, Vec<&Append>> = BTreeMap::new();
        for job in jobs {
            by_passport.entry(&job.passport_id).or_default().push(job);
        }
        let mut written = self.write_appends(&by_passport).await?;
        // Entries come back per passport in the order their jobs were given.
        let mut entries: BTreeMap<&PassportId, std::vec::IntoIter<AccessLogEntry>> =
            BTreeMap::new();
        for pid in by_passport.keys() {
            if let Some(list) = written.remove(*pid) {
                entries.insert(pid, list.into_iter());
            }
        }
        Ok(jobs
            .iter()
            .map(|job| {
                entries
                    .get_mut(&job.passport_id)
                    .and_then(Iterator::next)
                    .ok_or_else(|| {
                        Error::client(
                            wp_schemas::problem::ProblemType::Gone,
                            "the passport was erased by its owner",
                        )
                    })
            })
            .collect())
    }

    /// One transaction for all log appends. Passports are locked in id order, so that two
    /// instances' batches can never wait on each other in a cycle.
    async fn write_appends(
        &self,
        by_passport: &BTreeMap<&PassportId, Vec<&Append>>,
    ) -> Result<BTreeMap<PassportId, Vec<AccessLogEntry>>> {
        let mut written: BTreeMap<PassportId, Vec<AccessLogEntry>> = BTreeMap::new();
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            if matches!(self, Store::Postgres(_)) {
                // Row locks in id order (PostgreSQL only: SQLite has one writer and no FOR UPDATE),
                // so that batches of several instances never wait on each other in a cycle.
                let mut lock = sqlx::QueryBuilder::new("SELECT id FROM passports WHERE id IN (");
                let mut list = lock.separated(", ");
                for pid in by_passport.keys() {
                    list.push_bind(*pid);
                }
                lock.push(") ORDER BY id FOR UPDATE");
                lock.build().execute(&mut *tx).await?;
            }
            // Claim each passport's next log sequence numbers, and read its chain head, at once.
            let mut claim = sqlx::QueryBuilder::new("UPDATE passports SET log_seq = log_seq + CASE id");
            for (pid, jobs) in by_passport {
                claim.push(" WHEN ").push_bind(*pid).push(" THEN ").push_bind(jobs.len() as i64);
            }
            claim.push(" END WHERE erased_at IS NULL AND id IN (");
            let mut list = claim.separated(", ");
            for pid in by_passport.keys() {
                list.push_bind(*pid);
            }
            claim.push(") RETURNING id, log_seq, log_head");
            let claimed: Vec<(PassportId, i64, String)> =
                claim.build_query_as().fetch_all(&mut *tx).await?;
            for (pid, last, head) in claimed {
                let Some(jobs) = by_passport.get(&pid) else { continue };
                let first = last - jobs.len() as i64 + 1;
                let events = jobs.iter().map(|job| (job.event.clone(), job.now));
                let entries = crate::domain::audit::chain(&pid, first, head, events);
                written.insert(pid, entries);
            }
            if !written.is_empty() {
                let mut heads = sqlx::QueryBuilder::new("UPDATE passports SET log_head = CASE id");
                for (pid, entries) in &written {
                    let hash = &entries.last().expect("one entry at least").hash;
                    heads.push(" WHEN ").push_bind(pid).push(" THEN ").push_bind(hash);
                }
                heads.push(" END WHERE id IN (");
                let mut list = heads.separated(", ");
                for pid in written.keys() {
                    list.push_bind(pid);
                }
                heads.push(")");
                heads.build().execute(&mut *tx).await?;
            }
            let all: Vec<&AccessLogEntry> = written.values().flatten().collect();
            crate::insert_log_entries!(tx, all);
            tx.commit().await?;
        });
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for a batched statement: fails as a whole if any item is poisoned, the way
    /// PostgreSQL fails a statement that binds a NUL byte; otherwise doubles each item.
    async fn write(items: &[i64]) -> Result<Vec<Result<i64>>> {
        if items.contains(&-1) {
            return Err(Error::Other(anyhow::anyhow!("poisoned")));
        }
        Ok(items.iter().map(|i| Ok(2 * i)).collect())
    }

    #[tokio::test]
    async fn a_failing_item_fails_only_itself() {
        let outcomes = isolated(&[1, 2, -1, 4, -1], write).await;
        let outcomes: Vec<Option<i64>> = outcomes.into_iter().map(Result::ok).collect();
        assert_eq!(outcomes, [Some(2), Some(4), None, Some(8), None]);
        let alone = isolated(&[-1], write).await;
        assert!(alone[0].is_err());
        let clean = isolated(&[3, 5], write).await;
        assert_eq!(
            clean.into_iter().map(Result::ok).collect::<Vec<_>>(),
            [Some(6), Some(10)]
        );
    }
}
