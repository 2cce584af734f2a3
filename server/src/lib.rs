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
pub mod service;

pub use config::Settings;
pub use http::{AppState, router};
// For the test and benchmark crate only (see `service`).
#[cfg(feature = "testing")]
#[doc(hidden)]
pub use service::store::Store;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub use service::{store, vault};

/// Opens the installation (data directory, database, key material; see
/// [`service::install`]), refusing what would lose passports, and builds the shared state.
pub async fn build_state(settings: &Settings, issuer: String) -> anyhow::Result<AppState> {
    AppState::open(settings, issuer).await
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
    let purge = tokio::spawn(purge_jtis(state.clone()));
    // Ready before the first page is asked for (http/web.rs).
    tokio::task::spawn_blocking(http::web::compress_assets);
    tracing::info!(%addr, %issuer, backend = state.backend(), "work passport listening");
    // The peer's address, for the rate limits (`http::limit`).
    let app = router(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    purge.abort();
    state.close().await;
    result.context("serving HTTP")
}

/// Forgets used `jti`s once they could no longer be replayed anyway.
async fn purge_jtis(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = state.purge_expired_jtis(clock::now()).await {
            tracing::warn!(error = ?e, "purging used jtis failed");
        }
    }
}
