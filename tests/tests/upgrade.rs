//! A database made before organisations existed upgrades in place, with its data: the parties
//! and keys written under the first migrations survive the ones that add organisations (on
//! SQLite, the parties table is rebuilt while other tables refer to it), and the server then
//! signs those parties in as before. Tests that start from an empty database cannot see this.

use sqlx::migrate::Migrator;
use wp_client::{Client, SigningKey};
use wp_schemas::api::PartyKind;
use wp_tests::{Backend, ServerProcess, backend_tests, process_database};

backend_tests!(a_database_from_before_organisations_upgrades_with_its_parties);

/// The migrations that came before organisations.
const BEFORE_ORGANISATIONS: [&str; 2] = ["0001_init.sql", "0002_installation_keys.sql"];

/// A migrator for the first migrations only, from the repository's files.
async fn old_migrator(backend: Backend, dir: &std::path::Path) -> Migrator {
    let dialect = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(dialect);
    let old = dir.join("old-migrations");
    std::fs::create_dir_all(&old).unwrap();
    for file in BEFORE_ORGANISATIONS {
        std::fs::copy(source.join(file), old.join(file)).unwrap();
    }
    Migrator::new(old.as_path())
        .await
        .expect("the old migrations")
}

const INSERT_PARTY: &str =
    "INSERT INTO parties (id, kind, display_name, created_at) VALUES ($1, $2, $3, $4)";
const INSERT_KEY: &str =
    "INSERT INTO party_keys (kid, party_id, jwk, created_at) VALUES ($1, $2, $3, $4)";

async fn a_database_from_before_organisations_upgrades_with_its_parties(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _database) = process_database(backend, dir.path()).await;
    let migrator = old_migrator(backend, dir.path()).await;
    let employer = SigningKey::generate();
    let employee = SigningKey::generate();
    let parties = [
        (
            uuid::Uuid::new_v4().to_string(),
            "employer",
            "Acme Ltd",
            &employer,
        ),
        (
            uuid::Uuid::new_v4().to_string(),
            "employee",
            "Alice",
            &employee,
        ),
    ];
    let now = chrono::Utc::now().timestamp();

    // The database as it was: the first migrations, and two parties with a key each.
    macro_rules! populate {
        ($pool:expr) => {{
            let pool = $pool;
            migrator.run(&pool).await.expect("the old migrations run");
            for (id, kind, name, key) in &parties {
                sqlx::query(INSERT_PARTY)
                    .bind(id)
                    .bind(*kind)
                    .bind(*name)
                    .bind(now)
                    .execute(&pool)
                    .await
                    .unwrap();
                sqlx::query(INSERT_KEY)
                    .bind(key.kid())
                    .bind(id)
                    .bind(serde_json::to_string(key.public_jwk()).unwrap())
                    .bind(now)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        }};
    }
    match backend {
        Backend::Sqlite => {
            use std::str::FromStr;
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(&database_url)
                .unwrap()
                .create_if_missing(true)
                .foreign_keys(true);
            populate!(sqlx::SqlitePool::connect_with(options).await.unwrap())
        }
        Backend::Postgres => populate!(sqlx::PgPool::connect(&database_url).await.unwrap()),
    }

    // The server of today upgrades it as it starts, and knows both parties and their keys.
    let server = ServerProcess::spawn(
        env!("CARGO_BIN_EXE_wp-test-server"),
        dir.path(),
        &database_url,
        &[],
    )
    .await;
    for (id, kind, name, key) in &parties {
        let client = Client::for_party(&server.url, (*key).clone(), id);
        let me = client.me().await.expect("signed in after the upgrade");
        assert_eq!(
            (me.party.kind, me.party.display_name.as_str()),
            (PartyKind::parse(kind).unwrap(), *name)
        );
        assert_eq!(me.party.keys.len(), 1);
        assert_eq!(me.party.membership, None);
    }
    // And what is new works on the upgraded database.
    let alice = Client::for_party(&server.url, employee.clone(), &parties[1].0);
    let found = alice.find_organisations("Acme").await.unwrap();
    assert_eq!(
        found.len(),
        1,
        "the employer enrolled before is in the directory"
    );
    assert_eq!(found[0].id, parties[0].0);
}
