//! The Work Passport service: an employee-owned health and work passport with signed, versioned,
//! encrypted records, consent grants, and a hash-chained access log.
//!
//! `main.rs` is a thin front end; [`run`] starts the same service for tests and embedders.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod keys;
pub mod mail;
pub mod service;
pub mod tls;

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
    // Before the database is opened: a bad certificate or key stops the start at once.
    let tls = match tls::TlsFiles::from_settings(&settings)? {
        Some(files) => Some(Arc::new(tls::Tls::new(files)?)),
        None => None,
    };
    // Likewise a bad --smtp-url or --smtp-from. The notifications dispatcher (issue 26) is to
    // take this mailer; until then it is only checked.
    let _mailer = mail::Mailer::from_settings(&settings)?;
    let addr = listener.local_addr()?;
    let issuer = settings.issuer(addr);
    warn_if_plain_http(&issuer);
    let state = build_state(&settings, issuer.clone()).await?;
    let purge = tokio::spawn(purge_jtis(state.clone()));
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, scheme, %issuer, backend = state.backend(), "work passport listening");
    // The peer's address, for the rate limits and the logs (`http::transport`).
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let result = match tls {
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(tls) => {
            let watch = tokio::spawn(
                tls.clone()
                    .watch(Duration::from_secs(settings.tls_reload_interval)),
            );
            // `tap_io` only for its `ConnectInfo<SocketAddr>`: axum gives a listener's address
            // as connection info to a listener it wraps so, and a local one cannot have it
            // directly (the trait and the address type are both foreign).
            let listener = tls.listen(listener).tap_io(|_| ());
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
            watch.abort();
            result
        }
    };
    purge.abort();
    state.close().await;
    result.context("serving HTTP")
}

/// Warns when the pages would not work: browsers give WebCrypto (every key the pages make and
/// use) only to secure origins, which an `http://` URL is only on this machine (loopback).
fn warn_if_plain_http(issuer: &str) {
    if config::plain_http_off_loopback(issuer) {
        tracing::warn!(
            public_url = issuer,
            "the public URL is plain http:// on a host other than this machine: browsers will \
             not run the pages there (they allow their cryptography only over HTTPS or at \
             localhost), and requests would cross the network unencrypted. Serve HTTPS with \
             --tls-cert and --tls-key, or put a TLS-terminating reverse proxy in front and pass \
             --public-url https://... (README, section HTTPS)"
        );
    }
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
