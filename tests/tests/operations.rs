//! The operator's side: the server binary's commands, what it refuses at start, how it behaves
//! when the database goes away, and backups. Each test runs the real binary or `wp_server::run`.

use std::path::Path;
use std::process::Output;

use wp_client::SigningKey;
use wp_tests::{Backend, Timestamp, backend_tests};

const SERVER: &str = env!("CARGO_BIN_EXE_wp-test-server");

/// Runs the server binary with `args`, at the default log level (nothing filtered out).
fn server_command(args: &[&str]) -> Output {
    std::process::Command::new(SERVER)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("DATABASE_URL")
        .env_remove("WP_DATA_DIR")
        .output()
        .expect("run the server binary")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_public_jwk(dir: &Path, key: &SigningKey) -> String {
    let path = dir.join(format!("admin-{}.jwk", uuid::Uuid::new_v4()));
    std::fs::write(&path, serde_json::to_string(key.public_jwk()).unwrap()).unwrap();
    path.display().to_string()
}

/// `ADMIN=$(work-passport-server add-admin ...)` captures the id and nothing else, with the
/// flags after the subcommand, at the default log level (PostgreSQL logs a migration notice).
async fn add_admin_prints_only_the_id(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (database_url, _guard) = wp_tests::process_database(backend, dir.path()).await;
    let jwk = write_public_jwk(dir.path(), &SigningKey::generate());
    let data_dir_arg = data_dir.display().to_string();
    let args = [
        "add-admin",
        "--jwk-file",
        &jwk,
        "--data-dir",
        &data_dir_arg,
        "--database-url",
        &database_url,
    ];
    for run in 0..2 {
        let output = server_command(&args);
        assert!(output.status.success(), "add-admin: {}", stderr(&output));
        let stdout = String::from_utf8(output.stdout).unwrap();
        let id = stdout
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("one line: {stdout:?}"));
        assert!(
            uuid::Uuid::parse_str(id).is_ok() && !id.contains('\n'),
            "run {run}: stdout is only the party id, got {stdout:?}"
        );
    }
    assert!(data_dir.is_dir(), "--data-dir after the subcommand is used");
}

/// Issue 23 item 6: `add-admin` takes a key by the same rule as registration: a small-order
/// point, or an `x` that is no point of the curve, is refused before anything is written.
#[test]
fn add_admin_refuses_keys_that_are_no_curve_points() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data").display().to_string();
    for (x, why) in [
        (
            "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "not a point of the Ed25519 curve",
        ),
        ("AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "small order"),
    ] {
        let path = dir.path().join("weak.jwk");
        std::fs::write(
            &path,
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}"}}"#),
        )
        .unwrap();
        let path = path.display().to_string();
        let output = server_command(&["add-admin", "--jwk-file", &path, "--data-dir", &data_dir]);
        assert!(!output.status.success(), "{x} was taken");
        assert!(stderr(&output).contains(why), "{}", stderr(&output));
        assert!(output.stdout.is_empty());
    }
    assert!(
        !dir.path().join("data").join("passport.db").exists(),
        "nothing was written"
    );
}

#[test]
fn subcommand_help_shows_the_global_flags() {
    for command in ["add-admin", "serve", "rotate-master-key"] {
        let output = server_command(&[command, "--help"]);
        assert!(output.status.success());
        let help = String::from_utf8(output.stdout).unwrap();
        for flag in ["--data-dir", "--database-url", "--master-keys-file"] {
            assert!(
                help.contains(flag),
                "`{command} --help` shows {flag}:\n{help}"
            );
        }
    }
}

/// An address on this machine that nothing listens on (just now): for a server process to take.
fn free_address() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// An installation under test: a data directory and a database that outlive server runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::Value;
use wp_client::Client;
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{Section, example_body};
use wp_server::Settings;

struct Install {
    root: tempfile::TempDir,
    /// PostgreSQL only: the database, dropped with the guard.
    database_url: Option<String>,
    _pg: Option<Box<dyn Send + Sync>>,
}

