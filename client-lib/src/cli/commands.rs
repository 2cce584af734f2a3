//! What each command does: parse its input, call the library, print the result.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use wp_schemas::api::{
    AccessLogEntry, Action, CreateGrant, PartyKind, ProfessionalRegistration, Scope,
};
use wp_schemas::jose::PublicJwk;
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{Section, example_body, parse_body};

use super::args::{
    AdminCommand, BodyArgs, Cli, Command, EnrolKind, GrantCommand, KeysCommand, PassportCommand,
    RecordCommand,
};
use super::output::{self, Table, print_json};
use super::profile::Profile;
use crate::{
    Client, ClientError, LocalRecord, PassportClient, Replica, SyncReport, VerifiedPassport,
    VerifiedVersion, keys,
};

struct Ctx {
    json: bool,
    quiet: bool,
    profile: Profile,
}

pub async fn run(cli: Cli) -> Result<()> {
    if let Command::Example { section } = cli.command {
        print_json(&example_body(section));
        return Ok(());
    }
    let mut ctx = Ctx {
        json: cli.json,
        quiet: cli.quiet,
        profile: Profile::open(cli.profile_dir, &cli.profile, cli.server)?,
    };
    match cli.command {
        Command::Example { .. } => unreachable!("handled above"),
        Command::Keygen => keygen(&ctx),
        Command::Register { name } => register(&mut ctx, &name).await,
        Command::LoginAs { party_id } => login_as(&mut ctx, &party_id).await,
        Command::Whoami => whoami(&ctx).await,
        Command::Admin(AdminCommand::Enrol {
            kind,
            name,
            jwk_file,
            profession,
            registration_body,
            registration_number,
        }) => {
            let registration = match (kind, profession, registration_body, registration_number) {
                (EnrolKind::Professional, Some(profession), Some(body), Some(number)) => {
                    Some(ProfessionalRegistration {
                        profession,
                        registration_body: body,
                        registration_number: number,
                    })
                }
                (EnrolKind::Professional, ..) => {
                    bail!(
                        "a professional needs --profession, --registration-body and --registration-number"
                    )
                }
                (_, None, None, None) => None,
                _ => bail!("only professionals have a registration"),
            };
            enrol(&ctx, kind, &name, &jwk_file, registration).await
        }
        Command::Passport(PassportCommand::Create) => passport_create(&mut ctx).await,
        Command::Passport(PassportCommand::Show) => passport_show(&mut ctx).await,
        Command::Passport(PassportCommand::Erase { yes }) => passport_erase(&mut ctx, yes).await,
        Command::Record(command) => record(&mut ctx, command).await,
        Command::Grant(command) => grant(&mut ctx, command).await,
        Command::Log {
            verify,
            actor,
            limit,
        } => log(&mut ctx, verify, actor.as_deref(), limit).await,
        Command::Keys(KeysCommand::Rotate) => keys_rotate(&ctx).await,
        Command::Keys(KeysCommand::Revoke { kid }) => keys_revoke(&ctx, &kid).await,
        Command::Grants => grants_to_me(&ctx).await,
        Command::Fetch { grant } => fetch(&ctx, &grant).await,
        Command::Sync { grant, db } => sync(&ctx, &grant, db.as_deref()).await,
        Command::Agree {
            grant,
            record_id,
            by,
        } => agree(&ctx, &grant, &record_id, &by).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and identity

fn keygen(ctx: &Ctx) -> Result<()> {
    let profile = &ctx.profile;
    let path = profile.key_path();
    if path.exists() {
        bail!(
            "profile {} already has a key ({}); a key is never overwritten. Use another \
             --profile-dir, or `wp keys rotate` to replace a registered key",
            profile.dir.display(),
            path.display()
        );
    }
    profile.create_dir()?;
    let key = keys::generate(&path)?;
    profile.write_public(&key)?;
    let public = profile.public_path();
    if ctx.quiet {
        outln!("{}", public.display());
    } else if ctx.json {
        print_json(&json!({
            "kid": key.kid(),
            "key_file": path,
            "public_jwk_file": public,
            "public_jwk": key.public_jwk(),
        }));
    } else {
        outln!(
            "Created key {} in {} (private: keep it; readable by you only).",
            key.kid(),
            path.display()
        );
        outln!("Public key, also written to {}:", public.display());
        outln!("{}", serde_json::to_string_pretty(key.public_jwk())?);
        outln!(
            "Next: an employee runs `wp register --name ...`; an employer or professional gives \
             {} to an admin, then runs `wp login-as --party-id <id>`.",
            public.display()
        );
    }
    Ok(())
}

async fn register(ctx: &mut Ctx, name: &str) -> Result<()> {
    if let Some(id) = &ctx.profile.config.party_id {
        bail!(
            "profile {} is already party {id}",
            ctx.profile.dir.display()
        );
    }
    let server = ctx.profile.server();
    let mut client = Client::new(&server, ctx.profile.key()?);
    let party = client.register_employee(name).await?;
    let config = &mut ctx.profile.config;
    config.server = Some(server.clone());
    config.party_id = Some(party.id.clone());
    config.kind = Some(party.kind);
    config.display_name = Some(party.display_name.clone());
    config.passport_id = None;
    ctx.profile.save()?;
    if ctx.quiet {
        outln!("{}", party.id);
    } else if ctx.json {
        print_json(&party);
    } else {
        outln!(
            "Registered {} as an employee on {server}.",
            party.display_name
        );
        outln!("Party id: {}", party.id);
        outln!("Next: `wp passport create`.");
    }
    Ok(())
}

async fn login_as(ctx: &mut Ctx, party_id: &str) -> Result<()> {
    let server = ctx.profile.server();
    let client = Client::for_party(&server, ctx.profile.key()?, party_id);
    let me = client.me().await.with_context(|| {
        format!("the server at {server} does not accept this profile's key as party {party_id}")
    })?;
    let config = &mut ctx.profile.config;
    config.server = Some(server.clone());
    config.party_id = Some(me.party.id.clone());
    config.kind = Some(me.party.kind);
    config.display_name = Some(me.party.display_name.clone());
    config.passport_id = me.passport_id.clone();
    ctx.profile.save()?;
    if ctx.quiet {
        outln!("{}", me.party.id);
    } else if ctx.json {
        print_json(&me);
    } else {
        outln!(
            "This profile is now {} on {server}.",
            output::party(&me.party, None)
        );
        outln!("Party id: {}", me.party.id);
    }
    Ok(())
}

async fn whoami(ctx: &Ctx) -> Result<()> {
    let client = ctx.profile.client()?;
    let me = client.me().await?;
    let kid = client.key().kid().to_owned();
    if ctx.json {
        print_json(&json!({
            "profile_dir": ctx.profile.dir,
            "server": client.base_url(),
            "party": me.party,
            "passport_id": me.passport_id,
            "current_kid": kid,
        }));
        return Ok(());
    }
    let p = &me.party;
    let mut pairs = vec![
        ("Name", p.display_name.clone()),
        ("Kind", p.kind.as_str().to_owned()),
        ("Party id", p.id.clone()),
    ];
    if let Some(r) = &p.registration {
        pairs.push((
            "Registration",
            format!(
                "{}, {} {}",
                r.profession, r.registration_body, r.registration_number
            ),
        ));
    }
    if p.kind == PartyKind::Employee {
        pairs.push((
            "Passport",
            me.passport_id
                .clone()
                .unwrap_or_else(|| "none yet (`wp passport create`)".into()),
        ));
    }
    pairs.push(("Server", client.base_url().to_owned()));
    pairs.push(("Profile", ctx.profile.dir.display().to_string()));
    out!("{}", output::fields(&pairs));
    outln!("Keys:");
    let mut table = Table::new(&["kid", "added", "revoked", "current"]);
    for k in &p.keys {
        table.row(vec![
            k.kid.clone(),
            output::time(&k.created_at),
            k.revoked_at.as_ref().map(output::time).unwrap_or_default(),
            if k.kid == kid {
                "yes".into()
            } else {
                String::new()
            },
        ]);
    }
    out!("{}", table.render());
    Ok(())
}

async fn enrol(
    ctx: &Ctx,
    kind: EnrolKind,
    name: &str,
    jwk_file: &Path,
    registration: Option<ProfessionalRegistration>,
) -> Result<()> {
    let text = std::fs::read_to_string(jwk_file)
        .with_context(|| format!("reading {}", jwk_file.display()))?;
    // A private JWK works too: only the public members are read.
    let jwk: PublicJwk = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JWK", jwk_file.display()))?;
    let kind = match kind {
        EnrolKind::Employer => PartyKind::Employer,
        EnrolKind::Professional => PartyKind::Professional,
        EnrolKind::Admin => PartyKind::Admin,
    };
    let client = ctx.profile.client()?;
    let party = client.enrol(kind, name, &jwk, registration).await?;
    if ctx.quiet {
        outln!("{}", party.id);
    } else if ctx.json {
        print_json(&party);
    } else {
        outln!("Enrolled {}.", output::party(&party, None));
        outln!("Party id: {}", party.id);
        outln!(
            "They run: wp login-as --party-id {} (in the profile holding that key)",
            party.id
        );
    }
    Ok(())
}

async fn keys_rotate(ctx: &Ctx) -> Result<()> {
    let profile = &ctx.profile;
    let old = profile.client()?;
    let old_kid = old.key().kid().to_owned();
    let next_path = profile.dir.join("key.next.jwk");
    // A rotation interrupted after the new key was made resumes with that key.
    let next_key = if next_path.exists() {
        keys::load(&next_path)?
    } else {
        keys::generate(&next_path)?
    };
    let party_id = profile.party_id()?.to_owned();
    let new = Client::for_party(old.base_url(), next_key.clone(), &party_id);
    if new.me().await.is_err() {
        old.add_key(&next_key).await.context("adding the new key")?;
        new.me().await.context("signing in with the new key")?;
    }
    // Switch the profile over, then revoke the old key with the new one.
    let retired = profile.dir.join("key.retired.jwk");
    std::fs::rename(profile.key_path(), &retired)?;
    std::fs::rename(&next_path, profile.key_path())?;
    profile.write_public(&next_key)?;
    new.revoke_key(&old_kid).await.with_context(|| {
        format!(
            "the profile now uses the new key {}, but revoking the old key failed: \
             run `wp keys revoke {old_kid}`",
            next_key.kid()
        )
    })?;
    std::fs::remove_file(&retired)?;
    if ctx.quiet {
        outln!("{}", next_key.kid());
    } else if ctx.json {
        print_json(&json!({ "new_kid": next_key.kid(), "revoked_kid": old_kid }));
    } else {
        outln!(
            "Rotated: key {} is now in use; the old key {old_kid} is revoked.",
            next_key.kid()
        );
        outln!("Versions signed with the old key before now still verify.");
    }
    Ok(())
}

async fn keys_revoke(ctx: &Ctx, kid: &str) -> Result<()> {
    let client = ctx.profile.client()?;
    if client.key().kid() == kid {
        bail!("{kid} is the key this profile uses: `wp keys rotate` replaces it");
    }
    let party = client.revoke_key(kid).await?;
    if ctx.json {
        print_json(&party);
    } else {
        outln!("Key {kid} revoked: tokens bound to it stop working at once.");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Passports

/// The id of the caller's own passport: from the profile, else from the server.
async fn own_passport_id(ctx: &mut Ctx, client: &Client) -> Result<String> {
    if let Some(id) = &ctx.profile.config.passport_id {
        return Ok(id.clone());
    }
    if let Some(kind) = ctx
        .profile
        .config
        .kind
        .filter(|k| *k != PartyKind::Employee)
    {
        bail!(
            "this profile is {} {}: only employees own a passport. A passport shared with you \
             is used with --grant <grant id> (see `wp grants`)",
            if kind == PartyKind::Admin { "an" } else { "a" },
            kind.as_str()
        );
    }
    match client.me().await?.passport_id {
        Some(id) => {
            ctx.profile.config.passport_id = Some(id.clone());
            ctx.profile.save()?;
            Ok(id)
        }
        None => bail!("you have no passport yet: run `wp passport create`"),
    }
}

/// The caller's own passport, or the one shared under `grant`.
async fn open_passport<'c>(
    ctx: &mut Ctx,
    client: &'c Client,
    grant: Option<&str>,
) -> Result<PassportClient<'c>> {
    match grant {
        Some(g) => client
            .granted_passport(g)
            .await
            .with_context(|| format!("opening the passport shared under grant {g}")),
        None => {
            let id = own_passport_id(ctx, client).await?;
            Ok(client.own_passport(&id))
        }
    }
}

async fn passport_create(ctx: &mut Ctx) -> Result<()> {
    let client = ctx.profile.client()?;
    let info = client.create_passport().await?;
    ctx.profile.config.passport_id = Some(info.id.clone());
    ctx.profile.save()?;
    if ctx.quiet {
        outln!("{}", info.id);
    } else if ctx.json {
        print_json(&info);
    } else {
        outln!("Created passport {}.", info.id);
        outln!(
            "Next: `wp example summary > summary.json`, edit it, then \
             `wp record add summary --file summary.json`."
        );
    }
    Ok(())
}

fn passport_json(p: &VerifiedPassport) -> Value {
    let sections: BTreeMap<String, Vec<Value>> = p
        .sections
        .iter()
        .map(|(s, vs)| (s.to_string(), vs.iter().map(output::version_json).collect()))
        .collect();
    json!({ "id": p.id, "owner": p.owner, "seq": p.seq, "verified": true, "sections": sections })
}

/// Each section in `shown` (all, for the owner) with its records.
fn print_sections(p: &VerifiedPassport, shown: &[Section], me: Option<&str>) {
    for section in shown {
        outln!("\n{section}");
        out!("{}", output::records_table(p.records(*section), me));
    }
}

async fn passport_show(ctx: &mut Ctx) -> Result<()> {
    let client = ctx.profile.client()?;
    let pc = open_passport(ctx, &client, None).await?;
    let passport = pc.read().await?;
    if ctx.json {
        print_json(&passport_json(&passport));
        return Ok(());
    }
    outln!(
        "Passport {} (yours), at sequence {}: every record's signature verified.",
        passport.id,
        passport.seq
    );
    print_sections(&passport, &Section::ALL, Some(client.party_id()?));
    Ok(())
}

async fn passport_erase(ctx: &mut Ctx, yes: bool) -> Result<()> {
    if !yes {
        bail!(
            "erasing destroys your passport for good (its data key is destroyed and every grant \
             ends); there is no undo. Run again with --yes"
        );
    }
    let client = ctx.profile.client()?;
    let pc = open_passport(ctx, &client, None).await?;
    let id = pc.id.clone();
    pc.erase().await?;
    ctx.profile.config.passport_id = None;
    ctx.profile.save()?;
    if ctx.json {
        print_json(&json!({ "erased": id }));
    } else {
        outln!("Passport {id} erased: its data key is destroyed and every grant has ended.");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Records

fn read_body(args: &BodyArgs) -> Result<Value> {
    let text = match (&args.file, &args.body) {
        (Some(path), _) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            text
        }
        (Some(path), _) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        (None, Some(body)) => body.clone(),
        (None, None) => bail!("give the body with --file or --body"),
    };
    serde_json::from_str(&text).context("the body is not valid JSON")
}

/// Checks a body here first, for a clear message naming the field.
fn check_body(section: Section, body: &Value) -> Result<()> {
    parse_body(section, body).map_err(|e| {
        anyhow!(
            "this is not a valid {section} body: {e}\n  (`wp example {section}` prints a valid one)"
        )
    })?;
    Ok(())
}

/// RFC 7396 JSON merge patch: `null` removes a field.
fn merge_patch(target: Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut target = match target {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            let current = target.remove(key).unwrap_or(Value::Null);
            target.insert(key.clone(), merge_patch(current, value));
        }
    }
    Value::Object(target)
}

fn print_written(ctx: &Ctx, what: &str, v: &VerifiedVersion) {
    if ctx.quiet {
        outln!("{}", v.envelope.record_id);
    } else if ctx.json {
        print_json(&output::version_json(v));
    } else {
        outln!(
            "{what} {} record {} version {}, signed by you: {}",
            v.envelope.section,
            v.envelope.record_id,
            v.envelope.version,
            output::summary(v.envelope.section, v.payload.body.as_ref())
        );
    }
}

async fn record(ctx: &mut Ctx, command: RecordCommand) -> Result<()> {
    let client = ctx.profile.client()?;
    let me = client.party_id()?.to_owned();
    match command {
        RecordCommand::Add {
            section,
            body,
            grant,
        } => {
            let body = read_body(&body)?;
            check_body(section, &body)?;
            let pc = open_passport(ctx, &client, grant.as_deref()).await?;
            let v = pc.create_record(section, body).await?;
            print_written(ctx, "Added", &v);
        }
        RecordCommand::Show {
            record_id,
            grant,
            body_only,
        } => {
            let pc = open_passport(ctx, &client, grant.as_deref()).await?;
            let v = pc.record(&record_id).await?;
            if body_only {
                print_json(&v.payload.body.clone().unwrap_or(Value::Null));
            } else if ctx.json {
                print_json(&output::version_json(&v));
            } else {
                out!(
                    "{}",
                    output::fields(&[
                        ("Record", v.envelope.record_id.clone()),
                        ("Section", v.envelope.section.to_string()),
                        ("Version", v.envelope.version.to_string()),
                        ("Author", output::party(&v.author, Some(&me))),
                        (
                            "Signed",
                            DateTime::<Utc>::from_timestamp(v.payload.iat, 0)
                                .map(|t| output::time(&t))
                                .unwrap_or_default()
                        ),
                        ("Verified", "signature and author checked".into()),
                    ])
                );
                match &v.payload.body {
                    Some(body) => outln!("{}", serde_json::to_string_pretty(body)?),
                    None => outln!("(deleted)"),
                }
            }
        }
        RecordCommand::Edit {
            record_id,
            body,
            grant,
            base_version,
            merge,
        } => {
            let body = read_body(&body)?;
            let pc = open_passport(ctx, &client, grant.as_deref()).await?;
            let result = if merge {
                let head = pc.record(&record_id).await?;
                let merged = merge_patch(head.payload.body.clone().unwrap_or_default(), &body);
                check_body(head.envelope.section, &merged)?;
                pc.rebase_and_write(&record_id, 3, |current| merge_patch(current.clone(), &body))
                    .await
            } else if let Some(n) = base_version {
                let history = pc.history(&record_id).await?;
                let base = history
                    .iter()
                    .find(|v| v.envelope.version == n)
                    .ok_or_else(|| anyhow!("record {record_id} has no version {n}"))?;
                check_body(base.envelope.section, &body)?;
                pc.write_after(&base.envelope, Some(body)).await
            } else {
                let head = pc.record(&record_id).await?;
                check_body(head.envelope.section, &body)?;
                pc.write_after(&head.envelope, Some(body)).await
            };
            let v = match result {
                Ok(v) => v,
                Err(e) => return Err(explain_conflict(&client, &record_id, e).await),
            };
            print_written(ctx, "Wrote", &v);
        }
        RecordCommand::Delete { record_id, grant } => {
            let pc = open_passport(ctx, &client, grant.as_deref()).await?;
            let v = pc.delete_record(&record_id).await;
            let v = match v {
                Ok(v) => v,
                Err(e) => return Err(explain_conflict(&client, &record_id, e).await),
            };
            if ctx.quiet {
                outln!("{record_id}");
            } else if ctx.json {
                print_json(&output::version_json(&v));
            } else {
                outln!(
                    "Deleted record {record_id} with a signed tombstone (version {}); its history stays.",
                    v.envelope.version
                );
            }
        }
        RecordCommand::History { record_id, grant } => {
            let pc = open_passport(ctx, &client, grant.as_deref()).await?;
            let versions = pc.history(&record_id).await?;
            if ctx.json {
                print_json(&json!({
                    "record_id": record_id,
                    "section": versions.first().map(|v| v.envelope.section),
                    "verified": true,
                    "versions": versions.iter().map(output::version_json).collect::<Vec<_>>(),
                }));
            } else {
                let section = versions
                    .first()
                    .map(|v| v.envelope.section.to_string())
                    .unwrap_or_default();
                outln!(
                    "Record {record_id} ({section}): {} versions, every signature verified and \
                     chained from version 1.",
                    versions.len()
                );
                out!("{}", output::history_table(&versions, Some(&me)));
            }
        }
    }
    Ok(())
}

/// A conflict, told as what happened: who wrote first, and that nothing was lost.
async fn explain_conflict(client: &Client, record_id: &str, e: ClientError) -> anyhow::Error {
    let ClientError::Conflict { current_head, .. } = &e else {
        return e.into();
    };
    let who = match client.party(&current_head.author).await {
        Ok(p) => output::party(&p, client.party_id().ok()),
        Err(_) => current_head.author.clone(),
    };
    let message = format!(
        "record {record_id} was changed meanwhile: it is now at version {}, written by {who}. \
         Your edit was not applied. See it with `wp record show {record_id}`, then edit on top \
         of it (or use --merge to re-apply only your fields)",
        current_head.version
    );
    anyhow::Error::new(e).context(message)
}

// ---------------------------------------------------------------------------------------------
// Grants

fn parse_until(text: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| anyhow!("--until {text}: expected YYYY-MM-DD or an RFC 3339 time"))?;
    Ok(date
        .and_hms_opt(23, 59, 59)
        .expect("a valid time")
        .and_utc())
}

/// "read summary, adjustments; write adjustments".
fn describe_scopes(scopes: &[Scope]) -> String {
    [Action::Read, Action::Write, Action::Agree]
        .into_iter()
        .filter_map(|action| {
            let sections: Vec<&str> = scopes
                .iter()
                .filter(|s| s.actions.contains(&action))
                .map(|s| s.section.as_str())
                .collect();
            (!sections.is_empty()).then(|| format!("{} {}", action.as_str(), sections.join(", ")))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A party's name for display, or its id when it cannot be looked up.
/// Grants as a table; `other` is "to" (the owner's view: the grantee) or "from" (the
/// grantee's view: the grantor).
async fn grants_table(
    client: &Client,
    grants: &[wp_schemas::api::Grant],
    other: &str,
    names: &mut HashMap<String, String>,
) -> String {
    let mut table = Table::new(&["grant", other, "scopes", "purpose", "status", "ends"]);
    for g in grants {
        let party = if other == "to" {
            &g.grantee
        } else {
            &g.grantor
        };
        table.row(vec![
            g.id.clone(),
            name_of(client, party, names).await,
            describe_scopes(&g.scopes),
            output::truncate(&g.purpose, 40),
            format!("{:?}", g.status).to_lowercase(),
            output::date(&g.ends_at),
        ]);
    }
    table.render()
}

async fn name_of(client: &Client, id: &str, cache: &mut HashMap<String, String>) -> String {
    if let Some(name) = cache.get(id) {
        return name.clone();
    }
    let name = match client.party(id).await {
        Ok(p) => output::party(&p, client.party_id().ok()),
        Err(_) => id.to_owned(),
    };
    cache.insert(id.to_owned(), name.clone());
    name
}

async fn grant(ctx: &mut Ctx, command: GrantCommand) -> Result<()> {
    let client = ctx.profile.client()?;
    let pc = open_passport(ctx, &client, None).await?;
    let mut names = HashMap::new();
    match command {
        GrantCommand::Add {
            to,
            read,
            write,
            agree,
            purpose,
            days,
            until,
            consent_text,
        } => {
            let mut actions: BTreeMap<Section, BTreeSet<Action>> = BTreeMap::new();
            for (sections, action) in [
                (read, Action::Read),
                (write, Action::Write),
                (agree, Action::Agree),
            ] {
                for section in sections {
                    let set = actions.entry(section).or_default();
                    set.insert(Action::Read);
                    set.insert(action);
                }
            }
            if actions.is_empty() {
                bail!("name at least one section with --read, --write or --agree");
            }
            let scopes: Vec<Scope> = actions
                .into_iter()
                .map(|(section, actions)| Scope {
                    section,
                    actions: actions.into_iter().collect(),
                })
                .collect();
            let ends_at = match (days, until) {
                (Some(days), _) if days > 0 => Utc::now() + chrono::Duration::days(days),
                (Some(_), _) => bail!("--days must be at least 1"),
                (None, Some(until)) => parse_until(&until)?,
                (None, None) => bail!("say until when: --days N or --until DATE"),
            };
            let grantee = client
                .party(&to)
                .await
                .with_context(|| format!("looking up the grantee {to}"))?;
            let consent_text = consent_text.unwrap_or_else(|| {
                format!(
                    "I, {}, agree to share my Work Passport with {} ({}) for: {}. They may {}. \
                     This consent ends on {} unless I revoke it sooner.",
                    ctx.profile
                        .config
                        .display_name
                        .as_deref()
                        .unwrap_or("the passport owner"),
                    grantee.display_name,
                    grantee.kind.as_str(),
                    purpose,
                    describe_scopes(&scopes),
                    output::date(&ends_at)
                )
            });
            let g = pc
                .grant(&CreateGrant {
                    grantee: to,
                    scopes,
                    purpose,
                    starts_at: None,
                    ends_at,
                    consent_text,
                })
                .await?;
            if ctx.quiet {
                outln!("{}", g.id);
            } else if ctx.json {
                print_json(&output::grant_json(&g, Some(&grantee)));
            } else {
                outln!(
                    "Granted {} until {}: {}.",
                    output::party(&grantee, None),
                    output::time(&g.ends_at),
                    describe_scopes(&g.scopes)
                );
                outln!("Grant id: {}", g.id);
                outln!("Consent text: {}", g.consent_text);
                outln!(
                    "They use it with `wp fetch --grant {}`; you end it with `wp grant revoke {}`.",
                    g.id,
                    g.id
                );
            }
        }
        GrantCommand::List => {
            let grants = pc.grants().await?;
            if ctx.json {
                print_json(&grants);
                return Ok(());
            }
            out!("{}", grants_table(&client, &grants, "to", &mut names).await);
        }
        GrantCommand::Revoke { grant_id } => {
            let g = pc.revoke(&grant_id).await?;
            if ctx.quiet {
                outln!("{}", g.id);
            } else if ctx.json {
                print_json(&g);
            } else {
                outln!(
                    "Grant {} revoked: {} can no longer read or write your passport (their next \
                     request is refused).",
                    g.id,
                    name_of(&client, &g.grantee, &mut names).await
                );
            }
        }
    }
    Ok(())
}

async fn log(ctx: &mut Ctx, verify: bool, actor: Option<&str>, limit: Option<usize>) -> Result<()> {
    let client = ctx.profile.client()?;
    let pc = open_passport(ctx, &client, None).await?;
    let mut entries: Vec<AccessLogEntry> = if verify {
        pc.verified_access_log().await?
    } else {
        let mut entries = Vec::new();
        let mut before = None;
        loop {
            let page = pc.access_log_page(before, actor).await?;
            entries.extend(page.entries);
            match page.next_before {
                Some(b) if limit.is_none_or(|l| entries.len() < l) => before = Some(b),
                _ => break,
            }
        }
        entries.reverse();
        entries
    };
    let total = entries.len();
    let last_seq = entries.last().map_or(0, |e| e.seq);
    if let Some(a) = actor {
        entries.retain(|e| e.actor.as_deref() == Some(a));
    }
    if let Some(l) = limit {
        entries.drain(..entries.len().saturating_sub(l));
    }
    let mut names = HashMap::new();
    if ctx.json {
        let mut out = Vec::with_capacity(entries.len());
        for e in &entries {
            let mut v = serde_json::to_value(e)?;
            if let Some(a) = &e.actor {
                v["actor_name"] = Value::String(name_of(&client, a, &mut names).await);
            }
            out.push(v);
        }
        print_json(&json!({ "passport_id": pc.id, "verified": verify, "entries": out }));
        return Ok(());
    }
    let mut table = Table::new(&[
        "seq", "at", "actor", "action", "sections", "outcome", "reason",
    ]);
    for e in &entries {
        let actor = match &e.actor {
            Some(a) => name_of(&client, a, &mut names).await,
            None => "-".into(),
        };
        let sections: Vec<&str> = e.sections.iter().map(|s| s.as_str()).collect();
        table.row(vec![
            e.seq.to_string(),
            output::time(&e.at),
            actor,
            e.action.as_str().to_owned(),
            sections.join(","),
            format!("{:?}", e.outcome).to_lowercase(),
            output::truncate(&e.reason, 48),
        ]);
    }
    out!("{}", table.render());
    if verify {
        outln!(
            "Access log verified: {total} entries, hash chain intact from entry 1 to {last_seq}."
        );
    } else {
        outln!("(not verified: `wp log --verify` checks the whole hash chain)");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Employers and professionals

async fn grants_to_me(ctx: &Ctx) -> Result<()> {
    let client = ctx.profile.client()?;
    let grants = client.grants_to_me().await?;
    if ctx.json {
        print_json(&grants);
        return Ok(());
    }
    let mut names = HashMap::new();
    out!(
        "{}",
        grants_table(&client, &grants, "from", &mut names).await
    );
    Ok(())
}

async fn fetch(ctx: &Ctx, grant: &str) -> Result<()> {
    let client = ctx.profile.client()?;
    let context = || format!("reading the passport shared under grant {grant}");
    let pc = client.granted_passport(grant).await.with_context(context)?;
    let passport = pc.read().await.with_context(context)?;
    let scopes = pc.scopes().unwrap_or_default().to_vec();
    let owner = client.party(&passport.owner).await?;
    if ctx.json {
        let mut value = passport_json(&passport);
        value["owner"] = output::party_json(&owner);
        value["grant_id"] = json!(grant);
        value["scopes"] = serde_json::to_value(&scopes)?;
        print_json(&value);
        return Ok(());
    }
    outln!(
        "Passport {} of {}, shared with you under grant {grant}: {}.",
        passport.id,
        owner.display_name,
        describe_scopes(&scopes)
    );
    outln!("Every record's signature verified.");
    let readable: Vec<Section> = Section::ALL
        .into_iter()
        .filter(|s| {
            scopes
                .iter()
                .any(|sc| sc.section == *s && sc.actions.contains(&Action::Read))
        })
        .collect();
    print_sections(&passport, &readable, client.party_id().ok());
    Ok(())
}

async fn agree(ctx: &Ctx, grant: &str, record_id: &str, by: &str) -> Result<()> {
    let client = ctx.profile.client()?;
    let pc = client
        .granted_passport(grant)
        .await
        .with_context(|| format!("opening the passport shared under grant {grant}"))?;
    let v = match pc.agree_adjustment(record_id, by).await {
        Ok(v) => v,
        Err(e) => return Err(explain_conflict(&client, record_id, e).await),
    };
    if ctx.quiet {
        outln!("{record_id}");
    } else if ctx.json {
        print_json(&output::version_json(&v));
    } else {
        outln!(
            "Agreed: {} (record {record_id}, version {}, signed by you).",
            output::summary(v.envelope.section, v.payload.body.as_ref()),
            v.envelope.version
        );
    }
    Ok(())
}

/// Deletes what the replica holds under `grant` once the server refuses that grant.
async fn purge_grant(replica: &Replica, grant: &str, error: &ClientError) -> Result<Vec<String>> {
    let refused = matches!(error, ClientError::ConsentEnded(_))
        || matches!(
            error.problem_type(),
            Some(ProblemType::Forbidden | ProblemType::Gone)
        );
    let mut purged = Vec::new();
    if !refused {
        return Ok(purged);
    }
    for pid in replica.passports().await? {
        let state = replica.state(&pid).await?;
        if state.is_some_and(|s| s.grant_id.as_deref() == Some(grant)) {
            replica.purge(&pid).await?;
            purged.push(pid);
        }
    }
    Ok(purged)
}

async fn sync(ctx: &Ctx, grant: &str, db: Option<&Path>) -> Result<()> {
    let client = ctx.profile.client()?;
    let path = db.map_or_else(|| ctx.profile.dir.join("replica.db"), Path::to_path_buf);
    let replica = Replica::open(&path)
        .await
        .with_context(|| format!("opening the replica {}", path.display()))?;
    let result = sync_into(&client, &replica, grant, &path).await;
    replica.close().await;
    let (report, records) = result?;
    if ctx.json {
        print_json(&json!({
            "passport_id": report.passport_id,
            "grant_id": grant,
            "db": path,
            "applied": report.applied.len(),
            "unchanged": report.unchanged,
            "cursor": report.cursor,
            "checkpoint_seq": report.checkpoint_seq,
            "records": records.iter().map(|r| json!({
                "record_id": r.record_id,
                "section": r.section,
                "version": r.version,
                "seq": r.seq,
                "author": output::party_json(&r.author_party),
                "body": r.body,
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    if report.unchanged {
        outln!(
            "Passport {} is up to date in {} (nothing new since sequence {}).",
            report.passport_id,
            path.display(),
            report.cursor
        );
    } else {
        outln!(
            "Synced passport {} into {}: {} new version{} verified and applied, up to sequence \
             {} (server checkpoint {} checked).",
            report.passport_id,
            path.display(),
            report.applied.len(),
            if report.applied.len() == 1 { "" } else { "s" },
            report.cursor,
            report.checkpoint_seq
        );
    }
    let me = client.party_id().ok();
    let mut table = Table::new(&["record", "section", "v", "author", "summary"]);
    for r in &records {
        table.row(vec![
            r.record_id.clone(),
            r.section.to_string(),
            r.version.to_string(),
            output::party(&r.author_party, me),
            output::summary(r.section, Some(&r.body)),
        ]);
    }
    out!("{}", table.render());
    Ok(())
}

async fn sync_into(
    client: &Client,
    replica: &Replica,
    grant: &str,
    path: &Path,
) -> Result<(SyncReport, Vec<LocalRecord>)> {
    let deleted = |pids: &[String]| {
        if pids.is_empty() {
            String::new()
        } else {
            format!(
                " (the local copy of passport {} in {} was deleted)",
                pids.join(", "),
                path.display()
            )
        }
    };
    let pc = match client.granted_passport(grant).await {
        Ok(pc) => pc,
        Err(e) => {
            let purged = purge_grant(replica, grant, &e).await?;
            let message = format!("syncing under grant {grant}{}", deleted(&purged));
            return Err(anyhow::Error::new(e).context(message));
        }
    };
    let held = replica.has_passport(&pc.id).await?;
    let report = match replica.sync(&pc).await {
        Ok(report) => report,
        Err(e) => {
            // The replica deletes its copy itself when consent has ended.
            let gone = held && !replica.has_passport(&pc.id).await.unwrap_or(true);
            let purged = if gone {
                vec![pc.id.clone()]
            } else {
                Vec::new()
            };
            let message = format!("syncing under grant {grant}{}", deleted(&purged));
            return Err(anyhow::Error::new(e).context(message));
        }
    };
    let records = replica.records(&pc.id).await?;
    Ok((report, records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let target =
            json!({ "title": "Desk", "status": "requested", "notes": "x", "n": { "a": 1 } });
        let patch = json!({ "status": "agreed", "notes": null, "n": { "b": 2 } });
        assert_eq!(
            merge_patch(target, &patch),
            json!({ "title": "Desk", "status": "agreed", "n": { "a": 1, "b": 2 } })
        );
        assert_eq!(merge_patch(json!({ "a": 1 }), &json!([1])), json!([1]));
    }

    #[test]
    fn until_takes_a_date_or_a_time() {
        assert_eq!(
            parse_until("2030-01-31").unwrap().to_rfc3339(),
            "2030-01-31T23:59:59+00:00"
        );
        assert_eq!(
            parse_until("2030-01-31T12:00:00+01:00")
                .unwrap()
                .to_rfc3339(),
            "2030-01-31T11:00:00+00:00"
        );
        assert!(parse_until("next week").is_err());
    }

    #[test]
    fn scopes_read_as_a_sentence() {
        let scopes = [
            Scope {
                section: Section::Summary,
                actions: vec![Action::Read],
            },
            Scope {
                section: Section::Adjustments,
                actions: vec![Action::Read, Action::Agree],
            },
        ];
        assert_eq!(
            describe_scopes(&scopes),
            "read summary, adjustments; agree adjustments"
        );
    }
}
