//! The report: JSON for machines, a markdown table for people, the machine described, every
//! figure with its ratio to the two ceilings measured in the same run, and the targets of
//! issue #6 marked met or missed.

use std::fmt::Write as _;

use serde::Serialize;

use super::cpu::CpuUse;
use super::load::{OpenLoopStats, WindowStats};
use super::seed::SeedStats;
use super::unit_costs::UnitCosts;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub memory_mib: u64,
    pub kernel: String,
    pub rustc: String,
    pub git_commit: String,
    pub build: &'static str,
}

impl Machine {
    pub fn describe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024);
        let command = |program: &str, args: &[&str]| {
            std::process::Command::new(program)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_else(|| "unknown".into())
        };
        let dirty = command("git", &["status", "--porcelain", "--untracked-files=no"]);
        let commit = command("git", &["rev-parse", "--short", "HEAD"]);
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            memory_mib,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unknown".into()),
            rustc: command("rustc", &["--version"]),
            git_commit: if dirty.is_empty() || dirty == "unknown" {
                commit
            } else {
                format!("{commit} (with uncommitted changes)")
            },
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub duration_s: f64,
    pub calibration_s: f64,
    pub concurrency: Vec<usize>,
    pub repeat: usize,
    pub passports: usize,
    pub records_per_passport: [usize; 2],
    pub employers: usize,
    pub professionals: usize,
    pub passports_per_worker: usize,
    pub sync_records: usize,
    pub server_db_connections: String,
    pub server_binary_built: String,
    /// Open-loop windows: shares of each scenario's best closed-loop throughput.
    pub open_loop_fractions: Vec<f64>,
    pub open_loop_duration_s: f64,
}

/// A figure relative to a ceiling: throughput as a fraction of the ceiling's, latencies as
/// multiples of the ceiling's.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub rps: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// One scenario at one concurrency: the medians over the repeats, and every sample.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub requests: u64,
    pub errors: u64,
    pub response_bytes: f64,
    pub proofs_exhausted: bool,
    /// CPU per successful request by process (medians over the repeats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuUse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_http_ceiling: Option<Ratio>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_dpop_floor: Option<Ratio>,
    pub samples: Vec<WindowStats>,
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

impl Figure {
    pub fn from_samples(samples: Vec<WindowStats>) -> Self {
        let m = |f: fn(&WindowStats) -> f64| median(samples.iter().map(f).collect());
        Figure {
            rps: m(|s| s.rps),
            p50_ms: m(|s| s.p50_ms),
            p99_ms: m(|s| s.p99_ms),
            max_ms: m(|s| s.max_ms),
            response_bytes: m(|s| s.response_bytes),
            requests: samples.iter().map(|s| s.requests).sum(),
            errors: samples.iter().map(|s| s.errors).sum(),
            proofs_exhausted: samples.iter().any(|s| s.exhausted),
            cpu: samples.iter().all(|s| s.cpu.is_some()).then(|| {
                let c = |f: fn(&CpuUse) -> f64| {
                    median(
                        samples
                            .iter()
                            .filter_map(|s| s.cpu.as_ref())
                            .map(f)
                            .collect(),
                    )
                };
                CpuUse {
                    server_us: c(|u| u.server_us),
                    database_us: c(|u| u.database_us),
                    load_generator_us: c(|u| u.load_generator_us),
                    ceiling_us: c(|u| u.ceiling_us),
                    cores_busy: c(|u| u.cores_busy),
                }
            }),
            vs_http_ceiling: None,
            vs_dpop_floor: None,
            samples,
        }
    }

