//! The data set, written straight into the server's database before the server starts: what
//! years of use through the API would have left there, made in seconds instead of hours.
//!
//! Every version is signed by its author's key (`proofs::sign_version`), chained to the previous
//! one, sealed with its passport's data key (`vault::seal`, the master keys file the server then
//! loads), and logged in the passport's hash-chained access log, exactly as the server stores
//! them; only the transport differs: multi-row inserts, one transaction per chunk of passports.
//! Employers and professionals are created with the store's own `create_party`.

use std::sync::Arc;
use std::time::Instant;
use wp_tests::{Timestamp, id};

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;
use wp_client::SigningKey;
use wp_client::proofs::{self, VersionDraft};
use wp_schemas::api::{Action, LogAction, PartyKind, ProfessionalRegistration, Scope};
use wp_schemas::chain::{history_genesis, history_next, log_genesis, version_hash};
use wp_schemas::sections::{Section, example_body};
use wp_server::Store;
use wp_server::domain::audit::{LogEvent, chain};
use wp_server::keys::MasterKeys;
use wp_server::vault;

/// Parameters per statement: below SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_PARAMS: usize = 30_000;
/// Passports per transaction.
const CHUNK: usize = 100;

/// A party whose key the bench holds.
pub struct Actor {
    pub id: String,
    pub key: SigningKey,
}

/// A deterministic generator (splitmix64): the same data set every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

pub struct SeedConfig {
    pub passports: usize,
    pub min_records: usize,
    pub max_records: usize,
    pub employers: usize,
    pub professionals: usize,
    /// Records of the one large passport used to measure sync bytes.
    pub big_records: usize,
}

/// What the load needs to know about a seeded passport.
#[derive(Clone)]
pub struct SeededPassport {
    pub id: String,
    pub employer: usize,
    pub employer_grant: String,
    pub professional: usize,
    pub professional_grant: String,
    /// An adjustment the professional may update.
    pub adjustment: String,
}

pub struct BigPassport {
    pub id: String,
    pub owner: Actor,
    /// A record to change between two syncs.
    pub record: String,
    pub records: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeedStats {
    pub passports: usize,
    pub parties: usize,
    pub grants: usize,
    pub records: usize,
    pub versions: usize,
    pub log_entries: usize,
    pub seconds: f64,
    pub database_bytes: u64,
}

pub struct Seeded {
    pub employers: Vec<Actor>,
    pub professionals: Vec<Actor>,
    pub passports: Vec<SeededPassport>,
    pub big: BigPassport,
    pub stats: SeedStats,
}

pub fn employer_scopes() -> Vec<Scope> {
    vec![
        Scope {
            section: Section::Summary,
            actions: vec![Action::Read],
        },
        Scope {
            section: Section::Adjustments,
            actions: vec![Action::Read, Action::Agree],
        },
    ]
}

pub fn professional_scopes() -> Vec<Scope> {
    vec![
        Scope {
            section: Section::Impacts,
            actions: vec![Action::Read, Action::Write],
        },
        Scope {
            section: Section::Adjustments,
            actions: vec![Action::Read, Action::Write],
        },
    ]
}

/// A valid body for `section`, made distinct by `n`.
pub fn body(section: Section, n: usize) -> Value {
    let mut body = example_body(section);
    let field = match section {
        Section::Summary => "about_me",
        Section::Impacts | Section::Conditions => "description",
        Section::Adjustments => "notes",
        Section::FitNotes => "functional_effects",
        Section::Plans => "keep_in_touch",
    };
    let text = body[field].as_str().unwrap_or_default().to_owned();
    body[field] = Value::String(format!("{text} (entry {n})"));
    body
}

struct PartyIns {
    id: String,
    kid: String,
    jwk: String,
}

struct PassportIns {
    id: String,
    owner: String,
    seq: i64,
    head: String,
    log_seq: i64,
    log_head: String,
    master_kid: String,
    wrapped: Vec<u8>,
}

struct GrantIns {
    id: String,
    passport: String,
    grantor: String,
    grantee: String,
    scopes: String,
}

struct RecordIns {
    passport: String,
    id: String,
    section: &'static str,
    version: i64,
    hash: String,
}

struct VersionIns {
    passport: String,
    record: String,
    version: i64,
    seq: i64,
    section: &'static str,
    author: String,
    hash: String,
    sealed: Vec<u8>,
}

#[derive(Default)]
struct Chunk {
    parties: Vec<PartyIns>,
    passports: Vec<PassportIns>,
    grants: Vec<GrantIns>,
    records: Vec<RecordIns>,
    versions: Vec<VersionIns>,
    log: Vec<wp_schemas::api::AccessLogEntry>,
    seeded: Vec<SeededPassport>,
}

/// The grantees a passport's grants go to.
struct Grantees<'a> {
    employer: (usize, &'a str),
    professional: (usize, &'a Actor),
}

/// One passport's state while its history is written.
struct Writer<'a> {
    master: &'a MasterKeys,
    key: wp_server::keys::DataKey,
    pid: String,
    seq: i64,
    head: String,
    log_seq: i64,
    log_head: String,
    now: i64,
    chunk: &'a mut Chunk,
}

impl Writer<'_> {
    fn log(&mut self, event: LogEvent) {
        let head = std::mem::take(&mut self.log_head);
        let at = Timestamp::from_secs(self.now);
        let entries = chain(&id(&self.pid), self.log_seq + 1, head, [(event, at)]);
        self.log_seq += 1;
        self.log_head.clone_from(&entries[0].hash);
        self.chunk.log.extend(entries);
    }

