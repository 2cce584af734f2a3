//! HTTPS: the server serves TLS with the operator's PEM files at a real host name (a test CA's
//! certificate, the host found at 127.0.0.1), sends HSTS, picks up a renewed certificate
//! without a restart (when the files change, and on SIGHUP), and stops at start with a message
//! naming a bad file. Behind a proxy: the forwarded scheme counts only from a `--trusted-proxy`.

use std::path::Path;
use std::time::{Duration, Instant};

use wp_tests::{Backend, TestServer, TestTls};

const HOST: &str = "passport.test";

/// How long a reload may take to show before the test fails (it normally shows in about a
/// second: the files are checked every second here).
const DEADLINE: Duration = Duration::from_secs(60);

/// The certificate the server presents to a new connection at `url` (a new client each time,
/// so no connection is reused).
async fn served_certificate(tls: &TestTls, addr: std::net::SocketAddr, url: &str) -> Vec<u8> {
    let http = tls
        .client(addr)
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let response = http
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("GET /healthz over HTTPS");
    assert!(response.status().is_success(), "{}", response.status());
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("the server's certificate")
        .to_vec()
}

/// Polls until the server presents `wanted` to new connections; fails after [`DEADLINE`].
async fn until_served(tls: &TestTls, addr: std::net::SocketAddr, url: &str, wanted: &[u8]) {
    let start = Instant::now();
    while served_certificate(tls, addr, url).await != wanted {
        assert!(
            start.elapsed() < DEADLINE,
            "the renewed certificate was not served within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn hsts(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("strict-transport-security")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_hsts_and_a_renewed_certificate_without_restart() {
    let mut tls = TestTls::new(HOST);
    let server =
        TestServer::start_https(Backend::Sqlite, &tls, |s| s.tls_reload_interval = 1).await;
    assert!(
        server.url.starts_with("https://passport.test:"),
        "{}",
        server.url
    );
    let first = tls.leaf.clone();
    assert_eq!(
        served_certificate(&tls, server.addr, &server.url).await,
        first.der
    );

    // The API over HTTPS at the host name (tokens and proofs name the https:// URL), with HSTS
    // on every answer, pages and API alike.
    let employee = server.employee("Alex Smith").await;
    employee
        .create_passport()
        .await
        .expect("a passport over HTTPS");
    for path in ["/", "/web/js/app.js", "/v1/me", "/healthz"] {
        let response = server
            .http
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .expect("GET over HTTPS");
        assert_eq!(
            hsts(&response).as_deref(),
            Some("max-age=31536000"),
            "{path}"
        );
    }

    // Renewed: new connections get the new certificate, without a restart.
    let renewed = tls.renew();
    assert_ne!(renewed.der, first.der);
    until_served(&tls, server.addr, &server.url, &renewed.der).await;
    // The server went on: the same passport, through a client made before the renewal.
    employee
        .create_passport()
        .await
        .expect_err("one passport per employee: the server kept its state");

    // A broken pair (a key that is not the certificate's) is not loaded: the good one stays.
    std::fs::write(
        &tls.key_file,
        rcgen::KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    for _ in 0..3 {
        assert_eq!(
            served_certificate(&tls, server.addr, &server.url).await,
            renewed.der
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    server.stop().await;
}

/// The server binary, killed when dropped.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate() {
    let mut tls = TestTls::new(HOST);
    let data = tempfile::tempdir().unwrap();
    let port = wp_tests::free_port();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let url = format!("https://{HOST}:{port}");
    let server = Process(
        std::process::Command::new(env!("CARGO_BIN_EXE_wp-test-server"))
            .args(["--listen", &addr.to_string(), "--public-url", &url])
            .arg("--data-dir")
            .arg(data.path())
            .arg("--tls-cert")
            .arg(&tls.cert_file)
            .arg("--tls-key")
            .arg(&tls.key_file)
            // Never checked on a timer: only the signal reloads.
            .args(["--tls-reload-interval", "0"])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn the server"),
    );
    let http = tls.client(addr).build().unwrap();
    let start = Instant::now();
    while http.get(format!("{url}/healthz")).send().await.is_err() {
        assert!(start.elapsed() < DEADLINE, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = tls.leaf.clone();
    assert_eq!(served_certificate(&tls, addr, &url).await, first.der);

    let renewed = tls.renew();
    let hangup = std::process::Command::new("kill")
        .args(["-HUP", &server.0.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hangup.success());
    until_served(&tls, addr, &url, &renewed.der).await;
}

/// Starts a server with `tune`d settings and returns what `run` failed with.
async fn start_error(tune: impl FnOnce(&mut wp_server::Settings)) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut settings = wp_server::Settings::for_data_dir(data.path());
    tune(&mut settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = wp_server::run(listener, settings, std::future::pending())
        .await
        .expect_err("the server must not start");
    assert!(
        !data.path().join("passport.db").exists(),
        "the check comes before the database is made"
    );
    format!("{error:#}")
}

#[tokio::test]
async fn a_bad_certificate_or_key_stops_the_start_and_names_the_file() {
    let tls = TestTls::new(HOST);
    let other = TestTls::new(HOST);
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let with = |cert: &Path, key: &Path| {
        let (cert, key) = (cert.to_owned(), key.to_owned());
        move |s: &mut wp_server::Settings| {
            s.tls_cert = Some(cert);
            s.tls_key = Some(key);
        }
    };
    let shown = |path: &Path| path.display().to_string();

    let error = start_error(with(&missing, &tls.key_file)).await;
    assert!(
        error.contains(&format!("--tls-cert {}: cannot read it", shown(&missing))),
        "{error}"
    );
    let error = start_error(with(&garbage, &tls.key_file)).await;
    assert!(
        error.contains(&format!(
            "--tls-cert {}: no certificate in it",
            shown(&garbage)
        )),
        "{error}"
    );
    let error = start_error(with(&tls.cert_file, &garbage)).await;
    assert!(
        error.contains(&format!(
            "--tls-key {}: no \"-----BEGIN PRIVATE KEY-----\"",
            shown(&garbage)
        )),
        "{error}"
    );
    // The certificate in place of the key.
    let error = start_error(with(&tls.cert_file, &tls.cert_file)).await;
    assert!(
        error.contains(&format!("--tls-key {}", shown(&tls.cert_file))),
        "{error}"
    );
    let error = start_error(with(&tls.cert_file, &other.key_file)).await;
    assert!(
        error.contains(&format!(
            "--tls-key {} is not the key of the certificate in --tls-cert {}",
            shown(&other.key_file),
            shown(&tls.cert_file)
        )),
        "{error}"
    );
    let cert = tls.cert_file.clone();
    let error = start_error(move |s| s.tls_cert = Some(cert)).await;
    assert!(error.contains("--tls-cert needs --tls-key"), "{error}");
}

/// Behind a TLS-terminating proxy: HSTS when the public URL is https://, and for a forwarded
/// `proto=https` only when the peer is a trusted proxy (here 127.0.0.1, the test's own
/// address); from any other peer the header is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forwarded_scheme_counts_only_from_a_trusted_proxy() {
    let trusting = TestServer::start_with(Backend::Sqlite, |s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let untrusting = TestServer::start(Backend::Sqlite).await;
    let behind_https = TestServer::start_with(Backend::Sqlite, |s| {
        s.public_url = Some("https://passport.example".into());
        s.hsts_max_age = 600;
    })
    .await;
    let http = reqwest::Client::new();
    let get = |server: &TestServer, header: Option<(&'static str, &'static str)>| {
        let mut request = http.get(format!("{}/healthz", server.url));
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        async move { hsts(&request.send().await.expect("GET /healthz")) }
    };
    let https_proto = [
        ("x-forwarded-proto", "https"),
        ("forwarded", "for=203.0.113.7;proto=https"),
    ];
    for header in https_proto {
        assert_eq!(
            get(&trusting, Some(header)).await.as_deref(),
            Some("max-age=31536000"),
            "{header:?} from a trusted proxy"
        );
        assert_eq!(
            get(&untrusting, Some(header)).await,
            None,
            "{header:?} from a peer that is no trusted proxy"
        );
    }
    assert_eq!(
        get(&trusting, None).await,
        None,
        "plain HTTP, no proxy header"
    );
    assert_eq!(
        get(&trusting, Some(("x-forwarded-proto", "http"))).await,
        None
    );
    assert_eq!(
        get(&behind_https, None).await.as_deref(),
        Some("max-age=600"),
        "the public URL is https://"
    );
    trusting.stop().await;
    untrusting.stop().await;
    behind_https.stop().await;
}
