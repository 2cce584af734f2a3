//! The `wp` command line end to end: the real server in-process, the real CLI binary as a
//! process per command, one profile directory per party.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wp_schemas::api::PartyKind;
use wp_schemas::jose::PublicJwk;
use wp_schemas::sections::{Section, parse_body};
use wp_tests::{Backend, TestServer, reattest};

const WP: &str = env!("CARGO_BIN_EXE_wp-test-cli");

/// What one run of `wp` did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    #[track_caller]
    fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "wp failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.stdout
    }

    /// Asserts success and parses stdout as JSON.
    #[track_caller]
    fn json(self) -> Value {
        let out = self.ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
    }

    /// Asserts failure with `code`, and returns stderr.
    #[track_caller]
    fn fails(self, code: i32) -> String {
        assert_eq!(
            self.code, code,
            "expected exit code {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.stderr
    }
}

/// One party's profile directory, against one server.
struct Party {
    dir: PathBuf,
    server: String,
}

impl Party {
    fn new(root: &Path, name: &str, server: &TestServer) -> Self {
        Party {
            dir: root.join(name),
            server: server.url.clone(),
        }
    }

    async fn run(&self, args: &[&str]) -> Run {
        run_wp(Some(&self.dir), &self.server, args).await
    }

    /// The same, for arguments built up at run time.
    async fn run_owned(&self, args: Vec<String>) -> Run {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args).await
    }

    fn public_jwk_file(&self) -> String {
        self.dir.join("public.jwk").display().to_string()
    }

    fn public_jwk(&self) -> PublicJwk {
        let text = std::fs::read_to_string(self.dir.join("public.jwk")).expect("public.jwk");
        serde_json::from_str(&text).expect("a public JWK")
    }
}