impl Install {
    async fn new(backend: Backend) -> Self {
        let root = tempfile::tempdir().unwrap();
        let (database_url, pg) = match backend {
            Backend::Sqlite => (None, None),
            Backend::Postgres => {
                let (url, guard) = wp_tests::process_database(backend, root.path()).await;
                let guard: Box<dyn Send + Sync> = Box::new(guard);
                (Some(url), Some(guard))
            }
        };
        Install {
            root,
            database_url,
            _pg: pg,
        }
    }

    fn data_dir(&self) -> std::path::PathBuf {
        self.root.path().join("data")
    }

    fn settings(&self) -> Settings {
        let mut settings = Settings::for_data_dir(self.data_dir());
        settings.database_url = self.database_url.clone();
        settings
    }

    fn master_keys_file(&self) -> std::path::PathBuf {
        self.data_dir().join("master-keys.json")
    }

    /// The server binary's flags for this installation.
    fn flags(&self) -> Vec<String> {
        let mut flags = vec![
            "--data-dir".to_owned(),
            self.data_dir().display().to_string(),
        ];
        if let Some(url) = &self.database_url {
            flags.extend(["--database-url".to_owned(), url.clone()]);
        }
        flags
    }
}

/// A server running in-process on `settings`, stopped by `stop` (which waits until the
/// database is closed).
struct Running {
    url: String,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn start(settings: Settings) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(wp_server::run(listener, settings, async {
            let _ = rx.await;
        }));
        let http = reqwest::Client::new();
        loop {
            if task.is_finished() {
                let result = task.await.unwrap();
                panic!("the server did not start: {:#}", result.unwrap_err());
            }
            if let Ok(r) = http.get(format!("{url}/readyz")).send().await
                && r.status().is_success()
            {
                return Running {
                    url,
                    shutdown,
                    task,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.task.await.unwrap().expect("the server ran cleanly");
    }
}

/// The start is refused; returns the whole error chain, as the operator sees it.
async fn refused(settings: &Settings) -> String {
    match wp_server::build_state(settings, "http://127.0.0.1:1".into()).await {
        Ok(_) => panic!("the start was not refused"),
        Err(e) => format!("{e:#}"),
    }
}

/// An employee with a passport holding a summary, and what it should read back.
struct Owner {
    key: SigningKey,
    party_id: String,
    passport_id: String,
    about: String,
}

async fn owner_with_passport(url: &str, name: &str) -> Owner {
    let key = SigningKey::generate();
    let mut client = Client::new(url, key.clone());
    let party = client.register_employee(name).await.unwrap();
    let passport_id = client.create_passport().await.unwrap().id;
    let about = format!("About {name}.");
    let mut body = example_body(Section::Summary);
    body["about_me"] = Value::String(about.clone());
    client
        .own_passport(&passport_id)
        .create_record(Section::Summary, body)
        .await
        .unwrap();
    Owner {
        key,
        party_id: party.id,
        passport_id,
        about,
    }
}

/// Reads the owner's passport through the client library (signatures verified) from `url`.
async fn reads_back(url: &str, owner: &Owner) {
    let client = Client::for_party(url, owner.key.clone(), &owner.party_id);
    let passport = client
        .own_passport(&owner.passport_id)
        .read()
        .await
        .unwrap_or_else(|e| panic!("passport {} does not read: {e}", owner.passport_id));
    let summary = passport.records(Section::Summary);
    assert_eq!(summary.len(), 1);
    assert_eq!(
        summary[0].payload.body.as_ref().unwrap()["about_me"],
        owner.about.as_str()
    );
}

fn active_master_kid(file: &Path) -> String {
    let json: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    json["active"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Issue 10 item 1: key files

/// A missing or foreign master key file is refused, naming the missing key ids and the file;
/// no new key file is made for a database with passports; the right file starts again.
async fn missing_or_foreign_master_keys_are_refused(backend: Backend) {
    let install = Install::new(backend).await;
    let server = Running::start(install.settings()).await;
    let owner = owner_with_passport(&server.url, "Alex").await;
    server.stop().await;
    let file = install.master_keys_file();
    let kid = active_master_kid(&file);
    assert!(kid != "mk1" && kid.starts_with("mk-"), "a unique id: {kid}");

    let kept = install.root.path().join("kept-master-keys.json");
    std::fs::rename(&file, &kept).unwrap();
    let error = refused(&install.settings()).await;
    assert!(error.contains(&kid), "names the missing key: {error}");
    assert!(
        error.contains(&file.display().to_string()),
        "names the file: {error}"
    );
    assert!(
        !file.exists(),
        "no new master key file for a database with passports"
    );

    // Another installation's key file.
    let other = install.root.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let foreign = wp_server::keys::MasterKeys::create(&other.join("master-keys.json")).unwrap();
    assert_ne!(foreign.active_kid(), kid);
    std::fs::copy(other.join("master-keys.json"), &file).unwrap();
    let error = refused(&install.settings()).await;
    assert!(
        error.contains(&kid) && error.contains("1 passport"),
        "names the missing key and what depends on it: {error}"
    );
    assert!(
        error.contains(&file.display().to_string()),
        "names the file: {error}"
    );

    if backend == Backend::Postgres {
        // The same database opened with a new, empty data directory.
        let mut elsewhere = install.settings();
        elsewhere.data_dir = install.root.path().join("new-data");
        let error = refused(&elsewhere).await;
        assert!(error.contains(&kid), "{error}");
        assert!(!elsewhere.data_dir.join("master-keys.json").exists());
    }

    std::fs::rename(&kept, &file).unwrap();
    let server = Running::start(install.settings()).await;
    reads_back(&server.url, &owner).await;
    server.stop().await;
}

/// The database records the master key it depends on from the first start, before any
/// passport exists: a foreign key file is refused even then.
async fn database_records_its_keys(backend: Backend) {
    let install = Install::new(backend).await;
    Running::start(install.settings()).await.stop().await;
    let kid = active_master_kid(&install.master_keys_file());
    let store = wp_server::Store::connect(&install.settings().database_url(), 1)
        .await
        .unwrap();
    let recorded = store.installation_keys().await.unwrap();
    store.close().await;
    assert!(
        recorded.contains(&(kid.clone(), "master".to_owned())),
        "{recorded:?}"
    );
    assert!(
        recorded.iter().any(|(_, purpose)| purpose == "signing"),
        "{recorded:?}"
    );

    std::fs::remove_file(install.master_keys_file()).unwrap();
    wp_server::keys::MasterKeys::create(&install.master_keys_file()).unwrap();
    let error = refused(&install.settings()).await;
    assert!(error.contains(&kid), "names the recorded key: {error}");
}

/// Token-signing keys: a missing or foreign file is refused for a database that used other
/// keys; `rotate-signing-key` is the explicit way to replace a lost one.
async fn missing_or_foreign_signing_keys_are_refused(backend: Backend) {
    let install = Install::new(backend).await;
    Running::start(install.settings()).await.stop().await;
    let file = install.data_dir().join("signing-keys.json");
    let kept = install.root.path().join("kept-signing-keys.json");
    std::fs::rename(&file, &kept).unwrap();
    let error = refused(&install.settings()).await;
    assert!(error.contains(&file.display().to_string()), "{error}");
    assert!(
        error.contains("rotate-signing-key"),
        "says what to do: {error}"
    );
    assert!(!file.exists(), "no new signing key file in silence");

    let other = install.root.path().join("other-signing-keys.json");
    wp_server::keys::ServerKeys::create(&other, Timestamp::EPOCH).unwrap();
    std::fs::copy(&other, &file).unwrap();
    let error = refused(&install.settings()).await;
    assert!(error.contains("another installation"), "{error}");

    std::fs::remove_file(&file).unwrap();
    let mut args = vec!["rotate-signing-key".to_owned()];
    args.extend(install.flags());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = server_command(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    Running::start(install.settings()).await.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_key_ids_differ_between_installations() {
    let (a, b) = (
        Install::new(Backend::Sqlite).await,
        Install::new(Backend::Sqlite).await,
    );
    Running::start(a.settings()).await.stop().await;
    Running::start(b.settings()).await.stop().await;
    let (ka, kb) = (
        active_master_kid(&a.master_keys_file()),
        active_master_kid(&b.master_keys_file()),
    );
    assert_ne!(ka, kb);
    let mut args = vec!["rotate-master-key".to_owned()];
    args.extend(a.flags());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = server_command(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let rotated = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(
        rotated != ka && rotated != kb && rotated.starts_with("mk-"),
        "{rotated}"
    );
}

// ---------------------------------------------------------------------------------------------
// Issue 10 item 2: a lost database is not a new start

/// Key files next to a missing, emptied or fresh database are refused; `init` is the explicit
/// new start. A data directory with nothing in it starts without `init`.
async fn empty_database_next_to_keys_is_refused(backend: Backend) {
    let mut install = Install::new(backend).await;
    assert!(!install.data_dir().exists());
    let server = Running::start(install.settings()).await;
    owner_with_passport(&server.url, "Alex").await;
    server.stop().await;

    match backend {
        Backend::Sqlite => {
            let db = install.data_dir().join("passport.db");
            let kept = install.root.path().join("kept.db");
            std::fs::rename(&db, &kept).unwrap();
            let error = refused(&install.settings()).await;
            assert!(error.contains(&db.display().to_string()) && error.contains("missing"));
            assert!(error.contains("init"), "says how to start anew: {error}");
            assert!(!db.exists(), "no new database in its place");
            std::fs::write(&db, b"").unwrap();
            let error = refused(&install.settings()).await;
            assert!(error.contains("empty"), "{error}");
            // A database made by another tool, e.g. `add-admin` before the fix.
            wp_server::Store::connect(&install.settings().database_url(), 1)
                .await
                .unwrap()
                .close()
                .await;
        }
        Backend::Postgres => {
            // A new, empty database at the URL.
            let (url, guard) = wp_tests::process_database(backend, install.root.path()).await;
            install.database_url = Some(url);
            install._pg = Some(Box::new(guard));
        }
    }
    let error = refused(&install.settings()).await;
    assert!(
        error.contains("holds no installation") && error.contains("init"),
        "{error}"
    );

    let mut args = vec!["init".to_owned()];
    args.extend(install.flags());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = server_command(&args);
    assert!(output.status.success(), "init: {}", stderr(&output));
    let server = Running::start(install.settings()).await;
    let client = owner_with_passport(&server.url, "Sam").await;
    reads_back(&server.url, &client).await;
    server.stop().await;
    let output = server_command(&args);
    assert!(output.status.success(), "init again: {}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("already initialised"));
}

// ---------------------------------------------------------------------------------------------
// Issue 10 item 3: refusals that say what

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_errors_name_the_file_and_what_to_do() {
    let install = Install::new(Backend::Sqlite).await;
    // The data directory is a file.
    std::fs::write(install.data_dir(), b"not a directory").unwrap();
    let error = refused(&install.settings()).await;
    assert!(
        error.contains(&install.data_dir().display().to_string()) && error.contains("--data-dir"),
        "{error}"
    );
    std::fs::remove_file(install.data_dir()).unwrap();

    // A damaged key file.
    Running::start(install.settings()).await.stop().await;
    std::fs::write(install.master_keys_file(), b"{ not json").unwrap();
    let error = refused(&install.settings()).await;
    assert!(
        error.contains(&install.master_keys_file().display().to_string())
            && error.contains("parsing")
            && error.contains("backup"),
        "{error}"
    );

    // The address is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let data_dir = install.data_dir().display().to_string();
    let output = server_command(&["serve", "--listen", &address, "--data-dir", &data_dir]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains(&address) && stderr(&output).contains("--listen"),
        "{}",
        stderr(&output)
    );
}

// ---------------------------------------------------------------------------------------------
// Issue 10 items 4 and 5: an unreachable or vanishing PostgreSQL

/// A TCP proxy in front of PostgreSQL that the test can cut (existing connections closed, new
/// ones closed at once) and restore: the database going away, without touching the real one.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    /// Connections closed at once while cut: the server tried to reach the database.
    turned_away: Arc<AtomicUsize>,
    links: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(listener: tokio::net::TcpListener, target: String) -> Self {
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let turned_away = Arc::new(AtomicUsize::new(0));
        let links = Arc::new(std::sync::Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let (cut, turned_away, links) = (cut.clone(), turned_away.clone(), links.clone());
            async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        return;
                    };
                    if cut.load(Ordering::SeqCst) {
                        drop(inbound);
                        turned_away.fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    let target = target.clone();
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().unwrap().push(link.abort_handle());
                }
            }
        });
        Proxy {
            port,
            cut,
            turned_away,
            links,
            task,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }

    /// `url` with its host and port replaced by the proxy's.
    fn url_for(&self, url: &str, target: &str) -> String {
        let proxied = url.replacen(target, &format!("127.0.0.1:{}", self.port), 1);
        assert_ne!(proxied, url, "the URL names {target} literally");
        proxied
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

/// HOST:PORT of a PostgreSQL URL.
fn postgres_address(url: &str) -> String {
    use std::str::FromStr;
    let options = sqlx::postgres::PgConnectOptions::from_str(url).unwrap();
    format!("{}:{}", options.get_host(), options.get_port())
}

#[test]
fn unreachable_postgres_fails_at_once_naming_the_address() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/wp");
    let data_dir = dir.path().display().to_string();
    let output = server_command(&["serve", "--data-dir", &data_dir, "--database-url", &url]);
    assert!(!output.status.success());
    let error = stderr(&output);
    assert!(
        error.contains(&format!("127.0.0.1:{port}"))
            && error.to_lowercase().contains("refused")
            && error.contains("--wait-for-database"),
        "names the address, the cause and the option: {error}"
    );
}

/// `--wait-for-database` retries until PostgreSQL answers (here: until the proxy listens).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_database_retries_until_postgres_answers() {
    use tokio::io::AsyncBufReadExt;
    let Some(_) = wp_tests::postgres_url() else {
        return;
    };
    let install = Install::new(Backend::Postgres).await;
    let url = install.database_url.clone().unwrap();
    let target = postgres_address(&url);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxied = url.replacen(&target, &format!("127.0.0.1:{port}"), 1);
    let listen = free_address();
    let data_dir = install.data_dir().display().to_string();
    let mut child = tokio::process::Command::new(SERVER)
        .args(["serve", "--listen", &listen, "--data-dir", &data_dir])
        .args(["--database-url", &proxied, "--wait-for-database", "120s"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    // The server says it is waiting, naming the address; only then does the database appear.
    loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the server is waiting");
        if line.contains("waiting for") {
            assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
            break;
        }
    }
    let _proxy = Proxy::start(
        tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap(),
        target,
    )
    .await;
    let http = reqwest::Client::new();
    loop {
        if let Ok(r) = http.get(format!("http://{listen}/readyz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the server gave up");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A caller's W3C trace reaches the server's log: the real binary, logging JSON, writes the
/// request's refusal with the trace id in its span, and the request id the problem names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_carries_the_callers_trace() {
    use tokio::io::AsyncBufReadExt;
    let install = Install::new(Backend::Sqlite).await;
    let listen = free_address();
    let mut child = tokio::process::Command::new(SERVER)
        .args(["serve", "--listen", &listen, "--log-json"])
        .args(install.flags())
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains("listening") {
            break;
        }
    }
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let response = reqwest::Client::new()
        .get(format!("http://{listen}/v1/me"))
        .header("traceparent", format!("00-{trace}-b7ad6b7169203331-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let problem: Value = response.json().await.unwrap();
    let instance = problem["instance"].as_str().unwrap().to_owned();
    assert!(instance.starts_with(&format!("{trace}-")), "{instance}");
    let logged = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if entry["span"]["trace_id"] == trace {
                return entry;
            }
        }
        panic!("the server's log ended without the trace");
    })
    .await
    .expect("the refusal is logged with the trace id");
    assert_eq!(logged["span"]["request_id"], instance.as_str(), "{logged}");
    assert_eq!(logged["fields"]["problem"], "invalid-token", "{logged}");
}

/// The database going away mid-run answers 503 `database-unavailable` with Retry-After, and
/// the service recovers by itself when it comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_answers_503_with_retry_after() {
    let Some(_) = wp_tests::postgres_url() else {
        return;
    };
    let install = Install::new(Backend::Postgres).await;
    let url = install.database_url.clone().unwrap();
    let target = postgres_address(&url);
    let proxy = Proxy::start(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        target.clone(),
    )
    .await;
    let mut settings = install.settings();
    settings.database_url = Some(proxy.url_for(&url, &target));
    // Few pooled connections: each dead one fails one request before the pool replaces it.
    settings.db_connections = Some(2);
    let server = Running::start(settings).await;
    let owner = owner_with_passport(&server.url, "Alex").await;
    let client = Client::for_party(&server.url, owner.key.clone(), &owner.party_id);
    let token = client.access_token().await.unwrap();
    let path = format!("/v1/passports/{}", owner.passport_id);

    proxy.cut();
    // Until the pool has given up its dead connections and tried a new one.
    while proxy.turned_away.load(Ordering::SeqCst) == 0 {
        let response =
            wp_tests::raw_request(&client, reqwest::Method::GET, &path, &token, None).await;
        assert_database_unavailable(response).await;
    }

    // Back: the client library's next read works (its token is still cached and valid).
    proxy.restore();
    reads_back(&server.url, &owner).await;

    // A read that meets the outage is retried by the library until the database is back.
    proxy.cut();
    let seen = proxy.turned_away.load(Ordering::SeqCst);
    let read = tokio::spawn({
        let (url, key, party, pid) = (
            server.url.clone(),
            owner.key.clone(),
            owner.party_id.clone(),
            owner.passport_id.clone(),
        );
        async move {
            let client = Client::for_party(&url, key, &party);
            client.own_passport(&pid).read().await
        }
    });
    while proxy.turned_away.load(Ordering::SeqCst) == seen {
        assert!(!read.is_finished(), "{:?}", read.await);
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    proxy.restore();
    let passport = read
        .await
        .unwrap()
        .expect("the read was retried after the outage");
    assert_eq!(passport.records(Section::Summary).len(), 1);
    server.stop().await;
}

/// A 503 `database-unavailable` with a `Retry-After` of at least a second, or a failure saying
/// what came instead.
async fn assert_database_unavailable(response: reqwest::Response) {
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, problem) = wp_tests::problem_of(response).await;
    assert_eq!(status, 503, "{problem:?}");
    assert_eq!(problem.kind(), Some(ProblemType::DatabaseUnavailable));
    let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!(seconds >= 1);
}

/// Makes a PostgreSQL database refuse new connections and ends those it has; allows them again
/// when dropped, whatever happened in between (a failed assertion included).
struct RefusingConnections {
    admin_url: String,
    name: String,
}

impl RefusingConnections {
    async fn start(admin_url: &str, name: &str) -> Self {
        use sqlx::Connection;
        let guard = RefusingConnections {
            admin_url: admin_url.to_owned(),
            name: name.to_owned(),
        };
        let mut conn = sqlx::PgConnection::connect(admin_url).await.unwrap();
        sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
            .execute(&mut conn)
            .await
            .unwrap();
        // With a timeout, pg_terminate_backend waits until each backend has gone.
        sqlx::query(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.ok();
        guard
    }

    async fn allow(admin_url: &str, name: &str) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(admin_url).await.unwrap();
        sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
    }
}

impl Drop for RefusingConnections {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside async; a short-lived runtime on its own thread allows them again.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(Self::allow(&url, &name))
        })
        .join();
    }
}

/// Issue 23 item 1: PostgreSQL refusing connections to our database (SQLSTATE 55000 for each
/// new connection, 57P01 or a closed socket for those it had) answers 503
/// `database-unavailable` with Retry-After, never 500; allowed again, the service recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_refusing_connections_answers_503() {
    let Some(admin_url) = wp_tests::postgres_url() else {
        return;
    };
    let server = wp_tests::TestServer::start_with(Backend::Postgres, |s| {
        // Few pooled connections: the reads below soon need a new one, and meet 55000.
        s.db_connections = Some(2);
    })
    .await;
    let owner = server.employee("Alex").await;
    let token = owner.access_token().await.unwrap();
    let path = format!("/v1/parties/{}", owner.party_id().unwrap());
    let name = server
        .database_url
        .rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .unwrap()
        .to_owned();
    let ok = wp_tests::raw_request(&owner, reqwest::Method::GET, &path, &token, None).await;
    assert_eq!(ok.status(), 200);

    let refusing = RefusingConnections::start(&admin_url, &name).await;
    for _ in 0..10 {
        let response =
            wp_tests::raw_request(&owner, reqwest::Method::GET, &path, &token, None).await;
        assert_database_unavailable(response).await;
    }

    RefusingConnections::allow(&admin_url, &name).await;
    drop(refusing);
    let mut recovered = false;
    for _ in 0..20 {
        let response =
            wp_tests::raw_request(&owner, reqwest::Method::GET, &path, &token, None).await;
        if response.status() == 200 {
            recovered = true;
            break;
        }
        assert_database_unavailable(response).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the service did not recover when connections were allowed again"
    );
    server.stop().await;
}

/// Issue 23 item 1, SQLite: another process holding the database's write lock past the busy
/// timeout (5 s) answers 503 `database-unavailable` with Retry-After (SQLITE_BUSY), not 500
/// and not the request time limit's `unavailable`; released, the service goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_held_by_another_process_answers_503() {
    use sqlx::Connection;
    let server = wp_tests::TestServer::start(Backend::Sqlite).await;
    let owner = server.employee("Alex").await;
    let token = owner.access_token().await.unwrap();
    let path = format!("/v1/parties/{}", owner.party_id().unwrap());

