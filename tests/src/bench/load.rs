//! The load generator: N workers, one keep-alive HTTP/1.1 connection each, for a fixed time,
//! every latency recorded in an HDR histogram (microseconds, 3 significant digits).
//!
//! Requests that need a DPoP proof are prepared before the timed window (see `Source::Jobs`):
//! signing costs client CPU that would otherwise compete with the server on the same cores.
//!
//! `run_open_loop` is the other mode: requests sent on a fixed schedule whatever the answers do,
//! each latency measured from the time the request was meant to be sent (see there).

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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

/// The figures of one open-loop window.
#[derive(Debug, Clone, Serialize)]
pub struct OpenLoopStats {
    /// The share of `max_rps` this window aimed at.
    pub fraction: f64,
    /// The best throughput of the closed loop for this scenario (any concurrency), req/s.
    pub max_rps: f64,
    /// The arrival rate asked for: `fraction` × `max_rps`.
    pub target_rps: f64,
    /// Requests sent per second of the window (below the target only if the generator lagged or
    /// its prepared requests ran out).
    pub sent_rps: f64,
    /// Expected answers (200, or 201 for writes) per second, from the window's start to its
    /// last answer.
    pub achieved_rps: f64,
    /// The window's length (the schedule) and the time until the last answer.
    pub seconds: f64,
    pub seconds_to_last_answer: f64,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    /// Latencies from each request's intended send time to the last byte of its answer.
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Connections open at once at the most (the generator opens one when none is idle).
    pub connections: usize,
    /// The prepared requests ran out before the schedule's end.
    pub exhausted: bool,
    pub statuses: BTreeMap<u16, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_sample: Option<String>,
}

/// Idle keep-alive connections, shared by the requests of an open-loop window.
struct Pool {
    addr: SocketAddr,
    host: String,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
    open: AtomicUsize,
    peak: AtomicUsize,
    /// (source, tag) of the chains that failed: their later jobs are not sent.
    failed: Mutex<HashSet<(usize, u32)>>,
    /// (source, tag) of the chains with a request in flight.
    in_flight: Mutex<HashSet<(usize, u32)>>,
    /// Told when a chain's request is answered.
    freed: tokio::sync::Notify,
}

impl Pool {
    fn opened(&self) {
        let open = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(open, Ordering::Relaxed);
    }
}

/// What became of one open-loop request.
struct Outcome {
    /// From the intended send time; None if no answer came (connection error).
    micros: Option<u64>,
    status: Option<StatusCode>,
    ok: bool,
    body_sample: Option<String>,
    done: Instant,
}

async fn open_loop_request(
    pool: Arc<Pool>,
    source: usize,
    job: Job,
    expected: StatusCode,
    chained: bool,
    intended: Instant,
) -> Outcome {
    let tag = job.tag;
    let idle = pool.idle.lock().expect("pool lock").pop();
    let sender = match idle {
        Some(sender) => Ok(sender),
        None => connect(pool.addr).await.inspect(|_| pool.opened()),
    };
    let answer = match sender {
        Ok(mut sender) => {
            let answer = send(&mut sender, &pool.host, job).await;
            if answer.is_ok() {
                pool.idle.lock().expect("pool lock").push(sender);
            } else {
                pool.open.fetch_sub(1, Ordering::Relaxed);
            }
            answer
        }
        Err(e) => Err(e),
    };
    let done = Instant::now();
    let fail = || {
        if chained {
            pool.failed
                .lock()
                .expect("failed lock")
                .insert((source, tag));
        }
    };
    let answered = || {
        if chained {
            pool.in_flight
                .lock()
                .expect("in-flight lock")
                .remove(&(source, tag));
            pool.freed.notify_one();
        }
    };
    match answer {
        Ok(Answer { status, body, .. }) => {
            let ok = status == expected;
            if !ok {
                fail();
            }
            answered();
            Outcome {
                micros: Some(done.duration_since(intended).as_micros() as u64),
                status: Some(status),
                ok,
                body_sample: (!ok).then(|| {
                    format!(
                        "{status}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(300)])
                    )
                }),
                done,
            }
        }
        Err(e) => {
            fail();
            answered();
            Outcome {
                micros: None,
                status: None,
                ok: false,
                body_sample: Some(format!("connection: {e:#}")),
                done,
            }
        }
    }
}

