//! The two ceilings, served by the same machine in the same run: a bare axum endpoint returning a
//! body of the size of a typical passport read (the HTTP ceiling), and the same endpoint verifying
//! one Ed25519 signature per request with ring (the DPoP floor: the cryptography no authorised
//! request can avoid). It runs as a child process of the bench (`bench --serve-ceiling`), on the
//! same runtime flavour as the server (`#[tokio::main]`, one worker per core).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::body::Bytes;
use wp_schemas::jose::{CompactJws, b64_decode};

struct Ceiling {
    body: Bytes,
    public_key: [u8; 32],
}

/// A JSON document of exactly `size` bytes (at least 12).
pub fn body_of_size(size: usize) -> Bytes {
    let pad = size.saturating_sub(r#"{"pad":""}"#.len()).max(1);
    Bytes::from(format!(r#"{{"pad":"{}"}}"#, "x".repeat(pad)))
}

fn answer(ceiling: &Ceiling) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        ceiling.body.clone(),
    )
        .into_response()
}

/// Serves until killed; prints `listening <addr>` on stdout once bound.
pub async fn serve(body_bytes: usize, public_key_b64: &str) -> anyhow::Result<()> {
    let raw = b64_decode(public_key_b64).context("the verify key is not base64url")?;
    let public_key: [u8; 32] = raw
        .try_into()
        .map_err(|_| anyhow::anyhow!("the verify key must be 32 bytes"))?;
    let state = Arc::new(Ceiling {
        body: body_of_size(body_bytes),
        public_key,
    });
    let bare = {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move { answer(&state) }
        }
    };
    let verify = {
        let state = state.clone();
        move |headers: HeaderMap| {
            let state = state.clone();
            async move {
                let verified = headers
                    .get("dpop")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|proof| CompactJws::parse(proof).ok())
                    .is_some_and(|jws| jws.verify_raw(&state.public_key).is_ok());
                if verified {
                    answer(&state)
                } else {
                    StatusCode::UNAUTHORIZED.into_response()
                }
            }
        }
    };
    let app = Router::new()
        .route("/bare", get(bare))
        .route("/verify", get(verify));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// The ceiling server as a child process of this executable, killed on drop.
pub struct CeilingProcess {
    pub addr: SocketAddr,
    child: Child,
}

impl CeilingProcess {
    pub fn spawn(body_bytes: usize, public_key_b64: &str) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--serve-ceiling", "--body-bytes"])
            .arg(body_bytes.to_string())
            .arg("--verify-key")
            .arg(public_key_b64)
            .stdout(Stdio::piped())
            .spawn()
            .context("spawning the ceiling server")?;
        let stdout = child.stdout.take().context("ceiling stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .with_context(|| format!("the ceiling server said {line:?}"))?
            .parse()?;
        Ok(CeilingProcess { addr, child })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for CeilingProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
