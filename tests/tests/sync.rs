//! Sync into a local replica, on SQLite and PostgreSQL: incremental pulls with signed
//! checkpoints, verification before anything is applied, rollback and fork detection, and the
//! local copy deleted when consent ends.

use serde_json::{Value, json};
use wp_client::replica::{Replica, SyncState};
use wp_client::{Client, ClientError, PassportClient, SigningKey};
use wp_schemas::api::{Action, CreateGrant, Grant, PartyKind, ProfessionalRegistration, Scope};
use wp_schemas::chain::{history_genesis, history_next, version_hash};
use wp_schemas::jose::{b64, b64_decode, sha256_b64};
use wp_schemas::sections::{Section, example_body};
use wp_server::Store;
use wp_tests::{
    Backend, PassportId, ServerProcess, TestServer, backend_tests, id, on_db, process_database,
    raw_request,
};

fn scope(section: Section, actions: &[Action]) -> Scope {
    Scope {
        section,
        actions: actions.to_vec(),
    }
}

async fn grant(passport: &PassportClient<'_>, grantee: &str, scopes: Vec<Scope>) -> Grant {
    passport
        .grant(&CreateGrant {
            grantee: grantee.into(),
            roles: Vec::new(),
            members: Vec::new(),
            scopes,
            purpose: "workplace adjustments at Acme Ltd".into(),
            starts_at: None,
            ends_at: chrono::Utc::now() + chrono::Duration::days(90),
            consent_text: "I agree to share these sections for my workplace adjustments.".into(),
        })
        .await
        .expect("grant")
}

fn summary(text: &str) -> Value {
    let mut body = example_body(Section::Summary);
    body["about_me"] = json!(text);
    body
}

fn adjustment(title: &str, notes: &str) -> Value {
    let mut body = example_body(Section::Adjustments);
    body["title"] = json!(title);
    body["notes"] = json!(notes);
    body
}

/// What a replica holds of a passport, to check that a refused sync changed nothing.
async fn snapshot(
    replica: &Replica,
    pid: &str,
) -> (Option<SyncState>, Vec<(i64, String, i64, String)>) {
    let state = replica.state(pid).await.unwrap();
    let versions = replica
        .history(pid)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.seq, v.record_id, v.version, v.hash))
        .collect();
    (state, versions)
}

