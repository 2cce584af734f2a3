//! Opening an installation: the data directory, the database and the key material, checked
//! against each other so that an operator's mistake (a missing or foreign key file, a deleted
//! database, the wrong URL) stops the start with a message instead of losing passports.
//!
//! The rules:
//! - the database records the master and token-signing key ids it depends on
//!   (`installation_keys`), and every passport names the master key that wraps its data key;
//! - the server refuses to start when any of those master keys is missing, naming them and the
//!   file it read, and when the signing key file holds none of the recorded signing keys;
//! - new key files are created only for a fresh database (no recorded keys, no passports);
//! - key files without a database (SQLite file missing or empty, or a fresh PostgreSQL
//!   database) look like a lost database: refused unless the operator runs `init`.
//!
//! A totally fresh data directory is a new installation, so the first `serve` needs no `init`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use super::store::Store;
use crate::Settings;
use crate::clock;
use crate::domain::ids::{Kid, PartyId};
use crate::keys::{MasterKeys, ServerKeys};
use wp_schemas::api::PartyKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refuse anything that looks like a lost database or key file.
    Serve,
    /// Also accept a fresh database next to existing keys: a deliberate new start.
    Init,
}

/// What the start found or made, for `init` to report.
#[derive(Debug, Default)]
pub struct Report {
    pub created: Vec<String>,
    pub fresh_database: bool,
}

pub struct Installation {
    pub(super) store: Store,
    pub(super) keys: ServerKeys,
    pub(super) master: MasterKeys,
    pub report: Report,
}

impl Installation {
    /// Closes the database, for a command that only opened the installation (`init`), and
    /// says which it was.
    pub async fn close(self) -> (String, Report) {
        let database = self.store.describe();
        self.store.close().await;
        (database, self.report)
    }
}

/// Prepares the data directory, opens the database and loads (or, for a fresh installation,
/// creates) the key files, refusing any combination that would lose or hide passports.
pub async fn open(settings: &Settings, mode: Mode) -> anyhow::Result<Installation> {
    prepare_data_dir(&settings.data_dir)?;
    let signs = installation_signs(settings);
    let mut report = Report::default();

    if let Some(db) = settings.sqlite_file() {
        let state = match std::fs::metadata(&db) {
            Ok(meta) if meta.len() > 0 => None,
            Ok(_) => Some("empty"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("missing"),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading the database file {}", db.display()));
            }
        };
        if let Some(state) = state
            && !signs.is_empty()
            && mode == Mode::Serve
        {
            bail!(
                "the SQLite database {} is {state}, but {} show an existing installation. \
                 Refusing to start a new, empty service in its place: restore the database from \
                 a backup (README, Backups), or pass the right --data-dir / --database-url. To \
                 start a new installation with these keys on purpose, run \
                 `work-passport-server init` first",
                db.display(),
                signs.join(" and "),
            );
        }
        if settings.database_url.is_none() {
            create_owner_only(&db)?;
        }
    }

    let store = Store::open(
        &settings.database_url(),
        settings.db_connections(),
        Duration::from_secs(settings.wait_for_database),
    )
    .await
    .map_err(anyhow::Error::from)
    .context("opening the database")?;
    let database = store.describe();
    let recorded = store
        .installation_keys()
        .await
        .with_context(|| format!("reading the recorded key ids from {database}"))?;
    let in_use = store
        .master_kids_in_use()
        .await
        .with_context(|| format!("reading the passports' master key ids from {database}"))?;
    let fresh = recorded.is_empty() && in_use.is_empty();
    report.fresh_database = fresh;
    if fresh && !signs.is_empty() && mode == Mode::Serve {
        bail!(
            "{database} holds no installation (no passport, no recorded key), but {} show an \
             existing one. This is what a deleted, emptied or wrong database looks like: restore \
             the database from a backup (README, Backups) or pass the right --database-url / \
             --data-dir. To start a new installation with these keys on purpose, run \
             `work-passport-server init` first",
            signs.join(" and "),
        );
    }

    let master = master_keys(settings, &database, fresh, &recorded, &in_use, &mut report)?;
    let keys = signing_keys(settings, &database, fresh, &recorded, &mut report)?;

    let now = clock::now();
    store
        .record_installation_key(master.active_kid(), "master", now)
        .await
        .with_context(|| format!("recording the master key id in {database}"))?;
    store
        .record_installation_key(keys.active().kid(), "signing", now)
        .await
        .with_context(|| format!("recording the signing key id in {database}"))?;
    Ok(Installation {
        store,
        keys,
        master,
        report,
    })
}

