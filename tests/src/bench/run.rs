//! One backend, end to end: seed, start the real server binary, measure the ceilings and the
//! three scenarios at every concurrency level, the sync bytes and the server's peak memory.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use serde_json::json;
use wp_client::proofs::{self, VersionDraft};
use wp_client::{Client, SigningKey};
use wp_schemas::api::{Changes, PassportView};
use wp_schemas::chain::version_hash;
use wp_schemas::sections::Section;
use wp_server::Store;
use wp_tests::{Backend, ServerProcess, process_database};

use super::ceiling::CeilingProcess;
use super::cpu;
use super::load::{self, Job, OpenLoopStats, Source, WindowStats, header};
use super::report::{BackendReport, Level, Memory, OpenLoopLevel, SyncBytes};
use super::seed::{self, Actor, SeedConfig, Seeded};
use super::unit_costs;

pub struct Options {
    pub duration: Duration,
    pub calibration: Duration,
    pub concurrency: Vec<usize>,
    pub repeat: usize,
    pub seed: SeedConfig,
    pub passports_per_worker: usize,
    pub server_bin: PathBuf,
    pub unit_cost_iterations: usize,
    /// Open-loop windows: shares of each scenario's best closed-loop throughput (none: skipped).
    pub open_loop_fractions: Vec<f64>,
    pub open_loop_duration: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Read,
    Write,
    Sync,
}

impl Kind {
    /// The status of a successful answer: a write creates a version.
    fn expected_status(self) -> StatusCode {
        if self == Kind::Write {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        }
    }
}

/// A worker's party and the passports it works on.
struct Worker<'a> {
    actor: &'a Actor,
    /// (passport id, grant id, record id for writes)
    targets: Vec<(String, String, String)>,
    tokens: Vec<String>,
}

/// Peak resident memory of a process, from /proc.
pub fn peak_memory(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn authorized_get(base: &str, key: &SigningKey, token: &str, path: &str) -> Job {
    let htu = format!("{base}{}", path.split('?').next().unwrap_or_default());
    Job::get(
        path.to_owned(),
        vec![
            header("authorization", &format!("DPoP {token}")),
            header("dpop", &proofs::dpop(key, "GET", &htu, Some(token))),
        ],
    )
}

/// A timed window with the CPU each process spent on it.
async fn window(
    addr: SocketAddr,
    sources: Vec<Source>,
    expected: StatusCode,
    duration: Duration,
    processes: &cpu::Processes,
) -> anyhow::Result<WindowStats> {
    let before = cpu::snapshot(processes);
    let mut stats = load::run_window(addr, sources, expected, duration).await?;
    let after = cpu::snapshot(processes);
    stats.cpu = Some(cpu::since(&before, &after, stats.ok));
    Ok(stats)
}

/// Runs `f` over `items` on every core (outside the timed windows: proofs and signatures).
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(items.len().max(1));
    let f = &f;
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || {
                        items
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| i % threads == t)
                            .map(|(i, item)| (i, f(item)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut out: Vec<(usize, R)> = handles
                .into_iter()
                .flat_map(|h| h.join().expect("a preparation thread panicked"))
                .collect();
            out.sort_by_key(|(i, _)| *i);
            out.into_iter().map(|(_, r)| r).collect()
        })
    })
}

struct Bench<'a> {
    opts: &'a Options,
    base: String,
    addr: SocketAddr,
    store: Store,
    seeded: &'a Seeded,
    employers: Vec<Worker<'a>>,
    professionals: Vec<Worker<'a>>,
    tokens_at: Option<Instant>,
    processes: cpu::Processes,
    /// Requests per second last seen per scenario and concurrency: sizes the next batch of proofs.
    estimates: HashMap<(Kind, usize), f64>,
}

