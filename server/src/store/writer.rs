//! Group commit for the small writes every request makes: admitting its DPoP proof (the `jti`
//! replay check) and appending to an access log. Requests hand their writes to one task per
//! server instance, which applies everything that arrived meanwhile in one transaction (the
//! admissions, then the log entries) and answers each request after the commit: the same
//! durability as a commit per request, at a fraction of the commits (PRODUCT.md 4b: commits,
//! not SQL, are the cost). A read hands over its proof and its log entry as one job, so that
//! both commit together or neither does.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use wp_schemas::api::AccessLogEntry;

use super::{AppendError, Store, VersionAppend, with_pool};
use crate::domain::audit::LogEvent;
use crate::domain::ids::{Kid, PartyId, PassportId};
use crate::domain::notification::Notice;
use crate::domain::time::Timestamp;
use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// Most requests in one batch (SQLite allows 32766 parameters; a log entry takes 13).
const MAX_BATCH: usize = 256;

/// Batches committed at once on PostgreSQL (of the pool's 16 connections by default).
const POSTGRES_WRITERS: usize = 2;

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
    /// Notifications written with the entry (none if it is not: the passport was erased).
    pub notices: Vec<Notice>,
}

/// One request's writes: a proof to admit, an entry to append, or both, in which case the
/// entry is appended only if the proof is admitted; or a version to append.
#[derive(Debug, Clone, Default)]
pub struct Item {
    pub admission: Option<Admission>,
    pub append: Option<Append>,
    pub version: Option<VersionAppend>,
}

/// What became of an item: whether its proof was admitted (true when it had none), the entry
/// appended (none when it had none, or its proof was refused), and the version's sequence
/// number or why it was refused.
#[derive(Debug)]
pub struct Written {
    pub admitted: bool,
    pub entry: Option<AccessLogEntry>,
    pub version: Option<std::result::Result<i64, AppendError>>,
}

type Reply = oneshot::Sender<Result<Written>>;

/// The handle requests use; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<(Item, Reply)>,
}

fn gone() -> Error {
    Error::Other(anyhow::anyhow!("the write task has stopped"))
}

fn erased() -> Error {
    Error::client(
        wp_schemas::problem::ProblemType::Gone,
        "the passport was erased by its owner",
    )
}

impl Writer {
    /// Starts the write tasks for `store`; they end when every handle is dropped. SQLite has one
    /// writer at a time, so one task; PostgreSQL commits several batches at once (each locks
    /// its passports in id order, as batches of several instances do), so that version writes,
    /// which take most of a batch's time, use more than one connection.
    pub fn spawn(store: Store, metrics: Arc<Metrics>) -> Self {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        let tasks = match store {
            Store::Sqlite(..) => 1,
            Store::Postgres(_) => POSTGRES_WRITERS,
        };
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..tasks {
            tokio::spawn(run(store.clone(), rx.clone(), metrics.clone()));
        }
        Writer { jobs }
    }

