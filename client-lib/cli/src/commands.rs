//! What each command does: parse its input, call the library, and hand the result to
//! [`output::show`] (what it looks like is in `views`).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use serde_json::Value;
use wp_schemas::api::{
    ApproveAccessRequest, CreateAccessRequest, Grant, NotificationKind, Party, PartyKind,
    ProfessionalRegistration, Role, SetListing,
};
use wp_schemas::jose::PublicJwk;
use wp_schemas::sections::{Section, example_body, parse_body};

use super::args::{
    AdminCommand, BodyArgs, BundleCommand, Cli, Command, EnrolKind, GrantAdd, GrantCommand,
    KeysCommand, NotificationListArgs, NotificationsArgs, NotificationsCommand, OrgCommand,
    OrgKind, PassportCommand, RecordCommand, RequestCommand,
};
use super::output::{self, Mode, Render};
use super::profile::Profile;
use super::profile::write_atomic;
use super::views::{
    AccessLog, BundleChecked, Change, Enrolled, Exported, FhirWritten, GrantList, GrantMade,
    GrantRevoked, History, Imported, InvitationList, InvitationRevoked, Invited, Joined,
    KeyCreated, KeyRevoked, KeyRotated, ListingShown, MemberList, MemberRemoved, Names,
    NotificationChange, NotificationList, NotificationSettingsShown, NotificationsDone, OrgCreated,
    OrgList, OrgSummaries, OwnPassport, PassportCreated, PassportErased, RecordShown, Registered,
    RequestApproved, RequestDeclined, RequestList, RequestMade, RequestShown, SharedPassport, Side,
    SignedIn, Synced, WhoAmI, Written,
};
use wp_client::consent::{self, GrantTerms};
use wp_client::{
    Client, ClientError, LocalRecord, PassportClient, Replica, SigningKey, SyncReport, bundle, keys,
};

struct Ctx {
    mode: Mode,
    profile: Profile,
}

