//! Storage: SQLite (the embedded default) or PostgreSQL, behind one type that speaks the domain.
//!
//! Every query is written once. `with_pool!` expands a body once per backend, so each copy is
//! type-checked against its own driver without generic trait bounds or `sqlx::Any` (which
//! carries only a few types). The SQL is portable: `$n` parameters (SQLite reads `$1` as
//! parameter 1), `RETURNING`, `ON CONFLICT`, partial indexes; the migrations differ only in
//! column types.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::error::Result;

mod grants;
mod log;
mod parties;
mod passports;
mod replay;
mod writer;

pub use parties::*;
pub use passports::*;
pub use writer::{Admission, Append, Writer};

pub static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
pub static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool (see the module comment).
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// `$first, $first+1, ...`: `count` numbered parameters, for `IN (...)` lists and multi-row
/// statements built for a batch.
pub(crate) fn numbered_params(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Connects and applies the migrations. `postgres://` selects PostgreSQL, `sqlite:` SQLite.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                // The default pings the connection on every acquire: a round trip per query.
                .test_before_acquire(false)
                .connect(url)
                .await?;
            POSTGRES_MIGRATOR.run(&pool).await?;
            Store::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // Durable: an acknowledged write survives a power cut, not only a crash.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .test_before_acquire(false)
                .connect_with(options)
                .await?;
            SQLITE_MIGRATOR.run(&pool).await?;
            Store::Sqlite(pool)
        } else {
            return Err(
                anyhow::anyhow!("DATABASE_URL must start with postgres:// or sqlite:").into(),
            );
        };
        Ok(store)
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
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
    /// this process queues its SQLite writers here instead, one per database file, fairly.
    /// PostgreSQL locks rows and needs no queue.
    pub(crate) async fn write_guard(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        static QUEUES: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
            LazyLock::new(Default::default);
        let Store::Sqlite(pool) = self else {
            return None;
        };
        let file = pool.connect_options().get_filename().to_path_buf();
        let queue = QUEUES
            .lock()
            .expect("write queues")
            .entry(file)
            .or_default()
            .clone();
        Some(queue.lock_owned().await)
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}
