//! HTTPS served by the server itself: `--tls-cert` and `--tls-key` (PEM files), through rustls
//! with ring as its crypto provider.
//!
//! The certificate is read again, without a restart, when either file changes (their size or
//! modification time, checked every `--tls-reload-interval` seconds) and on SIGHUP; a renewed
//! certificate is used by the connections made after it was read, and the ones already open go
//! on with the old one. A pair that does not load (a key written before its certificate, a
//! mistake) is logged and the certificate in use is kept. At start, a bad file stops the server
//! with a message naming it.
//!
//! [`TlsListener`] is one more listener for `axum::serve`, so that HTTPS keeps the same router,
//! connection info and graceful shutdown as plain HTTP. The handshakes run in tasks of their own
//! (a client that stalls one holds up nobody else) with a time limit.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::Settings;

/// How long a client has to complete its TLS handshake.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// The certificate and key files, from the settings.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// The files the settings name: none (plain HTTP), or both.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<Self>> {
        match (&settings.tls_cert, &settings.tls_key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            })),
            (Some(_), None) => {
                bail!("--tls-cert needs --tls-key (WP_TLS_KEY): the certificate's private key")
            }
            (None, Some(_)) => {
                bail!("--tls-key needs --tls-cert (WP_TLS_CERT): the certificate chain")
            }
        }
    }

    /// Reads and checks the pair: a certificate chain (leaf first) and the private key of its
    /// leaf. Every error names the file at fault.
    pub fn load(&self) -> anyhow::Result<Arc<CertifiedKey>> {
        let cert_text = std::fs::read(&self.cert)
            .with_context(|| format!("--tls-cert {}: cannot read it", self.cert.display()))?;
        let chain = CertificateDer::pem_slice_iter(&cert_text)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error(&self.cert, "--tls-cert", "CERTIFICATE", e))?;
        if chain.is_empty() {
            bail!(
                "--tls-cert {}: no certificate in it (a PEM file with \"-----BEGIN CERTIFICATE-----\", the \
                 server's certificate first, then its intermediates)",
                self.cert.display()
            );
        }
        let key_text = std::fs::read(&self.key)
            .with_context(|| format!("--tls-key {}: cannot read it", self.key.display()))?;
        let key = PrivateKeyDer::from_pem_slice(&key_text)
            .map_err(|e| pem_error(&self.key, "--tls-key", "PRIVATE KEY", e))?;
        let signing = provider().key_provider.load_private_key(key).map_err(|e| {
            anyhow::anyhow!(
                "--tls-key {}: not a private key this server can use ({e}); RSA, ECDSA \
                     P-256/P-384 and Ed25519 keys are",
                self.key.display()
            )
        })?;
        let certified = CertifiedKey::new(chain, signing);
        match certified.keys_match() {
            Ok(()) => Ok(Arc::new(certified)),
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => bail!(
                "--tls-key {} is not the key of the certificate in --tls-cert {}",
                self.key.display(),
                self.cert.display()
            ),
            Err(e) => bail!(
                "--tls-cert {}: its first certificate does not parse ({e})",
                self.cert.display()
            ),
        }
    }

    /// What changes when either file is replaced or rewritten (through a symbolic link too,
    /// as certbot and Kubernetes secrets replace them).
    fn stamp(&self) -> Option<[(SystemTime, u64, u64); 2]> {
        use std::os::unix::fs::MetadataExt as _;
        let stamp = |path: &Path| {
            let meta = std::fs::metadata(path).ok()?;
            Some((meta.modified().ok()?, meta.len(), meta.ino()))
        };
        Some([stamp(&self.cert)?, stamp(&self.key)?])
    }
}

fn pem_error(path: &Path, flag: &str, label: &str, error: pem::Error) -> anyhow::Error {
    let what = match error {
        pem::Error::NoItemsFound => format!("no \"-----BEGIN {label}-----\" in it"),
        other => format!("not a PEM file ({other:?})"),
    };
    anyhow::anyhow!("{flag} {}: {what}", path.display())
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate in use, replaced whole when the files are read again.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

/// HTTPS on a TCP listener, with the certificate kept up to date from its files.
pub struct Tls {
    files: TlsFiles,
    current: Arc<Current>,
    acceptor: TlsAcceptor,
}

impl Tls {
    /// Loads the files (an error names the one at fault) and makes the server's TLS set-up:
    /// TLS 1.2 and 1.3 (rustls's safe defaults), HTTP/2 or HTTP/1.1 by ALPN.
    pub fn new(files: TlsFiles) -> anyhow::Result<Self> {
        let certified = files.load()?;
        let current = Arc::new(Current(RwLock::new(certified)));
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            files,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            current,
        })
    }

    /// Reads the files again; on success the next handshakes use the new certificate.
    pub fn reload(&self) -> anyhow::Result<()> {
        let certified = self.files.load()?;
        *self.current.0.write().unwrap_or_else(|e| e.into_inner()) = certified;
        Ok(())
    }

    /// Reads the files again on SIGHUP, and when they change (checked every `interval`; never
    /// when it is zero). Runs until dropped.
    pub async fn watch(self: Arc<Self>, interval: Duration) {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(signal) => Some(signal),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP: the certificate is reloaded only when its files change");
                None
            }
        };
        let mut tick = (!interval.is_zero()).then(|| {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick
        });
        let mut seen = self.files.stamp();
        loop {
            let why = tokio::select! {
                Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => None } } => {
                    // The files as read now: the next check does not read them again.
                    seen = self.files.stamp();
                    "SIGHUP"
                }
                _ = async { match tick.as_mut() { Some(t) => t.tick().await, None => std::future::pending().await } } => {
                    let now = self.files.stamp();
                    if now == seen {
                        continue;
                    }
                    seen = now;
                    "the files changed"
                }
            };
            match self.reload() {
                Ok(()) => {
                    tracing::info!(cert = %self.files.cert.display(), why, "TLS certificate reloaded")
                }
                Err(e) => tracing::warn!(
                    error = format!("{e:#}"),
                    why,
                    "TLS certificate not reloaded; the one in use is kept"
                ),
            }
        }
    }

    /// A listener for `axum::serve` that hands it connections once their handshake is done.
    pub fn listen(&self, tcp: TcpListener) -> TlsListener {
        let local = tcp.local_addr();
        // Room for a burst of finished handshakes; past it, a handshake task waits its turn.
        let (sender, receiver) = mpsc::channel(64);
        let acceptor = self.acceptor.clone();
        let task = tokio::spawn(accept_loop(tcp, acceptor, sender));
        TlsListener {
            receiver,
            local,
            _task: AbortOnDrop(task),
        }
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    sender: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // As axum::serve does: out of file descriptors and the like pass.
                    tracing::debug!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = sender.closed() => return,
        };
        let acceptor = acceptor.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_LIMIT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = sender.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Connections whose TLS handshake is done, for `axum::serve`.
pub struct TlsListener {
    receiver: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: std::io::Result<SocketAddr>,
    _task: AbortOnDrop,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.receiver.recv().await {
            Some(connection) => connection,
            // The accept loop ends only with this listener.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.local {
            Ok(addr) => Ok(*addr),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        }
    }
}
