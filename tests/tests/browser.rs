//! The web pages in real headless Chromium against the real server, on SQLite (over HTTPS at
//! `https://passport.test:PORT`) and PostgreSQL (over HTTP at 127.0.0.1):
//! `node tests/web/run.mjs` audits every page state with axe-core (WCAG 2.2 AA tags), checks
//! the security headers, the weight of the assets and that no request leaves the origin, and
//! walks the employee's journey with the keyboard only (tests/web/README.md says what it checks).
//!
//! This test starts the server, enrols the employer the employee shares with (listed in the
//! directory, with a second listed "Acme" to tell it from), makes an employer organisation and
//! a practice with invitations for a line manager and a clinician (who join in the browser) and
//! hands the script their share code and share link, the operator's one-time admin link and a second, empty server
//! (for a passport downloaded from the first to move to), runs the script, and
//! answers its hooks: when the script has shared with the employer, the employer reads the
//! passport through that grant with the client library (so the browser's access log has the
//! read to show), and after the revoke the employer is refused.
//!
//! It needs Node 20, the system's Chromium (`/usr/bin/chromium`, Debian's `chromium`) and
//! `npm ci --prefix tests/web`. Without them it is skipped loudly, and in CI (`CI` set) it fails
//! instead. Screenshots of every page state go to `target/web-screenshots/<backend>/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use wp_client::Client;
use wp_schemas::api::{GrantStatus, PartyKind, Role, SetListing};
use wp_schemas::sections::Section;
use wp_server::keys::ServerKeys;
use wp_server::{Settings, clock};
use wp_tests::{Backend, TestServer, TestTls, backend_tests};

/// The host name the HTTPS run serves at, and the one the plain-HTTP server is opened at to
/// see the insecure-origin page (both mapped to 127.0.0.1 in Chromium).
const HOST: &str = "passport.test";
const INSECURE_HOST: &str = "insecure.test";

const INSTALL: &str =
    "apt-get install chromium, then npm ci --prefix tests/web (bash .ci/run does both)";

/// The whole run's limit: the script normally takes well under a minute.
const RUN_LIMIT: Duration = Duration::from_secs(600);

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

fn chromium() -> PathBuf {
    std::env::var_os("WP_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// What is missing to run the browser tests, if anything.
fn missing() -> Option<String> {
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match node.as_deref() {
        None => return Some("node is not on PATH".into()),
        Some(version) => {
            let major: u32 = version
                .trim_start_matches('v')
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            if major < 20 {
                return Some(format!("node {version} is older than 20"));
            }
        }
    }
    if !chromium().is_file() {
        return Some(format!("{} is missing", chromium().display()));
    }
    for package in ["playwright-core", "axe-core"] {
        if !web_dir().join("node_modules").join(package).is_dir() {
            return Some(format!("tests/web/node_modules/{package} is missing"));
        }
    }
    None
}

/// True when the browser tests can run; otherwise says loudly why not, or fails in CI.
fn can_run() -> bool {
    match missing() {
        None => true,
        Some(why) if std::env::var_os("CI").is_some() => {
            panic!("the browser tests must run in CI, but {why} ({INSTALL})")
        }
        Some(why) => {
            wp_tests::say_skipped(&format!("browser tests: {why} ({INSTALL})"));
            false
        }
    }
}

fn screenshots_dir(backend: Backend) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
            tests.parent().unwrap_or(tests).join("target")
        });
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    target.join("web-screenshots").join(name)
}

