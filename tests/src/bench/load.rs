//! The load generator: N workers, one keep-alive HTTP/1.1 connection each, for a fixed time,
//! every latency recorded in an HDR histogram (microseconds, 3 significant digits).
//!
//! Requests that need a DPoP proof are prepared before the timed window (see `Source::Jobs`):
//! signing costs client CPU that would otherwise compete with the server on the same cores.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;

/// One prepared request.
#[derive(Clone)]
pub struct Job {
    pub method: Method,
    /// Path and query.
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// Jobs with the same tag form a chain (the versions of one record): once one fails, the
    /// rest of its chain would fail too and is skipped.
    pub tag: u32,
}

impl Job {
    pub fn get(path: String, headers: Vec<(HeaderName, HeaderValue)>) -> Self {
        Job {
            method: Method::GET,
            path,
            headers,
            body: Bytes::new(),
            tag: 0,
        }
    }
}

/// What a worker sends.
pub enum Source {
    /// Prepared requests, each sent once, in order. The worker stops early if it runs out.
    Jobs(Vec<Job>),
    /// The same request again and again (the ceiling endpoints).
    Repeat(Job),
}

/// A header value that is known to be valid (tokens, proofs, JSON types).
pub fn header(name: &'static str, value: &str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_str(value).expect("a valid header value"),
    )
}

struct WorkerResult {
    histogram: Histogram<u64>,
    ok: u64,
    errors: u64,
    statuses: BTreeMap<u16, u64>,
    response_bytes: u64,
    exhausted: bool,
    elapsed: Duration,
    error_sample: Option<String>,
    failed_tags: HashSet<u32>,
}

/// The figures of one timed window.
#[derive(Debug, Clone, Serialize)]
pub struct WindowStats {
    pub concurrency: usize,
    pub seconds: f64,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Mean response body size of the successful responses.
    pub response_bytes: f64,
    /// A worker ran out of prepared requests before the window ended.
    pub exhausted: bool,
    pub statuses: BTreeMap<u16, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_sample: Option<String>,
    /// CPU per successful request by process, filled in by the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<super::cpu::CpuUse>,
    #[serde(skip)]
    pub failed_tags: Vec<HashSet<u32>>,
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// A response, with what its status line and headers took on the wire.
pub struct Answer {
    pub status: StatusCode,
    pub head_bytes: usize,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

/// Sends one request on `sender`.
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    host: &str,
    job: Job,
) -> anyhow::Result<Answer> {
    let mut builder = Request::builder()
        .method(job.method)
        .uri(job.path)
        .header(hyper::header::HOST, host);
    for (name, value) in job.headers {
        builder = builder.header(name, value);
    }
    let request = builder.body(Full::new(job.body))?;
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    // What the status line and headers took on the wire.
    let head_bytes = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_str(),
        parts.status.canonical_reason().unwrap_or_default()
    )
    .len()
        + parts
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + 2 + v.len() + 2)
            .sum::<usize>()
        + 2;
    Ok(Answer {
        status: parts.status,
        head_bytes,
        headers: parts.headers,
        body,
    })
}

/// One request on a fresh connection, outside any timed window.
pub async fn once(addr: SocketAddr, job: Job) -> anyhow::Result<Answer> {
    let mut sender = connect(addr).await?;
    send(&mut sender, &addr.to_string(), job).await
}

/// The size of a request on the wire (request line, headers, body), as `send` writes it.
pub fn request_wire_bytes(host: &str, job: &Job) -> usize {
    format!("{} {} HTTP/1.1\r\n", job.method, job.path).len()
        + "host: ".len()
        + host.len()
        + 2
        + job
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + 2 + v.len() + 2)
            .sum::<usize>()
        + if job.body.is_empty() {
            0
        } else {
            format!("content-length: {}\r\n", job.body.len()).len()
        }
        + 2
        + job.body.len()
}