/// The journey through the library, against the real server binary as a process.
async fn journey_through_a_server_process(backend: Backend) {
    let binary = env!("CARGO_BIN_EXE_wp-test-server");
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _database) = process_database(backend, dir.path()).await;
    let admin_key = SigningKey::generate();
    let admin_id = ServerProcess::add_admin(binary, dir.path(), &database_url, &admin_key);
    let server = ServerProcess::spawn(binary, dir.path(), &database_url, &[]).await;
    let admin = Client::for_party(&server.url, admin_key, &admin_id);

    // The admin enrols the employer and the occupational therapist.
    let employer_key = SigningKey::generate();
    let employer_party = admin
        .enrol(
            PartyKind::Employer,
            "Acme Ltd HR",
            employer_key.public_jwk(),
            None,
        )
        .await
        .unwrap();
    let employer = Client::for_party(&server.url, employer_key, &employer_party.id);
    let ot_key = SigningKey::generate();
    let ot_party = admin
        .enrol(
            PartyKind::Professional,
            "Jo Smith OT",
            ot_key.public_jwk(),
            Some(ProfessionalRegistration {
                profession: "occupational therapist".into(),
                registration_body: "HCPC".into(),
                registration_number: "OT12345".into(),
            }),
        )
        .await
        .unwrap();
    let ot = Client::for_party(&server.url, ot_key, &ot_party.id);

    // The employee's passport, with records in several sections.
    let mut employee = Client::new(&server.url, SigningKey::generate());
    employee.register_employee("Alex").await.unwrap();
    let info = employee.create_passport().await.unwrap();
    let pid = info.id.clone();
    let passport = employee.own_passport(&pid);
    let about = passport
        .create_record(Section::Summary, summary("About me, first draft."))
        .await
        .unwrap();
    let conditions = passport
        .create_record(Section::Conditions, example_body(Section::Conditions))
        .await
        .unwrap();
    for section in [Section::Impacts, Section::FitNotes, Section::Plans] {
        passport
            .create_record(section, example_body(section))
            .await
            .unwrap();
    }
    let mut adjustments = Vec::new();
    for i in 0..5 {
        let v = passport
            .create_record(
                Section::Adjustments,
                adjustment(&format!("Adjustment {i}"), "Requested by Alex."),
            )
            .await
            .unwrap();
        adjustments.push(v.envelope.record_id);
    }

    // The OT may read and write impacts and adjustments, and updates an adjustment.
    let ot_grant = grant(
        &passport,
        &ot_party.id,
        vec![
            scope(Section::Impacts, &[Action::Read, Action::Write]),
            scope(Section::Adjustments, &[Action::Read, Action::Write]),
        ],
    )
    .await;
    let ot_passport = ot.granted_passport(&ot_grant.id).await.unwrap();
    let by_ot = ot_passport
        .update_record(
            &adjustments[0],
            adjustment("Adjustment 0", "Recommended by the OT after assessment."),
        )
        .await
        .unwrap();
    assert_eq!(by_ot.envelope.author, ot_party.id);

    // The employer may read the summary and the adjustments, and syncs them into a replica.
    let employer_grant = grant(
        &passport,
        &employer_party.id,
        vec![
            scope(Section::Summary, &[Action::Read]),
            scope(Section::Adjustments, &[Action::Read]),
        ],
    )
    .await;
    let hr = employer.granted_passport(&employer_grant.id).await.unwrap();
    let replica_path = dir.path().join("hr").join("replica.db");
    let replica = Replica::open(&replica_path).await.unwrap();
    let first = replica.sync(&hr).await.unwrap();
    assert!(!first.unchanged);
    // Summary 1 + adjustments 5 + the OT's version.
    assert_eq!(first.applied.len(), 7);
    let seq_now = passport.read().await.unwrap().seq;
    assert_eq!(first.cursor, seq_now);
    assert_eq!(replica.cursor(&pid).await.unwrap(), Some(seq_now));
    assert!(replica.has_passport(&pid).await.unwrap());

    // The OT's version verifies with the OT's key: author and registration are the OT's.
    let from_ot = first
        .applied
        .iter()
        .find(|v| v.envelope.hash == by_ot.envelope.hash)
        .expect("the OT's version was pulled");
    assert_eq!(from_ot.author.id, ot_party.id);
    assert_eq!(
        from_ot
            .author
            .registration
            .as_ref()
            .unwrap()
            .registration_body,
        "HCPC"
    );
    let records = replica.records(&pid).await.unwrap();
    assert_eq!(records.len(), 6);
    let local = records
        .iter()
        .find(|r| r.record_id == adjustments[0])
        .unwrap();
    assert_eq!(local.version, 2);
    assert_eq!(local.author, ot_party.id);
    assert_eq!(local.author_party.kind, PartyKind::Professional);
    assert_eq!(
        local.author_party.registration.as_ref().unwrap(),
        &ProfessionalRegistration {
            profession: "occupational therapist".into(),
            registration_body: "HCPC".into(),
            registration_number: "OT12345".into(),
        }
    );
    assert_eq!(
        local.body["notes"],
        json!("Recommended by the OT after assessment.")
    );
    assert_eq!(local.jws, by_ot.envelope.jws);
    assert_eq!(replica.verify_all(&pid).await.unwrap(), 7);

    // The employee edits again, in and out of the grant: the incremental sync pulls only the
    // one change the employer may see.
    passport
        .update_record(
            &about.envelope.record_id,
            summary("About me, second draft."),
        )
        .await
        .unwrap();
    passport
        .update_record(
            &conditions.envelope.record_id,
            example_body(Section::Conditions),
        )
        .await
        .unwrap();
    let second = replica.sync(&hr).await.unwrap();
    assert!(!second.unchanged);
    assert_eq!(second.applied.len(), 1);
    assert_eq!(
        second.applied[0].envelope.record_id,
        about.envelope.record_id
    );
    assert_eq!(second.cursor, seq_now + 2);
    eprintln!(
        "sync bytes ({backend:?}): first {} ({} versions), incremental {} (1 version of {} bytes of JWS)",
        first.bytes,
        first.applied.len(),
        second.bytes,
        second.applied[0].envelope.jws.len()
    );
    assert!(
        second.bytes * 3 < first.bytes,
        "incremental {} bytes vs first {} bytes",
        second.bytes,
        first.bytes
    );
    // About the changed record's own size plus envelope and checkpoint.
    assert!(second.bytes < second.applied[0].envelope.jws.len() as u64 + 1500);
    let summary_now = replica
        .records(&pid)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.section == Section::Summary)
        .unwrap();
    assert_eq!(summary_now.version, 2);
    assert_eq!(
        summary_now.body["about_me"],
        json!("About me, second draft.")
    );

    // Nothing new: 304, nothing received, nothing applied.
    let third = replica.sync(&hr).await.unwrap();
    assert!(third.unchanged);
    assert_eq!(third.bytes, 0);
    assert!(third.applied.is_empty());
    assert_eq!(third.cursor, second.cursor);

    // Sections outside the grant never reach the replica.
    let held: Vec<Section> = replica
        .history(&pid)
        .await
        .unwrap()
        .iter()
        .map(|v| v.section)
        .collect();
    assert_eq!(held.len(), 8);
    assert!(
        held.iter()
            .all(|s| matches!(s, Section::Summary | Section::Adjustments)),
        "{held:?}"
    );
    assert_eq!(replica.verify_all(&pid).await.unwrap(), 8);

    // A replica that pulls one version per request ends with the same copy.
    let paged = Replica::in_memory().await.unwrap().with_page_limit(1);
    let report = paged.sync(&hr).await.unwrap();
    assert!(report.requests > 8, "{} requests", report.requests);
    assert_eq!(report.applied.len(), 8);
    assert_eq!(report.cursor, second.cursor);
    assert_eq!(
        snapshot(&paged, &pid).await.1,
        snapshot(&replica, &pid).await.1
    );

    // The OT's own replica holds impacts and adjustments, never the summary.
    let ot_replica = Replica::in_memory().await.unwrap();
    ot_replica.sync(&ot_passport).await.unwrap();
    let ot_sections: Vec<Section> = ot_replica
        .records(&pid)
        .await
        .unwrap()
        .iter()
        .map(|r| r.section)
        .collect();
    assert_eq!(ot_sections.len(), 6);
    assert!(
        ot_sections
            .iter()
            .all(|s| matches!(s, Section::Impacts | Section::Adjustments))
    );

    // The employee revokes: the employer's next sync fails and its copy is gone.
    passport.revoke(&employer_grant.id).await.unwrap();
    let refused = replica.sync(&hr).await.unwrap_err();
    assert!(
        matches!(refused, ClientError::ConsentEnded(_)),
        "{refused:?}"
    );
    assert!(!replica.has_passport(&pid).await.unwrap());
    assert!(replica.records(&pid).await.unwrap().is_empty());
    assert_eq!(replica.cursor(&pid).await.unwrap(), None);
    assert!(matches!(
        paged.sync(&hr).await.unwrap_err(),
        ClientError::ConsentEnded(_)
    ));
    assert!(!paged.has_passport(&pid).await.unwrap());
    replica.close().await;
    // Not a trace left in the file.
    {
        use sqlx::Connection;
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", replica_path.display()))
                .await
                .unwrap();
        for table in ["replica_passports", "replica_versions", "replica_parties"] {
            let (count,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(count, 0, "{table}");
        }
        conn.close().await.unwrap();
    }
    // The OT's grant is untouched.
    ot_replica.sync(&ot_passport).await.unwrap();
    assert!(ot_replica.has_passport(&pid).await.unwrap());
}