impl<'a> Bench<'a> {
    fn workers(
        seeded: &'a Seeded,
        actors: &'a [Actor],
        count: usize,
        per_worker: usize,
        employer: bool,
    ) -> anyhow::Result<Vec<Worker<'a>>> {
        let mut workers: Vec<Worker> = actors
            .iter()
            .take(count)
            .map(|actor| Worker {
                actor,
                targets: Vec::new(),
                tokens: Vec::new(),
            })
            .collect();
        for p in &seeded.passports {
            let (w, grant) = if employer {
                (p.employer, &p.employer_grant)
            } else {
                (p.professional, &p.professional_grant)
            };
            if let Some(worker) = workers.get_mut(w)
                && worker.targets.len() < per_worker
            {
                worker
                    .targets
                    .push((p.id.clone(), grant.clone(), p.adjustment.clone()));
            }
        }
        if workers.iter().any(|w| w.targets.is_empty()) || workers.len() < count {
            bail!("too few passports for {count} workers: raise --passports");
        }
        Ok(workers)
    }

    /// Consent tokens for every worker, fetched again when they are 10 minutes old (they live
    /// 15 and a window lasts at most 90 s).
    async fn tokens(&mut self) -> anyhow::Result<()> {
        if self
            .tokens_at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(600))
        {
            return Ok(());
        }
        let base = self.base.clone();
        let mut set = tokio::task::JoinSet::new();
        for (role, workers) in [&self.employers, &self.professionals]
            .into_iter()
            .enumerate()
        {
            for (i, w) in workers.iter().enumerate() {
                let client = Client::for_party(&base, w.actor.key.clone(), &w.actor.id);
                let grants: Vec<String> = w.targets.iter().map(|t| t.1.clone()).collect();
                set.spawn(async move {
                    let mut tokens = Vec::new();
                    for g in &grants {
                        tokens.push(
                            client
                                .consent_token(g)
                                .await
                                .map_err(|e| anyhow::anyhow!("consent token: {e}"))?,
                        );
                    }
                    Ok::<_, anyhow::Error>((role, i, tokens))
                });
            }
        }
        while let Some(done) = set.join_next().await {
            let (role, i, tokens) = done??;
            let workers = if role == 0 {
                &mut self.employers
            } else {
                &mut self.professionals
            };
            workers[i].tokens = tokens;
        }
        self.tokens_at = Some(Instant::now());
        Ok(())
    }

    /// `n` prepared requests for each of the first `c` workers.
    async fn prepare(&mut self, kind: Kind, c: usize, n: usize) -> anyhow::Result<Vec<Source>> {
        self.tokens().await?;
        let base = self.base.as_str();
        let jobs = match kind {
            Kind::Read => parallel(&self.employers[..c], |w| {
                (0..n)
                    .map(|j| {
                        let k = j % w.targets.len();
                        let path = format!("/v1/passports/{}", w.targets[k].0);
                        authorized_get(base, &w.actor.key, &w.tokens[k], &path)
                    })
                    .collect::<Vec<_>>()
            }),
            Kind::Sync => {
                // The cursor just before each passport's latest change (a readable adjustment).
                let mut cursors = Vec::new();
                for w in &self.employers[..c] {
                    let mut mine = Vec::new();
                    for (pid, _, _) in &w.targets {
                        let p = self
                            .store
                            .passport(&wp_tests::id(pid))
                            .await
                            .map_err(|e| anyhow::anyhow!("{e}"))?
                            .context("a seeded passport is gone")?;
                        mine.push(p.seq - 1);
                    }
                    cursors.push(mine);
                }
                let workers: Vec<_> = self.employers[..c].iter().zip(cursors).collect();
                parallel(&workers, |(w, cursors)| {
                    (0..n)
                        .map(|j| {
                            let k = j % w.targets.len();
                            let path = format!(
                                "/v1/passports/{}/changes?since={}",
                                w.targets[k].0, cursors[k]
                            );
                            authorized_get(base, &w.actor.key, &w.tokens[k], &path)
                        })
                        .collect::<Vec<_>>()
                })
            }
            Kind::Write => {
                // Each worker extends its own records' histories: no conflicts between workers.
                let mut heads = Vec::new();
                for w in &self.professionals[..c] {
                    let mut mine = Vec::new();
                    for (pid, _, rid) in &w.targets {
                        let head = self
                            .store
                            .record_head(&wp_tests::id(pid), &wp_tests::id(rid))
                            .await
                            .map_err(|e| anyhow::anyhow!("{e}"))?
                            .context("a seeded record is gone")?;
                        mine.push((head.version, head.hash));
                    }
                    heads.push(mine);
                }
                let workers: Vec<_> = self.professionals[..c].iter().zip(heads).collect();
                parallel(&workers, |(w, heads)| {
                    let mut heads = heads.clone();
                    (0..n)
                        .map(|j| {
                            let k = j % w.targets.len();
                            let (pid, _, rid) = &w.targets[k];
                            let (version, prev) = &heads[k];
                            let jws = proofs::sign_version(
                                &w.actor.key,
                                &w.actor.id,
                                VersionDraft {
                                    passport: pid.clone(),
                                    record: rid.clone(),
                                    section: Section::Adjustments,
                                    version: version + 1,
                                    prev: Some(prev.clone()),
                                    body: Some(seed::body(Section::Adjustments, j)),
                                },
                            );
                            heads[k] = (version + 1, version_hash(&jws));
                            let path = format!("/v1/passports/{pid}/records/{rid}/versions");
                            let htu = format!("{base}{path}");
                            let token = &w.tokens[k];
                            Job {
                                method: Method::POST,
                                path,
                                headers: vec![
                                    header("authorization", &format!("DPoP {token}")),
                                    header(
                                        "dpop",
                                        &proofs::dpop(&w.actor.key, "POST", &htu, Some(token)),
                                    ),
                                    header("content-type", "application/json"),
                                ],
                                body: Bytes::from(json!({ "jws": jws }).to_string()),
                                tag: k as u32,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            }
        };
        Ok(jobs.into_iter().map(Source::Jobs).collect())
    }

    /// One timed window of a scenario, with enough prepared requests: sized from the last
    /// throughput seen (or a short calibration window), and run again with more if it ran out.
    async fn scenario(
        &mut self,
        kind: Kind,
        c: usize,
        floor_rps: f64,
    ) -> anyhow::Result<WindowStats> {
        let expected = kind.expected_status();
        let secs = self.opts.duration.as_secs_f64();
        // Nothing signed per request can outrun the floor; keep a margin for its noise.
        let cap = ((floor_rps * 1.5 * secs) as usize / c).max(50);
        let rps = match self.estimates.get(&(kind, c)) {
            Some(rps) => *rps,
            None => {
                let cal = self.opts.calibration;
                let n = ((floor_rps * 1.5 * cal.as_secs_f64()) as usize / c).max(20);
                let sources = self.prepare(kind, c, n).await?;
                let stats = window(self.addr, sources, expected, cal, &self.processes).await?;
                stats.rps
            }
        };
        let mut n = ((rps * 1.5 * secs) as usize / c + 20).min(cap);
        for attempt in 0..3 {
            let sources = self.prepare(kind, c, n).await?;
            let stats = window(
                self.addr,
                sources,
                expected,
                self.opts.duration,
                &self.processes,
            )
            .await?;
            // The last attempt is kept whatever happens: the report flags a batch that ran out.
            if !stats.exhausted || n >= cap || attempt == 2 {
                self.estimates.insert((kind, c), stats.rps);
                return Ok(stats);
            }
            // Nothing signed per request outruns the floor: the last attempt prepares that much.
            n = if attempt == 0 { (n * 3).min(cap) } else { cap };
            eprintln!(
                "  ({kind:?} c={c}: the prepared requests ran out; again with {n} per worker)"
            );
        }
        unreachable!("the third attempt returns")
    }

    /// One open-loop window of a scenario at `fraction` of its best closed-loop throughput,
    /// spread over the requests prepared for every worker.
    async fn open_loop(
        &mut self,
        kind: Kind,
        fraction: f64,
        max_rps: f64,
    ) -> anyhow::Result<OpenLoopStats> {
        let expected = kind.expected_status();
        let c = self.employers.len().min(self.professionals.len());
        let rate = (max_rps * fraction).max(1.0);
        let duration = self.opts.open_loop_duration;
        // Enough for the schedule, and some for the chains a failed write cuts short.
        let n = ((rate * duration.as_secs_f64() * 1.1) as usize).div_ceil(c) + 20;
        let jobs = self
            .prepare(kind, c, n)
            .await?
            .into_iter()
            .map(|source| match source {
                Source::Jobs(jobs) => jobs,
                Source::Repeat(job) => vec![job],
            })
            .collect();
        let mut stats = load::run_open_loop(
            self.addr,
            jobs,
            expected,
            rate,
            duration,
            kind == Kind::Write,
        )
        .await?;
        stats.fraction = fraction;
        stats.max_rps = max_rps;
        Ok(stats)
    }

    fn open_loop_note(kind: &str, s: &OpenLoopStats) {
        eprintln!(
            "  {kind:<7} open loop {:>3.0}%: target {:>7.0} req/s, achieved {:>7.0}  p50 {:>7.2} ms  p99 {:>7.2} ms  p99.9 {:>7.2} ms  max {:>8.2} ms  conns {}  errors {}{}",
            s.fraction * 100.0,
            s.target_rps,
            s.achieved_rps,
            s.p50_ms,
            s.p99_ms,
            s.p999_ms,
            s.max_ms,
            s.connections,
            s.errors,
            s.error_sample
                .as_deref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        );
    }

    fn window_note(kind: &str, c: usize, s: &WindowStats) {
        eprintln!(
            "  {kind:<7} c={c:<3} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  errors {}{}",
            s.rps,
            s.p50_ms,
            s.p99_ms,
            s.max_ms,
            s.errors,
            s.error_sample
                .as_deref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        );
    }
}

async fn authorized(
    addr: SocketAddr,
    base: &str,
    key: &SigningKey,
    token: &str,
    path: &str,
    extra: Option<(&'static str, String)>,
) -> anyhow::Result<(load::Answer, usize)> {
    let mut job = authorized_get(base, key, token, path);
    if let Some((name, value)) = extra {
        job.headers.push(header(name, &value));
    }
    let request_bytes = load::request_wire_bytes(&addr.to_string(), &job);
    Ok((load::once(addr, job).await?, request_bytes))
}

/// Bytes of a full fetch of the large passport against an incremental sync after one change.
async fn sync_bytes(addr: SocketAddr, base: &str, seeded: &Seeded) -> anyhow::Result<SyncBytes> {
    let big = &seeded.big;
    let owner = Client::for_party(base, big.owner.key.clone(), &big.owner.id);
    let token = owner
        .access_token()
        .await
        .map_err(|e| anyhow::anyhow!("owner token: {e}"))?;
    let key = &big.owner.key;
    let (full, request_wire_bytes) = authorized(
        addr,
        base,
        key,
        &token,
        &format!("/v1/passports/{}", big.id),
        None,
    )
    .await?;
    if full.status != StatusCode::OK {
        bail!("full fetch: {}", full.status);
    }
    let view: PassportView = serde_json::from_slice(&full.body)?;
    // The seeded data is what the server would have stored: the client library verifies every
    // signature and chain of the passport, and the hash chain of its access log.
    let mine = owner.own_passport(&big.id);
    mine.read()
        .await
        .map_err(|e| anyhow::anyhow!("the seeded passport does not verify: {e}"))?;
    mine.verified_access_log()
        .await
        .map_err(|e| anyhow::anyhow!("the seeded access log does not verify: {e}"))?;
    let mut since = 0;
    let (mut since_0_bytes, mut pages) = (0, 0);
    loop {
        let (page, _) = authorized(
            addr,
            base,
            key,
            &token,
            &format!("/v1/passports/{}/changes?since={since}", big.id),
            None,
        )
        .await?;
        let changes: Changes = serde_json::from_slice(&page.body)
            .with_context(|| format!("changes page: {}", page.status))?;
        since_0_bytes += page.body.len();
        pages += 1;
        since = changes.next_since;
        if !changes.more {
            break;
        }
    }
    // One record changes, through the API as its owner would change it.
    let section = view
        .sections
        .iter()
        .find_map(|(s, list)| list.iter().any(|v| v.record_id == big.record).then_some(*s))
        .context("the record to change is not in the full fetch")?;
    owner
        .own_passport(&big.id)
        .update_record(&big.record, seed::body(section, 1_000_001))
        .await
        .map_err(|e| anyhow::anyhow!("changing one record: {e}"))?;
    let (incremental, _) = authorized(
        addr,
        base,
        key,
        &token,
        &format!("/v1/passports/{}/changes?since={since}", big.id),
        None,
    )
    .await?;
    let changes: Changes = serde_json::from_slice(&incremental.body)
        .with_context(|| format!("incremental sync: {}", incremental.status))?;
    let etag = incremental
        .headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (unchanged, _) = authorized(
        addr,
        base,
        key,
        &token,
        &format!(
            "/v1/passports/{}/changes?since={}",
            big.id, changes.next_since
        ),
        Some(("if-none-match", etag)),
    )
    .await?;
    let full_wire = full.head_bytes + full.body.len();
    let incremental_wire = incremental.head_bytes + incremental.body.len();
    Ok(SyncBytes {
        records: big.records,
        full_fetch_body_bytes: full.body.len(),
        full_fetch_wire_bytes: full_wire,
        full_fetch_records: view.sections.values().map(Vec::len).sum(),
        changes_since_0_body_bytes: since_0_bytes,
        changes_since_0_pages: pages,
        incremental_body_bytes: incremental.body.len(),
        incremental_wire_bytes: incremental_wire,
        incremental_versions: changes.versions.len(),
        unchanged_304_wire_bytes: if unchanged.status == StatusCode::NOT_MODIFIED {
            unchanged.head_bytes + unchanged.body.len()
        } else {
            0
        },
        request_wire_bytes,
        ratio_body: incremental.body.len() as f64 / full.body.len().max(1) as f64,
        ratio_wire: incremental_wire as f64 / full_wire.max(1) as f64,
    })
}

/// Seeds, serves and measures one backend.
pub async fn backend(opts: &Options, backend: Backend) -> anyhow::Result<BackendReport> {
    let started = Instant::now();
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let dir = tempfile::Builder::new().prefix("wp-bench-").tempdir()?;
    let (database_url, _database) = process_database(backend, dir.path()).await;
    eprintln!(
        "[{name}] seeding {} passports of {}-{} records...",
        opts.seed.passports, opts.seed.min_records, opts.seed.max_records
    );
    let seeded = seed::seed(&database_url, dir.path(), &opts.seed).await?;
    eprintln!(
        "[{name}] seeded {} versions in {:.1} s ({:.0} MiB)",
        seeded.stats.versions,
        seeded.stats.seconds,
        seeded.stats.database_bytes as f64 / 1048576.0
    );

    let server_bin = opts.server_bin.to_string_lossy().into_owned();
    // Every load client comes from 127.0.0.1 and asks for tokens as fast as it can: the rate
    // limits of the unauthenticated routes are off, so that the run measures the service.
    let unlimited = ["--rate-limit-per-address", "0", "--rate-limit-global", "0"];
    let server = ServerProcess::spawn(&server_bin, dir.path(), &database_url, &unlimited).await;
    let addr: SocketAddr = server
        .url
        .trim_start_matches("http://")
        .parse()
        .context("server address")?;
    let store = Store::connect(&database_url, 2)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let database = match &store {
        Store::Sqlite(pool, _) => format!(
            "SQLite {}",
            sqlx::query_scalar::<_, String>("SELECT sqlite_version()")
                .fetch_one(pool)
                .await?
        ),
        Store::Postgres(pool) => sqlx::query_scalar::<_, String>("SHOW server_version")
            .fetch_one(pool)
            .await
            .map(|v| format!("PostgreSQL {v}"))?,
    };
    let max_c = *opts.concurrency.iter().max().unwrap_or(&1);
    let per_worker = opts.passports_per_worker;
    let mut bench = Bench {
        opts,
        base: server.url.clone(),
        addr,
        store,
        seeded: &seeded,
        employers: Bench::workers(&seeded, &seeded.employers, max_c, per_worker, true)?,
        professionals: Bench::workers(&seeded, &seeded.professionals, max_c, per_worker, false)?,
        tokens_at: None,
        processes: cpu::Processes {
            server: Some(server.pid()),
            ceiling: None,
        },
        estimates: HashMap::new(),
    };
    bench.tokens().await?;

    // A typical read: what the ceilings answer with.
    let mut sizes = Vec::new();
    for w in bench.employers.iter().take(16) {
        let path = format!("/v1/passports/{}", w.targets[0].0);
        let answer = load::once(
            addr,
            authorized_get(&bench.base, &w.actor.key, &w.tokens[0], &path),
        )
        .await?;
        if answer.status != StatusCode::OK {
            bail!(
                "a sample read answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
        }
        sizes.push(answer.body.len());
    }
    sizes.sort_unstable();
    let typical_read_bytes = sizes[sizes.len() / 2];
    let sync = sync_bytes(addr, &bench.base, bench.seeded).await?;
    eprintln!(
        "[{name}] typical read {typical_read_bytes} bytes; sync: full {} bytes, incremental {} bytes",
        sync.full_fetch_body_bytes, sync.incremental_body_bytes
    );

    // What the pieces cost on this machine, on the idle server's database.
    let first = &bench.employers[0];
    let unit_costs = unit_costs::measure(
        &bench.store,
        &unit_costs::Sample {
            issuer: &bench.base,
            data_dir: dir.path(),
            passport: &first.targets[0].0,
            key: &first.actor.key,
            token: &first.tokens[0],
        },
        opts.unit_cost_iterations,
    )
    .await?;

    // The ceilings get requests shaped like the real ones: a token and a DPoP proof.
    let ceiling_key = SigningKey::generate();
    let ceiling = CeilingProcess::spawn(typical_read_bytes, &ceiling_key.public_jwk().x)?;
    bench.processes.ceiling = Some(ceiling.pid());
    let token = &bench.employers[0].tokens[0];
    let htu = format!("http://{}/verify", ceiling.addr);
    let headers = vec![
        header("authorization", &format!("DPoP {token}")),
        header(
            "dpop",
            &proofs::dpop(&ceiling_key, "GET", &htu, Some(token)),
        ),
    ];
    let bare_job = Job::get("/bare".into(), headers.clone());
    let verify_job = Job::get("/verify".into(), headers);
    // The proof the ceiling verifies must verify: check once.
    let check = load::once(ceiling.addr, verify_job.clone()).await?;
    if check.status != StatusCode::OK {
        bail!("the ceiling's /verify refused its proof: {}", check.status);
    }

    let mut levels = Vec::new();
    for &c in &opts.concurrency {
        let mut samples: [Vec<WindowStats>; 5] = Default::default();
        for _ in 0..opts.repeat {
            let repeat = |job: &Job| (0..c).map(|_| Source::Repeat(job.clone())).collect();
            let bare = window(
                ceiling.addr,
                repeat(&bare_job),
                StatusCode::OK,
                opts.duration,
                &bench.processes,
            )
            .await?;
            Bench::window_note("bare", c, &bare);
            let verify = window(
                ceiling.addr,
                repeat(&verify_job),
                StatusCode::OK,
                opts.duration,
                &bench.processes,
            )
            .await?;
            Bench::window_note("verify", c, &verify);
            let floor = verify.rps;
            samples[0].push(bare);
            samples[1].push(verify);
            for (i, (kind, label)) in [
                (Kind::Read, "read"),
                (Kind::Write, "write"),
                (Kind::Sync, "sync"),
            ]
            .into_iter()
            .enumerate()
            {
                let stats = bench.scenario(kind, c, floor).await?;
                Bench::window_note(label, c, &stats);
                samples[2 + i].push(stats);
            }
        }
        levels.push(Level::new(c, samples));
    }

    // Peak memory of the closed loop, as before the open loop existed (its connections are more).
    let server_peak = peak_memory(server.pid());
    let mut memory = Memory {
        server_peak_bytes: server_peak,
        server_peak_mib: server_peak as f64 / 1048576.0,
        ceiling_peak_mib: peak_memory(ceiling.pid()) as f64 / 1048576.0,
        server_peak_mib_after_open_loop: None,
    };

    // The open loop: each scenario at fixed arrival rates, shares of its best closed-loop rate.
    let best = |pick: fn(&Level) -> f64| levels.iter().map(pick).fold(0.0, f64::max);
    let max_rps = [
        best(|l| l.read.rps),
        best(|l| l.write.rps),
        best(|l| l.sync.rps),
    ];
    let mut open_loop = Vec::new();
    for &fraction in &opts.open_loop_fractions {
        let mut results = Vec::new();
        for (i, (kind, label)) in [
            (Kind::Read, "read"),
            (Kind::Write, "write"),
            (Kind::Sync, "sync"),
        ]
        .into_iter()
        .enumerate()
        {
            let stats = bench.open_loop(kind, fraction, max_rps[i]).await?;
            Bench::open_loop_note(label, &stats);
            results.push(stats);
        }
        let [read, write, sync] = <[OpenLoopStats; 3]>::try_from(results)
            .map_err(|_| anyhow::anyhow!("three open-loop scenarios"))?;
        open_loop.push(OpenLoopLevel {
            fraction,
            read,
            write,
            sync,
        });
    }
    if !open_loop.is_empty() {
        memory.server_peak_mib_after_open_loop = Some(peak_memory(server.pid()) as f64 / 1048576.0);
    }
    drop(ceiling);
    bench.store.close().await;
    drop(server);
    let mut report = BackendReport {
        backend: name.into(),
        database,
        seed: seeded.stats.clone(),
        typical_read_bytes,
        levels,
        open_loop,
        memory,
        sync_bytes: sync,
        unit_costs,
        targets: Vec::new(),
        seconds: started.elapsed().as_secs_f64(),
    };
    report.evaluate();
    Ok(report)
}