    /// Signs, chains, seals and logs one version; returns its hash.
    #[allow(clippy::too_many_arguments)]
    fn version(
        &mut self,
        author: &Actor,
        grant: Option<&str>,
        record: &str,
        section: Section,
        version: i64,
        prev: Option<String>,
        body: Value,
    ) -> String {
        let jws = proofs::sign_version(
            &author.key,
            &author.id,
            VersionDraft {
                passport: self.pid.clone(),
                record: record.to_owned(),
                section,
                version,
                prev,
                body: Some(body),
            },
        );
        let hash = version_hash(&jws);
        self.seq += 1;
        self.head = history_next(&self.head, &hash);
        self.chunk.versions.push(VersionIns {
            passport: self.pid.clone(),
            record: record.to_owned(),
            version,
            seq: self.seq,
            section: section.as_str(),
            author: author.id.clone(),
            hash: hash.clone(),
            sealed: vault::seal(
                self.master,
                &self.key,
                &id(&self.pid),
                &id(record),
                version,
                &jws,
            ),
        });
        let reason = if grant.is_some() {
            "active grant"
        } else {
            "owner"
        };
        self.log(LogEvent::allowed(
            &id(&author.id),
            grant.map(id).as_ref(),
            LogAction::VersionWritten,
            vec![section],
            reason,
        ));
        hash
    }
}

/// How many records of each section a passport of `n` records holds.
fn layout(n: usize) -> Vec<(Section, usize)> {
    let rest = n.saturating_sub(1);
    let adjustments = (rest * 3 / 10).max(1);
    let impacts = rest * 2 / 10;
    let conditions = rest / 10;
    let fit_notes = rest * 2 / 10;
    let plans = rest.saturating_sub(adjustments + impacts + conditions + fit_notes);
    vec![
        (Section::Summary, 1),
        (Section::Impacts, impacts),
        (Section::Conditions, conditions),
        (Section::Adjustments, adjustments),
        (Section::FitNotes, fit_notes),
        (Section::Plans, plans),
    ]
}

