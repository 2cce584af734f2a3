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
pub mod install;
pub mod keys;
pub mod service;
pub mod store;
pub mod vault;

pub use config::Settings;
pub use http::{AppState, router};
pub use store::Store;

/// Opens the installation (data directory, database, key material; see [`install`]), refusing
/// what would lose passports, and builds the shared state.
pub async fn build_state(settings: &Settings, issuer: String) -> anyhow::Result<AppState> {
    let limits = service::limits::Limits::new(settings)?;
    let install::Installation {
        store,
        keys,
        master,
        ..
    } = install::open(settings, install::Mode::Serve).await?;
    Ok(AppState::new(http::Inner {
        writer: store::Writer::spawn(store.clone()),
        store,
        keys,
        master,
        issuer,
        max_body_bytes: settings.max_body_bytes,
        max_bundle_bytes: settings.max_bundle_bytes,
        request_timeout: std::time::Duration::from_secs(settings.request_timeout),
        max_records_per_passport: settings.max_records_per_passport,
        verified_tokens: Default::default(),
        heads: Default::default(),
        origins: service::origins::Origins::new(
            &settings.trusted_origins,
            settings.allow_http_origins,
        )?,
        limits,
    }))
}

/// Serves on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn run(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let issuer = settings.issuer(addr);
    let state = build_state(&settings, issuer.clone()).await?;
    let store = state.store.clone();
    let purge = tokio::spawn(purge_jtis(store.clone()));
    tracing::info!(%addr, %issuer, backend = store.backend(), "work passport listening");
    // The peer's address, for the rate limits (`http::limit`).
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, app)
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