impl Ctx {
    fn show(&self, result: &impl Render) {
        output::show(self.mode, result);
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    let mode = Mode::new(cli.json, cli.quiet);
    if let Command::Example { section } = cli.command {
        output::show(mode, &example_body(section));
        return Ok(());
    }
    let mut ctx = Ctx {
        mode,
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
        Command::Join {
            code,
            name,
            profession,
            registration_body,
            registration_number,
        } => {
            let registration = match (profession, registration_body, registration_number) {
                (Some(profession), Some(body), Some(number)) => Some(ProfessionalRegistration {
                    profession,
                    registration_body: body,
                    registration_number: number,
                }),
                (None, None, None) => None,
                _ => bail!(
                    "a clinician gives all of --profession, --registration-body and \
                     --registration-number"
                ),
            };
            join(&mut ctx, &code, &name, registration).await
        }
        Command::Org(command) => org(&ctx, command).await,
        Command::Request(command) => request(&ctx, command).await,
        Command::Passport(PassportCommand::Create) => passport_create(&mut ctx).await,
        Command::Passport(PassportCommand::Show) => passport_show(&mut ctx).await,
        Command::Passport(PassportCommand::Erase { yes }) => passport_erase(&mut ctx, yes).await,
        Command::Passport(PassportCommand::Export { out, fhir }) => {
            passport_export(&mut ctx, out.as_deref(), fhir).await
        }
        Command::Passport(PassportCommand::Import {
            to,
            file,
            name,
            party_id,
            acknowledge_unverified_origin,
        }) => {
            passport_import(
                &mut ctx,
                &to,
                file.as_deref(),
                name.as_deref(),
                party_id.as_deref(),
                acknowledge_unverified_origin,
            )
            .await
        }
        Command::Bundle(BundleCommand::Verify {
            file,
            server_jwks,
            server_key,
            offline,
        }) => {
            let origin = match (server_jwks, server_key, offline) {
                (Some(file), _, _) => OriginKeys::Jwks(file),
                (None, Some(thumbprint), _) => OriginKeys::Thumbprint(thumbprint),
                (None, None, true) => OriginKeys::Offline,
                (None, None, false) => OriginKeys::Fetch,
            };
            bundle_verify(&ctx, &file, origin).await
        }
        Command::Bundle(BundleCommand::Fhir { file }) => {
            let fhir = bundle::fhir(&read_bundle(&file)?)?;
            output::emit(format_args!("{}\n", serde_json::to_string_pretty(&fhir)?));
            Ok(())
        }
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
        Command::Notifications(args) => notifications(&ctx, args).await,
        Command::Sync { grant, db } => sync(&ctx, &grant, db.as_deref()).await,
        Command::Agree {
            grant,
            record_id,
            by,
        } => agree(&ctx, &grant, &record_id, by.as_deref()).await,
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
    ctx.show(&KeyCreated {
        kid: key.kid().to_owned(),
        key_file: path,
        public_file: profile.public_path(),
        public_jwk: key.public_jwk().clone(),
    });
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
    ctx.show(&Registered { party, server });
    Ok(())
}

async fn join(
    ctx: &mut Ctx,
    code: &str,
    name: &str,
    registration: Option<ProfessionalRegistration>,
) -> Result<()> {
    if let Some(id) = &ctx.profile.config.party_id {
        bail!(
            "profile {} is already party {id}: join with a profile of its own (--profile-dir)",
            ctx.profile.dir.display()
        );
    }
    // The profile's key, or a new one made here as `wp keygen` makes it.
    let path = ctx.profile.key_path();
    let new_key = if path.exists() {
        None
    } else {
        ctx.profile.create_dir()?;
        let key = keys::generate(&path)?;
        ctx.profile.write_public(&key)?;
        Some(key.kid().to_owned())
    };
    let server = ctx.profile.server();
    let mut client = Client::new(&server, ctx.profile.key()?);
    let party = client
        .redeem_invitation(code, name, registration)
        .await
        .context("joining with the invitation code")?;
    let config = &mut ctx.profile.config;
    config.server = Some(server.clone());
    config.party_id = Some(party.id.clone());
    config.kind = Some(party.kind);
    config.display_name = Some(party.display_name.clone());
    config.passport_id = None;
    ctx.profile.save()?;
    ctx.show(&Joined {
        party,
        server,
        new_key,
    });
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
    ctx.show(&SignedIn { me, server });
    Ok(())
}

async fn whoami(ctx: &Ctx) -> Result<()> {
    let client = ctx.profile.client()?;
    let me = client.me().await?;
    ctx.show(&WhoAmI {
        profile_dir: ctx.profile.dir.clone(),
        server: client.base_url().to_owned(),
        me,
        current_kid: client.key().kid().to_owned(),
    });
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
    ctx.show(&Enrolled(party));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Organisations

/// The organisation `text` names: an id as given, or the one organisation with exactly that
/// name (any case): the caller's own (a member's), any made here (the service admin's), or one
/// in the directory of listed organisations. Returns its id and, for people, its name.
async fn organisation(client: &Client, text: &str) -> Result<(String, String)> {
    if uuid::Uuid::parse_str(text).is_ok() {
        let name = match client.party(text).await {
            Ok(p) => p.display_name,
            Err(_) => text.to_owned(),
        };
        return Ok((text.to_owned(), name));
    }
    let me = client.me().await.ok().map(|m| m.party);
    if let Some(m) = me.as_ref().and_then(|p| p.membership.as_ref())
        && m.organisation_name.to_lowercase() == text.to_lowercase()
    {
        return Ok((m.organisation.clone(), m.organisation_name.clone()));
    }
    let found: Vec<(String, String)> = if me.is_some_and(|p| p.kind == PartyKind::Admin) {
        client
            .organisations(Some(text))
            .await
            .with_context(|| format!("looking up the organisation {text:?}"))?
            .into_iter()
            .map(|o| (o.id, o.display_name))
            .collect()
    } else {
        client
            .find_organisations(text)
            .await
            .with_context(|| format!("looking up the organisation {text:?}"))?
            .into_iter()
            .map(|o| (o.id, o.display_name))
            .collect()
    };
    let mut named: Vec<_> = found
        .into_iter()
        .filter(|(_, name)| name.to_lowercase() == text.to_lowercase())
        .collect();
    match named.len() {
        1 => Ok(named.remove(0)),
        0 => bail!(
            "no organisation is named {text:?}: `wp org find {text:?}` lists those whose name \
             contains it"
        ),
        _ => bail!(
            "{} organisations are named {text:?} ({}): give the id instead",
            named.len(),
            named
                .iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

async fn org(ctx: &Ctx, command: OrgCommand) -> Result<()> {
    let client = ctx.profile.client()?;
    match command {
        OrgCommand::Create { kind, name } => {
            let kind = match kind {
                OrgKind::Employer => PartyKind::Employer,
                OrgKind::Practice => PartyKind::Practice,
            };
            let party = client.create_organisation(kind, &name).await?;
            ctx.show(&OrgCreated(party));
        }
        OrgCommand::Find { name, code } => {
            let found = match (name, code) {
                (_, Some(code)) => vec![client.organisation_by_share_code(&code).await?],
                (Some(name), None) => client.find_organisations(&name).await?,
                (None, None) => bail!("give part of a name, or --code"),
            };
            ctx.show(&OrgList(found));
        }
        OrgCommand::List { name } => {
            let found = client.organisations(name.as_deref()).await?;
            ctx.show(&OrgSummaries(found));
        }
        OrgCommand::Listing {
            org,
            listed,
            place,
            about,
            new_share_code,
        } => {
            let (oid, _) = organisation(&client, &org).await?;
            let mut listing = client.organisation_listing(&oid).await?;
            let change = listed.is_some() || place.is_some() || about.is_some() || new_share_code;
            if change {
                let text = |new: Option<String>, old: Option<String>| match new {
                    Some(t) if t.trim().is_empty() => None,
                    Some(t) => Some(t),
                    None => old,
                };
                let set = SetListing {
                    listed: listed.unwrap_or(listing.listed),
                    place: text(place, listing.place.clone()),
                    about: text(about, listing.about.clone()),
                    new_share_code,
                };
                listing = client.set_organisation_listing(&oid, &set).await?;
            }
            ctx.show(&ListingShown {
                share_link: format!("{}/#/share/{}", client.base_url(), listing.share_code),
                listing,
                changed: change,
            });
        }
        OrgCommand::Invite {
            org,
            role,
            days,
            email,
        } => {
            let (oid, org_name) = organisation(&client, &org).await?;
            let invitation = match email {
                Some(address) => client.invite_by_email(&oid, role, days, &address).await?,
                None => client.invite(&oid, role, days).await?,
            };
            ctx.show(&Invited {
                invitation,
                org_name,
            });
        }
        OrgCommand::Invitations { org } => {
            let (oid, org_name) = organisation(&client, &org).await?;
            let invitations = client.invitations(&oid).await?;
            let names = if ctx.mode.for_people(false) {
                names(
                    &client,
                    invitations
                        .iter()
                        .flat_map(|i| [Some(i.created_by.as_str()), i.redeemed_by.as_deref()])
                        .flatten(),
                )
                .await
            } else {
                Names::default()
            };
            ctx.show(&InvitationList {
                invitations,
                org_name,
                names,
            });
        }
        OrgCommand::RevokeInvitation { org, invitation_id } => {
            let (oid, org_name) = organisation(&client, &org).await?;
            let invitation = client.revoke_invitation(&oid, &invitation_id).await?;
            ctx.show(&InvitationRevoked {
                invitation,
                org_name,
            });
        }
        OrgCommand::Members { org } => {
            let (oid, org_name) = organisation(&client, &org).await?;
            let members = client.members(&oid).await?;
            ctx.show(&MemberList {
                members,
                org_name,
                me: client.party_id().ok().map(str::to_owned),
            });
        }
        OrgCommand::Remove { org, member } => {
            let (oid, org_name) = organisation(&client, &org).await?;
            let member = client.remove_member(&oid, &member).await?;
            let left = client.party_id().ok() == Some(member.party.as_str());
            ctx.show(&MemberRemoved {
                member,
                org_name,
                left,
            });
        }
    }
    Ok(())
}

async fn request(ctx: &Ctx, command: RequestCommand) -> Result<()> {
    let client = ctx.profile.client()?;
    match command {
        RequestCommand::Create {
            org,
            sections,
            roles,
            purpose,
            days,
            employee,
            expires_in,
        } => {
            let scopes = sections.scopes();
            let (oid, _) = organisation(&client, &org).await?;
            let asked = CreateAccessRequest {
                scopes,
                roles,
                purpose,
                duration_days: days,
                employee,
                expires_in_days: expires_in,
            };
            let request = client.request_access(&oid, &asked).await?;
            ctx.show(&RequestMade(request));
        }
        RequestCommand::List { org } => {
            let (oid, org_name) = organisation(&client, &org).await?;
            let requests = client.access_requests(&oid).await?;
            ctx.show(&RequestList { requests, org_name });
        }
        RequestCommand::Open { code } => {
            let request = client.open_access_request(&code).await?;
            ctx.show(&RequestShown(request));
        }
        RequestCommand::Approve {
            code,
            sections,
            days,
            until,
            consent_text,
        } => {
            let request = client.open_access_request(&code).await?;
            let narrowed = sections.scopes();
            let scopes = if narrowed.is_empty() {
                request.scopes.clone()
            } else {
                narrowed.clone()
            };
            let ends_at = match (days, until) {
                (None, None) => None,
                (days, until) => Some(ends_at(days, until)?),
            };
            let text_ends_at = match ends_at {
                Some(t) => t,
                None => consent::ends_in_days(request.duration_days)?,
            };
            let consent_text = consent_text.unwrap_or_else(|| {
                let owner = ctx.profile.config.display_name.as_deref();
                consent::approval_text(&request, &scopes, text_ends_at, owner)
            });
            let approval = ApproveAccessRequest {
                code,
                scopes: (!narrowed.is_empty()).then_some(narrowed),
                ends_at,
                consent_text,
            };
            let grant = client.approve_access_request(&approval).await?;
            ctx.show(&RequestApproved { grant, request });
        }
        RequestCommand::Decline { code } => {
            let request = client.decline_access_request(&code).await?;
            ctx.show(&RequestDeclined(request));
        }
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
    ctx.show(&KeyRotated {
        new_kid: next_key.kid().to_owned(),
        revoked_kid: old_kid,
    });
    Ok(())
}

async fn keys_revoke(ctx: &Ctx, kid: &str) -> Result<()> {
    let client = ctx.profile.client()?;
    if client.key().kid() == kid {
        bail!("{kid} is the key this profile uses: `wp keys rotate` replaces it");
    }
    let party = client.revoke_key(kid).await?;
    ctx.show(&KeyRevoked {
        kid: kid.to_owned(),
        party,
    });
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
    ctx.show(&PassportCreated(info));
    Ok(())
}

async fn passport_show(ctx: &mut Ctx) -> Result<()> {
    let client = ctx.profile.client()?;
    let pc = open_passport(ctx, &client, None).await?;
    let passport = pc.read().await?;
    let me = client.party_id()?.to_owned();
    ctx.show(&OwnPassport { passport, me });
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
    ctx.show(&PassportErased { id });
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
            let version = pc.create_record(section, body).await?;
            ctx.show(&Written {
                change: Change::Added,
                record_id: version.envelope.record_id.clone(),
                version,
            });
        }
        RecordCommand::Show {
            record_id,
            grant,
            body_only,
        } => {
            let pc = open_passport(ctx, &client, grant.as_deref()).await?;
            let version = pc.record(&record_id).await?;
            if body_only {
                // The body alone is JSON however the output is asked for.
                ctx.show(&version.payload.body.unwrap_or(Value::Null));
            } else {
                ctx.show(&RecordShown { version, me });
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
            let version = explain_conflict(&client, &record_id, result).await?;
            ctx.show(&Written {
                change: Change::Edited,
                record_id: version.envelope.record_id.clone(),
                version,
            });
        }
        RecordCommand::Delete { record_id, grant } => {
            let pc = open_passport(ctx, &client, grant.as_deref()).await?;
            let result = pc.delete_record(&record_id).await;
            let version = explain_conflict(&client, &record_id, result).await?;
            ctx.show(&Written {
                change: Change::Deleted,
                record_id,
                version,
            });
        }
        RecordCommand::History { record_id, grant } => {
            let pc = open_passport(ctx, &client, grant.as_deref()).await?;
            let versions = pc.history(&record_id).await?;
            ctx.show(&History {
                record_id,
                versions,
                me,
            });
        }
    }
    Ok(())
}

/// A conflict, told as what happened: who wrote first, and that nothing was lost.
async fn explain_conflict<T>(
    client: &Client,
    record_id: &str,
    result: wp_client::Result<T>,
) -> Result<T> {
    let e = match result {
        Ok(written) => return Ok(written),
        Err(e) => e,
    };
    let ClientError::Conflict { current_head, .. } = &e else {
        return Err(e.into());
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
    Err(anyhow::Error::new(e).context(message))
}

// ---------------------------------------------------------------------------------------------
// Grants

/// Display names of the parties `ids`, each looked up once; one that cannot be looked up shows
/// as its id.
async fn names<'a>(client: &Client, ids: impl IntoIterator<Item = &'a str>) -> Names {
    let mut names = HashMap::new();
    for id in ids {
        if names.contains_key(id) {
            continue;
        }
        let name = match client.party(id).await {
            Ok(p) => output::party(&p, client.party_id().ok()),
            Err(_) => id.to_owned(),
        };
        names.insert(id.to_owned(), name);
    }
    Names(names)
}

/// The parties `ids` as looked up, each once; one that cannot be looked up is left out.
async fn parties<'a>(
    client: &Client,
    ids: impl IntoIterator<Item = &'a str>,
) -> HashMap<String, Party> {
    let mut parties = HashMap::new();
    for id in ids {
        if parties.contains_key(id) {
            continue;
        }
        if let Ok(p) = client.party(id).await {
            parties.insert(id.to_owned(), p);
        }
    }
    parties
}

/// Grants with the names of the parties on `side` and of the members they cover, looked up
/// only if people will see them.
async fn grant_list(ctx: &Ctx, client: &Client, grants: Vec<Grant>, side: Side) -> GrantList {
    let (names, members) = if ctx.mode.for_people(false) {
        let names = names(client, grants.iter().map(|g| side.party_of(g))).await;
        let members = parties(
            client,
            grants
                .iter()
                .flat_map(|g| g.members.iter().map(String::as_str)),
        )
        .await;
        let members = members
            .into_iter()
            .map(|(id, p)| (id, p.display_name))
            .collect();
        (names, Names(members))
    } else {
        (Names::default(), Names::default())
    };
    GrantList {
        grants,
        side,
        names,
        members,
    }
}

/// Who at the grantee may use a grant: an organisation without a key of its own (whose people
/// act for it) needs --role or --member, and takes only its own roles; an employer enrolled
/// with a key acts itself and may take them or not; anyone else takes neither.
fn check_covered(grantee: &Party, roles: &[Role], members: &[String]) -> Result<()> {
    let name = &grantee.display_name;
    if !grantee.kind.is_organisation() {
        if !roles.is_empty() || !members.is_empty() {
            bail!(
                "{name} is {} {}, not an organisation: --role and --member are for \
                 organisations",
                if grantee.kind == PartyKind::Admin || grantee.kind == PartyKind::Employee {
                    "an"
                } else {
                    "a"
                },
                grantee.kind.as_str()
            );
        }
        return Ok(());
    }
    if roles.is_empty() && members.is_empty() && grantee.keys.is_empty() {
        bail!(
            "{name} is an organisation: say who there may use this grant, with --role ROLE \
             (everyone in that role) or --member PARTY_ID (one person; see `wp org members`)"
        );
    }
    if let Some(role) = roles.iter().find(|r| !r.fits(grantee.kind)) {
        let fitting: Vec<&str> = Role::ALL
            .into_iter()
            .filter(|r| r.fits(grantee.kind))
            .map(Role::as_str)
            .collect();
        bail!(
            "{name} is {} {} and has no {} role: its roles are {}",
            if grantee.kind == PartyKind::Employer {
                "an"
            } else {
                "a"
            },
            grantee.kind.as_str(),
            role.as_str(),
            fitting.join(", ")
        );
    }
    Ok(())
}

/// When consent ends, from `--days` or `--until`.
fn ends_at(days: Option<i64>, until: Option<String>) -> Result<DateTime<Utc>> {
    match (days, until) {
        (Some(days), _) => consent::ends_in_days(days).map_err(|e| anyhow!("--days {e}")),
        (None, Some(until)) => {
            consent::parse_until(&until).map_err(|e| anyhow!("--until {until}: {e}"))
        }
        (None, None) => bail!("say until when: --days N or --until DATE"),
    }
}

async fn grant(ctx: &mut Ctx, command: GrantCommand) -> Result<()> {
    let client = ctx.profile.client()?;
    let pc = open_passport(ctx, &client, None).await?;
    match command {
        GrantCommand::Add(add) => {
            let GrantAdd {
                to,
                roles,
                members,
                sections,
                purpose,
                days,
                until,
                consent_text,
            } = *add;
            let scopes = sections.scopes();
            let ends_at = ends_at(days, until)?;
            // A party id, or an organisation's share code (`K7PD-4MQX-93HN`).
            let to = if uuid::Uuid::parse_str(&to).is_ok() {
                to
            } else {
                client
                    .organisation_by_share_code(&to)
                    .await
                    .with_context(|| format!("looking up the share code {to}"))?
                    .id
            };
            let grantee = client
                .party(&to)
                .await
                .with_context(|| format!("looking up the grantee {to}"))?;
            check_covered(&grantee, &roles, &members)?;
            let mut member_parties = Vec::new();
            for id in &members {
                let member = client
                    .party(id)
                    .await
                    .with_context(|| format!("looking up the member {id}"))?;
                member_parties.push(member);
            }
            let terms = GrantTerms {
                grantee: to,
                roles,
                members,
                scopes,
                purpose,
                ends_at,
                consent_text,
            };
            let owner = ctx.profile.config.display_name.as_deref();
            let request = terms.into_grant(&grantee, &member_parties, owner);
            let grant = pc.grant(&request).await?;
            ctx.show(&GrantMade {
                grant,
                grantee,
                members: member_parties,
            });
        }
        GrantCommand::List => {
            let grants = pc.grants().await?;
            ctx.show(&grant_list(ctx, &client, grants, Side::To).await);
        }
        GrantCommand::Revoke { grant_id } => {
            let grant = pc.revoke(&grant_id).await?;
            let grantee_name = if ctx.mode.for_people(true) {
                names(&client, [grant.grantee.as_str()])
                    .await
                    .of(&grant.grantee)
            } else {
                String::new()
            };
            ctx.show(&GrantRevoked {
                grant,
                grantee_name,
            });
        }
    }
    Ok(())
}

async fn log(ctx: &mut Ctx, verify: bool, actor: Option<&str>, limit: Option<usize>) -> Result<()> {
    let client = ctx.profile.client()?;
    let pc = open_passport(ctx, &client, None).await?;
    let mut entries = if verify {
        pc.verified_access_log().await?
    } else {
        pc.access_log(actor, limit).await?
    };
    let total = entries.len();
    let last_seq = entries.last().map_or(0, |e| e.seq);
    if let Some(a) = actor {
        entries.retain(|e| e.actor.as_deref() == Some(a));
    }
    if let Some(l) = limit {
        entries.drain(..entries.len().saturating_sub(l));
    }
    // Names show in JSON too (actor_name): the actors, and the organisations members acted for.
    let ids = entries.iter().flat_map(|e| {
        [
            e.actor.as_deref(),
            e.on_behalf_of.as_ref().map(|o| o.organisation.as_str()),
        ]
    });
    let parties = parties(&client, ids.flatten()).await;
    ctx.show(&AccessLog {
        passport_id: pc.id.clone(),
        verified: verify,
        entries,
        total,
        last_seq,
        parties,
        me: client.party_id().ok().map(str::to_owned),
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Bundles: export, verify, import

async fn passport_export(ctx: &mut Ctx, out: Option<&Path>, fhir: bool) -> Result<()> {
    let client = ctx.profile.client()?;
    let pc = open_passport(ctx, &client, None).await?;
    if fhir {
        let text = serde_json::to_string_pretty(&pc.export_fhir().await?)? + "\n";
        match out {
            Some(path) => {
                write_atomic(path, text.as_bytes(), 0o600)?;
                ctx.show(&FhirWritten(path.display().to_string()));
            }
            None => output::emit(format_args!("{text}")),
        }
        return Ok(());
    }
    let bundle = pc.export().await?;
    let report = bundle::verify(&bundle);
    let text = serde_json::to_string_pretty(&bundle)? + "\n";
    match out {
        Some(path) => {
            write_atomic(path, text.as_bytes(), 0o600)?;
            ctx.show(&Exported {
                report,
                file: Some(path.display().to_string()),
            });
        }
        // The bundle itself is the output: nothing else goes to stdout.
        None => output::emit(format_args!("{text}")),
    }
    Ok(())
}

fn read_bundle(file: &Path) -> Result<Value> {
    let mut text = String::new();
    if file == Path::new("-") {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    }
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not JSON (a truncated or damaged bundle?)",
            file.display()
        )
    })
}

/// Where `wp bundle verify` takes the exporting server's keys from.
enum OriginKeys {
    /// From the server the bundle names.
    Fetch,
    /// From a copy of its JWKS.
    Jwks(PathBuf),
    /// The thumbprint the owner was shown at export.
    Thumbprint(String),
    /// Nowhere: the origin is not checked.
    Offline,
}

async fn bundle_verify(ctx: &Ctx, file: &Path, origin: OriginKeys) -> Result<()> {
    let value = read_bundle(file)?;
    let mut report = bundle::verify(&value);
    if report.attested_by.is_some() {
        let server = report.server.clone().unwrap_or_default();
        match origin {
            OriginKeys::Fetch => match bundle::fetch_server_keys(&server).await {
                Ok(keys) => bundle::check_origin(&mut report, &keys, "fetched from it just now"),
                Err(e) => report.failures.push(format!(
                    "the attestation key could not be compared with the keys {server} \
                     publishes ({e}): give them with --server-jwks FILE or --server-key, or \
                     check everything else with --offline"
                )),
            },
            OriginKeys::Jwks(path) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let jwks: Value = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not JSON", path.display()))?;
                let keys = bundle::server_keys_of(&jwks)?;
                let how = format!("as given in {}", path.display());
                bundle::check_origin(&mut report, &keys, &how);
            }
            OriginKeys::Thumbprint(thumbprint) => {
                bundle::check_origin_thumbprint(&mut report, &thumbprint)
            }
            OriginKeys::Offline => {}
        }
    }
    let failed = report.failures.len();
    ctx.show(&BundleChecked(report));
    if failed > 0 {
        return Err(ClientError::Verification(format!(
            "{} does not verify: {failed} check(s) failed",
            file.display()
        ))
        .into());
    }
    Ok(())
}

async fn passport_import(
    ctx: &mut Ctx,
    to: &str,
    file: Option<&Path>,
    name: Option<&str>,
    party_id: Option<&str>,
    acknowledge_unverified_origin: bool,
) -> Result<()> {
    let to = to.trim_end_matches('/').to_owned();
    let bundle = match file {
        Some(f) => read_bundle(f)?,
        None => {
            let client = ctx.profile.client()?;
            let pc = open_passport(ctx, &client, None).await?;
            pc.export().await?
        }
    };
    let report = bundle::verify(&bundle);
    if !report.is_sound() {
        return Err(ClientError::Verification(format!(
            "the bundle does not verify, so it was not sent: {}",
            report.failures.join("; ")
        ))
        .into());
    }
    let key = ctx.profile.key()?;
    let client = match party_id {
        Some(id) => Client::for_party(&to, key, id),
        None => {
            let name = name
                .map(str::to_owned)
                .or_else(|| ctx.profile.config.display_name.clone())
                .ok_or_else(|| anyhow!("give your name at the new server with --name"))?;
            let mut client = Client::new(&to, key);
            client.register_employee(&name).await.with_context(|| {
                format!("registering this key at {to} (already registered there? pass --party-id)")
            })?;
            client
        }
    };
    let info = client
        .import_passport(&bundle, acknowledge_unverified_origin)
        .await?;
    let me = client.me().await?;
    let config = &mut ctx.profile.config;
    let from = config.server.replace(to.clone());
    config.party_id = Some(me.party.id.clone());
    config.kind = Some(me.party.kind);
    config.display_name = Some(me.party.display_name.clone());
    config.passport_id = Some(info.id.clone());
    ctx.profile.save()?;
    ctx.show(&Imported {
        info,
        from: report.server.or(from),
        to,
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Employers and professionals

async fn grants_to_me(ctx: &Ctx) -> Result<()> {
    let client = ctx.profile.client()?;
    let grants = client.grants_to_me().await?;
    ctx.show(&grant_list(ctx, &client, grants, Side::From).await);
    Ok(())
}

async fn fetch(ctx: &Ctx, grant: &str) -> Result<()> {
    let client = ctx.profile.client()?;
    let context = || format!("reading the passport shared under grant {grant}");
    let pc = client.granted_passport(grant).await.with_context(context)?;
    let passport = pc.read().await.with_context(context)?;
    let scopes = pc.scopes().unwrap_or_default().to_vec();
    let owner = client.party(&passport.owner).await?;
    ctx.show(&SharedPassport {
        passport,
        owner,
        grant_id: grant.to_owned(),
        scopes,
        me: client.party_id().ok().map(str::to_owned),
    });
    Ok(())
}

async fn agree(ctx: &Ctx, grant: &str, record_id: &str, by: Option<&str>) -> Result<()> {
    let client = ctx.profile.client()?;
    // A member agrees in their own name ("Priya Shah (HR, Acme Ltd)"); the server refuses any
    // other.
    let me = client.party(client.party_id()?).await?;
    let by = match (consent::agreement_name(&me), by) {
        (Some(own), None) => own,
        (Some(own), Some(given)) if given == own => own,
        (Some(own), Some(given)) => {
            bail!("as a member you agree in your own name, {own:?}, not {given:?}: leave out --by")
        }
        (None, Some(given)) => given.to_owned(),
        (None, None) => bail!("say who agreed it with --by, e.g. --by \"Sam Patel, line manager\""),
    };
    let pc = client
        .granted_passport(grant)
        .await
        .with_context(|| format!("opening the passport shared under grant {grant}"))?;
    let result = pc.agree_adjustment(record_id, &by).await;
    let version = explain_conflict(&client, record_id, result).await?;
    ctx.show(&Written {
        change: Change::Agreed,
        record_id: record_id.to_owned(),
        version,
    });
    Ok(())
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
    ctx.show(&Synced {
        report,
        grant_id: grant.to_owned(),
        db: path,
        records,
        me: client.party_id().ok().map(str::to_owned),
    });
    Ok(())
}

/// Syncs under `grant`; when consent has ended, the error says which local copies were deleted.
async fn sync_into(
    client: &Client,
    replica: &Replica,
    grant: &str,
    path: &Path,
) -> Result<(SyncReport, Vec<LocalRecord>)> {
    let failed = |e: ClientError, purged: &[String]| {
        let mut message = format!("syncing under grant {grant}");
        if !purged.is_empty() {
            message += &format!(
                " (the local copy of passport {} in {} was deleted)",
                purged.join(", "),
                path.display()
            );
        }
        anyhow::Error::new(e).context(message)
    };
    let pc = match client.granted_passport(grant).await {
        Ok(pc) => pc,
        Err(e) => {
            // Refused before the passport is named: delete what is kept under this grant.
            let purged = if e.consent_ended(true) {
                replica.purge_grant(grant).await?
            } else {
                Vec::new()
            };
            return Err(failed(e, &purged));
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
            return Err(failed(e, &purged));
        }
    };
    let records = replica.records(&pc.id).await?;
    Ok((report, records))
}

// ---------------------------------------------------------------------------------------------
// Notifications

async fn notifications(ctx: &Ctx, args: NotificationsArgs) -> Result<()> {
    let command = args
        .command
        .unwrap_or(NotificationsCommand::List(args.list));
    if let NotificationsCommand::Verify { code } = command {
        // The link is the proof and the request is not signed: no profile is needed, so a
        // throwaway key stands in for the one a client is built with.
        let client = Client::new(&ctx.profile.server(), SigningKey::generate());
        let code = code.rsplit("#/email/verify/").next().unwrap_or(&code);
        client
            .verify_notification_email(code.trim())
            .await
            .context("verifying the email address")?;
        ctx.show(&NotificationsDone::Verified);
        return Ok(());
    }
    let client = ctx.profile.client()?;
    match command {
        NotificationsCommand::List(NotificationListArgs { before, unread }) => {
            let mut page = client.notifications(before.as_deref()).await?;
            if unread {
                page.notifications.retain(|n| n.read_at.is_none());
            }
            ctx.show(&NotificationList {
                page,
                server: client.base_url().to_owned(),
                unread_only: unread,
            });
        }
        NotificationsCommand::Read { id, .. } => {
            client.mark_notifications_read(id.as_deref()).await?;
            ctx.show(&NotificationsDone::Read(id));
        }
        NotificationsCommand::Settings => {
            let settings = client.notification_settings().await?;
            ctx.show(&NotificationSettingsShown {
                settings,
                change: NotificationChange::None,
            });
        }
        NotificationsCommand::Email {
            address: Some(address),
            ..
        } => {
            let settings = client.set_notification_email(&address).await?;
            ctx.show(&NotificationSettingsShown {
                settings,
                change: NotificationChange::EmailSet,
            });
        }
        NotificationsCommand::Email { address: None, .. } => {
            client.remove_notification_email().await?;
            ctx.show(&NotificationsDone::EmailRemoved);
        }
        NotificationsCommand::Choose { choices } => {
            let current = client.notification_settings().await?;
            let own: Vec<NotificationKind> = current.choices.iter().map(|c| c.kind).collect();
            let email = email_choices(&own, &choices)?;
            let settings = client.set_email_choices(email.clone()).await?;
            ctx.show(&NotificationSettingsShown {
                settings,
                change: NotificationChange::Chosen(email),
            });
        }
        NotificationsCommand::Calendar { stop: false } => {
            let feed = client.new_calendar_feed().await?;
            ctx.show(&NotificationsDone::CalendarMade(feed.url));
        }
        NotificationsCommand::Calendar { stop: true } => {
            client.remove_calendar_feed().await?;
            ctx.show(&NotificationsDone::CalendarStopped);
        }
        NotificationsCommand::Verify { .. } => unreachable!("handled above"),
    }
    Ok(())
}

/// `KIND=on|off` choices checked against the kinds the caller receives (`own`), before anything
/// is sent: the server would refuse a security alert turned off, but not say which kinds exist.
fn email_choices(
    own: &[NotificationKind],
    choices: &[(String, bool)],
) -> Result<BTreeMap<NotificationKind, bool>> {
    let choosable = || {
        own.iter()
            .filter(|k| !k.is_security())
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut email = BTreeMap::new();
    for (name, on) in choices {
        match NotificationKind::parse(name).filter(|k| own.contains(k)) {
            None => bail!(
                "{name:?} is not a kind of notification you receive: choose from {}",
                choosable()
            ),
            Some(kind) if kind.is_security() && !on => bail!(
                "{name} is a security alert: it always comes by email to a verified address and \
                 cannot be turned off. The kinds you can turn off are: {}",
                choosable()
            ),
            Some(kind) => {
                email.insert(kind, *on);
            }
        }
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
    fn email_choices_name_own_kinds_and_keep_security_alerts() {
        use NotificationKind as K;
        let own = [K::AccessRequested, K::GrantEnding, K::KeyAdded];
        let choice = |name: &str, on| vec![(name.to_owned(), on)];
        assert_eq!(
            email_choices(&own, &choice("access_requested", false)).unwrap(),
            BTreeMap::from([(K::AccessRequested, false)])
        );
        assert_eq!(
            email_choices(&own, &choice("key_added", true)).unwrap(),
            BTreeMap::from([(K::KeyAdded, true)])
        );
        let refused = |name, on| {
            email_choices(&own, &choice(name, on))
                .unwrap_err()
                .to_string()
        };
        assert!(refused("key_added", false).starts_with("key_added is a security alert"));
        assert!(
            refused("key_added", false).ends_with("turn off are: access_requested, grant_ending")
        );
        // A kind of someone else's (an organisation admin's) is unknown here, as a typo is.
        for name in ["member_joined", "acces_requested"] {
            assert_eq!(
                refused(name, true),
                format!(
                    "{name:?} is not a kind of notification you receive: choose from \
                     access_requested, grant_ending"
                )
            );
        }
    }

    #[test]
    fn consent_ends_after_days_or_at_a_date() {
        assert_eq!(
            ends_at(None, Some("2030-01-31".into()))
                .unwrap()
                .to_rfc3339(),
            "2030-01-31T23:59:59+00:00"
        );
        let error = |days, until: Option<&str>| {
            ends_at(days, until.map(str::to_owned))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(error(Some(0), None), "--days must be at least 1");
        assert_eq!(
            error(None, Some("next week")),
            "--until next week: expected YYYY-MM-DD or an RFC 3339 time"
        );
        assert_eq!(
            error(None, None),
            "say until when: --days N or --until DATE"
        );
    }
}