/// Writes passport `index`'s owner, key, grants and history into `chunk`.
fn passport(
    master: &MasterKeys,
    index: usize,
    records: usize,
    grantees: Option<Grantees<'_>>,
    now: i64,
    chunk: &mut Chunk,
) -> (Actor, String, String, Option<SeededPassport>) {
    let mut rng = Rng::new(index as u64 + 1);
    let owner = Actor {
        id: uuid::Uuid::new_v4().to_string(),
        key: SigningKey::generate(),
    };
    chunk.parties.push(PartyIns {
        id: owner.id.clone(),
        kid: owner.key.public_jwk().thumbprint(),
        jwk: serde_json::to_string(owner.key.public_jwk()).expect("jwk"),
    });
    let pid = uuid::Uuid::new_v4().to_string();
    let (master_kid, wrapped) = master.new_data_key(&id(&pid));
    let key = master
        .unwrap(&master_kid, &id(&pid), &wrapped)
        .expect("a fresh data key unwraps");
    let mut w = Writer {
        master,
        key,
        head: history_genesis(&pid),
        log_head: log_genesis(&pid),
        pid: pid.clone(),
        seq: 0,
        log_seq: 0,
        now,
        chunk,
    };
    w.log(LogEvent::allowed(
        &id(&owner.id),
        None,
        LogAction::PassportCreated,
        vec![],
        "owner",
    ));
    let mut grants = None;
    if let Some(g) = &grantees {
        let employer_grant = uuid::Uuid::new_v4().to_string();
        let professional_grant = uuid::Uuid::new_v4().to_string();
        for (id, grantee, scopes) in [
            (&employer_grant, g.employer.1, employer_scopes()),
            (
                &professional_grant,
                g.professional.1.id.as_str(),
                professional_scopes(),
            ),
        ] {
            let sections = scopes.iter().map(|s| s.section).collect();
            w.chunk.grants.push(GrantIns {
                id: id.clone(),
                passport: pid.clone(),
                grantor: owner.id.clone(),
                grantee: grantee.to_owned(),
                scopes: serde_json::to_string(&scopes).expect("scopes"),
            });
            w.log(LogEvent::allowed(
                &wp_tests::id(&owner.id),
                Some(&wp_tests::id(id)),
                LogAction::GrantCreated,
                sections,
                "owner",
            ));
        }
        grants = Some((employer_grant, professional_grant));
    }
    let mut first_adjustment = None;
    let mut any_record = String::new();
    let mut n = 0;
    for (section, count) in layout(records) {
        for _ in 0..count {
            n += 1;
            let rid = uuid::Uuid::new_v4().to_string();
            // Professionals write some impacts and adjustments under their grant.
            let by_professional =
                matches!(section, Section::Impacts | Section::Adjustments) && rng.chance(50);
            let (author, grant) = match (&grantees, &grants) {
                (Some(g), Some((_, pg))) if by_professional => {
                    (g.professional.1, Some(pg.as_str()))
                }
                _ => (&owner, None),
            };
            let mut hash = w.version(author, grant, &rid, section, 1, None, body(section, n));
            let mut version = 1;
            if rng.chance(10) {
                hash = w.version(
                    author,
                    grant,
                    &rid,
                    section,
                    2,
                    Some(hash),
                    body(section, n + 1),
                );
                version = 2;
            }
            if section == Section::Adjustments && first_adjustment.is_none() {
                first_adjustment = Some((rid.clone(), version, hash.clone()));
            }
            any_record = rid.clone();
            w.chunk.records.push(RecordIns {
                passport: pid.clone(),
                id: rid,
                section: section.as_str(),
                version,
                hash,
            });
        }
    }
    // The latest change of every passport is an adjustment by its professional: what an
    // employer's incremental sync then pulls.
    let mut seeded = None;
    if let (Some(g), Some((employer_grant, professional_grant)), Some((rid, version, hash))) =
        (&grantees, &grants, &first_adjustment)
    {
        let hash = w.version(
            g.professional.1,
            Some(professional_grant),
            rid,
            Section::Adjustments,
            version + 1,
            Some(hash.clone()),
            body(Section::Adjustments, n + 2),
        );
        let record = w
            .chunk
            .records
            .iter_mut()
            .rev()
            .find(|r| &r.id == rid)
            .expect("the record was just written");
        record.version = version + 1;
        record.hash = hash;
        seeded = Some(SeededPassport {
            id: pid.clone(),
            employer: g.employer.0,
            employer_grant: employer_grant.clone(),
            professional: g.professional.0,
            professional_grant: professional_grant.clone(),
            adjustment: rid.clone(),
        });
    }
    let (seq, head, log_seq, log_head) = (w.seq, w.head, w.log_seq, w.log_head);
    chunk.passports.push(PassportIns {
        id: pid.clone(),
        owner: owner.id.clone(),
        seq,
        head,
        log_seq,
        log_head,
        master_kid,
        wrapped,
    });
    (owner, pid, any_record, seeded)
}

/// Multi-row inserts of `$rows` in statements of at most `MAX_PARAMS` parameters.
macro_rules! rows {
    ($tx:ident, $sql:expr, $ncols:expr, $rows:expr, |$b:ident, $r:ident| $bind:expr) => {
        for part in $rows.chunks(MAX_PARAMS / $ncols) {
            let mut qb = sqlx::QueryBuilder::new($sql);
            qb.push_values(part, |mut $b, $r| {
                $bind;
            });
            qb.build().execute(&mut *$tx).await?;
        }
    };
}