async fn worker(
    addr: SocketAddr,
    source: Source,
    expected: StatusCode,
    start: Instant,
    deadline: Instant,
) -> anyhow::Result<WorkerResult> {
    let host = addr.to_string();
    let mut sender = connect(addr).await?;
    let mut result = WorkerResult {
        histogram: Histogram::new_with_bounds(1, 120_000_000, 3)?,
        ok: 0,
        errors: 0,
        statuses: BTreeMap::new(),
        response_bytes: 0,
        exhausted: false,
        elapsed: Duration::ZERO,
        error_sample: None,
        failed_tags: HashSet::new(),
    };
    let (mut jobs, repeat) = match source {
        Source::Jobs(jobs) => (jobs.into_iter(), None),
        Source::Repeat(job) => (Vec::new().into_iter(), Some(job)),
    };
    tokio::time::sleep_until(start.into()).await;
    let mut connection_failures = 0;
    while Instant::now() < deadline {
        let job = match &repeat {
            Some(job) => job.clone(),
            None => match jobs.by_ref().find(|j| !result.failed_tags.contains(&j.tag)) {
                Some(job) => job,
                None => {
                    result.exhausted = true;
                    break;
                }
            },
        };
        let tag = job.tag;
        let sent = Instant::now();
        match send(&mut sender, &host, job).await {
            Ok(Answer { status, body, .. }) => {
                let micros = sent.elapsed().as_micros() as u64;
                result.histogram.saturating_record(micros.max(1));
                *result.statuses.entry(status.as_u16()).or_default() += 1;
                if status == expected {
                    result.ok += 1;
                    result.response_bytes += body.len() as u64;
                } else {
                    result.errors += 1;
                    result.failed_tags.insert(tag);
                    if result.error_sample.is_none() {
                        result.error_sample = Some(format!(
                            "{status}: {}",
                            String::from_utf8_lossy(&body[..body.len().min(300)])
                        ));
                    }
                }
            }
            Err(e) => {
                result.errors += 1;
                result.failed_tags.insert(tag);
                if result.error_sample.is_none() {
                    result.error_sample = Some(format!("connection: {e:#}"));
                }
                connection_failures += 1;
                if connection_failures > 10 {
                    break;
                }
                sender = connect(addr).await?;
            }
        }
    }
    result.elapsed = start.elapsed();
    Ok(result)
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// Runs one timed window: every source on its own connection, all starting together.
pub async fn run_window(
    addr: SocketAddr,
    sources: Vec<Source>,
    expected: StatusCode,
    duration: Duration,
) -> anyhow::Result<WindowStats> {
    let concurrency = sources.len();
    // Connect first (each worker does), then start together.
    let start = Instant::now() + Duration::from_millis(100 + 2 * concurrency as u64);
    let deadline = start + duration;
    let handles: Vec<_> = sources
        .into_iter()
        .map(|source| tokio::spawn(worker(addr, source, expected, start, deadline)))
        .collect();
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let mut stats = WindowStats {
        concurrency,
        seconds: 0.0,
        requests: 0,
        ok: 0,
        errors: 0,
        rps: 0.0,
        p50_ms: 0.0,
        p90_ms: 0.0,
        p99_ms: 0.0,
        max_ms: 0.0,
        mean_ms: 0.0,
        response_bytes: 0.0,
        exhausted: false,
        statuses: BTreeMap::new(),
        error_sample: None,
        cpu: None,
        failed_tags: Vec::new(),
    };
    let mut bytes = 0u64;
    let mut elapsed = Duration::ZERO;
    for handle in handles {
        let r = handle.await.context("a load worker panicked")??;
        histogram.add(&r.histogram)?;
        stats.ok += r.ok;
        stats.errors += r.errors;
        bytes += r.response_bytes;
        stats.exhausted |= r.exhausted;
        for (status, n) in r.statuses {
            *stats.statuses.entry(status).or_default() += n;
        }
        if stats.error_sample.is_none() {
            stats.error_sample = r.error_sample;
        }
        stats.failed_tags.push(r.failed_tags);
        elapsed = elapsed.max(r.elapsed);
    }
    stats.requests = stats.ok + stats.errors;
    stats.seconds = elapsed.as_secs_f64();
    // Throughput counts the answers that were the expected ones.
    stats.rps = if stats.seconds > 0.0 {
        stats.ok as f64 / stats.seconds
    } else {
        0.0
    };
    if !histogram.is_empty() {
        stats.p50_ms = ms(histogram.value_at_quantile(0.50));
        stats.p90_ms = ms(histogram.value_at_quantile(0.90));
        stats.p99_ms = ms(histogram.value_at_quantile(0.99));
        stats.max_ms = ms(histogram.max());
        stats.mean_ms = histogram.mean() / 1000.0;
    }
    stats.response_bytes = if stats.ok > 0 {
        bytes as f64 / stats.ok as f64
    } else {
        0.0
    };
    Ok(stats)
}
