//! Test support: a real server on a real port, on SQLite or on PostgreSQL, with one fresh
//! database per test, and clients for each kind of party.
//!
//! PostgreSQL tests need `TEST_DATABASE_URL` (any database on the server; each test creates its
//! own). Without it they are skipped loudly, and in CI (`CI` set) they fail instead.

use std::net::SocketAddr;

use tokio::sync::oneshot;
use wp_client::{Client, SigningKey};
use wp_schemas::api::{Party, PartyKind, ProfessionalRegistration, Role};
use wp_server::{Settings, Store, clock};

/// The notification tests' SMTP server and iCalendar parser (Python, in the tests' venv).
pub mod mail;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates a SQLite and a PostgreSQL test for each `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::postgres_url().is_none() {
                        return;
                    }
                    super::$name($crate::Backend::Postgres).await
                }
            )*
        }
    };
}

/// Runs `$body` with `$pool` bound to a [`wp_server::Store`]'s SQLite or PostgreSQL pool, for
/// tests that reach around the API into the database (tampering, moving times).
#[macro_export]
macro_rules! on_db {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            ::wp_server::Store::Sqlite($pool, _) => $body,
            ::wp_server::Store::Postgres($pool) => $body,
        }
    };
}

/// Says that a test did not run, straight to the process's stderr: libtest captures the
/// `eprintln!` of a passing test, and a skip nobody sees is a skip nobody fixes.
pub fn say_skipped(what: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {what}");
}

/// `TEST_DATABASE_URL`, or None after saying loudly that the test is skipped. In CI a missing
/// URL is a failure: the PostgreSQL suite must run there.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("TEST_DATABASE_URL is not set in CI: the PostgreSQL tests must run");
            }
            say_skipped("PostgreSQL test (set TEST_DATABASE_URL=postgres://... to run it)");
            None
        }
    }
}

/// A PostgreSQL database of its own, dropped with the guard.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    async fn create() -> (Self, String) {
        use sqlx::Connection;
        let admin_url = postgres_url().expect("TEST_DATABASE_URL");
        let name = format!("wp_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to TEST_DATABASE_URL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        conn.close().await.ok();
        let url = replace_database(&admin_url, &name);
        (PgDatabase { admin_url, name }, url)
    }
}

/// The same URL naming database `name` (keeps user, host and query).
fn replace_database(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let base = match head[scheme_end..].find('/') {
        Some(slash) => &head[..scheme_end + slash],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A running server with its own data directory and database, stopped on drop.
pub struct TestServer {
    pub url: String,
    pub addr: SocketAddr,
    pub database_url: String,
    pub data_dir: tempfile::TempDir,
    pub backend: Backend,
    admin_key: SigningKey,
    admin_id: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// What the clients below use: for an HTTPS server, one that trusts its test CA and finds
    /// its host name at 127.0.0.1.
    pub http: reqwest::Client,
    _pg: Option<PgDatabase>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a server after `tune` has adjusted its settings.
    pub async fn start_with(backend: Backend, tune: impl FnOnce(&mut Settings)) -> Self {
        Self::start_inner(backend, None, tune).await
    }

    /// Starts a server serving HTTPS with `tls`'s certificate, at `https://HOST:PORT` (its
    /// public URL); its clients (`admin`, `employee`...) reach it there.
    pub async fn start_https(
        backend: Backend,
        tls: &TestTls,
        tune: impl FnOnce(&mut Settings),
    ) -> Self {
        Self::start_inner(backend, Some(tls), tune).await
    }

    async fn start_inner(
        backend: Backend,
        tls: Option<&TestTls>,
        tune: impl FnOnce(&mut Settings),
    ) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::for_data_dir(data_dir.path());
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let (db, url) = PgDatabase::create().await;
                settings.database_url = Some(url);
                Some(db)
            }
        };
        // No rate limits: a test registers and asks for tokens as fast as it likes, from one
        // address. The tests of the limits set their own (`tests/tests/limits.rs`).
        settings.rate_limit_per_address = 0;
        settings.rate_limit_global = 0;
        tune(&mut settings);
        let database_url = settings.database_url();

        // The first admin, as the operator's `add-admin` command makes it.
        let admin_key = SigningKey::generate();
        let admin_id = PartyId::random();
        let store = Store::connect(&database_url, 1).await.expect("open store");
        store
            .create_party(
                &admin_id,
                PartyKind::Admin,
                "Admin",
                None,
                admin_key.public_jwk(),
                clock::now(),
            )
            .await
            .expect("create admin");
        store.close().await;

        // Bind first: the port is ready before the server task runs, so no waiting.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (url, http) = match tls {
            None => (format!("http://{addr}"), reqwest::Client::new()),
            Some(tls) => {
                let url = format!("https://{}:{}", tls.host, addr.port());
                settings.public_url = Some(url.clone());
                settings.tls_cert = Some(tls.cert_file.clone());
                settings.tls_key = Some(tls.key_file.clone());
                (url, tls.client(addr).build().expect("an HTTPS client"))
            }
        };
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(wp_server::run(listener, settings, async {
            let _ = rx.await;
        }));
        TestServer {
            url,
            http,
            addr,
            database_url,
            data_dir,
            backend,
            admin_key,
            admin_id: admin_id.into(),
            shutdown: Some(tx),
            task: Some(task),
            _pg: pg,
        }
    }

    /// Stops the server and waits until it has closed its database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server ran cleanly");
        }
    }

    /// A direct handle on the server's database, for checks that go around the API.
    pub async fn store(&self) -> Store {
        Store::connect(&self.database_url, 2)
            .await
            .expect("open store")
    }

    pub fn admin(&self) -> Client {
        Client::with_http(&self.url, self.admin_key.clone(), self.http.clone())
            .with_party(&self.admin_id)
    }

    /// A newly registered employee.
    pub async fn employee(&self, name: &str) -> Client {
        let mut client = Client::with_http(&self.url, SigningKey::generate(), self.http.clone());
        client
            .register_employee(name)
            .await
            .expect("register employee");
        client
    }

    pub async fn employer(&self, name: &str) -> Client {
        self.enrolled(PartyKind::Employer, name, None).await
    }

    /// A registered occupational therapist.
    pub async fn professional(&self, name: &str) -> Client {
        let registration = ProfessionalRegistration {
            profession: "occupational therapist".into(),
            registration_body: "HCPC".into(),
            registration_number: format!("OT{}", &uuid::Uuid::new_v4().simple().to_string()[..6]),
        };
        self.enrolled(PartyKind::Professional, name, Some(registration))
            .await
    }

    /// A new organisation (an employer or a practice), created by the admin; it has no key.
    pub async fn organisation(&self, kind: PartyKind, name: &str) -> Party {
        self.admin()
            .create_organisation(kind, name)
            .await
            .expect("create organisation")
    }

    /// A person who joined `organisation` (its party id) as `role`, with an invitation the
    /// admin made and a key of their own. A clinician gives an HCPC registration.
    pub async fn member(&self, organisation: &str, role: Role, name: &str) -> Client {
        let invitation = self
            .admin()
            .invite(organisation, role, None)
            .await
            .expect("invite");
        let code = invitation.code.expect("a new invitation shows its code");
        let registration = (role == Role::Clinician).then(|| ProfessionalRegistration {
            profession: "occupational therapist".into(),
            registration_body: "HCPC".into(),
            registration_number: format!("OT{}", &uuid::Uuid::new_v4().simple().to_string()[..6]),
        });
        let mut client = Client::with_http(&self.url, SigningKey::generate(), self.http.clone());
        client
            .redeem_invitation(&code, name, registration)
            .await
            .expect("redeem invitation");
        client
    }

    async fn enrolled(
        &self,
        kind: PartyKind,
        name: &str,
        registration: Option<ProfessionalRegistration>,
    ) -> Client {
        let key = SigningKey::generate();
        let party = self
            .admin()
            .enrol(kind, name, key.public_jwk(), registration)
            .await
            .expect("enrol");
        Client::with_http(&self.url, key, self.http.clone()).with_party(&party.id)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A test certificate authority, and a certificate it signed for `host`, written to PEM files
/// (`cert_file`, `key_file`) the way an operator's would be: for a server on HTTPS at a real
/// host name, which its clients reach at 127.0.0.1.
pub struct TestTls {
    pub host: String,
    pub cert_file: std::path::PathBuf,
    pub key_file: std::path::PathBuf,
    /// The CA's certificate, PEM: what a client trusts; and the file it is in.
    pub ca_pem: String,
    pub ca_file: std::path::PathBuf,
    /// The certificate in the files now.
    pub leaf: TestCert,
    ca: rcgen::Issuer<'static, rcgen::KeyPair>,
    _dir: tempfile::TempDir,
}

/// One certificate for the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCert {
    /// The certificate, DER: what a client sees in the handshake.
    pub der: Vec<u8>,
    /// The base64 of the SHA-256 of its public key (SubjectPublicKeyInfo), as Chromium's
    /// `--ignore-certificate-errors-spki-list` takes it.
    pub spki_sha256: String,
}