async fn run_wp(profile: Option<&Path>, server: &str, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(WP);
    if let Some(dir) = profile {
        command.arg("--profile-dir").arg(dir);
        // Nothing may land in the real home directory.
        command.env("HOME", dir.parent().expect("profiles live in a temp dir"));
    }
    let output = command
        .args(args)
        .env("WP_SERVER", server)
        .env_remove("WP_PROFILE")
        .output()
        .await
        .expect("run the wp binary");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// An adjustment body, as requested.
fn headphones() -> String {
    json!({
        "title": "Noise-cancelling headphones",
        "category": "equipment_assistive_technology",
        "addresses": "Difficulty concentrating in the open-plan office.",
        "status": "requested"
    })
    .to_string()
}

fn text(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// An admin profile as an operator makes one: `wp keygen`, enrolled by the first admin (the
/// library stands in for `add-admin`), then `wp login-as`.
async fn admin_profile(root: &Path, server: &TestServer) -> Party {
    let admin = Party::new(root, "admin", server);
    admin.run(&["keygen"]).await.ok();
    let party = server
        .admin()
        .enrol(PartyKind::Admin, "Operator", &admin.public_jwk(), None)
        .await
        .expect("enrol an admin");
    admin.run(&["login-as", "--party-id", &party.id]).await.ok();
    admin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn employee_ot_employer_journey() {
    let server = TestServer::start(Backend::Sqlite).await;
    let root = tempfile::tempdir().expect("temp dir");
    let root = root.path();

    // The admin enrols an employer and an occupational therapist from their public keys.
    let admin = admin_profile(root, &server).await;
    let acme = Party::new(root, "acme", &server);
    let dana = Party::new(root, "dana", &server);
    acme.run(&["keygen"]).await.ok();
    let keygen = dana.run(&["--json", "keygen"]).await.json();
    assert_eq!(keygen["public_jwk"]["kty"], "OKP");
    let acme_id = admin
        .run(&[
            "--json",
            "admin",
            "enrol",
            "--kind",
            "employer",
            "--name",
            "Acme Ltd",
            "--jwk-file",
            &acme.public_jwk_file(),
        ])
        .await
        .json()["id"]
        .as_str()
        .expect("party id")
        .to_owned();
    let dana_id = admin
        .run(&[
            "-q",
            "admin",
            "enrol",
            "--kind",
            "professional",
            "--name",
            "Dana Okafor",
            "--profession",
            "occupational therapist",
            "--registration-body",
            "HCPC",
            "--registration-number",
            "OT12345",
            "--jwk-file",
            &dana.public_jwk_file(),
        ])
        .await
        .ok()
        .trim()
        .to_owned();
    acme.run(&["login-as", "--party-id", &acme_id]).await.ok();
    let me = dana
        .run(&["--json", "login-as", "--party-id", &dana_id])
        .await
        .json();
    assert_eq!(me["party"]["registration"]["registration_body"], "HCPC");
    // A key the server does not know under that id is refused, and nothing is saved.
    let stranger = Party::new(root, "stranger", &server);
    stranger.run(&["keygen"]).await.ok();
    stranger
        .run(&["login-as", "--party-id", &acme_id])
        .await
        .fails(1);

    // The employee registers, writes a summary (from the example) and an adjustment.
    let alex = Party::new(root, "alex", &server);
    alex.run(&["keygen"]).await.ok();
    let alex_id = alex
        .run(&["--json", "register", "--name", "Alex Smith"])
        .await
        .json()["id"]
        .as_str()
        .expect("party id")
        .to_owned();
    let passport = alex.run(&["--json", "passport", "create"]).await.json();
    let pid = text(&passport["id"]).to_owned();
    let summary_file = root.join("summary.json");
    std::fs::write(&summary_file, alex.run(&["example", "summary"]).await.ok()).unwrap();
    alex.run(&[
        "record",
        "add",
        "summary",
        "--file",
        &summary_file.display().to_string(),
    ])
    .await
    .ok();
    let adjustment = headphones();
    let added = alex
        .run(&[
            "--json",
            "record",
            "add",
            "adjustments",
            "--body",
            &adjustment,
        ])
        .await
        .json();
    assert_eq!(added["version"], 1);
    assert_eq!(added["author"]["id"], alex_id.as_str());
    let adj = text(&added["record_id"]).to_owned();
    // A body that does not fit its section is refused before it is sent, naming the field.
    let refused = alex
        .run(&[
            "record",
            "add",
            "adjustments",
            "--body",
            r#"{"title": "Desk", "category": "duties", "addresses": "x", "status": "maybe"}"#,
        ])
        .await
        .fails(1);
    assert!(refused.contains("status"), "{refused}");

    // Grants: the OT reads and writes adjustments and fit notes; Acme reads and agrees.
    let ot_grant = alex
        .run(&[
            "--json",
            "grant",
            "add",
            "--to",
            &dana_id,
            "--read",
            "summary",
            "--write",
            "adjustments,fit_notes",
            "--purpose",
            "Workplace assessment",
            "--days",
            "30",
        ])
        .await
        .json();
    assert_eq!(
        ot_grant["scopes"],
        json!([
            { "section": "summary", "actions": ["read"] },
            { "section": "adjustments", "actions": ["read", "write"] },
            { "section": "fit_notes", "actions": ["read", "write"] },
        ])
    );
    assert!(text(&ot_grant["consent_text"]).contains("Dana Okafor"));
    let ot_grant = text(&ot_grant["id"]).to_owned();
    let hr_grant = alex
        .run(&[
            "-q",
            "grant",
            "add",
            "--to",
            &acme_id,
            "--read",
            "summary",
            "--agree",
            "adjustments",
            "--purpose",
            "Workplace adjustments at Acme Ltd",
            "--days",
            "365",
        ])
        .await
        .ok()
        .trim()
        .to_owned();
    let grants = alex.run(&["--json", "grant", "list"]).await.json();
    assert_eq!(grants.as_array().unwrap().len(), 2);
    let listed = alex.run(&["grant", "list"]).await.ok();
    assert!(listed.contains("Acme Ltd (employer)"), "{listed}");

    // The OT sees the grant, reads, updates the adjustment and records fit-note advice.
    let to_dana = dana.run(&["--json", "grants"]).await.json();
    assert_eq!(to_dana[0]["id"], ot_grant.as_str());
    let seen = dana
        .run(&["--json", "fetch", "--grant", &ot_grant])
        .await
        .json();
    assert_eq!(seen["id"], pid.as_str());
    assert_eq!(seen["verified"], true);
    assert!(seen["sections"].get("conditions").is_none());
    assert_eq!(
        seen["sections"]["adjustments"][0]["record_id"],
        adj.as_str()
    );
    let edited = dana
        .run(&[
            "--json",
            "record",
            "edit",
            &adj,
            "--grant",
            &ot_grant,
            "--merge",
            "--body",
            r#"{"status": "trialled", "notes": "Also a quiet room two afternoons a week."}"#,
        ])
        .await
        .json();
    assert_eq!(edited["version"], 2);
    assert_eq!(edited["author"]["kind"], "professional");
    assert_eq!(edited["body"]["status"], "trialled");
    assert_eq!(edited["body"]["title"], "Noise-cancelling headphones");
    let fit_note = root.join("fit-note.json");
    std::fs::write(&fit_note, dana.run(&["example", "fit_notes"]).await.ok()).unwrap();
    dana.run(&[
        "record",
        "add",
        "fit_notes",
        "--grant",
        &ot_grant,
        "--file",
        &fit_note.display().to_string(),
    ])
    .await
    .ok();

    // The employee's stale edit (on top of version 1) is a conflict, never a silent overwrite.
    let conflict = alex
        .run(&[
            "record",
            "edit",
            &adj,
            "--base-version",
            "1",
            "--body",
            &adjustment,
        ])
        .await
        .fails(5);
    assert!(conflict.contains("version 2"), "{conflict}");
    assert!(conflict.contains("Dana Okafor"), "{conflict}");

    // The employer reads only what was granted, keeps a synced copy, and agrees the adjustment.
    let seen = acme
        .run(&["--json", "fetch", "--grant", &hr_grant])
        .await
        .json();
    let sections: Vec<&String> = seen["sections"].as_object().unwrap().keys().collect();
    assert_eq!(sections, ["adjustments", "summary"]);
    let adj_seen = &seen["sections"]["adjustments"][0];
    assert_eq!(adj_seen["version"], 2);
    assert_eq!(
        adj_seen["author"]["registration"]["registration_number"],
        "OT12345"
    );
    assert_eq!(seen["owner"]["display_name"], "Alex Smith");
    let fetched = acme.run(&["fetch", "--grant", &hr_grant]).await.ok();
    assert!(
        fetched.contains("Dana Okafor (professional, HCPC OT12345)"),
        "{fetched}"
    );
    let replica_file = root.join("acme-replica.db");
    let replica_arg = replica_file.display().to_string();
    let synced = acme
        .run(&["--json", "sync", "--grant", &hr_grant, "--db", &replica_arg])
        .await
        .json();
    assert_eq!(synced["passport_id"], pid.as_str());
    assert_eq!(synced["records"].as_array().unwrap().len(), 2);
    let agreed = acme
        .run(&[
            "--json",
            "agree",
            "--grant",
            &hr_grant,
            &adj,
            "--by",
            "Sam Patel, line manager",
        ])
        .await
        .json();
    assert_eq!(agreed["version"], 3);
    assert_eq!(agreed["author"]["id"], acme_id.as_str());
    assert_eq!(agreed["body"]["status"], "agreed");
    assert_eq!(agreed["body"]["agreed_by"], "Sam Patel, line manager");
    // Agreeing is not writing: the employer cannot edit the record.
    acme.run(&[
        "record",
        "edit",
        &adj,
        "--grant",
        &hr_grant,
        "--body",
        &adjustment,
    ])
    .await
    .fails(1);

    // The employee sees the result, its history (three authors), and the verified access log.
    let mine = alex.run(&["--json", "passport", "show"]).await.json();
    let latest = &mine["sections"]["adjustments"][0];
    assert_eq!(latest["version"], 3);
    assert_eq!(latest["body"]["status"], "agreed");
    assert_eq!(
        mine["sections"]["fit_notes"][0]["author"]["id"],
        dana_id.as_str()
    );
    let shown = alex.run(&["passport", "show"]).await.ok();
    assert!(
        shown.contains("Noise-cancelling headphones [agreed]"),
        "{shown}"
    );
    assert!(shown.contains("Acme Ltd (employer)"), "{shown}");
    let history = alex
        .run(&["--json", "record", "history", &adj])
        .await
        .json();
    let authors: Vec<&str> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| text(&v["author"]["kind"]))
        .collect();
    assert_eq!(authors, ["employee", "professional", "employer"]);
    let log = alex.run(&["--json", "log", "--verify"]).await.json();
    assert_eq!(log["verified"], true);
    let entries = log["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["actor"] == acme_id.as_str()
        && e["action"] == "passport_read"
        && e["actor_name"] == "Acme Ltd (employer)"));
    let acme_only = alex
        .run(&["--json", "log", "--actor", &acme_id])
        .await
        .json();
    assert!(
        acme_only["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] == acme_id.as_str())
    );
    let log_text = alex.run(&["log", "--verify"]).await.ok();
    assert!(log_text.contains("hash chain intact"), "{log_text}");

    // The employee revokes the employer's grant: its next read, sync and agreement are refused
    // with a clear message and exit code 3, and its synced copy is deleted.
    alex.run(&["grant", "revoke", &hr_grant]).await.ok();
    let refused = acme.run(&["fetch", "--grant", &hr_grant]).await;
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    let stderr = refused.fails(3);
    assert!(stderr.contains("consent has ended"), "{stderr}");
    let stderr = acme
        .run(&["sync", "--grant", &hr_grant, "--db", &replica_arg])
        .await
        .fails(3);
    assert!(stderr.contains("consent has ended"), "{stderr}");
    assert!(stderr.contains("was deleted"), "{stderr}");
    let replica = wp_client::Replica::open(&replica_file).await.unwrap();
    assert!(!replica.has_passport(&pid).await.unwrap());
    replica.close().await;
    acme.run(&[
        "agree",
        "--grant",
        &hr_grant,
        &adj,
        "--by",
        "Sam Patel, line manager",
    ])
    .await
    .fails(3);
    // The OT's grant is untouched.
    dana.run(&["fetch", "--grant", &ot_grant]).await.ok();

    // Erasure asks for --yes, then ends everything.
    let stderr = alex.run(&["passport", "erase"]).await.fails(1);
    assert!(stderr.contains("--yes"), "{stderr}");
    alex.run(&["passport", "erase", "--yes"]).await.ok();
    let after = dana.run(&["fetch", "--grant", &ot_grant]).await;
    assert_ne!(after.code, 0, "{after:?}");

    server.stop().await;
}

/// An organisation and its people from the command line: the admin creates Acme and invites
/// two people, who join with their codes; the employee grants Acme's line managers; Sam reads
/// and agrees; the employee's log names him with his role and organisation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisation_invite_join_and_grant_by_role() {
    let server = TestServer::start(Backend::Sqlite).await;
    let root = tempfile::tempdir().expect("temp dir");
    let root = root.path();
    let admin = admin_profile(root, &server).await;

    let acme_id = admin
        .run(&["-q", "org", "create", "--kind", "employer", "Acme Ltd"])
        .await
        .ok()
        .trim()
        .to_owned();
    // Not listed yet: in the admin's list, not in the directory. Listed, with a place, anyone
    // signed in finds it by name; by its share code (which `-q org listing` prints) always.
    let all = admin.run(&["--json", "org", "list"]).await.json();
    assert_eq!(all[0]["id"], acme_id.as_str());
    assert_eq!(
        (all[0]["listed"].as_bool(), all[0]["admins"].as_i64()),
        (Some(false), Some(0))
    );
    let found = admin.run(&["--json", "org", "find", "acme"]).await.json();
    assert_eq!(found, serde_json::json!([]));
    let share_code = admin
        .run(&[
            "-q", "org", "listing", "Acme Ltd", "--listed", "yes", "--place", "Leeds",
        ])
        .await
        .ok()
        .trim()
        .to_owned();
    let found = admin.run(&["--json", "org", "find", "acme"]).await.json();
    assert_eq!(found[0]["id"], acme_id.as_str());
    assert_eq!(found[0]["kind"], "employer");
    assert_eq!(found[0]["place"], "Leeds");
    let shown = admin.run(&["org", "listing", &acme_id]).await.ok();
    assert!(
        shown.contains(&format!("Share link: {}/#/share/{share_code}", server.url))
            && shown.contains("Listed: employees find it by name."),
        "{shown}"
    );
    // By name or by id; -q prints the code alone.
    let sam_code = admin
        .run(&["-q", "org", "invite", "Acme Ltd", "--role", "line_manager"])
        .await
        .ok()
        .trim()
        .to_owned();
    assert!(
        sam_code.starts_with("wpi_") && sam_code.len() == 47,
        "{sam_code}"
    );
    let shown = admin
        .run(&["org", "invite", &acme_id, "--role", "hr", "--days", "2"])
        .await
        .ok();
    assert!(shown.contains("to join Acme Ltd as HR"), "{shown}");
    let priya_code = shown
        .lines()
        .find_map(|l| l.strip_prefix("Code: "))
        .expect("the code is shown")
        .to_owned();
    // A role the organisation does not have is refused by the command line.
    admin
        .run(&["org", "invite", &acme_id, "--role", "nurse"])
        .await
        .fails(2);

    // Sam joins without a key: `wp join` makes one. Priya made hers with keygen.
    let sam = Party::new(root, "sam", &server);
    let joined = sam
        .run(&["join", &sam_code, "--name", "Sam Patel"])
        .await
        .ok();
    assert!(
        joined.contains("Joined as Sam Patel (line manager at Acme Ltd)"),
        "{joined}"
    );
    assert!(sam.dir.join("key.jwk").exists());
    let sam_id = text(&sam.run(&["--json", "whoami"]).await.json()["party"]["id"]).to_owned();
    let priya = Party::new(root, "priya", &server);
    priya.run(&["keygen"]).await.ok();
    let priya_party = priya
        .run(&["--json", "join", &priya_code, "--name", "Priya Shah"])
        .await
        .json();
    assert_eq!(priya_party["kind"], "member");
    assert_eq!(priya_party["membership"]["role"], "hr");
    assert_eq!(priya_party["membership"]["organisation"], acme_id.as_str());
    // A code works once.
    let again = Party::new(root, "again", &server);
    let stderr = again
        .run(&["join", &sam_code, "--name", "Someone Else"])
        .await
        .fails(1);
    assert!(stderr.contains("409"), "{stderr}");
    let members = admin
        .run(&["--json", "org", "members", &acme_id])
        .await
        .json();
    assert_eq!(members.as_array().unwrap().len(), 2);
    let invitations = admin
        .run(&["--json", "org", "invitations", "Acme Ltd"])
        .await
        .json();
    assert!(
        invitations
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "redeemed" && i.get("code").is_none()),
        "{invitations}"
    );

    // The employee grants Acme's line managers: summary and adjustments, agree adjustments.
    let alex = Party::new(root, "alex", &server);
    alex.run(&["keygen"]).await.ok();
    alex.run(&["register", "--name", "Alex Smith"]).await.ok();
    alex.run(&["passport", "create"]).await.ok();
    let adjustment = headphones();
    let adj = alex
        .run(&["-q", "record", "add", "adjustments", "--body", &adjustment])
        .await
        .ok()
        .trim()
        .to_owned();
    // Alex finds Acme by the share code its people gave, however typed, and grants by it.
    let typed = share_code.to_lowercase().replace('-', " ");
    let by_code = alex
        .run(&["--json", "org", "find", "--code", &typed])
        .await
        .json();
    assert_eq!(by_code[0]["id"], acme_id.as_str());
    // An organisation needs to be told who there may use the grant, in its own roles.
    let grant_to_acme = |who: &[&str]| {
        let mut args = vec!["grant", "add", "--to", share_code.as_str()];
        args.extend_from_slice(who);
        args.extend([
            "--read",
            "summary",
            "--agree",
            "adjustments",
            "--purpose",
            "Workplace adjustments at Acme Ltd",
            "--days",
            "30",
        ]);
        alex.run_owned(args.into_iter().map(str::to_owned).collect())
    };
    let stderr = grant_to_acme(&[]).await.fails(1);
    assert!(stderr.contains("--role"), "{stderr}");
    let stderr = grant_to_acme(&["--role", "clinician"]).await.fails(1);
    assert!(stderr.contains("no clinician role"), "{stderr}");
    let made = grant_to_acme(&["--role", "line_manager"]).await.ok();
    assert!(
        made.contains("Granted Acme Ltd (line managers) until"),
        "{made}"
    );
    assert!(
        made.contains("share my Work Passport with Acme Ltd (line managers)"),
        "{made}"
    );
    let grant = made
        .lines()
        .find_map(|l| l.strip_prefix("Grant id: "))
        .expect("the grant id")
        .to_owned();
    let listed = alex.run(&["--json", "grant", "list"]).await.json();
    assert_eq!(listed[0]["roles"], json!(["line_manager"]));

    // Sam (a line manager) sees the grant and agrees; Priya (HR) is not covered.
    let to_sam = sam.run(&["--json", "grants"]).await.json();
    assert_eq!(to_sam[0]["id"], grant.as_str());
    assert!(priya.run(&["--json", "grants"]).await.json()[0].is_null());
    sam.run(&["fetch", "--grant", &grant]).await.ok();
    // A member agrees in their own name, not another.
    let stderr = sam
        .run(&["agree", "--grant", &grant, &adj, "--by", "Someone Else"])
        .await
        .fails(1);
    assert!(stderr.contains("leave out --by"), "{stderr}");
    let agreed = sam
        .run(&["--json", "agree", "--grant", &grant, &adj])
        .await
        .json();
    assert_eq!(
        agreed["body"]["agreed_by"],
        "Sam Patel (line manager, Acme Ltd)"
    );
    assert_eq!(agreed["author"]["id"], sam_id.as_str());
    assert_eq!(agreed["author"]["membership"]["role"], "line_manager");
    priya.run(&["fetch", "--grant", &grant]).await.fails(1);

    // The owner's verified log names Sam with his role and organisation.
    let log = alex.run(&["log", "--verify"]).await.ok();
    assert!(log.contains("Sam Patel (line manager, Acme Ltd)"), "{log}");
    assert!(log.contains("Alex Smith (you)"), "{log}");
    let log = alex.run(&["--json", "log"]).await.json();
    let by_sam: Vec<&Value> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == sam_id.as_str())
        .collect();
    assert!(!by_sam.is_empty());
    for e in by_sam {
        assert_eq!(
            e["on_behalf_of"],
            json!({ "organisation": acme_id, "role": "line_manager" })
        );
        assert_eq!(e["actor_name"], "Sam Patel (line manager, Acme Ltd)");
    }

    // Priya (HR) asks Alex for the summary; Alex opens it, narrows it to 10 days, approves.
    let alex_id = alex.run(&["-q", "whoami"]).await.ok().trim().to_owned();
    let ask = |purpose: &str| {
        priya.run_owned(
            [
                "-q",
                "request",
                "create",
                "Acme Ltd",
                "--read",
                "summary,adjustments",
                "--purpose",
                purpose,
                "--days",
                "90",
                "--employee",
                alex_id.as_str(),
            ]
            .map(str::to_owned)
            .to_vec(),
        )
    };
    let code = ask("Your return to work").await.ok().trim().to_owned();
    assert!(code.starts_with("wpr_"), "{code}");
    let opened = alex.run(&["request", "open", &code]).await.ok();
    assert!(
        opened.contains("Acme Ltd (HR), asked by Priya Shah, asks to read summary, adjustments"),
        "{opened}"
    );
    // Someone it was not sent to cannot open it.
    sam.run(&["request", "open", &code]).await.fails(1);
    let approved = alex
        .run(&[
            "request", "approve", &code, "--read", "summary", "--days", "10",
        ])
        .await
        .ok();
    assert!(
        approved.contains("Granted Acme Ltd (HR) until"),
        "{approved}"
    );
    assert!(
        approved.contains("share my Work Passport with Acme Ltd (HR) for: Your return to work. They may read summary."),
        "{approved}"
    );
    let priya_grant = approved
        .lines()
        .find_map(|l| l.strip_prefix("Grant id: "))
        .expect("the grant id")
        .to_owned();
    let read = priya
        .run(&["--json", "fetch", "--grant", &priya_grant])
        .await
        .json();
    assert!(read["sections"].get("adjustments").is_none(), "{read}");
    // Approved once only; a declined request grants nothing.
    let stderr = alex.run(&["request", "approve", &code]).await.fails(1);
    assert!(stderr.contains("409"), "{stderr}");
    let other = ask("Something else").await.ok().trim().to_owned();
    let declined = alex.run(&["request", "decline", &other]).await.ok();
    assert!(
        declined.contains("Declined the request from Acme Ltd (HR)"),
        "{declined}"
    );
    let listed = priya
        .run(&["--json", "request", "list", "Acme Ltd"])
        .await
        .json();
    let statuses: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| text(&r["status"]))
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(
        statuses.contains(&"approved") && statuses.contains(&"declined"),
        "{listed}"
    );

    // Priya leaves; Sam is removed by the admin.
    let left = priya
        .run(&["org", "remove", &acme_id, text(&priya_party["id"])])
        .await
        .ok();
    assert!(left.contains("You left Acme Ltd"), "{left}");
    let removed = admin
        .run(&["org", "remove", "Acme Ltd", &sam_id])
        .await
        .ok();
    assert!(
        removed.contains("Removed Sam Patel (line manager) from Acme Ltd"),
        "{removed}"
    );
    // Consent has ended for him: exit code 3.
    sam.run(&["fetch", "--grant", &grant]).await.fails(3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_keeps_earlier_signatures_valid() {
    let server = TestServer::start(Backend::Sqlite).await;
    let root = tempfile::tempdir().expect("temp dir");
    let alex = Party::new(root.path(), "alex", &server);
    alex.run(&["keygen"]).await.ok();
    alex.run(&["register", "--name", "Alex Smith"]).await.ok();
    alex.run(&["passport", "create"]).await.ok();
    let before = alex.public_jwk();
    let impacts = alex.run(&["example", "impacts"]).await.ok();
    let rid = alex
        .run(&["-q", "record", "add", "impacts", "--body", &impacts])
        .await
        .ok()
        .trim()
        .to_owned();

    let rotated = alex.run(&["--json", "keys", "rotate"]).await.json();
    let after = alex.public_jwk();
    assert_ne!(before, after, "public.jwk holds the new key");
    assert_eq!(rotated["revoked_kid"], before.thumbprint().as_str());
    assert_eq!(rotated["new_kid"], after.thumbprint().as_str());

    // Everything signed before still verifies; new writes use the new key.
    let shown = alex.run(&["--json", "passport", "show"]).await.json();
    assert_eq!(shown["sections"]["impacts"][0]["record_id"], rid.as_str());
    alex.run(&[
        "record",
        "edit",
        &rid,
        "--merge",
        "--body",
        r#"{"fluctuates": false}"#,
    ])
    .await
    .ok();
    let history = alex
        .run(&["--json", "record", "history", &rid])
        .await
        .json();
    assert_eq!(history["versions"].as_array().unwrap().len(), 2);
    let who = alex.run(&["--json", "whoami"]).await.json();
    let keys = who["party"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let old = keys
        .iter()
        .find(|k| k["kid"] == before.thumbprint().as_str())
        .unwrap();
    assert!(old.get("revoked_at").is_some(), "{old}");
    assert_eq!(who["current_kid"], after.thumbprint().as_str());
    server.stop().await;
}

/// The README's "Move your passport": export, verify with no server, import at a second
/// server with the same key; a damaged bundle fails `wp bundle verify` with exit code 4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passport_moves_with_three_commands() {
    let a = TestServer::start(Backend::Sqlite).await;
    // B checks bundles from A against the keys A publishes.
    let b = TestServer::start_with(Backend::Sqlite, |s| {
        s.trusted_origins = vec![a.url.clone()];
        s.allow_http_origins = true;
    })
    .await;
    let root = tempfile::tempdir().expect("temp dir");
    let alex = Party::new(root.path(), "alex", &a);
    alex.run(&["keygen"]).await.ok();
    alex.run(&["register", "--name", "Alex Smith"]).await.ok();
    let pid = alex
        .run(&["-q", "passport", "create"])
        .await
        .ok()
        .trim()
        .to_owned();
    let adjustment = headphones();
    alex.run(&["record", "add", "adjustments", "--body", &adjustment])
        .await
        .ok();

    let file = root.path().join("alex-passport.json");
    let file_arg = file.display().to_string();
    let out = alex
        .run(&["passport", "export", "--out", &file_arg])
        .await
        .ok();
    assert!(out.contains(&pid) && out.contains("signed by you"), "{out}");
    let verified = run_wp(None, "http://127.0.0.1:9", &["bundle", "verify", &file_arg])
        .await
        .ok();
    assert!(verified.starts_with("VERIFIED"), "{verified}");
    assert!(
        verified.contains("Alex Smith (the employee) wrote adjustments record"),
        "{verified}"
    );

    let mut damaged: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    damaged["body"]["access_log"][0]["reason"] = json!("someone else");
    let damaged_file = root.path().join("damaged.json");
    std::fs::write(&damaged_file, damaged.to_string()).unwrap();
    let damaged_arg = damaged_file.display().to_string();
    let run = run_wp(
        None,
        "http://127.0.0.1:9",
        &["bundle", "verify", &damaged_arg],
    )
    .await;
    assert!(run.stdout.starts_with("NOT VERIFIED"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("access log's chain is broken at entry 1"),
        "{}",
        run.stdout
    );
    run.fails(4);

    // Doctored and re-signed throughout (a key planted on the owner, who "signs" with it, and a
    // server key of the doctor's own): everything in the file checks, but the origin does not.
    let original: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let server_key = wp_client::bundle::verify(&original)
        .attested_by
        .expect("attested");
    let mut doctored = original.clone();
    let planted = wp_client::SigningKey::generate();
    let owner = doctored["body"]["parties"]
        .as_array()
        .unwrap()
        .iter()
        .position(|p| p["display_name"] == "Alex Smith")
        .unwrap();
    let created = doctored["body"]["parties"][owner]["keys"][0]["created_at"].clone();
    doctored["body"]["parties"][owner]["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kid": planted.kid(), "jwk": planted.public_jwk(), "created_at": created}));
    reattest(&mut doctored, &wp_client::SigningKey::generate(), &planted);
    let doctored_file = root.path().join("doctored.json");
    std::fs::write(&doctored_file, doctored.to_string()).unwrap();
    let doctored_arg = doctored_file.display().to_string();
    let offline = run_wp(
        None,
        &a.url,
        &["bundle", "verify", "--offline", &doctored_arg],
    )
    .await
    .ok();
    assert!(
        offline.starts_with("VERIFIED, BUT NOT ITS ORIGIN"),
        "{offline}"
    );
    let run = run_wp(None, &a.url, &["bundle", "verify", &doctored_arg]).await;
    assert!(run.stdout.contains("does not publish"), "{}", run.stdout);
    run.fails(4);
    let run = run_wp(
        None,
        &a.url,
        &[
            "bundle",
            "verify",
            "--server-key",
            &server_key,
            &doctored_arg,
        ],
    )
    .await;
    assert!(
        run.stdout.contains(&format!("not by {server_key}")),
        "{}",
        run.stdout
    );
    run.fails(4);
    let checked = run_wp(
        None,
        &a.url,
        &["bundle", "verify", "--server-key", &server_key, &file_arg],
    )
    .await
    .ok();
    assert!(
        checked.starts_with("VERIFIED: every check passed"),
        "{checked}"
    );

    // The FHIR view: from the server, and the same from the bundle with no server; never from
    // a bundle that does not verify.
    let fhir_file = root.path().join("alex-passport.fhir.json");
    let fhir_arg = fhir_file.display().to_string();
    let out = alex
        .run(&["passport", "export", "--fhir", "--out", &fhir_arg])
        .await
        .ok();
    assert!(out.contains(&fhir_arg), "{out}");
    let fhir: Value = serde_json::from_str(&std::fs::read_to_string(&fhir_file).unwrap()).unwrap();
    assert_eq!(fhir["resourceType"], "Bundle");
    let flag = fhir["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["resourceType"] == "Flag")
        .expect("the adjustment as a Flag");
    assert_eq!(
        flag["resource"]["code"]["text"],
        "Noise-cancelling headphones"
    );
    let offline: Value = serde_json::from_str(
        &run_wp(None, "http://127.0.0.1:9", &["bundle", "fhir", &file_arg])
            .await
            .ok(),
    )
    .unwrap();
    assert_eq!(
        offline["entry"].as_array().unwrap().len(),
        fhir["entry"].as_array().unwrap().len()
    );
    run_wp(
        None,
        "http://127.0.0.1:9",
        &["bundle", "fhir", &damaged_arg],
    )
    .await
    .fails(4);

    let moved = alex
        .run(&["passport", "import", "--to", &b.url, "--file", &file_arg])
        .await
        .ok();
    assert!(moved.contains(&format!("Passport {pid} moved")), "{moved}");
    // The profile now names the new server (the test's WP_SERVER still wins, so say it).
    let at_b = Party::new(root.path(), "alex", &b);
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(root.path().join("alex/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["server"], b.url.as_str());
    assert_eq!(config["passport_id"], pid.as_str());
    let shown = at_b.run(&["passport", "show"]).await.ok();
    assert!(shown.contains("Noise-cancelling headphones"), "{shown}");
    at_b.run(&["log", "--verify"]).await.ok();
    a.stop().await;
    b.stop().await;
}

/// `wp notifications`: a key rotation (a device added, the old one removed) is listed and marked
/// read; the settings say this server sends no email; a choice is saved and a security alert
/// cannot be turned off; the calendar feed's address serves iCalendar until it is stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_from_the_command_line() {
    let server = TestServer::start(Backend::Sqlite).await;
    let root = tempfile::tempdir().expect("temp dir");
    let alex = Party::new(root.path(), "alex", &server);
    alex.run(&["keygen"]).await.ok();
    alex.run(&["register", "--name", "Alex Smith"]).await.ok();
    alex.run(&["keys", "rotate"]).await.ok();

    let page = alex.run(&["--json", "notifications"]).await.json();
    assert_eq!(page["unread"], 2, "{page}");
    let listed = page["notifications"].as_array().expect("notifications");
    let mut kinds: Vec<&str> = listed.iter().map(|n| text(&n["kind"])).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["key_added", "key_revoked"]);
    let shown = alex.run(&["notifications"]).await.ok();
    assert!(shown.starts_with("2 unread notifications"), "{shown}");
    assert!(
        shown.contains("* ") && shown.contains("A device was added to your account: "),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("{}/#/devices", server.url)),
        "{shown}"
    );

    // One read by its id, then the rest.
    let first = text(&listed[0]["id"]);
    let read = alex.run(&["-q", "notifications", "read", first]).await.ok();
    assert_eq!(read.trim(), first);
    let unread = alex
        .run(&["--json", "notifications", "--unread"])
        .await
        .json();
    assert_eq!(unread["unread"], 1);
    assert_eq!(unread["notifications"].as_array().unwrap().len(), 1);
    alex.run(&["notifications", "read", "--all"]).await.ok();
    let page = alex.run(&["--json", "notifications", "list"]).await.json();
    assert_eq!(page["unread"], 0);
    assert!(
        page["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n.get("read_at").is_some()),
        "{page}"
    );

    // The test server has no mail server: it says so, and refuses an address.
    let settings = alex.run(&["notifications", "settings"]).await.ok();
    assert!(
        settings.contains("this server sends no email"),
        "{settings}"
    );
    assert!(
        settings
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["key_added", "always"])),
        "{settings}"
    );
    let stderr = alex
        .run(&["notifications", "email", "alex@example.org"])
        .await
        .fails(1);
    assert!(stderr.contains("sends no email"), "{stderr}");

    // Choices: saved for a kind of theirs; a security alert or another's kind refused, saying
    // which kinds there are.
    let chosen = alex
        .run(&["--json", "notifications", "choose", "access_requested=off"])
        .await
        .json();
    let choice = chosen["choices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "access_requested")
        .expect("an employee's kind");
    assert_eq!(choice["email"], false);
    let stderr = alex
        .run(&["notifications", "choose", "key_added=off"])
        .await
        .fails(1);
    assert!(
        stderr.contains("key_added is a security alert") && stderr.contains("access_requested"),
        "{stderr}"
    );
    let stderr = alex
        .run(&["notifications", "choose", "member_joined=off"])
        .await
        .fails(1);
    assert!(stderr.contains("choose from access_requested"), "{stderr}");

    // The calendar feed: shown once with a warning, served as iCalendar, stopped.
    let made = alex.run(&["notifications", "calendar"]).await.ok();
    assert!(made.contains("ANYONE WITH THIS ADDRESS"), "{made}");
    let url = made.lines().nth(1).expect("the address").trim();
    assert!(url.starts_with(&server.url), "{made}");
    let response = reqwest::get(url).await.expect("GET the feed");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/calendar"), "{content_type}");
    assert!(
        response
            .text()
            .await
            .unwrap()
            .starts_with("BEGIN:VCALENDAR")
    );
    alex.run(&["notifications", "calendar", "--stop"])
        .await
        .ok();
    assert_eq!(reqwest::get(url).await.unwrap().status(), 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_are_valid_bodies() {
    for section in Section::ALL {
        let run = run_wp(None, "http://127.0.0.1:9", &["example", section.as_str()]).await;
        let body: Value = serde_json::from_str(&run.ok()).expect("JSON");
        parse_body(section, &body).unwrap_or_else(|e| panic!("{section}: {e}"));
    }
    let stderr = run_wp(None, "http://127.0.0.1:9", &["example", "diary"])
        .await
        .fails(2);
    assert!(stderr.contains("adjustments"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_on_every_command() {
    let commands: &[&[&str]] = &[
        &[],
        &["keygen"],
        &["register"],
        &["login-as"],
        &["whoami"],
        &["example"],
        &["admin"],
        &["admin", "enrol"],
        &["join"],
        &["org"],
        &["org", "create"],
        &["org", "find"],
        &["org", "list"],
        &["org", "listing"],
        &["org", "invite"],
        &["org", "invitations"],
        &["org", "revoke-invitation"],
        &["org", "members"],
        &["org", "remove"],
        &["passport"],
        &["passport", "create"],
        &["passport", "show"],
        &["passport", "erase"],
        &["passport", "export"],
        &["passport", "import"],
        &["bundle"],
        &["bundle", "verify"],
        &["bundle", "fhir"],
        &["record"],
        &["record", "add"],
        &["record", "show"],
        &["record", "edit"],
        &["record", "delete"],
        &["record", "history"],
        &["grant"],
        &["grant", "add"],
        &["grant", "list"],
        &["grant", "revoke"],
        &["log"],
        &["keys"],
        &["keys", "rotate"],
        &["keys", "revoke"],
        &["grants"],
        &["fetch"],
        &["sync"],
        &["agree"],
        &["notifications"],
        &["notifications", "list"],
        &["notifications", "read"],
        &["notifications", "settings"],
        &["notifications", "email"],
        &["notifications", "verify"],
        &["notifications", "choose"],
        &["notifications", "calendar"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let out = run_wp(None, "http://127.0.0.1:9", &args).await.ok();
        assert!(out.contains("Usage: wp"), "{command:?}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_errors_before_anything_is_set_up() {
    let server = TestServer::start(Backend::Sqlite).await;
    let root = tempfile::tempdir().expect("temp dir");
    let nobody = Party::new(root.path(), "nobody", &server);
    let stderr = nobody.run(&["whoami"]).await.fails(1);
    assert!(stderr.contains("wp keygen"), "{stderr}");
    nobody.run(&["keygen"]).await.ok();
    let stderr = nobody.run(&["keygen"]).await.fails(1);
    assert!(stderr.contains("never overwritten"), "{stderr}");
    let stderr = nobody.run(&["passport", "show"]).await.fails(1);
    assert!(stderr.contains("wp register"), "{stderr}");
    nobody.run(&["register", "--name", "Sam"]).await.ok();
    let stderr = nobody.run(&["passport", "show"]).await.fails(1);
    assert!(stderr.contains("wp passport create"), "{stderr}");
    // A usage error is exit code 2.
    nobody
        .run(&["grant", "add", "--to", "x", "--purpose", "p"])
        .await
        .fails(2);
    // An unreachable server says so.
    let stderr = run_wp(
        Some(&nobody.dir),
        "http://127.0.0.1:9",
        &["--server", "http://127.0.0.1:9", "whoami"],
    )
    .await
    .fails(1);
    assert!(stderr.contains("Is the server running?"), "{stderr}");
    server.stop().await;
}
