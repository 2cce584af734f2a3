//! Storage: SQLite (the embedded default) or PostgreSQL, behind one type that speaks the domain.
//!
//! Every query is written once. `with_pool!` expands a body once per backend, so each copy is
//! type-checked against its own driver without generic trait bounds or `sqlx::Any` (which
//! carries only a few types). The SQL is portable: `$n` parameters (SQLite reads `$1` as
//! parameter 1), `RETURNING`, `ON CONFLICT`, partial indexes; the migrations differ only in
//! column types.

use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use sqlx::migrate::Migrator;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::domain::time::Timestamp;
use crate::error::Result;

mod access_requests;
mod bundles;
mod grants;
pub mod log;
mod notifications;
mod organisations;
mod parties;
mod passports;
pub(crate) mod replay;
mod types;
mod writer;

#[cfg(feature = "testing")]
pub use bundles::PassportHeads;
pub use notifications::{ClaimedEmail, DueReview, StoredNotification};
pub(crate) use notifications::{insert_email_in, insert_notices_in};
pub use organisations::{Joiner, ListingChange};
pub use parties::*;
pub use passports::*;
pub use writer::{Admission, Writer};
// What the tests and the benchmark use besides the service (see `service`).
#[cfg(feature = "testing")]
pub use writer::{Append, Item, Written};

/// The migrations of `migrations/sqlite/` and `migrations/postgres/`, embedded by `build.rs`.
pub static SQLITE_MIGRATOR: LazyLock<Migrator> =
    LazyLock::new(|| include!(concat!(env!("OUT_DIR"), "/sqlite_migrations.rs")));
pub static POSTGRES_MIGRATOR: LazyLock<Migrator> =
    LazyLock::new(|| include!(concat!(env!("OUT_DIR"), "/postgres_migrations.rs")));

/// How long a request waits for a database that does not answer (a PostgreSQL connection from
/// the pool, a SQLite file another process holds) before it is answered 503
/// `database-unavailable`: well within the request time limit (`--request-timeout`, 30 s).
pub const DATABASE_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub enum Store {
    /// A SQLite database, with the queue its writers take turns in (see [`Store::write_guard`]).
    Sqlite(SqlitePool, WriteQueue),
    Postgres(PgPool),
}

/// The turn-taking of one SQLite store's writers; clones of a [`Store`] share it.
#[derive(Debug, Clone, Default)]
pub struct WriteQueue(Arc<tokio::sync::Mutex<()>>);

/// Runs `$body` with `$pool` bound to the backend's pool (see the module comment).
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::service::store::Store::Sqlite($pool, _) => $body,
            $crate::service::store::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// "PostgreSQL at HOST:PORT (database D, user U)": enough to find it, without the password.