impl TestTls {
    pub fn new(host: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Work Passport test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().expect("CA key");
        let ca_pem = params.self_signed(&key).expect("CA certificate").pem();
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &ca_pem).expect("write the CA's certificate");
        let mut tls = TestTls {
            ca_file,
            host: host.to_owned(),
            cert_file: dir.path().join("fullchain.pem"),
            key_file: dir.path().join("privkey.pem"),
            ca_pem,
            leaf: TestCert {
                der: Vec::new(),
                spki_sha256: String::new(),
            },
            ca: rcgen::Issuer::new(params, key),
            _dir: dir,
        };
        tls.renew();
        tls
    }

    /// A new certificate for the host, with a new key, written over the files as a renewal
    /// would (each file replaced whole); returns it.
    pub fn renew(&mut self) -> TestCert {
        use base64::Engine as _;
        use rcgen::PublicKeyData as _;
        let key = rcgen::KeyPair::generate().expect("leaf key");
        // 127.0.0.1 too, for a client that cannot be told where the host name is (Node's fetch
        // in the browser tests).
        let names = vec![self.host.clone(), "127.0.0.1".to_owned()];
        let mut params = rcgen::CertificateParams::new(names).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, self.host.clone());
        let cert = params.signed_by(&key, &self.ca).expect("sign the leaf");
        let replace = |path: &std::path::Path, text: &str| {
            let temporary = path.with_extension("new");
            std::fs::write(&temporary, text).expect("write a certificate file");
            std::fs::rename(&temporary, path).expect("replace a certificate file");
        };
        replace(&self.cert_file, &cert.pem());
        replace(&self.key_file, &key.serialize_pem());
        let spki = ring::digest::digest(&ring::digest::SHA256, &key.subject_public_key_info());
        self.leaf = TestCert {
            der: cert.der().to_vec(),
            spki_sha256: base64::engine::general_purpose::STANDARD.encode(spki),
        };
        self.leaf.clone()
    }

    /// An HTTP client that trusts the test CA and finds the host at `addr`.
    pub fn client(&self, addr: SocketAddr) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).expect("the CA's PEM"),
            )
            .resolve(&self.host, addr)
    }
}

