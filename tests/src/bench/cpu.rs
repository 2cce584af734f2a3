//! Where the CPU went during a window: the server process, the database (PostgreSQL's
//! processes; SQLite runs inside the server), the load generator (this process) and the ceiling
//! server, from /proc (user + system time, in clock ticks).

use std::sync::OnceLock;
use std::time::Instant;

use serde::Serialize;

/// The processes to account for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Processes {
    pub server: Option<u32>,
    pub ceiling: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    server: u64,
    database: u64,
    client: u64,
    ceiling: u64,
    at: Instant,
}

/// CPU time per successful request, in microseconds, and how many cores were busy in all.
#[derive(Debug, Clone, Serialize)]
pub struct CpuUse {
    pub server_us: f64,
    pub database_us: f64,
    pub load_generator_us: f64,
    pub ceiling_us: f64,
    pub cores_busy: f64,
}

fn ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// (command name, user + system ticks) of a process.
fn stat(pid: &str) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text[open + 1..close].to_owned();
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // After the name: state is field 3, utime 14 and stime 15 (proc(5)).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

fn ticks(pid: Option<u32>) -> u64 {
    pid.and_then(|p| stat(&p.to_string())).map_or(0, |s| s.1)
}

/// Every PostgreSQL process on the machine (backends, WAL writer, checkpointer...).
fn database_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.bytes().all(|b| b.is_ascii_digit()).then_some(name)
        })
        .filter_map(|pid| stat(&pid))
        .filter(|(name, _)| name == "postgres")
        .map(|(_, t)| t)
        .sum()
}

pub fn snapshot(p: &Processes) -> Snapshot {
    Snapshot {
        server: ticks(p.server),
        database: database_ticks(),
        client: ticks(Some(std::process::id())),
        ceiling: ticks(p.ceiling),
        at: Instant::now(),
    }
}

pub fn since(before: &Snapshot, after: &Snapshot, requests: u64) -> CpuUse {
    let per = |a: u64, b: u64| {
        if requests == 0 {
            0.0
        } else {
            b.saturating_sub(a) as f64 / ticks_per_second() * 1e6 / requests as f64
        }
    };
    let total = (after.server + after.database + after.client + after.ceiling)
        .saturating_sub(before.server + before.database + before.client + before.ceiling);
    let seconds = after.at.duration_since(before.at).as_secs_f64();
    CpuUse {
        server_us: per(before.server, after.server),
        database_us: per(before.database, after.database),
        load_generator_us: per(before.client, after.client),
        ceiling_us: per(before.ceiling, after.ceiling),
        cores_busy: if seconds > 0.0 {
            total as f64 / ticks_per_second() / seconds
        } else {
            0.0
        },
    }
}
