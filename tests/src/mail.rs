//! Independent implementations for the notification tests, in the tests' Python venv
//! (`target/ci-venv`, from tests/fuzz/requirements.txt): a real SMTP server that keeps what it
//! receives ([`SmtpSink`], aiosmtpd) and an iCalendar parser ([`parse_ics`], the `icalendar`
//! package). What the server sends is checked as other software reads it, not as it was written.
//!
//! The venv's Python is `WP_TEST_PYTHON`, else the `python` beside `WP_SCHEMATHESIS` (both set by
//! .ci/run), else `target/ci-venv/bin/python` if it exists. Without one a test that needs it is
//! skipped loudly ([`python`] returns None), and in CI (`CI` set) it fails instead.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::AsyncBufReadExt;

const INSTALL: &str = "python3 -m venv target/ci-venv && target/ci-venv/bin/pip install \
     -r tests/fuzz/requirements.txt (bash .ci/run does this), or set WP_TEST_PYTHON to a Python \
     with those packages";

/// The tests' Python, or None after saying loudly that the test is skipped; in CI a missing
/// one is a failure.
pub fn python() -> Option<PathBuf> {
    let named = std::env::var_os("WP_TEST_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("WP_SCHEMATHESIS")
                .filter(|p| !p.is_empty())
                .map(|s| Path::new(&s).with_file_name("python"))
        });
    let found = named.or_else(|| {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ci-venv/bin/python");
        venv.is_file().then_some(venv)
    });
    match found {
        Some(path) if path.is_file() => Some(path),
        Some(path) => panic!(
            "the tests' Python {} is not a file ({INSTALL})",
            path.display()
        ),
        None if std::env::var_os("CI").is_some() => {
            panic!(
                "the tests' Python venv is not installed in CI: the email and calendar tests must run ({INSTALL})"
            )
        }
        None => {
            crate::say_skipped(&format!(
                "a test that needs the tests' Python (aiosmtpd, icalendar) (install with: {INSTALL})"
            ));
            None
        }
    }
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(name)
}

/// One message as the sink received it: its SMTP envelope, and the message as Python's
/// `email` package reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct ReceivedEmail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// Every header in order, its value decoded (RFC 2047 words, folding).
    pub headers: Vec<(String, String)>,
    /// The text/plain body, decoded from its transfer encoding and charset (line ends as sent,
    /// CRLF).
    pub text: Option<String>,
    /// The message as it crossed the wire.
    pub raw: String,
}

impl ReceivedEmail {
    /// The value of the one header called `name` (any case); panics if there are several.
    pub fn header(&self, name: &str) -> Option<&str> {
        let all = self.headers_named(name);
        assert!(all.len() <= 1, "{name} appears {} times", all.len());
        all.first().copied()
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body with CRLF line ends made LF, as it was most likely written.
    pub fn text_lf(&self) -> String {
        self.text
            .as_deref()
            .unwrap_or_default()
            .replace("\r\n", "\n")
    }
}

/// A real SMTP server (tests/fuzz/smtp_sink.py, aiosmtpd) on 127.0.0.1, plain SMTP, that keeps
/// every message it accepts, and refuses them on demand ([`SmtpSink::refuse_with`]). Killed when
/// dropped.
pub struct SmtpSink {
    // Dropped first, so the process is gone before its directory is.
    process: tokio::process::Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl SmtpSink {
    /// Starts one, or returns None after saying the test is skipped (no Python venv, outside CI).
    pub async fn start() -> Option<SmtpSink> {
        let python = python()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let log = std::fs::File::create(dir.path().join("sink.log")).expect("sink log");
        let mut process = tokio::process::Command::new(&python)
            .arg(script("smtp_sink.py"))
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", python.display()));
        // Its first line is the port it listens on, once it does.
        let stdout = process.stdout.take().expect("stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
        let port = match line {
            Ok(Ok(Some(line))) => line.trim().parse().ok(),
            _ => None,
        };
        let Some(port) = port else {
            let _ = process.kill().await;
            let log = std::fs::read_to_string(dir.path().join("sink.log")).unwrap_or_default();
            panic!("the SMTP sink did not start ({INSTALL}):\n{log}");
        };
        Some(SmtpSink { process, dir, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `--smtp-url` for it: plain SMTP, which it speaks (`tls=none`).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Every message received so far, in the order received.
    pub fn messages(&self) -> Vec<ReceivedEmail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("sink directory")
            .map(|entry| entry.expect("directory entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).expect("received message");
                serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
            })
            .collect()
    }

    /// Waits until at least `n` messages have arrived, and returns them all; panics after
    /// `timeout` (an upper bound for a stuck run, not a timing requirement).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedEmail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if Instant::now() > deadline {
                panic!(
                    "the SMTP sink received {} messages within {timeout:?}, expected {n}:\n{}",
                    messages.len(),
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// From now on, refuse every recipient with this SMTP reply code (451: try later; 550: never),
    /// or (None) accept again.
    pub fn refuse_with(&self, code: Option<u16>) {
        let path = self.dir.path().join("refuse");
        match code {
            Some(code) => {
                // Written whole, then renamed: the sink never reads half a code.
                let temp = self.dir.path().join("refuse.tmp");
                std::fs::write(&temp, code.to_string()).expect("write refuse file");
                std::fs::rename(&temp, &path).expect("rename refuse file");
            }
            None => match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("removing the refuse file: {e}"),
            },
        }
    }

    /// What the sink wrote to stderr (aiosmtpd's errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sink.log")).unwrap_or_default()
    }

    /// The sink's process id.
    pub fn pid(&self) -> Option<u32> {
        self.process.id()
    }
}

/// An iCalendar text as the `icalendar` package reads it (tests/fuzz/ics_parse.py):
/// `{"calendar": {PROPERTY: text, ...}, "events": [{"uid", "summary", "description", "url",
/// "dtstart", "dtend" (ISO dates), "dtstamp", "transp"}, ...]}`. Panics if it does not parse, or
/// if there is no Python: call [`python`] first to skip without one. Blocks while Python runs
/// (a fraction of a second).
pub fn parse_ics(text: &str) -> serde_json::Value {
    use std::io::Write as _;
    let python = python().expect("the tests' Python (check wp_tests::mail::python() first)");
    let mut child = std::process::Command::new(&python)
        .arg(script("ics_parse.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", python.display()));
    // Written from another thread: a large feed could fill the pipe while we wait on stdout.
    let mut stdin = child.stdin.take().expect("stdin");
    let input = text.as_bytes().to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("ics_parse.py");
    writer
        .join()
        .expect("writer thread")
        .expect("write the feed");
    assert!(
        output.status.success(),
        "icalendar could not read the feed ({}):\n{}\n--- feed ---\n{text}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("ics_parse.py prints JSON")
}
