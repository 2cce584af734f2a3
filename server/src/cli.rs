//! The `work-passport-server` command: serve, or an operator task.

use std::path::Path;

use crate::clock;
use crate::config::{Cli, Command, Settings};
use crate::domain::party;
use crate::keys::{MasterKeys, ServerKeys};
use crate::service::install::{self, DatabaseCopy};
use anyhow::{Context, bail};
use clap::Parser;
use tracing_subscriber::EnvFilter;

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
            let (database, report) = installation.close().await;
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
            let jwk = party::public_key(&jwk)?;
            let name = party::display_name(&display_name)?;
            println!("{}", install::add_admin(&settings, &jwk, &name).await?);
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
    let database = match install::backup_database(settings, to).await? {
        DatabaseCopy::Sqlite(file) => file,
        DatabaseCopy::Postgres(database) => {
            let file = to.join("passport.pgdump");
            let url = settings.database_url();
            let output = pg_dump_command(&url, &file)?.output().with_context(|| {
                "running pg_dump (install the PostgreSQL client tools of the server's \
                     version, or back up with your own pg_dump plus the key files)"
            })?;
            if !output.status.success() {
                bail!(
                    "pg_dump of {database} failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            file
        }
    };
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

/// `pg_dump` of the database `url` names into `file`, with the connection (the password
/// included) passed in libpq's environment variables rather than on its command line, where
/// any user of the machine sees it (`ps`, `/proc/PID/cmdline`); the environment of a process is
/// readable only by its owner and root.
fn pg_dump_command(url: &str, file: &Path) -> anyhow::Result<std::process::Command> {
    let mut command = std::process::Command::new("pg_dump");
    command
        .args(["--format=custom", "--no-owner", "--file"])
        .arg(file)
        .envs(libpq_environment(url)?);
    Ok(command)
}

/// A PostgreSQL URL (as the server takes it: `postgres://USER:PASSWORD@HOST:PORT/DATABASE?...`)
/// as libpq's environment variables (PostgreSQL's documentation, "Environment Variables"),
/// percent-decoded. Query parameters libpq knows become theirs (sqlx's spellings too, e.g.
/// `ssl-mode`); sqlx's own (`statement-cache-capacity`) mean nothing to libpq and are left out,
/// and any other is refused by name (never by value), rather than dropped unnoticed.
fn libpq_environment(url: &str) -> anyhow::Result<Vec<(&'static str, String)>> {
    let bad = || {
        anyhow::anyhow!(
            "DATABASE_URL is not a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)"
        )
    };
    let parsed = url::Url::parse(url).map_err(|_| bad())?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(bad());
    }
    let decode = |text: &str| -> anyhow::Result<String> { percent_decode(text).ok_or_else(bad) };
    let mut env = Vec::new();
    if let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        env.push(("PGHOST", decode(host)?));
    }
    if let Some(port) = parsed.port() {
        env.push(("PGPORT", port.to_string()));
    }
    if !parsed.username().is_empty() {
        env.push(("PGUSER", decode(parsed.username())?));
    }
    if let Some(password) = parsed.password() {
        env.push(("PGPASSWORD", decode(password)?));
    }
    let database = parsed.path().trim_start_matches('/');
    if !database.is_empty() {
        env.push(("PGDATABASE", decode(database)?));
    }
    for (name, value) in parsed.query_pairs() {
        let variable = match name.as_ref() {
            "host" => "PGHOST",
            "hostaddr" => "PGHOSTADDR",
            "port" => "PGPORT",
            "dbname" => "PGDATABASE",
            "user" => "PGUSER",
            "password" => "PGPASSWORD",
            "passfile" => "PGPASSFILE",
            "service" => "PGSERVICE",
            "options" => "PGOPTIONS",
            "application_name" => "PGAPPNAME",
            "connect_timeout" => "PGCONNECT_TIMEOUT",
            "client_encoding" => "PGCLIENTENCODING",
            "sslmode" | "ssl-mode" => "PGSSLMODE",
            "sslrootcert" | "ssl-root-cert" => "PGSSLROOTCERT",
            "sslcert" | "ssl-client-cert" => "PGSSLCERT",
            "sslkey" | "ssl-client-key" => "PGSSLKEY",
            "sslcrl" => "PGSSLCRL",
            "sslcompression" => "PGSSLCOMPRESSION",
            "sslsni" => "PGSSLSNI",
            "ssl_min_protocol_version" => "PGSSLMINPROTOCOLVERSION",
            "ssl_max_protocol_version" => "PGSSLMAXPROTOCOLVERSION",
            "gssencmode" => "PGGSSENCMODE",
            "krbsrvname" => "PGKRBSRVNAME",
            "channel_binding" => "PGCHANNELBINDING",
            "target_session_attrs" => "PGTARGETSESSIONATTRS",
            "statement-cache-capacity" => continue,
            other => bail!(
                "DATABASE_URL has the parameter {other}, which pg_dump cannot be given: back up \
                 with your own pg_dump (README, Backups)"
            ),
        };
        env.retain(|(set, _)| *set != variable);
        env.push((variable, value.into_owned()));
    }
    Ok(env)
}

/// `text` with its `%XX` escapes decoded, if they are well formed and the result is UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::path::Path;

    /// Issue 23 item 5: the password (and the URL) reach pg_dump through its environment, never
    /// its command line.
    #[test]
    fn pg_dump_gets_the_password_in_its_environment_only() {
        let url = "postgres://wp%20user:s3cr%40t%2Fpw@db.example.org:6543/work%2Dpassport\
                   ?sslmode=verify-full&sslrootcert=/etc/ca.pem&statement-cache-capacity=50";
        let command = super::pg_dump_command(url, Path::new("/backups/passport.pgdump")).unwrap();
        assert_eq!(command.get_program(), "pg_dump");
        let args: Vec<&OsStr> = command.get_args().collect();
        assert_eq!(
            args,
            [
                "--format=custom",
                "--no-owner",
                "--file",
                "/backups/passport.pgdump"
            ]
        );
        for arg in &args {
            let arg = arg.to_string_lossy();
            assert!(!arg.contains("s3cr") && !arg.contains("postgres"), "{arg}");
        }
        let envs: Vec<(String, String)> = command
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.unwrap().to_string_lossy().into_owned(),
                )
            })
            .collect();
        let get = |name: &str| {
            envs.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("PGPASSWORD"), Some("s3cr@t/pw"));
        assert_eq!(get("PGUSER"), Some("wp user"));
        assert_eq!(get("PGHOST"), Some("db.example.org"));
        assert_eq!(get("PGPORT"), Some("6543"));
        assert_eq!(get("PGDATABASE"), Some("work-passport"));
        assert_eq!(get("PGSSLMODE"), Some("verify-full"));
        assert_eq!(get("PGSSLROOTCERT"), Some("/etc/ca.pem"));
        assert_eq!(envs.len(), 7, "{envs:?}");
    }

    #[test]
    fn libpq_environment_of_other_urls() {
        let env =
            super::libpq_environment("postgresql://[::1]/wp?host=/run/postgresql&user=x").unwrap();
        assert_eq!(
            env,
            [
                ("PGDATABASE", "wp".to_owned()),
                ("PGHOST", "/run/postgresql".to_owned()),
                ("PGUSER", "x".to_owned()),
            ]
        );
        assert!(super::libpq_environment("postgres://h/db?surprise=1").is_err());
        assert!(super::libpq_environment("mysql://h/db").is_err());
        assert!(super::libpq_environment("postgres://u:%zz@h/db").is_err());
    }
}
