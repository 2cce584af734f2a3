//! A database written by the release before organisations upgrades in place when the current
//! server opens it: its parties, grants and access log come through unchanged (the log's chain
//! still verifies), and the new kinds, roles and columns work alongside them. On both databases.

use std::path::Path;

use sqlx::migrate::Migrator;
use wp_schemas::api::{AccessLogEntry, LogAction, Outcome, PartyKind};
use wp_schemas::chain::{log_entry_hash, log_genesis, verify_log};
use wp_server::Store;
use wp_tests::{Backend, PartyId, PassportId, Timestamp, backend_tests, id, process_database};

/// The migrations of the release before organisations (0001 and 0002), for `backend`.
async fn old_migrator(backend: Backend, dir: &Path) -> Migrator {
    let dialect = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(dialect);
    let old = dir.join("old-migrations");
    std::fs::create_dir_all(&old).unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("0001_") || name.starts_with("0002_") {
            std::fs::copy(&path, old.join(&name)).unwrap();
        }
    }
    Migrator::new(old.as_path()).await.unwrap()
}

/// Rows as the old server wrote them: an employee, an employer with a key, a passport, a grant
/// and the passport's first log entry (hashed the old way: ten members). Each statement with
/// the indexes, into the values, of its parameters `$1`, `$2`...
const OLD_ROWS: [(&str, &[usize]); 6] = [
    (
        "INSERT INTO parties (id, kind, display_name, created_at) VALUES ($1, 'employee', 'Alex', 1764000000)",
        &[0],
    ),
    (
        "INSERT INTO parties (id, kind, display_name, created_at) VALUES ($1, 'employer', 'Acme Ltd', 1764000000)",
        &[1],
    ),
    (
        "INSERT INTO party_keys (kid, party_id, jwk, created_at) VALUES ($1, $2, $3, 1764000000)",
        &[6, 1, 7],
    ),
    (
        "INSERT INTO passports (id, owner_id, seq, head, log_seq, log_head, created_at) VALUES ($1, $2, 0, 'h', 1, $3, 1764000000)",
        &[2, 0, 4],
    ),
    (
        "INSERT INTO grants (id, passport_id, grantor_id, grantee_id, scopes, purpose, consent_text, starts_at, ends_at, created_at) \
         VALUES ($1, $2, $3, $4, '[{\"section\":\"summary\",\"actions\":[\"read\"]}]', 'adjustments', 'I agree', 1764000000, 4102444800, 1764000000)",
        &[3, 2, 0, 1],
    ),
    (
        "INSERT INTO access_log (passport_id, seq, at, actor_id, grant_id, action, sections, outcome, reason, prev_hash, hash) \
         VALUES ($1, 1, 1764000000, $2, NULL, 'passport_created', '', 'allowed', 'owner', $3, $4)",
        &[2, 0, 5, 4],
    ),
];

async fn upgrade_keeps_what_exists(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (url, _database) = process_database(backend, dir.path()).await;
    let (employee, acme) = (PartyId::random(), PartyId::random());
    let (passport, grant) = (PassportId::random(), uuid::Uuid::new_v4().to_string());
    let mut entry = AccessLogEntry {
        passport_id: passport.to_string(),
        seq: 1,
        at: Timestamp::from_secs(1_764_000_000).to_datetime(),
        actor: Some(employee.to_string()),
        grant_id: None,
        on_behalf_of: None,
        action: LogAction::PassportCreated,
        sections: vec![],
        outcome: Outcome::Allowed,
        reason: "owner".into(),
        prev_hash: log_genesis(passport.as_str()),
        hash: String::new(),
    };
    entry.hash = log_entry_hash(&entry);
    let key = wp_schemas::jose::SigningKey::generate();
    let jwk = serde_json::to_string(key.public_jwk()).unwrap();
    let migrator = old_migrator(backend, dir.path()).await;
    let values = [
        employee.as_str(),
        acme.as_str(),
        passport.as_str(),
        grant.as_str(),
        entry.hash.as_str(),
        entry.prev_hash.as_str(),
        key.kid(),
        jwk.as_str(),
    ];
    // The old migrations and rows, written once for either driver's pool.
    macro_rules! populate {
        ($pool:expr) => {{
            let pool = $pool;
            migrator.run(&pool).await.unwrap();
            for (sql, params) in OLD_ROWS {
                let mut query = sqlx::query(sql);
                for i in params {
                    query = query.bind(values[*i]);
                }
                query.execute(&pool).await.unwrap();
            }
            pool.close().await;
        }};
    }
    match backend {
        Backend::Sqlite => {
            let options = url.parse::<sqlx::sqlite::SqliteConnectOptions>().unwrap();
            populate!(
                sqlx::SqlitePool::connect_with(options.create_if_missing(true))
                    .await
                    .unwrap()
            )
        }
        Backend::Postgres => populate!(sqlx::PgPool::connect(&url).await.unwrap()),
    }

    // The current server's store applies the new migrations on open.
    let store = Store::connect(&url, 2).await.expect("the upgrade applies");
    let acme_party = store.party(&acme).await.unwrap().expect("Acme survives");
    assert_eq!(acme_party.kind, PartyKind::Employer);
    assert_eq!(acme_party.keys.len(), 1);
    assert!(acme_party.membership.is_none());
    let old_grant = store
        .grant(&id(&grant))
        .await
        .unwrap()
        .expect("the grant survives");
    assert_eq!(old_grant.grantee, acme);
    assert!(old_grant.roles.is_empty() && old_grant.members.is_empty());
    let log = store.log_page(&passport, None, None, 10).await.unwrap();
    assert_eq!(
        log,
        vec![entry.clone()],
        "the old entry reads back as it was"
    );
    assert_eq!(verify_log(passport.as_str(), &log, None), Ok(()));

    // The new kinds fit the upgraded schema.
    let practice = PartyId::random();
    let now = Timestamp::from_secs(1_764_000_100);
    store
        .create_organisation(&practice, PartyKind::Practice, "Hale OT", now)
        .await
        .unwrap();
    let found = store.organisations(Some("hale"), 20).await.unwrap();
    assert_eq!(
        found
            .iter()
            .map(|o| (&o.id, o.kind, o.display_name.as_str(), o.listed))
            .collect::<Vec<_>>(),
        vec![(&practice, PartyKind::Practice, "Hale OT", false)]
    );
    let found = store.organisations(Some("ACME"), 20).await.unwrap();
    assert_eq!(found.len(), 1, "an old employer is in the admin's list too");
    assert!(
        store
            .find_organisations("acme", 20)
            .await
            .unwrap()
            .is_empty(),
        "but not in the directory until it chooses to be listed"
    );
    store.close().await;
}

backend_tests!(upgrade_keeps_what_exists);