    fn against(&self, ceiling: &Figure) -> Ratio {
        Ratio {
            rps: ratio(self.rps, ceiling.rps),
            p50: ratio(self.p50_ms, ceiling.p50_ms),
            p99: ratio(self.p99_ms, ceiling.p99_ms),
            max: ratio(self.max_ms, ceiling.max_ms),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Level {
    pub concurrency: usize,
    /// The HTTP ceiling: a bare axum endpoint, same body size as a typical passport read.
    pub bare: Figure,
    /// The DPoP floor: the same endpoint verifying one Ed25519 signature (ring).
    pub verify: Figure,
    /// (a) Employers reading passports with consent tokens and DPoP proofs.
    pub read: Figure,
    /// (b) Professionals writing new record versions.
    pub write: Figure,
    /// (c) Employers syncing incrementally after one change.
    pub sync: Figure,
}

impl Level {
    pub fn new(
        concurrency: usize,
        [bare, verify, read, write, sync]: [Vec<WindowStats>; 5],
    ) -> Self {
        let bare = Figure::from_samples(bare);
        let mut verify = Figure::from_samples(verify);
        verify.vs_http_ceiling = Some(verify.against(&bare));
        let with_ratios = |samples| {
            let mut f = Figure::from_samples(samples);
            f.vs_http_ceiling = Some(f.against(&bare));
            f.vs_dpop_floor = Some(f.against(&verify));
            f
        };
        let (read, write, sync) = (with_ratios(read), with_ratios(write), with_ratios(sync));
        Level {
            concurrency,
            bare,
            verify,
            read,
            write,
            sync,
        }
    }

    pub fn scenarios(&self) -> [(&'static str, &Figure); 5] {
        [
            ("HTTP ceiling (bare axum)", &self.bare),
            ("DPoP floor (1 Ed25519 verify)", &self.verify),
            ("(a) read, employer", &self.read),
            ("(b) write, professional", &self.write),
            ("(c) incremental sync, employer", &self.sync),
        ]
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SyncBytes {
    pub records: usize,
    pub full_fetch_body_bytes: usize,
    pub full_fetch_wire_bytes: usize,
    pub full_fetch_records: usize,
    pub changes_since_0_body_bytes: usize,
    pub changes_since_0_pages: usize,
    pub incremental_body_bytes: usize,
    pub incremental_wire_bytes: usize,
    pub incremental_versions: usize,
    pub unchanged_304_wire_bytes: usize,
    /// What one authenticated GET sends: the token and the DPoP proof dominate.
    pub request_wire_bytes: usize,
    pub ratio_body: f64,
    pub ratio_wire: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    pub server_peak_bytes: u64,
    pub server_peak_mib: f64,
    pub ceiling_peak_mib: f64,
    /// The server's peak again after the open-loop windows (which may open more connections);
    /// `server_peak_*` above are taken before them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_peak_mib_after_open_loop: Option<f64>,
}

/// The three scenarios at one fixed arrival rate: `fraction` of each one's best closed-loop
/// throughput.
#[derive(Debug, Clone, Serialize)]
pub struct OpenLoopLevel {
    pub fraction: f64,
    pub read: OpenLoopStats,
    pub write: OpenLoopStats,
    pub sync: OpenLoopStats,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub target: String,
    pub measured: String,
    pub value: f64,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackendReport {
    pub backend: String,
    pub database: String,
    pub seed: SeedStats,
    pub typical_read_bytes: usize,
    pub levels: Vec<Level>,
    /// Latency at fixed arrival rates (empty when not measured).
    pub open_loop: Vec<OpenLoopLevel>,
    pub memory: Memory,
    pub sync_bytes: SyncBytes,
    pub unit_costs: UnitCosts,
    pub targets: Vec<Target>,
    pub seconds: f64,
}

fn best(levels: &[Level], pick: fn(&Level) -> &Figure) -> Option<(&Level, f64)> {
    levels
        .iter()
        .map(|l| (l, pick(l).rps))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

impl BackendReport {
    /// The targets of issue #6 (tracked, never asserted).
    pub fn evaluate(&mut self) {
        let mut targets = Vec::new();
        let floor = best(&self.levels, |l| &l.verify);
        for (name, pick, share) in [
            (
                "authorised, audited reads",
                (|l: &Level| &l.read) as fn(&Level) -> &Figure,
                0.5,
            ),
            ("durable writes", |l: &Level| &l.write, 0.25),
        ] {
            if let (Some((fl, floor_rps)), Some((l, rps))) = (floor, best(&self.levels, pick)) {
                let value = ratio(rps, floor_rps);
                targets.push(Target {
                    name: format!("{name} >= {:.0}% of the DPoP floor", share * 100.0),
                    target: format!(">= {:.0}%", share * 100.0),
                    measured: format!(
                        "{:.1}% ({:.0} req/s at {} conns vs floor {:.0} req/s at {} conns)",
                        value * 100.0,
                        rps,
                        l.concurrency,
                        floor_rps,
                        fl.concurrency
                    ),
                    value,
                    met: value >= share,
                });
            }
        }
        let s = &self.sync_bytes;
        targets.push(Target {
            name: "incremental sync < 2% of the bytes of a full fetch".into(),
            target: "< 2%".into(),
            measured: format!(
                "{:.2}% ({} of {} body bytes, {}-record passport)",
                s.ratio_body * 100.0,
                s.incremental_body_bytes,
                s.full_fetch_body_bytes,
                s.records
            ),
            value: s.ratio_body,
            met: s.ratio_body < 0.02 && s.full_fetch_body_bytes > 0,
        });
        targets.push(Target {
            name: "server peak memory < 64 MiB".into(),
            target: "< 64 MiB".into(),
            measured: format!("{:.1} MiB (VmHWM)", self.memory.server_peak_mib),
            value: self.memory.server_peak_mib,
            met: self.memory.server_peak_mib > 0.0 && self.memory.server_peak_mib < 64.0,
        });
        if let Some(top) = self.levels.iter().max_by_key(|l| l.concurrency) {
            for (name, f) in [
                ("reads", &top.read),
                ("writes", &top.write),
                ("syncs", &top.sync),
            ] {
                targets.push(Target {
                    name: format!("{name}: p99 < 20 ms at {} connections", top.concurrency),
                    target: "< 20 ms".into(),
                    measured: format!("{:.2} ms", f.p99_ms),
                    value: f.p99_ms,
                    met: f.p99_ms > 0.0 && f.p99_ms < 20.0,
                });
            }
        }
        self.targets = targets;
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub title: &'static str,
    pub mode: &'static str,
    pub command: String,
    pub started_at: String,
    pub total_seconds: f64,
    /// /proc/loadavg (1, 5, 15 minutes) before and after: other work on the machine shows here.
    pub load_average: [String; 2],
    pub machine: Machine,
    pub config: Config,
    pub method: Vec<String>,
    pub skipped: Vec<String>,
    pub backends: Vec<BackendReport>,
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let m = &self.machine;
        let c = &self.config;
        let _ = writeln!(md, "# Work Passport load benchmark ({})\n", self.mode);
        let _ = writeln!(
            md,
            "Run {} with `{}` ({:.0} s in all; load average {} before, {} after).\n",
            self.started_at,
            self.command,
            self.total_seconds,
            self.load_average[0],
            self.load_average[1]
        );
        let _ = writeln!(
            md,
            "Machine: {} cores ({}), {} MiB memory, Linux {}, {}, {} build, commit {} (server \
             binary built {}). The load generator, the ceiling server, the Work Passport server \
             and the database share these cores.\n",
            m.nproc,
            m.cpu_model,
            m.memory_mib,
            m.kernel,
            m.rustc,
            m.build,
            m.git_commit,
            c.server_binary_built
        );
        let _ = writeln!(
            md,
            "Data set: {} passports of {}-{} records across sections (grants to {} employers and {} \
             occupational therapists), plus one {}-record passport for the sync bytes. Load: {:.0} s \
             per window at {:?} connections, {} repeat(s) (figures are medians); each worker uses \
             its own party and {} passports; the server runs with its defaults ({} database connections).\n",
            c.passports,
            c.records_per_passport[0],
            c.records_per_passport[1],
            c.employers,
            c.professionals,
            c.sync_records,
            c.duration_s,
            c.concurrency,
            c.repeat,
            c.passports_per_worker,
            c.server_db_connections
        );
        for note in &self.method {
            let _ = writeln!(md, "- {note}");
        }
        for note in &self.skipped {
            let _ = writeln!(md, "- Skipped: {note}");
        }
        for b in &self.backends {
            let _ = writeln!(md, "\n## {} ({})\n", b.backend, b.database);
            let _ = writeln!(
                md,
                "Seeded {} passports, {} records, {} versions, {} log entries in {:.0} s \
                 (database {:.0} MiB). Typical read response: {} bytes (the ceiling body size).\n",
                b.seed.passports,
                b.seed.records,
                b.seed.versions,
                b.seed.log_entries,
                b.seed.seconds,
                b.seed.database_bytes as f64 / 1048576.0,
                b.typical_read_bytes
            );
            let _ = writeln!(
                md,
                "| scenario | conns | req/s | vs HTTP ceiling | vs DPoP floor | p50 ms | p99 ms | max ms | p50 / p99 / max vs floor | bytes/resp | CPU µs/req: server / db / client | cores busy | errors |"
            );
            let _ = writeln!(
                md,
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
            );
            for level in &b.levels {
                for (name, f) in level.scenarios() {
                    let vs_bare = f
                        .vs_http_ceiling
                        .as_ref()
                        .map_or("-".into(), |r| pct(r.rps));
                    let (vs_floor, lat) = match &f.vs_dpop_floor {
                        Some(r) => (
                            pct(r.rps),
                            format!("{:.1}x / {:.1}x / {:.1}x", r.p50, r.p99, r.max),
                        ),
                        None => ("-".into(), "-".into()),
                    };
                    let (cpu, busy) = match &f.cpu {
                        Some(u) => (
                            format!(
                                "{:.0} / {:.0} / {:.0}",
                                u.server_us + u.ceiling_us,
                                u.database_us,
                                u.load_generator_us
                            ),
                            format!("{:.2}", u.cores_busy),
                        ),
                        None => ("-".into(), "-".into()),
                    };
                    let _ = writeln!(
                        md,
                        "| {name} | {} | {:.0}{} | {vs_bare} | {vs_floor} | {:.2} | {:.2} | {:.2} | {lat} | {:.0} | {cpu} | {busy} | {} |",
                        level.concurrency,
                        f.rps,
                        if f.proofs_exhausted {
                            " (proofs ran out)"
                        } else {
                            ""
                        },
                        f.p50_ms,
                        f.p99_ms,
                        f.max_ms,
                        f.response_bytes,
                        f.errors
                    );
                }
            }
            if !b.open_loop.is_empty() {
                let _ = writeln!(
                    md,
                    "\nOpen loop: requests sent at a fixed arrival rate whatever the answers do, \
                     at shares of each scenario's best req/s above, {} s per window; latency \
                     from each request's intended send time (corrected for coordinated omission).\n",
                    c.open_loop_duration_s
                );
                let _ = writeln!(
                    md,
                    "| scenario | load | target req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms | max ms | conns | errors |"
                );
                let _ = writeln!(
                    md,
                    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
                );
                for level in &b.open_loop {
                    for (name, s) in [
                        ("(a) read, employer", &level.read),
                        ("(b) write, professional", &level.write),
                        ("(c) incremental sync, employer", &level.sync),
                    ] {
                        let _ = writeln!(
                            md,
                            "| {name} | {:.0}% | {:.0} | {:.0}{} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |",
                            level.fraction * 100.0,
                            s.target_rps,
                            s.achieved_rps,
                            if s.exhausted { " (proofs ran out)" } else { "" },
                            s.p50_ms,
                            s.p99_ms,
                            s.p999_ms,
                            s.max_ms,
                            s.connections,
                            s.errors
                        );
                    }
                }
            }
            let s = &b.sync_bytes;
            let _ = writeln!(
                md,
                "\nSync bytes ({}-record passport, as its owner): full fetch `GET /v1/passports/{{pid}}` \
                 {} body bytes ({} on the wire); changes since 0: {} body bytes in {} page(s); after \
                 one record changed, `changes?since=<cursor>`: {} body bytes ({} on the wire, {} \
                 version) = {} of the full fetch ({} on the wire); nothing new with `If-None-Match`: \
                 {} bytes (304). Each authenticated request itself sends {} bytes (token and DPoP proof).\n",
                s.records,
                s.full_fetch_body_bytes,
                s.full_fetch_wire_bytes,
                s.changes_since_0_body_bytes,
                s.changes_since_0_pages,
                s.incremental_body_bytes,
                s.incremental_wire_bytes,
                s.incremental_versions,
                pct(s.ratio_body),
                pct(s.ratio_wire),
                s.unchanged_304_wire_bytes,
                s.request_wire_bytes
            );
            let _ = writeln!(
                md,
                "Server peak memory (VmHWM): {:.1} MiB{}; ceiling server: {:.1} MiB.\n",
                b.memory.server_peak_mib,
                b.memory
                    .server_peak_mib_after_open_loop
                    .map(|m| format!(" ({m:.1} MiB after the open loop)"))
                    .unwrap_or_default(),
                b.memory.ceiling_peak_mib
            );
            let u = &b.unit_costs;
            let _ = writeln!(
                md,
                "What the pieces cost here (the server's own code, one call after another on the \
                 idle database, mean of {}):\n\n| unit | µs |\n| --- | ---: |",
                u.iterations
            );
            for c in &u.costs {
                let _ = writeln!(md, "| {} | {:.1} |", c.what, c.mean_us);
            }
            let _ = writeln!(md);
            let _ = writeln!(md, "| target | measured | |\n| --- | --- | --- |");
            for t in &b.targets {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} |",
                    t.name,
                    t.measured,
                    if t.met { "met" } else { "**missed**" }
                );
            }
        }
        md
    }
}
