//! Durability under `kill -9`: a write storm through the client library against the real server
//! binary, killed at random moments and restarted on the same data. Every acknowledged version
//! must be there byte for byte afterwards, and every chain, the changes feed and the access log
//! must verify.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use wp_client::{Client, PassportClient, Replica, SigningKey};
use wp_schemas::api::{
    Action, CreateGrant, PartyKind, ProfessionalRegistration, Scope, VersionEnvelope,
};
use wp_schemas::sections::{Section, example_body};
use wp_tests::{Backend, ServerProcess, backend_tests, free_port, process_database};

const KILLS: usize = 3;

/// A pause of 250 to 750 ms, different each time.
fn random_pause() -> Duration {
    Duration::from_millis(250 + (uuid::Uuid::new_v4().as_u128() % 500) as u64)
}

/// Edits `record` again and again until told to stop; every version the server acknowledged
/// goes into `acked`. Errors (a killed server, a conflict lost three times) are simply retried.
async fn storm(
    passport: &PassportClient<'_>,
    record: &str,
    writer: &str,
    stop: &AtomicBool,
    acked: &Mutex<Vec<VersionEnvelope>>,
) {
    let mut edit = 0;
    while !stop.load(Ordering::Relaxed) {
        edit += 1;
        let note = format!("{writer}, edit {edit}");
        let change = |body: &Value| {
            let mut body = body.clone();
            body["notes"] = json!(note);
            body
        };
        match passport.rebase_and_write(record, 3, change).await {
            Ok(version) => acked.lock().unwrap().push(version.envelope),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn acknowledged_writes_survive_kill_9(backend: Backend) {
    let binary = env!("CARGO_BIN_EXE_wp-test-server");
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _database) = process_database(backend, dir.path()).await;
    let admin_key = SigningKey::generate();
    let admin_id = ServerProcess::add_admin(binary, dir.path(), &database_url, &admin_key);
    let port = free_port();
    let server = ServerProcess::spawn_on(binary, dir.path(), &database_url, port, &[]).await;
    let url = server.url.clone();
    let admin = Client::for_party(&url, admin_key, &admin_id);

    let mut alex = Client::new(&url, SigningKey::generate());
    alex.register_employee("Alex").await.unwrap();
    let pid = alex.create_passport().await.unwrap().id;
    let mine = alex.own_passport(&pid);
    let ot_key = SigningKey::generate();
    let ot = admin
        .enrol(
            PartyKind::Professional,
            "Dana Okafor",
            ot_key.public_jwk(),
            Some(ProfessionalRegistration {
                profession: "occupational therapist".into(),
                registration_body: "HCPC".into(),
                registration_number: "OT12345".into(),
            }),
        )
        .await
        .unwrap();
    let dana = Client::for_party(&url, ot_key, &ot.id);
    let grant = mine
        .grant(&CreateGrant {
            grantee: ot.id.clone(),
            roles: Vec::new(),
            members: Vec::new(),
            scopes: vec![Scope {
                section: Section::Adjustments,
                actions: vec![Action::Read, Action::Write],
            }],
            purpose: "Workplace assessment".into(),
            starts_at: None,
            ends_at: Utc::now() + chrono::Duration::hours(1),
            consent_text: "I agree.".into(),
        })
        .await
        .unwrap();
    let hers = dana.granted_passport(&grant.id).await.unwrap();

    // One record both write (conflicts), and one each writes alone.
    let body = example_body(Section::Adjustments);
    let shared = mine
        .create_record(Section::Adjustments, body.clone())
        .await
        .unwrap();
    let alone = mine
        .create_record(Section::Adjustments, body.clone())
        .await
        .unwrap();
    let hers_alone = hers
        .create_record(Section::Adjustments, body)
        .await
        .unwrap();
    let acked = Mutex::new(vec![
        shared.envelope.clone(),
        alone.envelope.clone(),
        hers_alone.envelope.clone(),
    ]);
    let stop = AtomicBool::new(false);

    let killer = async {
        let mut server = server;
        for _ in 0..KILLS {
            tokio::time::sleep(random_pause()).await;
            drop(server); // SIGKILL, then wait for the process to be gone
            server = ServerProcess::spawn_on(binary, dir.path(), &database_url, port, &[]).await;
        }
        tokio::time::sleep(random_pause()).await;
        stop.store(true, Ordering::Relaxed);
        server
    };
    let (server, ..) = tokio::join!(
        killer,
        storm(&mine, &shared.envelope.record_id, "Alex", &stop, &acked),
        storm(&hers, &shared.envelope.record_id, "Dana", &stop, &acked),
        storm(
            &mine,
            &alone.envelope.record_id,
            "Alex alone",
            &stop,
            &acked
        ),
        storm(
            &hers,
            &hers_alone.envelope.record_id,
            "Dana alone",
            &stop,
            &acked
        ),
    );

    // Every acknowledged version is in its record's verified history, byte for byte.
    let acked = acked.into_inner().unwrap();
    for record in [&shared, &alone, &hers_alone] {
        let rid = &record.envelope.record_id;
        let history = mine.history(rid).await.unwrap();
        let expected = acked.iter().filter(|v| &v.record_id == rid);
        for version in expected {
            let stored = history
                .iter()
                .find(|v| v.envelope.version == version.version)
                .unwrap_or_else(|| {
                    panic!("acknowledged version {} of {rid} lost", version.version)
                });
            assert_eq!(
                stored.envelope.jws, version.jws,
                "version {} of {rid}",
                version.version
            );
            assert_eq!(stored.envelope.hash, version.hash);
        }
    }

    // The changes feed from the start verifies into a replica: every signature, every chain,
    // a gap-free sequence up to the passport's head, and a checkpoint that covers it.
    let replica = Replica::in_memory().await.unwrap();
    replica.sync(&mine).await.unwrap();
    replica.verify_all(&pid).await.unwrap();
    let seqs: Vec<i64> = replica
        .history(&pid)
        .await
        .unwrap()
        .iter()
        .map(|v| v.seq)
        .collect();
    let head = mine.read_raw().await.unwrap().seq;
    assert_eq!(seqs, (1..=head).collect::<Vec<_>>(), "a gap-free sequence");
    mine.verified_access_log().await.unwrap();
    eprintln!(
        "{backend:?}: {} acknowledged versions across {KILLS} kills, all present; sequence 1..={head}",
        acked.len()
    );
    assert!(acked.len() > 3 + KILLS, "the storm wrote through the kills");
    drop(server);
}

backend_tests!(acknowledged_writes_survive_kill_9);