/// Creates the data directory and makes it owner-only; errors say which and what to do.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "creating the data directory {}: it must be a directory that this user can create \
             and write, or pass another --data-dir (WP_DATA_DIR)",
            dir.display()
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).with_context(
            || {
                format!(
                    "making the data directory {} owner-only (mode 0700): it must be owned by \
                     the user that runs the server (chown it), or pass another --data-dir",
                    dir.display()
                )
            },
        )?;
    }
    Ok(())
}

/// SQLite gives its WAL and shared-memory files the database file's mode: create the file
/// owner-only before SQLite does (an empty file is a valid new database).
fn create_owner_only(db: &Path) -> anyhow::Result<()> {
    let mut options = wp_schemas::files::owner_only();
    options.write(true).create(true).truncate(false);
    options.open(db).with_context(|| {
        format!(
            "creating the database file {}: the data directory must be writable by this user",
            db.display()
        )
    })?;
    Ok(())
}

/// The key material that shows an installation already exists here.
fn installation_signs(settings: &Settings) -> Vec<String> {
    let mut signs = Vec::new();
    if settings.master_keys.is_some() {
        signs.push("the master keys in WP_MASTER_KEYS".to_owned());
    } else if settings.master_keys_path().exists() {
        signs.push(format!(
            "the key file {}",
            settings.master_keys_path().display()
        ));
    }
    if settings.signing_keys_path().exists() {
        signs.push(format!(
            "the key file {}",
            settings.signing_keys_path().display()
        ));
    }
    signs
}

fn master_keys(
    settings: &Settings,
    database: &str,
    fresh: bool,
    recorded: &[(String, String)],
    in_use: &[(String, i64)],
    report: &mut Report,
) -> anyhow::Result<MasterKeys> {
    let path = settings.master_keys_path();
    let (master, source) = match &settings.master_keys {
        Some(inline) => (
            MasterKeys::load(Some(inline), &path)?,
            "WP_MASTER_KEYS (--master-keys)".to_owned(),
        ),
        None if path.exists() => (
            MasterKeys::load(None, &path)?,
            format!("the master key file {}", path.display()),
        ),
        None if fresh => {
            let master = MasterKeys::create(&path)?;
            tracing::info!(file = %path.display(), kid = master.active_kid(), "created a new master key file");
            report.created.push(format!(
                "master key {} in {}",
                master.active_kid(),
                path.display()
            ));
            (master, String::new())
        }
        None => {
            let needed = needed_master_keys(recorded, in_use);
            bail!(
                "the master key file {} does not exist, but {database} depends on master keys \
                 {}. Without them its passports cannot be read, so the server does not start \
                 and does not make a new key file. Restore the file from a backup of this \
                 installation (README, Backups), or point --master-keys-file \
                 (WP_MASTER_KEYS_FILE) at it",
                path.display(),
                describe_needed(&needed),
            );
        }
    };
    let missing: BTreeMap<String, i64> = needed_master_keys(recorded, in_use)
        .into_iter()
        .filter(|(kid, _)| !master.contains(kid))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{database} depends on master keys that {source} does not hold: {} (it holds {}). \
             Without them those passports cannot be read, so the server does not start. Restore \
             this installation's master key file from a backup, or point --master-keys-file \
             (WP_MASTER_KEYS_FILE) at it; if its keys are spread over several files, merge their \
             \"keys\" into one file",
            describe_needed(&missing),
            master.kids().collect::<Vec<_>>().join(", "),
        );
    }
    Ok(master)
}

/// Master key id -> how many live data keys it wraps (0 for a recorded key that wraps none).
fn needed_master_keys(
    recorded: &[(String, String)],
    in_use: &[(String, i64)],
) -> BTreeMap<String, i64> {
    let mut needed: BTreeMap<String, i64> = in_use.iter().cloned().collect();
    for (kid, purpose) in recorded {
        if purpose == "master" {
            needed.entry(kid.clone()).or_insert(0);
        }
    }
    needed
}

