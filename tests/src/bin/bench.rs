//! The load benchmark (issue #6): the real server binary in release mode on 127.0.0.1, on SQLite
//! and on PostgreSQL, a realistic seeded data set, and a load generator of its own driving
//! (a) employers reading passports with consent tokens and DPoP proofs, (b) occupational
//! therapists writing new record versions, (c) employers syncing incrementally after a change,
//! next to two ceilings measured in the same run: a bare axum endpoint (the HTTP ceiling) and
//! the same endpoint verifying one Ed25519 signature (the DPoP floor).
//!
//! ```text
//! cargo build --release -p wp-tests --bins
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres ./target/release/bench
//! ```
//!
//! Results go to `tests/bench/latest.{json,md}`. `--smoke` runs a tiny data set for half a second per
//! window (the test suite runs it: `tests/tests/bench_smoke.rs`). After the closed loop, an open loop
//! (`--open-loop 0.25,0.5,0.75`) sends each scenario at fixed arrival rates, shares of its best
//! closed-loop throughput, and measures latency from each request's intended send time.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use wp_tests::Backend;

#[path = "../bench/ceiling.rs"]
mod ceiling;
#[path = "../bench/cpu.rs"]
mod cpu;
#[path = "../bench/load.rs"]
mod load;
#[path = "../bench/report.rs"]
mod report;
#[path = "../bench/run.rs"]
mod run;
#[path = "../bench/seed.rs"]
mod seed;
#[path = "../bench/unit_costs.rs"]
mod unit_costs;

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "Work Passport load benchmark: the real server on SQLite and PostgreSQL against the HTTP ceiling and the DPoP floor"
)]
struct Args {
    /// A tiny data set and half a second of load per window: checks that everything runs.
    #[arg(long)]
    smoke: bool,
    /// Backends to measure (default: sqlite, and postgres when TEST_DATABASE_URL is set).
    #[arg(long, value_delimiter = ',')]
    backends: Option<Vec<String>>,
    /// Seconds of load per window (at most 90: prepared DPoP proofs live 120 s).
    #[arg(long)]
    duration: Option<f64>,
    /// Passports in the data set (each with 20-50 records).
    #[arg(long)]
    passports: Option<usize>,
    /// Concurrent connections, one level after another.
    #[arg(long, value_delimiter = ',')]
    concurrency: Option<Vec<usize>>,
    /// Windows per scenario and level; the report gives the medians.
    #[arg(long)]
    repeat: Option<usize>,
    /// Records of the passport whose full fetch is compared with an incremental sync.
    #[arg(long)]
    sync_records: Option<usize>,
    /// Open-loop windows after the closed loop: each scenario at a fixed arrival rate, these
    /// shares of its best closed-loop req/s (default 0.25,0.5,0.75; 0.5 in smoke mode; `none`
    /// skips them). Latency runs from each request's intended send time.
    #[arg(long, value_delimiter = ',')]
    open_loop: Option<Vec<String>>,
    /// Seconds per open-loop window (default: --duration; 0.25 in smoke mode).
    #[arg(long)]
    open_loop_duration: Option<f64>,
    /// Where latest.json and latest.md go (default: tests/bench in the source tree).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The server binary (default: wp-test-server next to this executable).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Internal: serve the ceiling endpoints (spawned by the bench itself).
    #[arg(long, hide = true)]
    serve_ceiling: bool,
    #[arg(long, hide = true, default_value_t = 12_000)]
    body_bytes: usize,
    #[arg(long, hide = true, default_value = "")]
    verify_key: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.serve_ceiling {
        return ceiling::serve(args.body_bytes, &args.verify_key).await;
    }
    let started = Instant::now();
    let load_average = || {
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let load_average_at_start = load_average();
    // Described before the run: the commit is the one the binaries were built from, as far as
    // the tree can tell (the server binary's build time is reported too).
    let machine = report::Machine::describe();
    let started_at = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    let smoke = args.smoke;
    let duration = args.duration.unwrap_or(if smoke { 0.5 } else { 5.0 });
    if !(0.1..=90.0).contains(&duration) {
        bail!("--duration must be between 0.1 and 90 seconds");
    }
    let concurrency = args
        .concurrency
        .clone()
        .unwrap_or_else(|| if smoke { vec![1, 4] } else { vec![1, 16, 64] });
    if concurrency.is_empty() || concurrency.contains(&0) {
        bail!("--concurrency needs levels of at least 1");
    }
    let max_c = *concurrency.iter().max().unwrap_or(&1);
    let passports = args.passports.unwrap_or(if smoke { 16 } else { 10_000 });
    if passports < max_c {
        bail!("--passports must be at least the highest concurrency ({max_c})");
    }
    let open_loop_fractions = match &args.open_loop {
        None if smoke => vec![0.5],
        None => vec![0.25, 0.5, 0.75],
        Some(list) if list.len() == 1 && list[0].trim() == "none" => Vec::new(),
        Some(list) => list
            .iter()
            .map(|f| match f.trim().parse::<f64>() {
                Ok(f) if f > 0.0 && f <= 2.0 => Ok(f),
                _ => bail!(
                    "--open-loop takes shares of the best throughput, e.g. 0.25,0.5,0.75 (or none)"
                ),
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
    };
    let open_loop_duration = args
        .open_loop_duration
        .unwrap_or(if smoke { 0.25 } else { duration });
    if !(0.1..=90.0).contains(&open_loop_duration) {
        bail!("--open-loop-duration must be between 0.1 and 90 seconds");
    }
    let repeat = args.repeat.unwrap_or(if smoke { 1 } else { 3 }).max(1);
    let sync_records = args.sync_records.unwrap_or(if smoke { 100 } else { 1000 });
    let (min_records, max_records) = if smoke { (20, 30) } else { (20, 50) };
    let employers = passports.min(max_c.max(256));
    let professionals = passports.min(max_c.max(128));
    let passports_per_worker = if smoke { 2 } else { 8 };

    let postgres_url = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let mut skipped = Vec::new();
    let backends = match &args.backends {
        Some(names) => names
            .iter()
            .map(|n| match n.trim() {
                "sqlite" => Ok(Backend::Sqlite),
                "postgres" | "postgresql" if postgres_url.is_some() => Ok(Backend::Postgres),
                "postgres" | "postgresql" => {
                    bail!("postgres needs TEST_DATABASE_URL=postgres://... (a fresh database is created in it)")
                }
                other => bail!("unknown backend {other}: sqlite or postgres"),
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        None if postgres_url.is_some() => vec![Backend::Sqlite, Backend::Postgres],
        None => {
            eprintln!("PostgreSQL skipped: set TEST_DATABASE_URL=postgres://... to measure it too");
            skipped.push("PostgreSQL (TEST_DATABASE_URL was not set)".to_owned());
            vec![Backend::Sqlite]
        }
    };
    let server_bin = match args.server_bin.clone() {
        Some(path) => path,
        None => std::env::current_exe()?
            .parent()
            .context("the bench's directory")?
            .join("wp-test-server"),
    };
    if !server_bin.exists() {
        bail!(
            "no server binary at {} (build it: cargo build --release -p wp-tests --bins)",
            server_bin.display()
        );
    }
    let out = args.out.clone().unwrap_or_else(|| {
        if smoke {
            std::env::temp_dir().join("wp-bench-smoke")
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench")
        }
    });
    let server_built = std::fs::metadata(&server_bin)
        .and_then(|m| m.modified())
        .map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        })
        .unwrap_or_default();
    if cfg!(debug_assertions) && !smoke {
        eprintln!("warning: a debug build measures nothing useful; build with --release");
    }

    let opts = run::Options {
        duration: Duration::from_secs_f64(duration),
        calibration: Duration::from_secs_f64(if smoke { 0.2 } else { 1.0 }),
        concurrency: concurrency.clone(),
        repeat,
        seed: seed::SeedConfig {
            passports,
            min_records,
            max_records,
            employers,
            professionals,
            big_records: sync_records,
        },
        passports_per_worker,
        server_bin,
        unit_cost_iterations: if smoke { 20 } else { 300 },
        open_loop_fractions: open_loop_fractions.clone(),
        open_loop_duration: Duration::from_secs_f64(open_loop_duration),
    };
    let mut results = Vec::new();
    for backend in backends {
        results.push(run::backend(&opts, backend).await?);
    }

    let command = std::env::args()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 {
                "./target/release/bench".to_owned()
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let report = report::Report {
        title: "Work Passport load benchmark",
        mode: if smoke { "smoke" } else { "full" },
        command,
        started_at,
        total_seconds: started.elapsed().as_secs_f64(),
        load_average: [load_average_at_start, load_average()],
        machine,
        config: report::Config {
            duration_s: duration,
            calibration_s: opts.calibration.as_secs_f64(),
            concurrency,
            repeat,
            passports,
            records_per_passport: [min_records, max_records],
            employers,
            professionals,
            passports_per_worker,
            sync_records,
            server_db_connections: "4 on SQLite, 16 on PostgreSQL".into(),
            server_binary_built: server_built,
            open_loop_fractions,
            open_loop_duration_s: open_loop_duration,
        },
        method: vec![
            "Load generator: its own (tests/src/bench/load.rs), one keep-alive HTTP/1.1 connection per worker (hyper), all workers starting together for a fixed window; latencies in an HDR histogram (µs, 3 significant digits), from sending the request to the last byte of the body; req/s counts the expected answers (200, or 201 for writes) over the window.".into(),
            "DPoP proofs (and, for writes, the signed record versions) are fresh and unique per request and prepared before each timed window on every core, so that signing does not compete with the server inside the window; a proof is valid for 120 s after its iat, a window is much shorter. The batch is sized from the last throughput seen (or a short calibration window) and the window runs again with more if a worker runs out.".into(),
            "Each worker is its own party (an employer for reads and syncs, an occupational therapist for writes) with its own consent tokens under its own grants, on its own passports.".into(),
            "(a) GET /v1/passports/{pid} with a consent token (summary + adjustments). (b) POST /v1/passports/{pid}/records/{rid}/versions: a version signed by the therapist, chained to the record's head, sealed and logged by the server. (c) GET /v1/passports/{pid}/changes?since=<cursor before the latest change>: one changed version and a signed checkpoint.".into(),
            "Ceilings: a separate axum process (the bench with --serve-ceiling, multi-thread runtime like the server) answering /bare with a body of the size of a typical read, and /verify doing the same after verifying one Ed25519 signature (ring) from the DPoP header; the requests carry a token and a proof like the real ones.".into(),
            "Seeding writes straight into the database (multi-row inserts, one transaction per 100 passports) what the API would have stored: versions signed by their authors, chained, sealed with each passport's data key, every write and grant in the hash-chained access log.".into(),
            "Open loop (after the closed loop): each scenario again at fixed arrival rates, shares of its best closed-loop req/s at any concurrency. The schedule fixes every request's intended send time (one every 1/rate s); each is sent at its time on its own task, over an idle keep-alive connection or a new one when all are busy, so a slow answer never delays the next send. Latency runs from the intended send time to the last byte of the body (the coordinated-omission correction of wrk2), in an HDR histogram; achieved req/s counts the expected answers from the window's start to its last answer. The requests are prepared before the window, taken in turn from every worker's; a write chain that fails is not continued.".into(),
            "Peak memory: VmHWM of the server process from /proc after the last window. CPU per request: user + system time from /proc of the server process (the ceiling server's for the ceilings), of every PostgreSQL process (SQLite runs inside the server), and of the bench itself (the load generator), over each window, divided by the successful requests.".into(),
        ],
        skipped,
        backends: results,
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(
        out.join("latest.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    let markdown = report.markdown();
    std::fs::write(out.join("latest.md"), &markdown)?;
    println!("{markdown}");
    eprintln!("wrote {}/latest.{{json,md}}", out.display());
    Ok(())
}