fn describe_postgres(options: &PgConnectOptions) -> String {
    let place = match options.get_socket() {
        Some(socket) => format!("socket {}", socket.display()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    format!(
        "PostgreSQL at {place} (database {}, user {})",
        options.get_database().unwrap_or("(the user's)"),
        options.get_username()
    )
}

/// One connection attempt at a time, each bounded, with the real error (refused, unknown host,
/// authentication failed...) instead of the pool's silent 30-second retry. Retries with
/// backoff only while `wait` lasts.
async fn wait_for_postgres(options: &PgConnectOptions, target: &str, wait: Duration) -> Result<()> {
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        let attempt = tokio::time::timeout(
            Duration::from_secs(10),
            sqlx::PgConnection::connect_with(options),
        )
        .await;
        let error = match attempt {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                return Ok(());
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer within 10 s".to_owned(),
        };
        if started.elapsed() + delay > wait {
            let hint = if wait.is_zero() {
                "; if it is still starting, pass --wait-for-database SECONDS to wait for it"
            } else {
                ""
            };
            return Err(anyhow::anyhow!(
                "cannot connect to {target}: {error}. Check that PostgreSQL runs and accepts \
                 connections there, and that DATABASE_URL (--database-url) names the right host, \
                 port, database, user and password{hint}"
            )
            .into());
        }
        tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "waiting for {target}");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// `PRAGMA quick_check` before anything else reads the file: a corrupt page refuses the start
/// with the file named, instead of a service whose every read of that page answers 500.
async fn quick_check(pool: &SqlitePool, file: &str) -> Result<()> {
    let started = std::time::Instant::now();
    let corrupt = |detail: String| -> crate::error::Error {
        anyhow::anyhow!(
            "the SQLite database {file} is corrupt (PRAGMA quick_check: {detail}). The server \
             does not start on a damaged database: stop every process using it, restore the \
             database from a backup (README, Backups), or inspect it with the sqlite3 tool"
        )
        .into()
    };
    let rows: Vec<(String,)> = sqlx::query_as("PRAGMA quick_check")
        .fetch_all(pool)
        .await
        .map_err(|e| corrupt(e.to_string()))?;
    if rows.len() != 1 || rows[0].0 != "ok" {
        let detail: Vec<String> = rows.into_iter().take(5).map(|(r,)| r).collect();
        return Err(corrupt(detail.join("; ")));
    }
    tracing::info!(
        database = file,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "integrity check (PRAGMA quick_check) passed"
    );
    Ok(())
}

impl Store {
    /// Connects and applies the migrations. `postgres://` selects PostgreSQL, `sqlite:` SQLite.
    /// An unreachable PostgreSQL fails at once (see [`Store::open`] to wait for it). For the
    /// tests and the benchmark; the server waits for its database.
    #[cfg(feature = "testing")]
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        Self::open(url, max_connections, Duration::ZERO).await
    }

    /// Connects, retrying an unreachable PostgreSQL with backoff for up to `wait` (for container
    /// start-up ordering), checks a SQLite file's integrity, and applies the migrations. Errors
    /// name the database and say what to do.
    pub async fn open(url: &str, max_connections: u32, wait: Duration) -> Result<Self> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(|e| {
                anyhow::anyhow!(
                    "DATABASE_URL is not a PostgreSQL URL ({e}): expected \
                     postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
                )
            })?;
            let target = describe_postgres(&options);
            wait_for_postgres(&options, &target, wait).await?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                // The default pings the connection on every acquire: a round trip per query.
                .test_before_acquire(false)
                // The database going away mid-run answers 503 soon rather than after 30 s.
                .acquire_timeout(DATABASE_WAIT)
                .connect_with(options)
                .await
                .map_err(|e| anyhow::anyhow!("connecting to {target}: {e}"))?;
            POSTGRES_MIGRATOR.run(&pool).await.map_err(|e| {
                anyhow::anyhow!("applying the database migrations to {target}: {e}")
            })?;
            Store::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a SQLite URL ({e})"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // Durable: an acknowledged write survives a power cut, not only a crash.
                .synchronous(SqliteSynchronous::Full)
                // Another process holding the file (a `sqlite3` shell in a transaction) is
                // waited for as long as a lost PostgreSQL, then answered 503
                // `database-unavailable`; 30 s would meet the request time limit first.
                .busy_timeout(DATABASE_WAIT)
                .foreign_keys(true);
            let file = options.get_filename().display().to_string();
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .test_before_acquire(false)
                .connect_with(options)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "opening the SQLite database {file}: {e}. The file and its directory \
                         must be readable and writable by this user"
                    )
                })?;
            quick_check(&pool, &file).await?;
            SQLITE_MIGRATOR.run(&pool).await.map_err(|e| {
                anyhow::anyhow!(
                    "applying the database migrations to the SQLite database {file}: {e}"
                )
            })?;
            Store::Sqlite(pool, WriteQueue::default())
        } else {
            return Err(anyhow::anyhow!(
                "DATABASE_URL must start with postgres:// or sqlite: (got a URL starting {:?})",
                url.chars().take(12).collect::<String>()
            )
            .into());
        };
        Ok(store)
    }

    /// What this store is, for operators' messages: the file, or the server and database
    /// (never the password).
    pub fn describe(&self) -> String {
        match self {
            Store::Sqlite(pool, _) => format!(
                "the SQLite database {}",
                pool.connect_options().get_filename().display()
            ),
            Store::Postgres(pool) => describe_postgres(&pool.connect_options()),
        }
    }

    /// The key ids this database depends on, as (kid, purpose) with purpose `master` or
    /// `signing` (see the `installation_keys` migration).
    pub async fn installation_keys(&self) -> Result<Vec<(String, String)>> {
        let rows = with_pool!(self, pool => {
            sqlx::query_as("SELECT kid, purpose FROM installation_keys ORDER BY recorded_at, kid")
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// Records that this database depends on a key (once).
    pub async fn record_installation_key(
        &self,
        kid: &str,
        purpose: &str,
        now: Timestamp,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO installation_keys (kid, purpose, recorded_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (kid) DO NOTHING",
            )
            .bind(kid)
            .bind(purpose)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The master key ids that wrap live data keys, with how many each wraps.
    pub async fn master_kids_in_use(&self) -> Result<Vec<(String, i64)>> {
        let rows = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT master_kid, COUNT(*) FROM passport_keys GROUP BY master_kid ORDER BY master_kid",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// SQLite only: copies the database, consistent as of one moment, into a new file while
    /// the service keeps running (`VACUUM INTO`).
    pub async fn backup_sqlite(&self, to: &std::path::Path) -> Result<()> {
        let Store::Sqlite(pool, _) = self else {
            return Err(anyhow::anyhow!("VACUUM INTO is a SQLite backup").into());
        };
        sqlx::query("VACUUM INTO $1")
            .bind(to.display().to_string())
            .execute(pool)
            .await?;
        Ok(())
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(..) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// The pool's connections now: open, idle, and the most it opens.
    pub fn pool_stats(&self) -> crate::metrics::PoolStats {
        with_pool!(self, pool => crate::metrics::PoolStats {
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        })
    }

    /// Readiness: the database answers.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// SQLite has one writer at a time. Writers that collide inside SQLite wait in its busy
    /// handler, which sleeps in steps of up to 100 ms: tails of half a second under load. So
    /// the store queues its writers instead, fairly, in its [`WriteQueue`]. (Another process,
    /// or another `Store` opened on the same file, still meets the busy handler: slower, as
    /// safe.) PostgreSQL locks rows and needs no queue.
    pub(crate) async fn write_guard(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let Store::Sqlite(_, queue) = self else {
            return None;
        };
        Some(queue.0.clone().lock_owned().await)
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded migrations are what sqlx reads from the directories: the same versions,
    /// descriptions, SQL and checksums (a database migrated by an earlier build stays valid).
    #[tokio::test]
    async fn migrations_match_sqlx() {
        for (embedded, dir) in [
            (&*SQLITE_MIGRATOR, "../migrations/sqlite"),
            (&*POSTGRES_MIGRATOR, "../migrations/postgres"),
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            let read = Migrator::new(path).await.expect("sqlx reads the directory");
            let fields = |m: &Migrator| -> Vec<_> {
                m.iter()
                    .map(|m| {
                        let kind = m.migration_type.label();
                        (
                            m.version,
                            m.description.clone(),
                            kind,
                            m.checksum.clone(),
                            m.no_tx,
                        )
                    })
                    .collect()
            };
            assert_eq!(fields(embedded), fields(&read), "{dir}");
            assert!(!fields(embedded).is_empty(), "{dir}");
            assert_eq!(
                (embedded.locking, embedded.no_tx),
                (read.locking, read.no_tx)
            );
        }
    }
}