/// Inserts a chunk in one transaction (the macro expands once per backend, like the store's).
macro_rules! insert_chunk {
    ($pool:expr, $c:expr, $now:expr) => {{
        let mut tx = $pool.begin().await?;
        rows!(
            tx,
            "INSERT INTO parties (id, kind, display_name, created_at) ",
            4,
            $c.parties,
            |b, p| {
                b.push_bind(&p.id)
                    .push_bind("employee")
                    .push_bind("Employee")
                    .push_bind($now)
            }
        );
        rows!(
            tx,
            "INSERT INTO party_keys (kid, party_id, jwk, created_at) ",
            4,
            $c.parties,
            |b, p| {
                b.push_bind(&p.kid)
                    .push_bind(&p.id)
                    .push_bind(&p.jwk)
                    .push_bind($now)
            }
        );
        rows!(
            tx,
            "INSERT INTO passports (id, owner_id, seq, head, log_seq, log_head, created_at) ",
            7,
            $c.passports,
            |b, p| {
                b.push_bind(&p.id)
                    .push_bind(&p.owner)
                    .push_bind(p.seq)
                    .push_bind(&p.head)
                    .push_bind(p.log_seq)
                    .push_bind(&p.log_head)
                    .push_bind($now)
            }
        );
        rows!(
            tx,
            "INSERT INTO passport_keys (passport_id, master_kid, wrapped_key) ",
            3,
            $c.passports,
            |b, p| {
                b.push_bind(&p.id)
                    .push_bind(&p.master_kid)
                    .push_bind(&p.wrapped)
            }
        );
        rows!(
            tx,
            "INSERT INTO grants (id, passport_id, grantor_id, grantee_id, scopes, purpose, consent_text, starts_at, ends_at, created_at) ",
            10,
            $c.grants,
            |b, g| {
                b.push_bind(&g.id)
                    .push_bind(&g.passport)
                    .push_bind(&g.grantor)
                    .push_bind(&g.grantee)
                    .push_bind(&g.scopes)
                    .push_bind("workplace adjustments")
                    .push_bind("I agree to share these sections for this purpose until the end date.")
                    .push_bind($now - 86_400)
                    .push_bind($now + 365 * 86_400)
                    .push_bind($now - 86_400)
            }
        );
        rows!(
            tx,
            "INSERT INTO records (passport_id, id, section, head_version, head_hash, deleted) ",
            6,
            $c.records,
            |b, r| {
                b.push_bind(&r.passport)
                    .push_bind(&r.id)
                    .push_bind(r.section)
                    .push_bind(r.version)
                    .push_bind(&r.hash)
                    .push_bind(false)
            }
        );
        rows!(
            tx,
            "INSERT INTO record_versions (passport_id, record_id, version, seq, section, author_id, hash, deleted, sealed, created_at) ",
            10,
            $c.versions,
            |b, v| {
                b.push_bind(&v.passport)
                    .push_bind(&v.record)
                    .push_bind(v.version)
                    .push_bind(v.seq)
                    .push_bind(v.section)
                    .push_bind(&v.author)
                    .push_bind(&v.hash)
                    .push_bind(false)
                    .push_bind(&v.sealed)
                    .push_bind($now)
            }
        );
        wp_server::insert_log_entries!(tx, $c.log);
        tx.commit().await?;
    }};
}

async fn insert(store: &Store, chunk: &Chunk, now: i64) -> anyhow::Result<()> {
    match store {
        Store::Sqlite(pool, _) => insert_chunk!(pool, chunk, now),
        Store::Postgres(pool) => insert_chunk!(pool, chunk, now),
    }
    Ok(())
}

async fn grantees(
    store: &Store,
    kind: PartyKind,
    count: usize,
    now: i64,
) -> anyhow::Result<Vec<Actor>> {
    let mut actors = Vec::with_capacity(count);
    for i in 0..count {
        let actor = Actor {
            id: uuid::Uuid::new_v4().to_string(),
            key: SigningKey::generate(),
        };
        let registration = (kind == PartyKind::Professional).then(|| ProfessionalRegistration {
            profession: "occupational therapist".into(),
            registration_body: "HCPC".into(),
            registration_number: format!("OT{:06}", i),
        });
        let name = match kind {
            PartyKind::Employer => format!("Employer {i}"),
            _ => format!("Occupational therapist {i}"),
        };
        store
            .create_party(
                &id(&actor.id),
                kind,
                &name,
                registration.as_ref(),
                actor.key.public_jwk(),
                Timestamp::from_secs(now),
            )
            .await
            .map_err(|e| anyhow::anyhow!("creating a grantee: {e}"))?;
        actors.push(actor);
    }
    Ok(actors)
}

async fn database_bytes(store: &Store, database_url: &str) -> u64 {
    match store {
        Store::Sqlite(..) => {
            let path = database_url.trim_start_matches("sqlite://");
            ["", "-wal"]
                .iter()
                .filter_map(|suffix| std::fs::metadata(format!("{path}{suffix}")).ok())
                .map(|m| m.len())
                .sum()
        }
        Store::Postgres(pool) => {
            sqlx::query_scalar::<_, i64>("SELECT pg_database_size(current_database())")
                .fetch_one(pool)
                .await
                .map(|n| n as u64)
                .unwrap_or(0)
        }
    }
}