/// Straight to the process's stderr, past libtest's capture: the run's figures (axe results,
/// weights, timings) are the point of this test, passing or not.
fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The employer's side of a hook, with the client library. `read` remembers the grant the
/// employer read through, for the check after the revoke.
async fn answer_hook(
    employer: &Client,
    read: &mut Option<String>,
    name: &str,
    argument: &Value,
) -> Result<String, String> {
    match name {
        // The employee has shared with the employer: read through the grant (the active one
        // whose summary holds what the browser wrote, signed and verified by the library).
        "employer-read" => {
            let expected = argument
                .get("summary")
                .and_then(Value::as_str)
                .ok_or("no summary to look for")?;
            let grants = employer.grants_to_me().await.map_err(|e| e.to_string())?;
            let mut seen = Vec::new();
            for grant in grants.iter().filter(|g| g.status == GrantStatus::Active) {
                let passport = employer
                    .granted_passport(&grant.id)
                    .await
                    .map_err(|e| e.to_string())?;
                let view = passport.read().await.map_err(|e| e.to_string())?;
                let summary: Vec<Value> = view
                    .records(Section::Summary)
                    .iter()
                    .filter_map(|v| v.payload.body.clone())
                    .collect();
                let text = serde_json::to_string(&summary).unwrap_or_default();
                if text.contains(expected) {
                    *read = Some(grant.id.clone());
                    return Ok(format!("read the summary through grant {}", grant.id));
                }
                seen.push(text);
            }
            Err(format!(
                "no active grant to the employer shows the summary the browser wrote                  ({expected:?}); the employer sees: {seen:?}"
            ))
        }
        // The employee has revoked: the employer's consent has ended.
        "employer-refused" => {
            let grant = read
                .as_deref()
                .ok_or("the employer never read through a grant")?;
            let refused = match employer.granted_passport(grant).await {
                Err(e) => e,
                Ok(passport) => match passport.read().await {
                    Err(e) => e,
                    Ok(_) => return Err("the employer still reads after the revoke".into()),
                },
            };
            if refused.consent_ended(true) {
                Ok(format!("refused: {refused}"))
            } else {
                Err(format!("refused, but not as ended consent: {refused}"))
            }
        }
        other => Err(format!("unknown hook {other}")),
    }
}

