//! The server's Prometheus metrics, served on `--metrics-listen` (docs/PROTOCOL.md section
//! 11.1). Every metric is here: the HTTP layer, the group-commit writer and the caches record
//! through the [`Metrics`] handle in `AppState`, and a scrape renders them
//! ([`Metrics::render`]) with the values read at scrape time ([`Scraped`]).
//!
//! No label carries an id, a name, a concrete path or anything from a passport: routes are the
//! route table's templates, problems their stable slugs, and every label value is a `&'static
//! str` or a status code, so a value can only come from the code, never from a request.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use wp_schemas::problem::ProblemType;

/// The `Content-Type` of a scrape: the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Latency buckets, 0.5 ms to 10 s: a cached read takes about a millisecond, the request time
/// limit is 30 s, and anything over 10 s is a failure whatever its exact time.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Waits for a pooled connection: from 0.1 ms up to the pool's 5 s timeout (`DATABASE_WAIT`).
const WAIT_BUCKETS: [f64; 10] = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

/// The problem types that refuse a token, a DPoP proof or a client assertion.
const AUTH_REFUSALS: [ProblemType; 5] = [
    ProblemType::InvalidToken,
    ProblemType::InvalidDpopProof,
    ProblemType::ReplayedDpopProof,
    ProblemType::InvalidAssertion,
    ProblemType::ReplayedAssertion,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProblemLabels {
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: &'static str,
}

/// The in-memory caches whose hits and misses are counted.
#[derive(Clone, Copy, Debug)]
pub enum Cache {
    /// `service::state::TokenCache`: access tokens already verified.
    VerifiedTokens,
    /// `service::heads::HeadsCache`: the live heads of recently read passports.
    Heads,
}

impl Cache {
    fn label(self) -> CacheLabels {
        CacheLabels {
            cache: match self {
                Cache::VerifiedTokens => "verified_tokens",
                Cache::Heads => "heads",
            },
        }
    }
}

/// The metrics one server instance records; shared through `AppState`.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    problems: Family<ProblemLabels, Counter>,
    auth_refusals: Family<ReasonLabels, Counter>,
    cache_hits: Family<CacheLabels, Counter>,
    cache_misses: Family<CacheLabels, Counter>,
    batch_size: Histogram,
    commit_seconds: Histogram,
    acquire_wait: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "wp_http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS)
        });
        registry.register(
            "wp_http_request_duration_seconds",
            "Time from a request's arrival to its answer's headers, by method and route template",
            durations.clone(),
        );
        let problems = Family::<ProblemLabels, Counter>::default();
        registry.register(
            "wp_problems",
            "Problem answers (RFC 9457), by problem type slug",
            problems.clone(),
        );
        let auth_refusals = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "wp_auth_refusals",
            "Refused access tokens, DPoP proofs and client assertions, by problem type slug",
            auth_refusals.clone(),
        );
        let cache_hits = Family::<CacheLabels, Counter>::default();
        registry.register(
            "wp_cache_hits",
            "Lookups answered from an in-memory cache",
            cache_hits.clone(),
        );
        let cache_misses = Family::<CacheLabels, Counter>::default();
        registry.register(
            "wp_cache_misses",
            "Lookups an in-memory cache could not answer",
            cache_misses.clone(),
        );
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 9));
        registry.register(
            "wp_group_commit_batch_size",
            "Requests' writes (proof admissions, log appends, versions) committed in one batch",
            batch_size.clone(),
        );
        let commit_seconds = Histogram::new(LATENCY_BUCKETS);
        registry.register(
            "wp_group_commit_seconds",
            "Time to write and commit one group-commit batch",
            commit_seconds.clone(),
        );
        let acquire_wait = Histogram::new(WAIT_BUCKETS);
        registry.register(
            "wp_db_acquire_wait_seconds",
            "Time the group-commit writer waited for a pooled database connection",
            acquire_wait.clone(),
        );
        let build = Family::<VersionLabels, Gauge>::default();
        build
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("wp_build_info", "The server's version (always 1)", build);
        // Present from the start, at 0: a rate over a series that appears late misses its start.
        for kind in AUTH_REFUSALS {
            auth_refusals.get_or_create_owned(&ReasonLabels {
                reason: kind.slug(),
            });
        }
        for cache in [Cache::VerifiedTokens, Cache::Heads] {
            cache_hits.get_or_create_owned(&cache.label());
            cache_misses.get_or_create_owned(&cache.label());
        }
        Metrics {
            registry,
            requests,
            durations,
            problems,
            auth_refusals,
            cache_hits,
            cache_misses,
            batch_size,
            commit_seconds,
            acquire_wait,
        }
    }

    /// An answered request. `method` and `route` must be static: a method the server knows
    /// and a route template (see `http::observe`), never a path a client sent.
    pub fn request(&self, method: &'static str, route: &'static str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels { method, route })
            .observe(took.as_secs_f64());
    }

    /// A problem answered; a refused credential also counts as an auth refusal.
    pub fn problem(&self, kind: ProblemType) {
        let slug = kind.slug();
        self.problems
            .get_or_create(&ProblemLabels { r#type: slug })
            .inc();
        if AUTH_REFUSALS.contains(&kind) {
            self.auth_refusals
                .get_or_create(&ReasonLabels { reason: slug })
                .inc();
        }
    }

    pub fn cache(&self, cache: Cache, hit: bool) {
        let family = if hit {
            &self.cache_hits
        } else {
            &self.cache_misses
        };
        family.get_or_create(&cache.label()).inc();
    }

    /// A group-commit batch of `size` requests' writes, written and committed in `took`.
    pub fn batch(&self, size: usize, took: Duration) {
        self.batch_size.observe(size as f64);
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// A wait for a pooled connection.
    pub fn acquired(&self, waited: Duration) {
        self.acquire_wait.observe(waited.as_secs_f64());
    }

    /// The text of a scrape: what was recorded, then what was read for it.
    pub fn render(&self, scraped: &Scraped) -> String {
        let mut text = String::new();
        let mut now = Registry::default();
        let connections = Family::<StateLabels, Gauge>::default();
        connections
            .get_or_create(&StateLabels { state: "in_use" })
            .set(i64::from(
                scraped.pool.size.saturating_sub(scraped.pool.idle),
            ));
        connections
            .get_or_create(&StateLabels { state: "idle" })
            .set(i64::from(scraped.pool.idle));
        now.register(
            "wp_db_connections",
            "Open database connections in the pool, in use or idle",
            connections,
        );
        let max = Gauge::<i64>::default();
        max.set(i64::from(scraped.pool.max));
        now.register(
            "wp_db_connections_max",
            "Most connections the pool opens",
            max,
        );
        if let Some(jtis) = scraped.replay_jtis {
            let gauge = Gauge::<i64>::default();
            gauge.set(jtis);
            now.register(
                "wp_replay_jtis",
                "Used DPoP proof and assertion jtis remembered against replay (all instances)",
                gauge,
            );
        }
        if let Some((pending, parked)) = scraped.email_outbox {
            let outbox = Family::<StateLabels, Gauge<i64>>::default();
            outbox
                .get_or_create(&StateLabels { state: "pending" })
                .set(pending);
            outbox
                .get_or_create(&StateLabels { state: "parked" })
                .set(parked);
            now.register(
                "wp_email_outbox",
                "Notification emails not sent yet (all instances): pending, or parked after failing",
                outbox,
            );
        }
        if let Some(process) = process() {
            let rss = Gauge::<i64>::default();
            rss.set(process.resident_bytes);
            now.register(
                "process_resident_memory_bytes",
                "Resident memory of the server process",
                rss,
            );
            now.register(
                "process_cpu_seconds",
                "CPU time (user and system) the server process has used",
                ConstCounter::new(process.cpu_seconds),
            );
        }
        // Writing to a String does not fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &now);
        text
    }
}

/// The database pool as a scrape finds it.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolStats {
    /// Connections open, in use or idle.
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// What a scrape reads when it happens, rather than what requests record.
#[derive(Debug, Clone, Default)]
pub struct Scraped {
    pub pool: PoolStats,
    /// The rows of the replay table; None when the database did not answer.
    pub replay_jtis: Option<i64>,
    /// Notification emails pending and parked; None when the database did not answer.
    pub email_outbox: Option<(i64, i64)>,
}

struct Process {
    resident_bytes: i64,
    cpu_seconds: f64,
}

/// This process's resident memory and CPU time, from /proc (Linux only; None elsewhere).
fn process() -> Option<Process> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kib: i64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces; utime
    // and stime are fields 14 and 15 of proc(5), 12 and 13 after it, in clock ticks.
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Process {
        resident_bytes: rss_kib * 1024,
        // USER_HZ: 100 on every architecture Linux reports /proc times for that we build on
        // (sysconf would need libc, for a constant).
        cpu_seconds: ticks as f64 / 100.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_static_labels() {
        let metrics = Metrics::new();
        metrics.request("GET", "/v1/passports/{pid}", 200, Duration::from_millis(3));
        metrics.problem(ProblemType::InvalidToken);
        metrics.cache(Cache::Heads, true);
        metrics.batch(3, Duration::from_millis(2));
        metrics.acquired(Duration::from_micros(50));
        let text = metrics.render(&Scraped {
            pool: PoolStats {
                size: 3,
                idle: 1,
                max: 4,
            },
            replay_jtis: Some(7),
            email_outbox: Some((2, 1)),
        });
        for line in [
            "wp_http_requests_total{method=\"GET\",route=\"/v1/passports/{pid}\",status=\"200\"} 1",
            "wp_problems_total{type=\"invalid-token\"} 1",
            "wp_auth_refusals_total{reason=\"invalid-token\"} 1",
            "wp_auth_refusals_total{reason=\"replayed-dpop-proof\"} 0",
            "wp_cache_hits_total{cache=\"heads\"} 1",
            "wp_group_commit_batch_size_count 1",
            "wp_db_connections{state=\"in_use\"} 2",
            "wp_db_connections_max 4",
            "wp_replay_jtis 7",
            "wp_email_outbox{state=\"parked\"} 1",
            "wp_build_info{version=\"",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        assert!(text.contains("wp_http_request_duration_seconds_bucket{"));
        if cfg!(target_os = "linux") {
            assert!(text.contains("process_resident_memory_bytes "), "{text}");
            assert!(text.contains("process_cpu_seconds_total "), "{text}");
        }
    }
}