/// A version altered in the server's database (decrypted, body changed with the signature
/// kept, encrypted again) is refused, and nothing of its response is applied. Tampering with
/// the replica file is found by `verify_all`.
async fn tampered_version_is_rejected(backend: Backend) {
    let server = TestServer::start(backend).await;
    let employee = server.employee("Alex").await;
    let employer = server.employer("Acme Ltd").await;
    let info = employee.create_passport().await.unwrap();
    let pid = info.id.clone();
    let passport = employee.own_passport(&pid);
    passport
        .create_record(Section::Summary, summary("About me."))
        .await
        .unwrap();
    let adj = passport
        .create_record(Section::Adjustments, adjustment("Headphones", "Requested."))
        .await
        .unwrap();
    let g = grant(
        &passport,
        employer.party_id().unwrap(),
        vec![
            scope(Section::Summary, &[Action::Read]),
            scope(Section::Adjustments, &[Action::Read]),
        ],
    )
    .await;
    let hr = employer.granted_passport(&g.id).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let replica_path = dir.path().join("replica.db");
    let replica = Replica::open(&replica_path).await.unwrap();
    assert_eq!(replica.sync(&hr).await.unwrap().applied.len(), 2);

    // Two more versions; the second is tampered with on the server.
    passport
        .update_record(&adj.envelope.record_id, adjustment("Headphones", "Agreed."))
        .await
        .unwrap();
    let victim = passport
        .update_record(
            &adj.envelope.record_id,
            adjustment("Headphones", "In place."),
        )
        .await
        .unwrap();
    let store = server.store().await;
    let master =
        wp_server::keys::MasterKeys::load(None, &server.data_dir.path().join("master-keys.json"))
            .unwrap();
    let pid_id: PassportId = id(&pid);
    let key = wp_server::vault::data_key(&store, &master, &pid_id)
        .await
        .unwrap()
        .unwrap();
    let row = store
        .versions_since(&pid_id, victim.envelope.seq - 1, victim.envelope.seq, 1)
        .await
        .unwrap()
        .remove(0);
    let stored = wp_server::vault::open(&key, &pid_id, row.clone()).unwrap();
    assert_eq!(stored.jws, victim.envelope.jws);
    let parts: Vec<&str> = stored.jws.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&b64_decode(parts[1]).unwrap()).unwrap();
    payload["body"]["notes"] = json!("Declined by the employer.");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_vec(&payload).unwrap()),
        parts[2]
    );
    let sealed =
        wp_server::vault::seal(&master, &key, &pid_id, &row.record_id, row.version, &forged);
    on_db!(&store, pool => {
        let updated = sqlx::query(
            "UPDATE record_versions SET sealed = $1, hash = $2 WHERE passport_id = $3 AND seq = $4",
        )
        .bind(&sealed)
        .bind(version_hash(&forged))
        .bind(&pid)
        .bind(row.seq)
        .execute(pool)
        .await
        .unwrap()
        .rows_affected();
        assert_eq!(updated, 1);
    });

    let before = snapshot(&replica, &pid).await;
    for _ in 0..2 {
        let refused = replica.sync(&hr).await.unwrap_err();
        assert!(
            matches!(&refused, ClientError::Verification(why) if why.contains("signature")),
            "{refused:?}"
        );
        // Not even the untampered version of the same response was applied.
        assert_eq!(snapshot(&replica, &pid).await, before);
    }
    let records = replica.records(&pid).await.unwrap();
    let held = records
        .iter()
        .find(|r| r.record_id == adj.envelope.record_id)
        .unwrap();
    assert_eq!(held.version, 1);
    assert_eq!(replica.verify_all(&pid).await.unwrap(), 2);

    // Tampering with the replica file itself: a body changed, its hash recomputed.
    let local = replica.history(&pid).await.unwrap().remove(0);
    let parts: Vec<&str> = local.jws.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&b64_decode(parts[1]).unwrap()).unwrap();
    payload["body"]["about_me"] = json!("Something the employee never wrote.");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_vec(&payload).unwrap()),
        parts[2]
    );
    {
        use sqlx::Connection;
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", replica_path.display()))
                .await
                .unwrap();
        sqlx::query(
            "UPDATE replica_versions SET jws = ?1, hash = ?2 WHERE passport_id = ?3 AND seq = ?4",
        )
        .bind(&forged)
        .bind(version_hash(&forged))
        .bind(&pid)
        .bind(local.seq)
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let found = replica.verify_all(&pid).await.unwrap_err();
    assert!(matches!(found, ClientError::Verification(_)), "{found:?}");
    replica.close().await;
    store.close().await;
    server.stop().await;
}