    async fn submit(&self, item: Item) -> Result<Written> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send((item, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Admits a request's DPoP proof: records its `jti` if, and only if, the id is new and the
    /// key it is bound to is still registered to its party and not revoked. False means one of
    /// the two failed; [`Store::key`] tells which.
    pub async fn admit(&self, admission: Admission) -> Result<bool> {
        let item = Item {
            admission: Some(admission),
            ..Item::default()
        };
        Ok(self.submit(item).await?.admitted)
    }

    /// Appends an event to a passport's access log, and writes `notices` with it; answers once
    /// it is committed.
    pub async fn log(
        &self,
        passport_id: &PassportId,
        event: LogEvent,
        now: Timestamp,
        notices: Vec<Notice>,
    ) -> Result<AccessLogEntry> {
        let item = Item {
            append: Some(Append {
                passport_id: passport_id.clone(),
                event,
                now,
                notices,
            }),
            ..Item::default()
        };
        self.submit(item).await?.entry.ok_or_else(gone)
    }

    /// Admits a proof and appends the entry of what it was used for, in one transaction: the
    /// entry only if the proof is admitted. None means the proof was refused (as by
    /// [`Writer::admit`]) and nothing was written.
    pub async fn admit_and_log(
        &self,
        admission: Admission,
        passport_id: &PassportId,
        event: LogEvent,
        now: Timestamp,
    ) -> Result<Option<AccessLogEntry>> {
        let item = Item {
            admission: Some(admission),
            append: Some(Append {
                passport_id: passport_id.clone(),
                event,
                now,
                notices: Vec::new(),
            }),
            version: None,
        };
        let written = self.submit(item).await?;
        Ok(written.admitted.then_some(written.entry).flatten())
    }

    /// Appends a version with its log entry ([`crate::service::store::passports`]'s
    /// `append_version_in!`), committed with the rest of its batch: many versions, one commit.
    pub async fn append_version(&self, version: VersionAppend) -> Result<i64, AppendError> {
        let item = Item {
            version: Some(version),
            ..Item::default()
        };
        let written = self.submit(item).await?;
        written
            .version
            .unwrap_or_else(|| Err(AppendError::Other(gone())))
    }
}

/// Takes what has arrived (up to a batch) while no other task is taking, then writes it.
async fn run(
    store: Store,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<(Item, Reply)>>>,
    metrics: Arc<Metrics>,
) {
    loop {
        let (items, replies) = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let (mut items, mut replies) = (vec![first.0], vec![first.1]);
            while items.len() < MAX_BATCH {
                let Ok((item, reply)) = rx.try_recv() else {
                    break;
                };
                items.push(item);
                replies.push(reply);
            }
            (items, replies)
        };
        let started = Instant::now();
        let results = store.write_batch_metered(&items, Some(&metrics)).await;
        metrics.batch(items.len(), started.elapsed());
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }
}

/// Runs `write` on the whole batch and, if the batch fails, again on each item alone, so that an
/// item the database refuses fails its own request and never another caller's (one transaction
/// per batch: a failed batch wrote nothing, so a retry is safe). `write` answers one outcome
/// per item, in order.
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
    /// [`Store::write_batch_metered`] without metrics, for the tests.
    #[cfg(feature = "testing")]
    pub async fn write_batch(&self, items: &[Item]) -> Vec<Result<Written>> {
        self.write_batch_metered(items, None).await
    }

    /// Writes a batch in one transaction; each item gets its own outcome (a refused proof, an
    /// erased or unknown passport), even if another item makes the transaction fail. Its waits
    /// for a pooled connection are timed into `metrics`.
    async fn write_batch_metered(
        &self,
        items: &[Item],
        metrics: Option<&Metrics>,
    ) -> Vec<Result<Written>> {
        isolated(items, |batch| self.batch_transaction(batch, metrics)).await
    }