fn describe_needed(needed: &BTreeMap<String, i64>) -> String {
    needed
        .iter()
        .map(|(kid, count)| match count {
            0 => format!("{kid} (recorded when this database was set up)"),
            1 => format!("{kid} (wraps 1 passport's data key)"),
            n => format!("{kid} (wraps {n} passports' data keys)"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn signing_keys(
    settings: &Settings,
    database: &str,
    fresh: bool,
    recorded: &[(String, String)],
    report: &mut Report,
) -> anyhow::Result<ServerKeys> {
    let path = settings.signing_keys_path();
    let recorded: Vec<&str> = recorded
        .iter()
        .filter(|(_, purpose)| purpose == "signing")
        .map(|(kid, _)| kid.as_str())
        .collect();
    let lost = "if it is lost for good, `work-passport-server rotate-signing-key` makes a new key \
                for this database (tokens signed by the lost key stop working; no passport data \
                depends on it)";
    if path.exists() {
        let keys = ServerKeys::load(&path)?;
        if !recorded.is_empty() && !keys.kids().any(|kid| recorded.contains(&kid)) {
            bail!(
                "the signing key file {} holds none of the token-signing keys that {database} \
                 was used with ({}): it belongs to another installation. Every instance on one \
                 database must share one signing key file: restore or point --signing-keys-file \
                 (WP_SIGNING_KEYS_FILE) at this installation's file; {lost}",
                path.display(),
                recorded.join(", "),
            );
        }
        return Ok(keys);
    }
    if !(fresh || recorded.is_empty()) {
        bail!(
            "the signing key file {} does not exist, but {database} was used with token-signing \
             keys {}. Restore the file from a backup of this installation, or point \
             --signing-keys-file (WP_SIGNING_KEYS_FILE) at it (every instance on one database \
             must share it); {lost}",
            path.display(),
            recorded.join(", "),
        );
    }
    let keys = ServerKeys::create(&path, clock::now())?;
    tracing::info!(file = %path.display(), kid = keys.active().kid(), "created a new signing key file");
    report.created.push(format!(
        "signing key {} in {}",
        keys.active().kid(),
        path.display()
    ));
    Ok(keys)
}

/// Records a signing key made by `rotate-signing-key`, so the next start accepts the file.
pub async fn record_signing_key(settings: &Settings, kid: &str) -> anyhow::Result<()> {
    let store = connect_for_command(settings).await?;
    store
        .record_installation_key(kid, "signing", clock::now())
        .await
        .with_context(|| format!("recording the signing key id in {}", store.describe()))?;
    store.close().await;
    Ok(())
}

/// Opens the database for an operator command (one connection), with the same refusal of a
/// missing SQLite database next to existing keys as `serve`, so `add-admin` never registers
/// an admin in a database that replaced a lost one.
async fn connect_for_command(settings: &Settings) -> anyhow::Result<Store> {
    prepare_data_dir(&settings.data_dir)?;
    if let Some(db) = settings.sqlite_file() {
        let signs = installation_signs(settings);
        if !db.exists() && !signs.is_empty() {
            bail!(
                "the SQLite database {} is missing, but {} show an existing installation: \
                 restore the database from a backup, pass the right --data-dir / \
                 --database-url, or run `work-passport-server init` to start a new installation",
                db.display(),
                signs.join(" and ")
            );
        }
        if settings.database_url.is_none() {
            create_owner_only(&db)?;
        }
    }
    Store::open(
        &settings.database_url(),
        1,
        Duration::from_secs(settings.wait_for_database),
    )
    .await
    .map_err(anyhow::Error::from)
    .context("opening the database")
}

/// The files a backup copies besides the database: the key files that exist.
pub fn key_files(settings: &Settings) -> Vec<PathBuf> {
    let mut files = vec![settings.signing_keys_path()];
    if settings.master_keys.is_none() {
        files.push(settings.master_keys_path());
    }
    files.into_iter().filter(|f| f.exists()).collect()
}

/// Registers the admin whose public key is `jwk` (`add-admin`), or finds the party that key is
/// already registered to: the command can be run again safely.
pub async fn add_admin(
    settings: &Settings,
    jwk: &wp_schemas::jose::PublicJwk,
    name: &str,
) -> anyhow::Result<PartyId> {
    let store = connect_for_command(settings).await?;
    let kid = Kid::try_from(jwk.thumbprint())?;
    let id = match store.key(&kid).await? {
        Some(key) => key.party_id,
        None => {
            let id = PartyId::random();
            store
                .create_party(&id, PartyKind::Admin, name, None, jwk, clock::now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            id
        }
    };
    store.close().await;
    Ok(id)
}

/// Where a backup's copy of the database comes from.
pub enum DatabaseCopy {
    /// A SQLite database, copied by the server into this file.
    Sqlite(PathBuf),
    /// A PostgreSQL database (so described), for `pg_dump` to copy.
    Postgres(String),
}

/// Copies a SQLite database into `dir` for a backup (`passport.db`); a PostgreSQL one is left
/// to `pg_dump`, after the same checks that the installation is there.
pub async fn backup_database(settings: &Settings, dir: &Path) -> anyhow::Result<DatabaseCopy> {
    let store = connect_for_command(settings).await?;
    let copy = match &store {
        Store::Sqlite(..) => {
            let file = dir.join("passport.db");
            store
                .backup_sqlite(&file)
                .await
                .map_err(anyhow::Error::from)
                .with_context(|| format!("copying {} into {}", store.describe(), file.display()))?;
            DatabaseCopy::Sqlite(file)
        }
        Store::Postgres(_) => DatabaseCopy::Postgres(store.describe()),
    };
    store.close().await;
    Ok(copy)
}