/// Seeds the database at `database_url`, whose server will use the master keys in `data_dir`.
pub async fn seed(
    database_url: &str,
    data_dir: &std::path::Path,
    config: &SeedConfig,
) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let now = wp_server::clock::now().secs();
    std::fs::create_dir_all(data_dir)?;
    let master = Arc::new(
        MasterKeys::load_or_create(&data_dir.join("master-keys.json")).context("master keys")?,
    );
    let store = Store::connect(database_url, 2)
        .await
        .map_err(|e| anyhow::anyhow!("opening the database: {e}"))?;
    let employers = grantees(&store, PartyKind::Employer, config.employers, now).await?;
    let professionals =
        Arc::new(grantees(&store, PartyKind::Professional, config.professionals, now).await?);
    let employer_ids: Arc<Vec<String>> = Arc::new(employers.iter().map(|a| a.id.clone()).collect());

    // Generation (signing, sealing, hashing) on every core, insertion as chunks come in.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunks = config.passports.div_ceil(CHUNK);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(threads * 2);
    let mut generators = Vec::new();
    for t in 0..threads {
        let (tx, master, professionals, employer_ids) = (
            tx.clone(),
            master.clone(),
            professionals.clone(),
            employer_ids.clone(),
        );
        let (passports, min, max) = (config.passports, config.min_records, config.max_records);
        generators.push(std::thread::spawn(move || {
            for c in (t..chunks).step_by(threads) {
                let mut chunk = Chunk::default();
                for i in c * CHUNK..((c + 1) * CHUNK).min(passports) {
                    let records = Rng::new(i as u64 + 7).range(min, max);
                    let e = i % employer_ids.len();
                    let p = i % professionals.len();
                    let grantees = Grantees {
                        employer: (e, employer_ids[e].as_str()),
                        professional: (p, &professionals[p]),
                    };
                    let (_, _, _, seeded) =
                        passport(&master, i, records, Some(grantees), now, &mut chunk);
                    chunk.seeded.extend(seeded);
                }
                if tx.blocking_send(chunk).is_err() {
                    return;
                }
            }
        }));
    }
    drop(tx);
    let mut stats = SeedStats {
        passports: 0,
        parties: employers.len() + professionals.len(),
        grants: 0,
        records: 0,
        versions: 0,
        log_entries: 0,
        seconds: 0.0,
        database_bytes: 0,
    };
    let mut passports = Vec::with_capacity(config.passports);
    let mut last_report = Instant::now();
    while let Some(chunk) = rx.recv().await {
        insert(&store, &chunk, now).await?;
        stats.passports += chunk.passports.len();
        stats.parties += chunk.parties.len();
        stats.grants += chunk.grants.len();
        stats.records += chunk.records.len();
        stats.versions += chunk.versions.len();
        stats.log_entries += chunk.log.len();
        passports.extend(chunk.seeded);
        if last_report.elapsed().as_secs() >= 10 {
            last_report = Instant::now();
            eprintln!(
                "  seeded {}/{} passports ({:.0} s)",
                stats.passports,
                config.passports,
                started.elapsed().as_secs_f64()
            );
        }
    }
    for g in generators {
        g.join()
            .map_err(|_| anyhow::anyhow!("a seed generator panicked"))?;
    }
    // The order chunks arrive in varies; the load wants a stable one.
    passports.sort_by(|a, b| (a.employer, &a.id).cmp(&(b.employer, &b.id)));

    // The large passport whose full fetch is compared with an incremental sync.
    let mut chunk = Chunk::default();
    let (owner, big_id, big_record, _) = passport(
        &master,
        config.passports,
        config.big_records,
        None,
        now,
        &mut chunk,
    );
    insert(&store, &chunk, now).await?;
    stats.passports += 1;
    stats.parties += 1;
    stats.records += chunk.records.len();
    stats.versions += chunk.versions.len();
    stats.log_entries += chunk.log.len();

    match &store {
        Store::Postgres(pool) => {
            sqlx::query("ANALYZE").execute(pool).await?;
        }
        Store::Sqlite(pool, _) => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await?;
        }
    }
    stats.database_bytes = database_bytes(&store, database_url).await;
    store.close().await;
    stats.seconds = started.elapsed().as_secs_f64();
    Ok(Seeded {
        employers,
        professionals: Arc::try_unwrap(professionals)
            .map_err(|_| anyhow::anyhow!("professionals still shared"))?,
        passports,
        big: BigPassport {
            id: big_id,
            owner,
            record: big_record,
            records: config.big_records,
        },
        stats,
    })
}