    async fn batch_transaction(
        &self,
        items: &[Item],
        metrics: Option<&Metrics>,
    ) -> Result<Vec<Result<Written>>> {
        // A jti twice in one batch: the second is a replay of the first. In jti order, so that
        // two batches meet the jtis they share in the same order.
        let mut seen = HashSet::new();
        let mut firsts: Vec<&Admission> = items
            .iter()
            .filter_map(|i| i.admission.as_ref())
            .filter(|a| seen.insert(a.jti.as_str()))
            .collect();
        firsts.sort_by(|a, b| a.jti.cmp(&b.jti));
        let admitted: HashSet<String>;
        let mut written: BTreeMap<PassportId, Vec<AccessLogEntry>> = BTreeMap::new();
        let mut appended = Vec::new();
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            // Acquired here, not inside sqlx, so that the wait can be timed: every request's
            // writes come through this one place (the other queries' waits go unmeasured).
            let waiting = Instant::now();
            let mut conn = pool.acquire().await?;
            if let Some(metrics) = metrics {
                metrics.acquired(waiting.elapsed());
            }
            if items.iter().all(|i| i.append.is_none() && i.version.is_none()) {
                // Proofs alone: one statement, its own transaction.
                admitted = super::replay::admit_proofs!(&mut *conn, firsts);
                return Ok(outcomes(items, &admitted, BTreeMap::new(), Vec::new()));
            }
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            // Proofs first, before any passport row is locked: a transaction waiting here on
            // another instance's insert of the same jti holds no lock that instance could need.
            admitted = super::replay::admit_proofs!(&mut *tx, firsts);
            // The entries of the items whose proof (if any) was admitted, grouped by passport.
            let mut by_passport: BTreeMap<&PassportId, Vec<&Append>> = BTreeMap::new();
            for (item, admitted) in items.iter().zip(admitted_items(items, &admitted)) {
                if let (Some(append), true) = (&item.append, admitted) {
                    by_passport.entry(&append.passport_id).or_default().push(append);
                }
            }
            let versions: Vec<&VersionAppend> = items.iter().filter_map(|i| i.version.as_ref()).collect();
            if matches!(self, Store::Postgres(_)) {
                // Row locks in id order (PostgreSQL only: SQLite has one writer and no FOR
                // UPDATE), so that batches of several instances never wait on each other in a
                // cycle.
                let locked: BTreeSet<&PassportId> = by_passport
                    .keys()
                    .copied()
                    .chain(versions.iter().map(|v| &v.passport_id))
                    .collect();
                if !locked.is_empty() {
                    let mut lock = sqlx::QueryBuilder::new("SELECT id FROM passports WHERE id IN (");
                    let mut list = lock.separated(", ");
                    for pid in &locked {
                        list.push_bind(*pid);
                    }
                    lock.push(") ORDER BY id FOR UPDATE");
                    lock.build().execute(&mut *tx).await?;
                }
            }
            // Versions, one after another: a refused one writes nothing.
            for version in &versions {
                appended.push(super::passports::append_version_in!(tx, version));
            }
            if !by_passport.is_empty() {
                // Claim each passport's next log sequence numbers, and read its chain head, at once.
                let mut claim = sqlx::QueryBuilder::new("UPDATE passports SET log_seq = log_seq + CASE id");
                for (pid, appends) in &by_passport {
                    claim.push(" WHEN ").push_bind(*pid).push(" THEN ").push_bind(appends.len() as i64);
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
                    let Some(appends) = by_passport.get(&pid) else { continue };
                    let first = last - appends.len() as i64 + 1;
                    let events = appends.iter().map(|a| (a.event.clone(), a.now));
                    let entries = crate::domain::audit::chain(&pid, first, head, events);
                    written.insert(pid, entries);
                }
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
                let all: Vec<&AccessLogEntry> = written.values().flatten().collect();
                crate::insert_log_entries!(tx, all);
                // The notifications of the entries written (an erased passport's got none).
                for (pid, appends) in &by_passport {
                    if written.contains_key(*pid) {
                        for append in appends.iter().filter(|a| !a.notices.is_empty()) {
                            super::insert_notices_in!(tx, &append.notices, append.now);
                        }
                    }
                }
            }
            tx.commit().await?;
        });
        Ok(outcomes(items, &admitted, written, appended))
    }
}

/// Each item's outcome, from the jtis admitted and the entries written per passport (in the
/// order their items were given).
fn outcomes(
    items: &[Item],
    admitted: &HashSet<String>,
    written: BTreeMap<PassportId, Vec<AccessLogEntry>>,
    appended: Vec<std::result::Result<i64, AppendError>>,
) -> Vec<Result<Written>> {
    let mut appended = appended.into_iter();
    let mut entries: BTreeMap<PassportId, std::vec::IntoIter<AccessLogEntry>> = written
        .into_iter()
        .map(|(pid, list)| (pid, list.into_iter()))
        .collect();
    items
        .iter()
        .zip(admitted_items(items, admitted))
        .map(|(item, admitted)| {
            let entry = match &item.append {
                Some(append) if admitted => Some(
                    entries
                        .get_mut(&append.passport_id)
                        .and_then(Iterator::next)
                        .ok_or_else(erased)?,
                ),
                _ => None,
            };
            let version = item.version.as_ref().and_then(|_| appended.next());
            Ok(Written {
                admitted,
                entry,
                version,
            })
        })
        .collect()
}

/// Whether each item's proof was admitted: true for an item without one, false for the second
/// item with the same jti in a batch (a replay of the first).
fn admitted_items(items: &[Item], admitted: &HashSet<String>) -> Vec<bool> {
    let mut seen = HashSet::new();
    items
        .iter()
        .map(|item| match &item.admission {
            None => true,
            Some(a) => seen.insert(a.jti.as_str()) && admitted.contains(&a.jti),
        })
        .collect()
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