/// Runs one open-loop window: requests sent at a fixed arrival rate, `rate` per second for
/// `duration`, whatever the answers do.
///
/// The schedule fixes every request's intended send time (`start + i / rate`); a dispatcher
/// sends each at its time on its own task, over an idle keep-alive connection, or a new one when
/// all are busy, so that a slow answer never delays the next send. Each latency runs from the
/// intended send time, not from the actual one: if the generator itself falls behind, the wait
/// counts, as it would for a user (the coordinated-omission correction of wrk2 and HdrHistogram).
///
/// The requests are taken in turn from the `sources` (each a worker's prepared requests, in
/// order). With `chained` (the versions of one record), a source whose next request's chain (its
/// `tag`) has one in flight is passed over for the next in turn; when all are, the request waits
/// for one (late, its latency still counted from its intended time: the rate then reached shows
/// as `sent_rps`); once a request of a chain fails, the rest of that chain in that source is
/// skipped. Answers still missing 30 s after the
/// schedule's end are counted as errors, so that the window always ends.
pub async fn run_open_loop(
    addr: SocketAddr,
    sources: Vec<Vec<Job>>,
    expected: StatusCode,
    rate: f64,
    duration: Duration,
    chained: bool,
) -> anyhow::Result<OpenLoopStats> {
    anyhow::ensure!(
        rate > 0.0 && !sources.is_empty(),
        "an open loop needs a rate and requests"
    );
    let pool = Arc::new(Pool {
        addr,
        host: addr.to_string(),
        idle: Mutex::new(Vec::new()),
        open: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
        failed: Mutex::new(HashSet::new()),
        in_flight: Mutex::new(HashSet::new()),
        freed: tokio::sync::Notify::new(),
    });
    // A connection per source ready before the start (more open as the answers need them).
    for _ in 0..sources.len() {
        let sender = connect(addr).await?;
        pool.opened();
        pool.idle.lock().expect("pool lock").push(sender);
    }
    let mut queues: Vec<_> = sources
        .into_iter()
        .map(|jobs| jobs.into_iter().peekable())
        .collect();
    let total = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    let start = Instant::now() + Duration::from_millis(20);
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let mut stats = OpenLoopStats {
        fraction: 0.0,
        max_rps: 0.0,
        target_rps: rate,
        sent_rps: 0.0,
        achieved_rps: 0.0,
        seconds: duration.as_secs_f64(),
        seconds_to_last_answer: 0.0,
        requests: 0,
        ok: 0,
        errors: 0,
        p50_ms: 0.0,
        p90_ms: 0.0,
        p99_ms: 0.0,
        p999_ms: 0.0,
        max_ms: 0.0,
        mean_ms: 0.0,
        connections: 0,
        exhausted: false,
        statuses: BTreeMap::new(),
        error_sample: None,
    };
    let mut last_answer = start;
    let mut record = |outcome: Outcome, stats: &mut OpenLoopStats| {
        if let Some(micros) = outcome.micros {
            histogram.saturating_record(micros.max(1));
        }
        if let Some(status) = outcome.status {
            *stats.statuses.entry(status.as_u16()).or_default() += 1;
        }
        if outcome.ok {
            stats.ok += 1;
        } else {
            stats.errors += 1;
            if stats.error_sample.is_none() {
                stats.error_sample = outcome.body_sample;
            }
        }
        last_answer = last_answer.max(outcome.done);
    };
    let mut tasks = tokio::task::JoinSet::new();
    let mut sent = 0u64;
    let mut next = 0;
    for i in 0..total {
        let intended = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(intended.into()).await;
        // The next source in turn; for chains (the versions of one record), the next whose next
        // request's chain has none in flight, since a version must not overtake the one it
        // extends: if every chain is busy, the request waits for one, and the wait counts in its
        // latency (from its intended send time).
        let picked = loop {
            let free = {
                let failed = pool.failed.lock().expect("failed lock");
                let in_flight = pool.in_flight.lock().expect("in-flight lock");
                let n = queues.len();
                let mut free = None;
                let mut any = false;
                for k in 0..n {
                    let s = (next + k) % n;
                    while queues[s]
                        .next_if(|j| chained && failed.contains(&(s, j.tag)))
                        .is_some()
                    {}
                    if let Some(j) = queues[s].peek() {
                        any = true;
                        if !chained || !in_flight.contains(&(s, j.tag)) {
                            free = Some(s);
                            break;
                        }
                    }
                }
                if !any {
                    break None;
                }
                free
            };
            match free {
                Some(s) => break queues[s].next().map(|job| (s, job)),
                None => {
                    let _ =
                        tokio::time::timeout(Duration::from_millis(1), pool.freed.notified()).await;
                    while let Some(done) = tasks.try_join_next() {
                        record(done.context("an open-loop request panicked")?, &mut stats);
                    }
                }
            }
        };
        let Some((s, job)) = picked else {
            stats.exhausted = true;
            break;
        };
        next = (s + 1) % queues.len();
        if chained {
            pool.in_flight
                .lock()
                .expect("in-flight lock")
                .insert((s, job.tag));
        }
        tasks.spawn(open_loop_request(
            pool.clone(),
            s,
            job,
            expected,
            chained,
            intended,
        ));
        sent += 1;
        while let Some(done) = tasks.try_join_next() {
            record(done.context("an open-loop request panicked")?, &mut stats);
        }
    }
    let sent_seconds = start.elapsed().as_secs_f64().max(duration.as_secs_f64());
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(give_up.into(), tasks.join_next()).await {
            Ok(Some(done)) => record(done.context("an open-loop request panicked")?, &mut stats),
            Ok(None) => break,
            Err(_) => {
                let missing = tasks.len() as u64;
                tasks.abort_all();
                stats.errors += missing;
                if stats.error_sample.is_none() {
                    stats.error_sample = Some(format!("{missing} requests unanswered after 30 s"));
                }
                break;
            }
        }
    }
    stats.requests = sent;
    stats.sent_rps = sent as f64 / sent_seconds;
    stats.seconds_to_last_answer = last_answer.duration_since(start).as_secs_f64();
    stats.achieved_rps = stats.ok as f64 / stats.seconds_to_last_answer.max(stats.seconds);
    stats.connections = pool.peak.load(Ordering::Relaxed);
    if !histogram.is_empty() {
        stats.p50_ms = ms(histogram.value_at_quantile(0.50));
        stats.p90_ms = ms(histogram.value_at_quantile(0.90));
        stats.p99_ms = ms(histogram.value_at_quantile(0.99));
        stats.p999_ms = ms(histogram.value_at_quantile(0.999));
        stats.max_ms = ms(histogram.max());
        stats.mean_ms = histogram.mean() / 1000.0;
    }
    Ok(stats)
}
