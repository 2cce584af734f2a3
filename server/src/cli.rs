//! The `work-passport-server` command: serve, or an operator task.

use crate::config::{Cli, Command};
use crate::domain::party;
use crate::keys::{MasterKeys, ServerKeys};
use crate::{clock, install};
use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use wp_schemas::api::PartyKind;

/// The command line: parse flags, set up logging, run the chosen command.
pub async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr: stdout carries only a command's result (`ADMIN=$(... add-admin ...)`).
    if cli.settings.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::stderr)
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(filter)
            .init();
    }
    let settings = cli.settings;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(settings.listen)
                .await
                .with_context(|| {
                    format!(
                        "listening on {}: another process may use that port, or the address is \
                         not this machine's; pass another --listen (WP_LISTEN)",
                        settings.listen
                    )
                })?;
            crate::run(listener, settings, shutdown_signal()).await
        }
        Command::Init => {
            let installation = install::open(&settings, install::Mode::Init).await?;
            let database = installation.store.describe();
            installation.store.close().await;
            let report = installation.report;
            if report.fresh_database || !report.created.is_empty() {
                println!("initialised {database}");
            } else {
                println!("{database} is already initialised; nothing changed");
            }
            for created in report.created {
                println!("created {created}");
            }
            Ok(())
        }
        Command::AddAdmin {
            jwk_file,
            display_name,
        } => {
            let text = std::fs::read_to_string(&jwk_file).with_context(|| {
                format!("reading the admin's public key file {}", jwk_file.display())
            })?;
            let jwk: wp_schemas::jose::PublicJwk =
                serde_json::from_str(&text).with_context(|| {
                    format!(
                        "{} is not an Ed25519 JWK (make one with `wp keygen`)",
                        jwk_file.display()
                    )
                })?;
            let jwk = party::public_key(&jwk).map_err(|e| anyhow::anyhow!("{e}"))?;
            let name = party::display_name(&display_name).map_err(|e| anyhow::anyhow!("{e}"))?;
            let store = install::connect_for_command(&settings).await?;
            if let Some(key) = store.key(&jwk.thumbprint()).await? {
                println!("{}", key.party_id);
                return Ok(());
            }
            let id = uuid::Uuid::new_v4().to_string();
            store
                .create_party(&id, PartyKind::Admin, &name, None, &jwk, clock::now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{id}");
            Ok(())
        }
        Command::RotateSigningKey => {
            let path = settings.signing_keys_path();
            let kid = if path.exists() {
                ServerKeys::rotate(&path, clock::now())?
            } else {
                // The explicit way to replace a lost file: only tokens depend on these keys.
                tracing::warn!(file = %path.display(), "no signing key file: making a new one");
                ServerKeys::create(&path, clock::now())?
                    .active()
                    .kid()
                    .to_owned()
            };
            install::record_signing_key(&settings, &kid).await?;
            println!("{kid}");
            Ok(())
        }
        Command::RotateMasterKey => {
            let path = settings.master_keys_path();
            println!("{}", MasterKeys::rotate(&path)?);
            Ok(())
        }
    }
}

/// SIGINT or SIGTERM: stop accepting, finish in-flight requests, close the database.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