/// A server restored from an older copy of its database serves an older checkpoint: the
/// replica reports a rollback and keeps its copy. When the restored server then takes new
/// writes, its history forks from the one the replica saw.
async fn rollback_is_detected(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("server");
    std::fs::create_dir_all(&data_dir).unwrap();
    let tune = {
        let data_dir = data_dir.clone();
        move |s: &mut wp_server::Settings| {
            // SQLite: a data directory of our own, to restore a file into and restart on.
            if s.database_url.is_none() {
                s.data_dir = data_dir;
            }
        }
    };
    let server = TestServer::start_with(backend, tune.clone()).await;
    let employee = server.employee("Alex").await;
    let employer = server.employer("Acme Ltd").await;
    let info = employee.create_passport().await.unwrap();
    let pid = info.id.clone();
    let passport = employee.own_passport(&pid);
    let about = passport
        .create_record(Section::Summary, summary("About me."))
        .await
        .unwrap();
    passport
        .create_record(Section::Adjustments, adjustment("Headphones", "Requested."))
        .await
        .unwrap();
    let g = grant(
        &passport,
        employer.party_id().unwrap(),
        vec![
            scope(Section::Summary, &[Action::Read]),
            scope(Section::Adjustments, &[Action::Read]),
        ],
    )
    .await;
    let replica = Replica::in_memory().await.unwrap();
    let hr = employer.granted_passport(&g.id).await.unwrap();
    let old = replica.sync(&hr).await.unwrap();
    assert_eq!(old.cursor, 2);

    // A backup of the server's state now.
    let store = server.store().await;
    let backup = dir.path().join("backup.db");
    let (old_seq, old_head): (i64, String) = on_db!(&store, pool => {
        sqlx::query_as("SELECT seq, head FROM passports WHERE id = $1")
            .bind(&pid)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(old_seq, 2);
    if let Store::Sqlite(pool, _) = &store {
        sqlx::query(&format!("VACUUM INTO '{}'", backup.display()))
            .execute(pool)
            .await
            .unwrap();
    }
    store.close().await;

    // One more version, synced.
    passport
        .update_record(&about.envelope.record_id, summary("About me, updated."))
        .await
        .unwrap();
    let newer = replica.sync(&hr).await.unwrap();
    assert_eq!(newer.applied.len(), 1);
    assert_eq!(newer.cursor, 3);

    // The server goes back to the backup.
    let (employee_key, employee_id) = (
        employee.key().clone(),
        employee.party_id().unwrap().to_owned(),
    );
    let (employer_key, employer_id) = (
        employer.key().clone(),
        employer.party_id().unwrap().to_owned(),
    );
    let server = match backend {
        Backend::Sqlite => {
            server.stop().await;
            let db = data_dir.join("passport.db");
            // A new file, as a restore makes it: nothing that had the old one open (and its
            // POSIX locks, which SQLite uses) can stand in the way of the restarted server.
            std::fs::remove_file(&db).unwrap();
            std::fs::copy(&backup, &db).unwrap();
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(data_dir.join(format!("passport.db{suffix}")));
            }
            TestServer::start_with(backend, tune).await
        }
        Backend::Postgres => {
            let store = server.store().await;
            if let Store::Postgres(pool) = &store {
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("DELETE FROM record_versions WHERE passport_id = $1 AND seq > $2")
                    .bind(&pid)
                    .bind(old_seq)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query("UPDATE passports SET seq = $2, head = $3 WHERE id = $1")
                    .bind(&pid)
                    .bind(old_seq)
                    .bind(&old_head)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query(
                    "UPDATE records SET head_version = 1, head_hash = $3, deleted = FALSE \
                     WHERE passport_id = $1 AND id = $2",
                )
                .bind(&pid)
                .bind(&about.envelope.record_id)
                .bind(&about.envelope.hash)
                .execute(&mut *tx)
                .await
                .unwrap();
                tx.commit().await.unwrap();
            }
            store.close().await;
            server
        }
    };
    let employee = Client::for_party(&server.url, employee_key, &employee_id);
    let employer = Client::for_party(&server.url, employer_key, &employer_id);
    let hr = employer.granted_passport(&g.id).await.unwrap();
    let before = snapshot(&replica, &pid).await;
    let refused = replica.sync(&hr).await.unwrap_err();
    assert!(
        matches!(refused, ClientError::Rollback { seen: 3, served: 2 }),
        "{refused:?}"
    );
    assert_eq!(snapshot(&replica, &pid).await, before);
    assert_eq!(replica.cursor(&pid).await.unwrap(), Some(3));

    // The restored server takes another version 2 of the summary, at the same sequence 3: the
    // history forked.
    employee
        .own_passport(&pid)
        .update_record(
            &about.envelope.record_id,
            summary("About me, written again."),
        )
        .await
        .unwrap();
    let refused = replica.sync(&hr).await.unwrap_err();
    assert!(
        matches!(refused, ClientError::Fork { seq: 3 }),
        "{refused:?}"
    );
    assert_eq!(snapshot(&replica, &pid).await, before);
    let held = replica.records(&pid).await.unwrap();
    let summary_held = held.iter().find(|r| r.section == Section::Summary).unwrap();
    assert_eq!(summary_held.body["about_me"], json!("About me, updated."));
    assert_eq!(replica.verify_all(&pid).await.unwrap(), 3);
    server.stop().await;
}

/// A history rewritten on the server (same sequence, another head) is a fork, for a grantee
/// and for the owner; the owner, who sees every version, also catches a fork at a later
/// sequence by recomputing the history hash.
async fn fork_is_detected(backend: Backend) {
    let server = TestServer::start(backend).await;
    let employee = server.employee("Alex").await;
    let employer = server.employer("Acme Ltd").await;
    let info = employee.create_passport().await.unwrap();
    let pid = info.id.clone();
    let passport = employee.own_passport(&pid);
    let about = passport
        .create_record(Section::Summary, summary("About me."))
        .await
        .unwrap();
    passport
        .create_record(Section::Conditions, example_body(Section::Conditions))
        .await
        .unwrap();
    let g = grant(
        &passport,
        employer.party_id().unwrap(),
        vec![scope(Section::Summary, &[Action::Read])],
    )
    .await;
    let hr = employer.granted_passport(&g.id).await.unwrap();
    let replica = Replica::in_memory().await.unwrap();
    let own = Replica::in_memory().await.unwrap();
    assert_eq!(replica.sync(&hr).await.unwrap().applied.len(), 1);
    assert_eq!(own.sync(&passport).await.unwrap().applied.len(), 2);
    assert!(own.state(&pid).await.unwrap().unwrap().chain.is_some());
    assert!(replica.state(&pid).await.unwrap().unwrap().chain.is_none());

    // The server's history head is rewritten at the same sequence.
    let store = server.store().await;
    on_db!(&store, pool => {
        sqlx::query("UPDATE passports SET head = $2 WHERE id = $1")
            .bind(&pid)
            .bind(sha256_b64(b"another history"))
            .execute(pool)
            .await
            .unwrap();
    });
    for (r, client) in [(&replica, &hr), (&own, &passport)] {
        let before = snapshot(r, &pid).await;
        let refused = r.sync(client).await.unwrap_err();
        assert!(
            matches!(refused, ClientError::Fork { seq: 2 }),
            "{refused:?}"
        );
        assert_eq!(snapshot(r, &pid).await, before);
        assert_eq!(r.verify_all(&pid).await.unwrap(), before.1.len());
    }

    // A new version on top of the rewritten head: the owner's replica recomputes the history
    // hash over every version and finds it differs from the checkpoint's.
    passport
        .update_record(&about.envelope.record_id, summary("About me, updated."))
        .await
        .unwrap();
    let before = snapshot(&own, &pid).await;
    let refused = own.sync(&passport).await.unwrap_err();
    assert!(
        matches!(refused, ClientError::Fork { seq: 3 }),
        "{refused:?}"
    );
    assert_eq!(snapshot(&own, &pid).await, before);
    store.close().await;
    server.stop().await;
}

/// A tag stands for "everything up to the head": a page with more to come carries none, and a
/// client still paging is never told "nothing new" by a tag it holds from before.
async fn paging_is_never_cut_short_by_a_tag(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alex = server.employee("Alex").await;
    let pid = alex.create_passport().await.unwrap().id;
    let passport = alex.own_passport(&pid);
    for _ in 0..3 {
        passport
            .create_record(Section::Summary, example_body(Section::Summary))
            .await
            .unwrap();
    }
    let token = alex.access_token().await.unwrap();
    let get = |query: &str, tag: Option<&str>| {
        let url = format!("{}/v1/passports/{pid}/changes", alex.base_url());
        let mut request = alex
            .http()
            .get(format!("{url}?{query}"))
            .header("Authorization", format!("DPoP {token}"))
            .header(
                "DPoP",
                wp_client::proofs::dpop(alex.key(), "GET", &url, Some(&token)),
            );
        if let Some(tag) = tag {
            request = request.header("If-None-Match", tag);
        }
        request.send()
    };
    let last = get("since=0", None).await.unwrap();
    assert_eq!(last.status(), 200);
    let tag = last.headers()["etag"].to_str().unwrap().to_owned();
    let page = get("since=0&limit=1", None).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers().get("etag").is_none(),
        "no tag on a partial page"
    );
    let resumed = get("since=1", Some(&tag)).await.unwrap();
    assert_eq!(
        resumed.status(),
        200,
        "a client behind the head gets its pages"
    );
    let body: Value = resumed.json().await.unwrap();
    assert_eq!(body["versions"].as_array().unwrap().len(), 2);
    let unchanged = get("since=3", Some(&tag)).await.unwrap();
    assert_eq!(unchanged.status(), 304);
    server.stop().await;
}

