//! The `work-passport-server` command: serve, or an operator task.

use crate::config::{Cli, Command};
use crate::domain::party;
use crate::keys::{MasterKeys, ServerKeys};
use crate::{Store, clock};
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
                .with_context(|| format!("binding {}", settings.listen))?;
            crate::run(listener, settings, shutdown_signal()).await
        }
        Command::AddAdmin {
            jwk_file,
            display_name,
        } => {
            std::fs::create_dir_all(&settings.data_dir)?;
            let text = std::fs::read_to_string(&jwk_file)
                .with_context(|| format!("reading {}", jwk_file.display()))?;
            let jwk: wp_schemas::jose::PublicJwk =
                serde_json::from_str(&text).context("the file is not an Ed25519 JWK")?;
            let jwk = party::public_key(&jwk).map_err(|e| anyhow::anyhow!("{e}"))?;
            let name = party::display_name(&display_name).map_err(|e| anyhow::anyhow!("{e}"))?;
            let store = Store::connect(&settings.database_url(), 1).await?;
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
            ServerKeys::load_or_create(&path, clock::now())?;
            println!("{}", ServerKeys::rotate(&path, clock::now())?);
            Ok(())
        }
        Command::RotateMasterKey => {
            let path = settings.master_keys_path();
            MasterKeys::load(None, &path)?;
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