/// A port free now; the tiny window before a server binds it again is harmless here.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The server as a separate process (the real binary), for end-to-end tests and for several
/// instances on one database. Killed on drop.
pub struct ServerProcess {
    pub url: String,
    child: std::process::Child,
}

impl ServerProcess {
    /// Spawns `binary` (pass `env!("CARGO_BIN_EXE_wp-test-server")`) with `args` on a free port,
    /// and waits until it answers `/healthz`.
    pub async fn spawn(
        binary: &str,
        data_dir: &std::path::Path,
        database_url: &str,
        args: &[&str],
    ) -> Self {
        Self::spawn_on(binary, data_dir, database_url, free_port(), args).await
    }

    /// The same on a given port: a restarted server keeps its URL, so clients carry on.
    pub async fn spawn_on(
        binary: &str,
        data_dir: &std::path::Path,
        database_url: &str,
        port: u16,
        args: &[&str],
    ) -> Self {
        let child = std::process::Command::new(binary)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--database-url")
            .arg(database_url)
            .args(args)
            .env("RUST_LOG", "warn")
            // No rate limits unless `args` set them (flags win over the environment).
            .env("WP_RATE_LIMIT_PER_ADDRESS", "0")
            .env("WP_RATE_LIMIT_GLOBAL", "0")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn the server binary");
        let server = ServerProcess {
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = http.get(format!("{}/healthz", server.url)).send().await
                && r.status().is_success()
            {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the server process did not come up on {}", server.url);
    }

    /// The server's process id (the benchmark reads its peak memory from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An admin for this server, registered with the operator's `add-admin` command.
    pub fn add_admin(
        binary: &str,
        data_dir: &std::path::Path,
        database_url: &str,
        key: &SigningKey,
    ) -> String {
        let jwk_file = data_dir.join(format!("admin-{}.jwk", uuid::Uuid::new_v4()));
        std::fs::write(
            &jwk_file,
            serde_json::to_string(key.public_jwk()).expect("jwk"),
        )
        .expect("write jwk");
        let output = std::process::Command::new(binary)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--database-url")
            .arg(database_url)
            .args(["add-admin", "--jwk-file"])
            .arg(&jwk_file)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run add-admin");
        assert!(
            output.status.success(),
            "add-admin failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database for server processes: a SQLite file in `dir`, or a fresh PostgreSQL database
/// (dropped with the returned guard).
pub async fn process_database(
    backend: Backend,
    dir: &std::path::Path,
) -> (String, Option<impl Drop + Send + Sync + use<>>) {
    match backend {
        Backend::Sqlite => (
            format!("sqlite://{}", dir.join("passport.db").display()),
            None,
        ),
        Backend::Postgres => {
            let (db, url) = PgDatabase::create().await;
            (url, Some(db))
        }
    }
}

/// Sends a request as `client` with `token` (an access or consent token) and a fresh DPoP proof
/// by the client's key: for tests that craft what the library would refuse to send.
pub async fn raw_request(
    client: &Client,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<&serde_json::Value>,
) -> reqwest::Response {
    let url = format!("{}{path}", client.base_url());
    let htu = url.split('?').next().unwrap_or_default().to_owned();
    let mut request = client
        .http()
        .request(method.clone(), &url)
        .header("Authorization", format!("DPoP {token}"))
        .header(
            "DPoP",
            wp_client::proofs::dpop(client.key(), method.as_str(), &htu, Some(token)),
        );
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("request")
}

/// A request to `url` (which may name another instance than the client's) carrying `token` and
/// exactly this `proof`: sent twice, the second is a replay.
pub fn with_proof(
    client: &Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    proof: &str,
) -> reqwest::RequestBuilder {
    client
        .http()
        .request(method, url)
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof)
}

/// Runs futures concurrently on the current task and returns their outputs in order (tokio's
/// JoinSet needs 'static futures; these borrow the test's clients).
pub async fn join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futures.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(out) => outputs[i] = Some(out),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

/// A grant request to `grantee` for `scopes` (section, actions), ending `seconds` from now.
pub fn grant_to(
    grantee: &Client,
    scopes: &[(wp_schemas::sections::Section, &[wp_schemas::api::Action])],
    seconds: i64,
) -> wp_schemas::api::CreateGrant {
    wp_schemas::api::CreateGrant {
        grantee: grantee.party_id().expect("a registered party").to_owned(),
        roles: Vec::new(),
        members: Vec::new(),
        scopes: scopes
            .iter()
            .map(|(section, actions)| wp_schemas::api::Scope {
                section: *section,
                actions: actions.to_vec(),
            })
            .collect(),
        purpose: "workplace adjustments".into(),
        starts_at: None,
        ends_at: chrono::Utc::now() + chrono::Duration::seconds(seconds),
        consent_text: "I agree.".into(),
    }
}

/// The problem type of a refused response (panics if the body is not problem+json).
pub async fn problem_of(response: reqwest::Response) -> (u16, wp_schemas::problem::Problem) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "status {status}");
    (status, response.json().await.expect("problem body"))
}

pub use wp_server::domain::ids::{Kid, PartyId, PassportId, RecordId};
pub use wp_server::domain::time::Timestamp;

/// An id a server answered with, as the server's own id type (for tests that reach into the
/// store): panics if the server ever answered with another form.
pub fn id<T: TryFrom<String>>(text: &str) -> T
where
    T::Error: std::fmt::Debug,
{
    T::try_from(text.to_owned()).expect("a canonical id")
}

/// A bundle doctored and then re-signed throughout as its doctor would (docs/BUNDLE.md checks 1
/// to 7 pass again): `server_key` of their own becomes the bundle's only server key, the
/// checkpoint is recomputed over the versions and the log and signed with it, so is the
/// attestation over the body, and `owner_key` signs as the owner. Only the origin check (8)
/// can tell.
pub fn reattest(bundle: &mut serde_json::Value, server_key: &SigningKey, owner_key: &SigningKey) {
    use serde_json::json;
    use wp_schemas::api::{CHECKPOINT_TYP, CheckpointClaims};
    use wp_schemas::bundle::{ATTESTATION_TYP, AttestationClaims, body_digest};
    use wp_schemas::chain::{history_genesis, history_next, log_genesis};
    use wp_schemas::jose::KeyRef;

    let body = &bundle["body"];
    let text = |v: &serde_json::Value| v.as_str().expect("a string").to_owned();
    let pid = text(&body["passport_id"]);
    let versions = body["versions"].as_array().expect("versions");
    let head = versions.iter().fold(history_genesis(&pid), |h, v| {
        history_next(&h, &text(&v["hash"]))
    });
    let (log_seq, log_head) = body["access_log"]
        .as_array()
        .and_then(|log| log.last())
        .map_or((0, log_genesis(&pid)), |e| {
            (e["seq"].as_i64().expect("seq"), text(&e["hash"]))
        });
    let now = clock::now().secs();
    let checkpoint = CheckpointClaims {
        passport: pid.clone(),
        seq: versions
            .last()
            .map_or(0, |v| v["seq"].as_i64().expect("seq")),
        head,
        iat: now,
        log_seq: Some(log_seq),
        log_head: Some(log_head),
    };
    bundle["body"]["checkpoint"] =
        json!(server_key.sign_json(CHECKPOINT_TYP, KeyRef::Kid, &checkpoint));
    bundle["body"]["server_keys"] = json!([server_key.public_jwk()]);
    let attestation = AttestationClaims {
        server: text(&bundle["body"]["server"]),
        passport: pid,
        owner: text(&bundle["body"]["owner"]),
        digest: body_digest(&bundle["body"]),
        iat: now,
    };
    bundle["attestation"] = json!(server_key.sign_json(ATTESTATION_TYP, KeyRef::Kid, &attestation));
    wp_client::bundle::cosign(bundle, owner_key).expect("cosign");
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_url_rewrite() {
        assert_eq!(
            super::replace_database("postgres://root@127.0.0.1:5432/test", "x"),
            "postgres://root@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::replace_database("postgres://h/test?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
        assert_eq!(
            super::replace_database("postgres://h", "x"),
            "postgres://h/x"
        );
    }
}