/// A sync answer is the history at one moment, even while versions are being written: it holds
/// no version past its checkpoint, its last page's cursor is the checkpoint's sequence, and a
/// reader of every section recomputes the checkpoint's head from what it received.
async fn a_sync_is_the_history_at_one_moment(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alex = server.employee("Alex").await;
    let pid = alex.create_passport().await.unwrap().id;
    let passport = alex.own_passport(&pid);
    let record = passport
        .create_record(Section::Summary, summary("v1"))
        .await
        .unwrap();
    let writes = async {
        for i in 2..=25 {
            passport
                .update_record(&record.envelope.record_id, summary(&format!("v{i}")))
                .await
                .unwrap();
        }
    };
    let syncs = async {
        let token = alex.access_token().await.unwrap();
        let (mut since, mut head, mut last_pages) = (0, history_genesis(&pid), 0);
        while since < 25 {
            let path = format!("/v1/passports/{pid}/changes?since={since}&limit=3");
            let changes: Value = raw_request(&alex, reqwest::Method::GET, &path, &token, None)
                .await
                .json()
                .await
                .unwrap();
            let payload = changes["checkpoint"].as_str().unwrap().split('.').nth(1);
            let checkpoint: Value =
                serde_json::from_slice(&b64_decode(payload.unwrap()).unwrap()).unwrap();
            for version in changes["versions"].as_array().unwrap() {
                assert!(version["seq"].as_i64() <= checkpoint["seq"].as_i64());
                head = history_next(&head, version["hash"].as_str().unwrap());
            }
            since = changes["next_since"].as_i64().unwrap();
            if changes["more"] == false {
                assert_eq!(
                    checkpoint["seq"], since,
                    "the last page ends at the checkpoint"
                );
                assert_eq!(checkpoint["head"], head, "and its head is recomputed");
                last_pages += 1;
            }
        }
        last_pages
    };
    let ((), last_pages) = tokio::join!(writes, syncs);
    assert!(last_pages >= 1);
    server.stop().await;
}

backend_tests!(
    a_sync_is_the_history_at_one_moment,
    paging_is_never_cut_short_by_a_tag,
    journey_through_a_server_process,
    tampered_version_is_rejected,
    rollback_is_detected,
    fork_is_detected,
);