async fn web_pages(backend: Backend) {
    if !can_run() {
        return;
    }
    // On SQLite over HTTPS at a host name that is not localhost, as people reach a real
    // installation (Chromium maps the name to 127.0.0.1 and trusts the test certificate by its
    // key); on PostgreSQL over plain HTTP at 127.0.0.1, which browsers count as secure too.
    let tls = (backend == Backend::Sqlite).then(|| TestTls::new(HOST));
    let server = match &tls {
        Some(tls) => TestServer::start_https(backend, tls, |_| {}).await,
        None => TestServer::start(backend).await,
    };
    let employer = server.employer("Acme Ltd").await;
    let employer_id = employer.party_id().expect("employer id").to_owned();
    // The employee finds Acme Ltd by its name: it is listed, and so is another Acme, told apart
    // by the place and line each gives.
    let listed = |place: &str, about: &str| SetListing {
        listed: true,
        place: Some(place.into()),
        about: Some(about.into()),
        new_share_code: false,
    };
    server
        .admin()
        .set_organisation_listing(&employer_id, &listed("Leeds", "Food manufacturer"))
        .await
        .expect("list Acme Ltd");
    let other_acme = server
        .organisation(PartyKind::Employer, "Acme Logistics")
        .await;
    server
        .admin()
        .set_organisation_listing(&other_acme.id, &listed("Bristol", "Haulage"))
        .await
        .expect("list Acme Logistics");
    // An organisation whose line manager joins in the browser with this invitation code, to
    // read and agree with the keyboard.
    let organisation = server
        .organisation(PartyKind::Employer, "Beacon Care Ltd")
        .await;
    let invitation = server
        .admin()
        .invite(&organisation.id, Role::LineManager, None)
        .await
        .expect("invite a line manager")
        .code
        .expect("a new invitation shows its code");
    // A practice whose occupational therapist joins in the browser, to write with the keyboard.
    let practice = server
        .organisation(PartyKind::Practice, "Riverside OT Practice")
        .await;
    let clinician_invitation = server
        .admin()
        .invite(&practice.id, Role::Clinician, None)
        .await
        .expect("invite a clinician")
        .code
        .expect("a new invitation shows its code");
    // Neither is listed: the employees share with them by the share code and the share link
    // their people show.
    let organisation_code = server
        .admin()
        .organisation_listing(&organisation.id)
        .await
        .expect("Beacon Care's listing")
        .share_code;
    let practice_link = format!(
        "{}/#/share/{}",
        server.url,
        server
            .admin()
            .organisation_listing(&practice.id)
            .await
            .expect("the practice's listing")
            .share_code
    );
    // The operator's one-time admin link, as `admin-link` makes it (the server is up by now, so
    // its signing keys exist).
    let keys =
        ServerKeys::load(&Settings::for_data_dir(server.data_dir.path()).signing_keys_path())
            .expect("the server's signing keys");
    let (admin_invitation, _) =
        wp_server::domain::auth::issue_admin_invitation(&keys, &server.url, 1, clock::now());
    let admin_link = format!("{}/#/admin-join/{admin_invitation}", server.url);
    // Another Work Passport server, empty, for a passport downloaded from the first to move to.
    let other = TestServer::start(backend).await;
    let out = screenshots_dir(backend);
    std::fs::create_dir_all(&out).expect("screenshot directory");
    let tag = format!("[web {backend:?}]");

    let mut node = tokio::process::Command::new("node");
    // The other server is plain HTTP: opened at a host name, an insecure origin (both runs).
    node.env(
        "WP_INSECURE_URL",
        format!("http://{INSECURE_HOST}:{}/", other.addr.port()),
    );
    match &tls {
        Some(tls) => {
            node.env(
                "WP_HOST_RULES",
                format!("MAP {HOST} 127.0.0.1, MAP {INSECURE_HOST} 127.0.0.1"),
            )
            .env("WP_TRUST_SPKI", &tls.leaf.spki_sha256)
            // Playwright's route.fetch runs in Node, which knows neither the name nor the CA.
            .env(
                "WP_FETCH_ORIGIN",
                format!("https://127.0.0.1:{}", server.addr.port()),
            )
            .env("NODE_EXTRA_CA_CERTS", &tls.ca_file)
            // At a host name WebAuthn runs: the passkey journey must, not skip.
            .env("WP_EXPECT_PASSKEY", "1");
        }
        None => {
            node.env("WP_HOST_RULES", format!("MAP {INSECURE_HOST} 127.0.0.1"))
                // Reflow at 320 px and text at 200% depend on the pages, not the database: the
                // run over HTTPS checks them, and CI's time is better spent once.
                .env("WP_LAYOUT_CHECKS", "0");
        }
    }
    let mut child = node
        .arg(web_dir().join("run.mjs"))
        .arg(&server.url)
        .arg(&out)
        .env("WP_HOOKS", "1")
        .env("WP_CHROMIUM", chromium())
        .env("WP_EMPLOYER_ID", &employer_id)
        .env("WP_EMPLOYER_NAME", "Acme Ltd")
        .env("WP_ORGANISATION_ID", &organisation.id)
        .env("WP_ORGANISATION_NAME", "Beacon Care Ltd")
        .env("WP_INVITATION_CODE", &invitation)
        .env("WP_ORGANISATION_SHARE_CODE", &organisation_code)
        .env("WP_PRACTICE_SHARE_LINK", &practice_link)
        .env("WP_PRACTICE_ID", &practice.id)
        .env("WP_PRACTICE_NAME", "Riverside OT Practice")
        .env("WP_CLINICIAN_CODE", &clinician_invitation)
        .env("WP_ADMIN_LINK", &admin_link)
        .env("WP_OTHER_SERVER", &other.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn node");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let stderr_tag = tag.clone();
    let stderr_task = tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            say(&format!("{stderr_tag} {line}"));
        }
    });

    let run = async {
        let mut hook_failures = Vec::new();
        let mut read = None;
        while let Some(line) = stdout.next_line().await.expect("read node's output") {
            say(&format!("{tag} {line}"));
            let Some(hook) = line.strip_prefix("WP-HOOK ") else {
                continue;
            };
            let (name, argument) = hook.split_once(' ').unwrap_or((hook, "null"));
            let argument: Value = serde_json::from_str(argument).unwrap_or(Value::Null);
            let answer = match answer_hook(&employer, &mut read, name, &argument).await {
                Ok(what) => format!("ok {what}\n"),
                Err(why) => {
                    hook_failures.push(format!("{name}: {why}"));
                    format!("fail {why}\n")
                }
            };
            say(&format!("{tag} hook {name}: {}", answer.trim_end()));
            stdin
                .write_all(answer.as_bytes())
                .await
                .expect("answer the hook");
        }
        let status = child.wait().await.expect("wait for node");
        (status, hook_failures)
    };
    let (status, hook_failures) = tokio::time::timeout(RUN_LIMIT, run)
        .await
        .unwrap_or_else(|_| panic!("{tag} the browser run took longer than {RUN_LIMIT:?}"));
    let _ = stderr_task.await;
    assert!(
        hook_failures.is_empty(),
        "{tag} the employer's side failed: {hook_failures:?}"
    );
    assert!(
        status.success(),
        "{tag} the browser tests failed ({status}); the FAIL lines above say what, and the \
         screenshots are in {}",
        out.display()
    );
    server.stop().await;
    other.stop().await;
}

backend_tests!(web_pages);
