//! The Work Passport service: an employee-owned health and work passport with signed, versioned,
//! encrypted records, consent grants, and a hash-chained access log.
//!
//! `main.rs` is a thin front end; [`run`] starts the same service for tests and embedders.

use std::future::Future;

use anyhow::Context;
use tokio::net::TcpListener;

pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod keys;
pub mod store;
pub mod vault;

pub use config::Settings;
pub use http::{AppState, router};
pub use store::Store;

use keys::{MasterKeys, ServerKeys};

/// Prepares the data directory (owner-only), then the store and the key material.
pub async fn build_state(settings: &Settings, issuer: String) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&settings.data_dir, std::fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(unix)]
    if settings.database_url.is_none() {
        // SQLite gives its WAL and shared-memory files the database file's mode: create the
        // file owner-only before SQLite does (an empty file is a valid new database).
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(settings.data_dir.join("passport.db"))
            .context("creating the database file")?;
    }
    let store = Store::connect(&settings.database_url(), settings.db_connections())
        .await
        .context("opening the database")?;
    let keys = ServerKeys::load_or_create(&settings.signing_keys_path(), clock::now())?;
    let master = MasterKeys::load(
        settings.master_keys.as_deref(),
        &settings.master_keys_path(),
    )?;
    Ok(AppState::new(http::Inner {
        writer: store::Writer::spawn(store.clone()),
        store,
        keys,
        master,
        issuer,
        max_body_bytes: settings.max_body_bytes,
        max_records_per_passport: settings.max_records_per_passport,
        verified_tokens: Default::default(),
    }))
}

/// Serves on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn run(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let issuer = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_owned();
    let state = build_state(&settings, issuer.clone()).await?;
    let store = state.store.clone();
    let purge = tokio::spawn(purge_jtis(store.clone()));
    tracing::info!(%addr, %issuer, backend = store.backend(), "work passport listening");
    let result = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    purge.abort();
    store.close().await;
    result.context("serving HTTP")
}

/// Forgets used `jti`s once they could no longer be replayed anyway.
async fn purge_jtis(store: Store) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = store.purge_expired_jtis(clock::now()).await {
            tracing::warn!(error = ?e, "purging used jtis failed");
        }
    }
}