    let mut holder = sqlx::SqliteConnection::connect(&server.database_url)
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();
    // Every request admits its DPoP proof once, a write: it waits for the lock, then gives up.
    let response = wp_tests::raw_request(&owner, reqwest::Method::GET, &path, &token, None).await;
    assert_database_unavailable(response).await;

    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.unwrap();
    let response = wp_tests::raw_request(&owner, reqwest::Method::GET, &path, &token, None).await;
    assert_eq!(response.status(), 200);
    server.stop().await;
}

/// The client library retries a read answered 503 after Retry-After, never a write: a fake
/// server answers 503 twice, then the real answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_retries_reads_on_503_and_never_writes() {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};

    let calls = Arc::new(AtomicUsize::new(0));
    let writes = Arc::new(AtomicUsize::new(0));
    let unavailable = || {
        let problem = wp_schemas::problem::Problem::new(ProblemType::DatabaseUnavailable, "down");
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "0".parse().unwrap());
        headers.insert("content-type", "application/problem+json".parse().unwrap());
        (
            StatusCode::SERVICE_UNAVAILABLE,
            headers,
            serde_json::to_string(&problem).unwrap(),
        )
            .into_response()
    };
    let app = axum::Router::new()
        .route(
            "/v1/token",
            post(|| async {
                axum::Json(serde_json::json!({
                    "access_token": "t", "token_type": "DPoP", "expires_in": 600}))
            }),
        )
        .route(
            "/v1/me",
            get({
                let calls = calls.clone();
                move || async move {
                    if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                        return unavailable();
                    }
                    axum::Json(serde_json::json!({"party": {
                        "id": "p1", "kind": "employee", "display_name": "Alex", "keys": [],
                        "created_at": "2026-01-01T00:00:00Z"}}))
                    .into_response()
                }
            }),
        )
        .route(
            "/v1/passports",
            post({
                let writes = writes.clone();
                move || async move {
                    writes.fetch_add(1, Ordering::SeqCst);
                    unavailable()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let client = Client::for_party(&url, SigningKey::generate(), "p1");
    let me = client.me().await.expect("retried until it worked");
    assert_eq!(me.party.id, "p1");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let refused = client.create_passport().await.unwrap_err();
    assert_eq!(
        refused.problem_type(),
        Some(ProblemType::DatabaseUnavailable)
    );
    assert_eq!(
        writes.load(Ordering::SeqCst),
        1,
        "a write is never repeated"
    );
    server.abort();
}

// ---------------------------------------------------------------------------------------------
// Issue 10 item 6: a corrupt SQLite file

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_sqlite_page_is_refused_at_start() {
    let install = Install::new(Backend::Sqlite).await;
    let server = Running::start(install.settings()).await;
    for i in 0..12 {
        owner_with_passport(&server.url, &format!("Employee {i}")).await;
    }
    server.stop().await;
    let db = install.data_dir().join("passport.db");
    let wal = install.data_dir().join("passport.db-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the WAL was checkpointed at shutdown"
    );
    // Overwrite one b-tree page with garbage: the root page of the passports table (a leaf,
    // with a dozen rows). Not a page of the schema itself, which has outgrown page 1: SQLite
    // reads that at connect, before any integrity check could name the damage.
    let root: i64 = {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let root =
            sqlx::query_scalar("SELECT rootpage FROM sqlite_schema WHERE name = 'passports'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        conn.close().await.unwrap();
        root
    };
    let mut bytes = std::fs::read(&db).unwrap();
    let page_size = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    let page = usize::try_from(root).unwrap() - 1;
    assert!(
        matches!(bytes[page * page_size], 0x02 | 0x05 | 0x0a | 0x0d),
        "a b-tree page"
    );
    bytes[page * page_size..(page + 1) * page_size].fill(0x5a);
    std::fs::write(&db, &bytes).unwrap();

    let error = refused(&install.settings()).await;
    assert!(
        error.contains("corrupt")
            && error.contains("quick_check")
            && error.contains(&db.display().to_string())
            && error.contains("backup"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// Issue 10 item 7: backup and restore

/// `backup --to DIR` while the server runs; restored into a fresh data directory (and, on
/// PostgreSQL, a fresh database), a server reads every passport back.
async fn backup_restores_every_passport(backend: Backend) {
    if backend == Backend::Postgres
        && std::process::Command::new("pg_dump")
            .arg("--version")
            .output()
            .is_err()
    {
        wp_tests::say_skipped("pg_dump is not installed");
        return;
    }
    let install = Install::new(backend).await;
    let server = Running::start(install.settings()).await;
    let mut owners = Vec::new();
    for name in ["Alex", "Sam", "Kim"] {
        owners.push(owner_with_passport(&server.url, name).await);
    }
    let backup = install.root.path().join("backup");
    let mut args = vec![
        "backup".to_owned(),
        "--to".to_owned(),
        backup.display().to_string(),
    ];
    args.extend(install.flags());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = server_command(&args);
    assert!(output.status.success(), "backup: {}", stderr(&output));
    // A passport written after the backup is not in it; the server kept running.
    owner_with_passport(&server.url, "Late").await;
    server.stop().await;

    let restored = Install::new(backend).await;
    std::fs::create_dir_all(restored.data_dir()).unwrap();
    for entry in std::fs::read_dir(&backup).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "pgdump") {
            let output = std::process::Command::new("pg_restore")
                .args(["--no-owner", "--exit-on-error", "--dbname"])
                .arg(restored.database_url.as_ref().unwrap())
                .arg(&path)
                .output()
                .unwrap();
            assert!(output.status.success(), "pg_restore: {}", stderr(&output));
        } else {
            std::fs::copy(&path, restored.data_dir().join(path.file_name().unwrap())).unwrap();
        }
    }
    let server = Running::start(restored.settings()).await;
    for owner in &owners {
        reads_back(&server.url, owner).await;
    }
    server.stop().await;
}

backend_tests!(
    add_admin_prints_only_the_id,
    missing_or_foreign_master_keys_are_refused,
    database_records_its_keys,
    missing_or_foreign_signing_keys_are_refused,
    empty_database_next_to_keys_is_refused,
    backup_restores_every_passport,
);
