//! The `work-passport-server` command: serve, or an operator task.

use std::path::Path;

use crate::config::{Cli, Command, Settings};
use crate::domain::party;
use crate::keys::{MasterKeys, ServerKeys};
use crate::{Store, clock, install};
use anyhow::{Context, bail};
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
        Command::Backup { to } => backup(&settings, &to).await,
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
            let kid = crate::domain::ids::Kid::try_from(jwk.thumbprint())?;
            if let Some(key) = store.key(&kid).await? {
                println!("{}", key.party_id);
                return Ok(());
            }
            let id = crate::domain::ids::PartyId::random();
            store
                .create_party(&id, PartyKind::Admin, &name, None, &jwk, clock::now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{id}");
            Ok(())
        }
        Command::AdminLink { hours } => {
            let path = settings.signing_keys_path();
            if !path.exists() {
                anyhow::bail!(
                    "no signing key file at {}: start the server once (it makes one), then run \
                     admin-link again",
                    path.display()
                );
            }
            let keys = ServerKeys::load(&path)?;
            let issuer = settings.issuer(settings.listen);
            let (invitation, claims) =
                crate::domain::auth::issue_admin_invitation(&keys, &issuer, hours, clock::now());
            let until = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or_default();
            eprintln!(
                "Open this link in a browser to become an admin (it works once, until {until}; \
                 keep it private):"
            );
            println!("{issuer}/#/admin-join/{invitation}");
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

/// Backs up the installation into `to`: the database, then the key files. Keys are copied
/// after the database so the copy holds every key the backed-up passports need (master keys
/// are only ever added).
async fn backup(settings: &Settings, to: &Path) -> anyhow::Result<()> {
    if to.exists()
        && std::fs::read_dir(to)
            .with_context(|| format!("reading the backup directory {}", to.display()))?
            .next()
            .is_some()
    {
        bail!(
            "the backup directory {} is not empty: pass a new directory to --to",
            to.display()
        );
    }
    std::fs::create_dir_all(to)
        .with_context(|| format!("creating the backup directory {}", to.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making the backup directory {} owner-only", to.display()))?;
    }
    let store = install::connect_for_command(settings).await?;
    let database = match &store {
        Store::Sqlite(..) => {
            let file = to.join("passport.db");
            store
                .backup_sqlite(&file)
                .await
                .map_err(anyhow::Error::from)
                .with_context(|| format!("copying {} into {}", store.describe(), file.display()))?;
            file
        }
        Store::Postgres(_) => {
            let file = to.join("passport.pgdump");
            let url = settings.database_url();
            let output = std::process::Command::new("pg_dump")
                .args(["--format=custom", "--no-owner", "--file"])
                .arg(&file)
                .arg(&url)
                .output()
                .with_context(|| {
                    "running pg_dump (install the PostgreSQL client tools of the server's \
                     version, or back up with your own pg_dump plus the key files)"
                })?;
            if !output.status.success() {
                bail!(
                    "pg_dump of {} failed: {}",
                    store.describe(),
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            file
        }
    };
    store.close().await;
    restrict(&database)?;
    let mut copied = vec![database];
    for key_file in install::key_files(settings) {
        let name = key_file.file_name().context("a key file has no name")?;
        let target = to.join(name);
        std::fs::copy(&key_file, &target).with_context(|| {
            format!(
                "copying the key file {} to {}",
                key_file.display(),
                target.display()
            )
        })?;
        restrict(&target)?;
        copied.push(target);
    }
    if settings.master_keys.is_some() {
        tracing::warn!(
            "the master keys come from WP_MASTER_KEYS: back them up from your secrets store; \
             the backup is useless without them"
        );
    }
    for file in copied {
        println!("{}", file.display());
    }
    Ok(())
}

/// Backups hold the keys to every passport: owner-only.
fn restrict(file: &Path) -> anyhow::Result<()> {
    wp_schemas::files::restrict(file)
        .with_context(|| format!("making {} owner-only", file.display()))
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
