//! The command tree, as clap parses it. Every command and flag has its help here.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use wp_schemas::api::{Role, Scope};
use wp_schemas::sections::Section;

const AFTER_HELP: &str = "\
Profiles:
  Each party (an employee, an employer, an occupational therapist, an admin) uses its own
  profile directory: its private key (key.jwk, readable by its owner only), its public key
  (public.jwk) and config.json (party id, server URL, passport id). Pick one with
  --profile-dir DIR (or WP_PROFILE), or --profile NAME for ~/.work-passport/NAME.

Journeys:
  employee:      keygen, register, passport create, record add, grant add, log --verify, grant revoke;
                 passport export [--fhir], bundle verify, bundle fhir,
                 passport import --to URL (move to another server)
  admin:         keygen (then the operator runs `work-passport-server add-admin`), login-as, admin enrol
  employer:      keygen (an admin enrols public.jwk), login-as, grants, fetch, agree
  professional:  keygen (an admin enrols public.jwk), login-as, grants, fetch, record edit/add --grant
  organisation:  an admin runs org create and org invite; each person runs join CODE --name ...;
                 the employee runs grant add --to ORG --role ROLE (or --member ID); members then
                 use grants, fetch, agree, record edit --grant like any grantee
  everyone:      notifications (read --all), notifications settings, email ADDRESS, verify CODE,
                 choose KIND=on|off, calendar

Exit codes:
  0 success, 1 error, 2 bad command line, 3 consent has ended (revoked, expired or not started),
  4 verification failed (data from the server did not check out), 5 conflict (someone else wrote
  first; nothing was overwritten).";

/// `wp`: the Work Passport command line.
#[derive(Debug, Parser)]
#[command(
    name = "wp",
    version,
    about = "Work Passport: the employee-owned health and work passport, from the command line",
    long_about = "Work Passport: the employee-owned health and work passport, from the command \
                  line.\n\nEmployees write their passport, share chosen sections with an employer \
                  or an occupational therapist for a limited time, see every access in a \
                  verified log, revoke at once and erase. Employers and professionals read (and, \
                  when granted, write or agree) only while consent lasts. Every record version \
                  is signed by its author and verified here before it is shown.",
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// Profile directory (key, party id, server URL, passport id). Wins over --profile.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "WP_PROFILE",
        value_name = "DIR"
    )]
    pub profile_dir: Option<PathBuf>,

    /// Profile name: uses ~/.work-passport/NAME.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "NAME",
        default_value = "default"
    )]
    pub profile: String,

    /// Server URL [default: the profile's, else http://127.0.0.1:8080].
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "WP_SERVER",
        value_name = "URL"
    )]
    pub server: Option<String>,

    /// Print JSON instead of tables (for scripts).
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// Print only the id of what the command creates or changes (party, passport, record,
    /// grant, key, organisation; for `wp org invite`, the code), for shell variables:
    /// `GRANT=$(wp -q grant add ...)`.
    #[arg(
        short,
        long,
        global = true,
        help_heading = "Global options",
        conflicts_with = "json"
    )]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create this profile's private key; print the public key and write it to public.jwk.
    ///
    /// Employees then run `wp register`. Employers and professionals give public.jwk to an admin,
    /// who enrols it (`wp admin enrol`), then run `wp login-as`. The first admin's public.jwk goes
    /// to the operator: `work-passport-server add-admin --jwk-file public.jwk`.
    Keygen,

    /// Register this profile's key as a new employee (self-registration).
    Register {
        /// The name shown to those you share your passport with.
        #[arg(long)]
        name: String,
    },

    /// Use this profile as an already enrolled party (employer, professional or admin).
    ///
    /// Checks that the server knows this profile's key under that party id before saving it.
    LoginAs {
        /// The party id the admin (or `add-admin`) printed.
        #[arg(long)]
        party_id: String,
    },

    /// Show who this profile is: party, kind, keys, passport, server.
    Whoami,

    /// Print a valid example body for a section, to start a record from.
    Example {
        /// The section.
        #[arg(value_parser = section_parser())]
        section: Section,
    },

    /// Join an organisation with the invitation code you were given, as a new member.
    ///
    /// Uses this profile's key, or makes one first (as `wp keygen` does). A clinician gives
    /// their registration; other roles give none.
    Join {
        /// The invitation code (wpi_...), shown once to whoever invited you.
        code: String,
        /// Your name, as your organisation and the passports you are shown will show it.
        #[arg(long)]
        name: String,
        /// Clinicians: the profession, e.g. "occupational therapist".
        #[arg(long, requires_all = ["registration_body", "registration_number"])]
        profession: Option<String>,
        /// Clinicians: the registration body, e.g. HCPC, NMC, GMC.
        #[arg(long, requires_all = ["profession", "registration_number"])]
        registration_body: Option<String>,
        /// Clinicians: the registration number, e.g. OT12345.
        #[arg(long, requires_all = ["profession", "registration_body"])]
        registration_number: Option<String>,
    },

    /// Admin tasks: enrol employers, professionals and other admins.
    #[command(subcommand)]
    Admin(AdminCommand),

    /// Organisations and their people: create, find, list, listing, invite, members, remove.
    #[command(subcommand)]
    Org(OrgCommand),

    /// Access requests: an organisation asks, the employee approves (as asked or narrowed) or
    /// declines.
    #[command(subcommand)]
    Request(RequestCommand),

    /// Your passport (employee): create, show, export, import, erase.
    #[command(subcommand)]
    Passport(PassportCommand),

    /// Passport bundles: verify one with no server.
    #[command(subcommand)]
    Bundle(BundleCommand),

    /// Records: add, show, edit, delete, history. With --grant, in a passport shared with you.
    #[command(subcommand)]
    Record(RecordCommand),

    /// Consent grants on your passport (employee): add, list, revoke.
    #[command(subcommand)]
    Grant(GrantCommand),

    /// Your passport's access log (employee): every token, read, write, grant and denial.
    Log {
        /// Fetch the whole log and check its hash chain from the first entry.
        #[arg(long)]
        verify: bool,
        /// Only entries by this party id.
        #[arg(long, value_name = "PARTY_ID")]
        actor: Option<String>,
        /// Show only the newest N entries.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },

    /// Your keys: rotate, revoke.
    #[command(subcommand)]
    Keys(KeysCommand),

    /// Grants made to you (employer, professional).
    Grants,

    /// Read a passport shared with you, every record verified (employer, professional).
    Fetch {
        /// The grant id (see `wp grants`).
        #[arg(long, value_name = "GRANT_ID")]
        grant: String,
    },

    /// Your notifications: list them and mark them read; email, which kinds come by email, and a
    /// calendar feed of the dates that concern you.
    ///
    /// With no subcommand, lists them as `wp notifications list` does.
    Notifications(NotificationsArgs),

    /// Keep a local, verified copy of a passport shared with you, while consent lasts.
    ///
    /// Pulls only what changed since the last sync, verifies every version and the server's
    /// signed checkpoint (a rolled-back or forked history is refused), and deletes the local
    /// copy as soon as the server says consent has ended.
    Sync {
        /// The grant id (see `wp grants`).
        #[arg(long, value_name = "GRANT_ID")]
        grant: String,
        /// The replica database file (SQLite) [default: replica.db in the profile].
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
    },

    /// Record that an adjustment is agreed, as a version signed by you (employer, or a member
    /// of one).
    Agree {
        /// The grant id (see `wp grants`); it must allow `agree` on adjustments.
        #[arg(long, value_name = "GRANT_ID")]
        grant: String,
        /// The adjustment's record id (see `wp fetch`).
        record_id: String,
        /// Who agreed it, e.g. "Sam Patel, line manager" (an employer with a key of its own).
        /// A member of an organisation leaves it out: their agreement names them, e.g. "Priya
        /// Shah (HR, Acme Ltd)".
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnrolKind {
    Employer,
    Professional,
    Admin,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Enrol an employer, a registered professional or another admin with their public key.
    Enrol {
        /// What kind of party.
        #[arg(long, value_enum)]
        kind: EnrolKind,
        /// Their display name, e.g. "Acme Ltd" or "Dana Okafor".
        #[arg(long)]
        name: String,
        /// Their public JWK file (the public.jwk `wp keygen` wrote in their profile).
        #[arg(long, value_name = "FILE")]
        jwk_file: PathBuf,
        /// Professionals: the profession, e.g. "occupational therapist".
        #[arg(long, required_if_eq("kind", "professional"))]
        profession: Option<String>,
        /// Professionals: the registration body, e.g. HCPC, NMC, GMC.
        #[arg(long, required_if_eq("kind", "professional"))]
        registration_body: Option<String>,
        /// Professionals: the registration number, e.g. OT12345.
        #[arg(long, required_if_eq("kind", "professional"))]
        registration_number: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrgKind {
    /// Its members read, and agree adjustments.
    Employer,
    /// An occupational-health or professional practice: its clinicians read and write.
    Practice,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an employer or a practice (admin). It has no key: its members act for it.
    Create {
        /// What kind of organisation.
        #[arg(long, value_enum)]
        kind: OrgKind,
        /// Its name, e.g. "Acme Ltd".
        name: String,
    },
    /// Find an organisation to share with: by name (any part of it, any case; only those that
    /// chose to be listed), or by the share code its people gave you (`--code`).
    #[command(group(clap::ArgGroup::new("what").required(true).args(["name", "code"])))]
    Find {
        /// Part of the name.
        name: Option<String>,
        /// The organisation's share code, e.g. K7PD-4MQX-93HN (listed or not).
        #[arg(long)]
        code: Option<String>,
    },
    /// List every organisation made here, listed or not, with its members and admins (admin).
    List {
        /// Only those whose name contains this.
        #[arg(long)]
        name: Option<String>,
    },
    /// Show how employees find an organisation (its share code and share link, and whether it
    /// is listed), or change it (admin, or its organisation admins) with the options.
    Listing {
        /// The organisation: its id, or its exact name.
        org: String,
        /// List it in the directory of names (yes), or take it out (no).
        #[arg(long, value_name = "yes|no", value_parser = clap::builder::BoolishValueParser::new())]
        listed: Option<bool>,
        /// Where it is, e.g. "Leeds" ("" removes it).
        #[arg(long)]
        place: Option<String>,
        /// One line about it, e.g. "Food manufacturer" ("" removes it).
        #[arg(long)]
        about: Option<String>,
        /// Replace the share code: the old one finds the organisation no more.
        #[arg(long)]
        new_share_code: bool,
    },
    /// Invite a person to join an organisation as ROLE (admin, or its organisation admins).
    ///
    /// Prints the code, once: give it to the person, who runs `wp join CODE --name ...`.
    Invite {
        /// The organisation: its id, or its exact name.
        org: String,
        /// Their role: org_admin, hr or line_manager (employers); org_admin or clinician
        /// (practices).
        #[arg(long, value_parser = role_parser())]
        role: Role,
        /// Days until the code expires (1 to 30) [default: 7].
        #[arg(long, value_name = "N")]
        days: Option<i64>,
        /// Also email the link to join to this address (on a server that sends email).
        #[arg(long, value_name = "ADDRESS")]
        email: Option<String>,
    },
    /// List an organisation's invitations and whether each is pending, redeemed, expired or
    /// revoked (codes are never shown again).
    Invitations {
        /// The organisation: its id, or its exact name.
        org: String,
    },
    /// Revoke a pending invitation: its code stops working.
    RevokeInvitation {
        /// The organisation: its id, or its exact name.
        org: String,
        /// The invitation id (see `wp org invitations`).
        invitation_id: String,
    },
    /// List an organisation's members (its members, its organisation admins, or an admin).
    Members {
        /// The organisation: its id, or its exact name.
        org: String,
    },
    /// Remove a member (or leave, giving your own party id): they act for the organisation no
    /// more, and their next request under any of its grants is refused.
    Remove {
        /// The organisation: its id, or its exact name.
        org: String,
        /// The member's party id (see `wp org members`).
        member: String,
    },
}

/// What to share, by section and action (as in `wp grant add`): at least one section, which
/// clap checks (`wp request approve` lifts that: naming none there means "as asked").
#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct Sections {
    /// Sections to read, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = section_parser())]
    pub read: Vec<Section>,
    /// Sections to write, comma-separated (professionals, practices).
    #[arg(long, value_delimiter = ',', value_parser = section_parser())]
    pub write: Vec<Section>,
    /// Sections to agree, comma-separated (employers; adjustments only).
    #[arg(long, value_delimiter = ',', value_parser = section_parser())]
    pub agree: Vec<Section>,
}

impl Sections {
    /// One scope per named section; empty when none is named.
    pub fn scopes(&self) -> Vec<Scope> {
        wp_client::consent::scopes(&self.read, &self.write, &self.agree)
    }
}

#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Ask an employee for access, as a member of ORG (its HR, or its clinicians).
    ///
    /// Prints the code, once: give it to the employee, who runs `wp request open CODE`. The
    /// request grants nothing by itself.
    Create {
        /// Your organisation: its id, or its exact name.
        org: String,
        #[command(flatten)]
        sections: Sections,
        /// Who there would be covered (repeatable) [default: your own role].
        #[arg(long = "role", value_name = "ROLE", value_parser = role_parser())]
        roles: Vec<Role>,
        /// Why, e.g. "workplace adjustments in your new job".
        #[arg(long)]
        purpose: String,
        /// For how many days the access would last, once approved (1 to 732).
        #[arg(long, value_name = "N")]
        days: i64,
        /// The employee's party id, if you know it: then only they may open it.
        #[arg(long, value_name = "PARTY_ID")]
        employee: Option<String>,
        /// Days until the request expires (1 to 30) [default: 14].
        #[arg(long, value_name = "N")]
        expires_in: Option<i64>,
    },
    /// List ORG's access requests and whether each is pending, approved, declined or expired.
    List {
        /// The organisation: its id, or its exact name.
        org: String,
    },
    /// See who asks for what, for how long and why (employee).
    Open {
        /// The request code (wpr_...) the organisation gave you.
        code: String,
    },
    /// Approve a request, as asked or narrowed: this makes the grant (employee).
    ///
    /// Name sections to give fewer than asked; --days or --until to end it sooner.
    #[command(mut_group("Sections", |group| group.required(false)))]
    Approve {
        /// The request code (wpr_...).
        code: String,
        #[command(flatten)]
        sections: Sections,
        /// End sooner: this many days from now.
        #[arg(long, value_name = "N", conflicts_with = "until")]
        days: Option<i64>,
        /// End sooner: on this date (YYYY-MM-DD, end of the day UTC) or time (RFC 3339).
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
        /// The consent text you agree to [default: a sentence naming who, what, why, until
        /// when].
        #[arg(long)]
        consent_text: Option<String>,
    },
    /// Decline a request: its code stops working (employee).
    Decline {
        /// The request code (wpr_...).
        code: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PassportCommand {
    /// Create your passport (once).
    Create,
    /// Show your passport: every record's latest version, its signature verified.
    Show,
    /// Erase your passport for good: its data key is destroyed and every grant ends.
    Erase {
        /// Confirm: there is no undo.
        #[arg(long)]
        yes: bool,
    },
    /// Download your whole passport as one bundle, checked and signed by you.
    ///
    /// Every version as its author signed it, the keys that check them, your grants and the
    /// whole access log, with the server's signed checkpoint; you sign it too. Anyone can check
    /// it with `wp bundle verify`, with no server; `wp passport import` moves it.
    Export {
        /// Write the bundle here (readable by you only) [default: print it].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Export the FHIR R4 view instead (for health systems; docs/FHIR.md): adjustments as
        /// Flags, grants as Consents, each version a Provenance carrying its signature.
        #[arg(long)]
        fhir: bool,
    },
    /// Move your passport to another Work Passport server, with the same key.
    ///
    /// Exports it from this profile's server (or takes --file), registers this profile's key
    /// at --to as you, imports it there, and switches this profile to the new server. Grants do
    /// not travel: grant again there. The old server keeps its copy until you erase it there.
    Import {
        /// The new server's URL.
        #[arg(long, value_name = "URL")]
        to: String,
        /// A bundle made with `wp passport export --out` [default: export one now].
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Your name at the new server [default: the one in this profile].
        #[arg(long)]
        name: Option<String>,
        /// Your party id at the new server, if this key is registered there already.
        #[arg(long, value_name = "PARTY_ID")]
        party_id: Option<String>,
        /// Import even if the new server cannot check the old one's published keys (it does
        /// not trust it, or cannot reach it). Only for a file you know came from your old
        /// server: without that check nothing proves who the bundle's people are. The new
        /// server's access log says so.
        #[arg(long)]
        acknowledge_unverified_origin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Check a passport bundle, and say what it proves and what failed.
    ///
    /// Checks every version's signature by its author's key valid at the time, every record's
    /// chain, the history and the access log against the server's signed checkpoint, the log's
    /// chain, the server's attestation over the whole bundle, and the owner's signature. Then
    /// whose attestation it is: by default the keys the exporting server publishes are fetched
    /// from it and the attestation key must be one of them; --server-jwks or --server-key give
    /// them instead, and --offline skips that check (and says so). Exit code 4 if anything
    /// fails, the origin check included.
    #[command(group(ArgGroup::new("origin").multiple(false)))]
    Verify {
        /// The bundle file (`-` reads stdin).
        file: PathBuf,
        /// The exporting server's published keys (a copy of its `/.well-known/jwks.json`).
        #[arg(long, value_name = "FILE", group = "origin")]
        server_jwks: Option<PathBuf>,
        /// The thumbprint of the exporting server's key, as you were shown it at export.
        #[arg(long, value_name = "THUMBPRINT", group = "origin")]
        server_key: Option<String>,
        /// Do not contact the exporting server: everything is checked but whose attestation it
        /// is, and the report says that was not checked.
        #[arg(long, group = "origin")]
        offline: bool,
    },
    /// Print the FHIR R4 view of a bundle (docs/FHIR.md), made with no server.
    ///
    /// Only a bundle that verifies is converted. The view is the same as the server's
    /// `export?format=fhir`.
    Fhir {
        /// The bundle file (`-` reads stdin).
        file: PathBuf,
    },
}

/// A record body: a file (`-` for stdin) or inline JSON.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct BodyArgs {
    /// A JSON file with the body (`-` reads stdin). Start from `wp example <section>`.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The body as inline JSON.
    #[arg(long, value_name = "JSON")]
    pub body: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RecordCommand {
    /// Add a record to a section, signed by you.
    ///
    /// Professionals add to a passport shared with them under a write grant, e.g. fit-note
    /// advice: `wp record add fit_notes --grant <id> --file fit-note.json`.
    Add {
        /// The section.
        #[arg(value_parser = section_parser())]
        section: Section,
        #[command(flatten)]
        body: BodyArgs,
        /// Write into the passport shared with you under this grant.
        #[arg(long, value_name = "GRANT_ID")]
        grant: Option<String>,
    },
    /// Show one record's latest version and its whole body.
    Show {
        /// The record id (see `wp passport show`, or `wp fetch` for a shared passport).
        record_id: String,
        /// In the passport shared with you under this grant.
        #[arg(long, value_name = "GRANT_ID")]
        grant: Option<String>,
        /// Print only the body (ready to edit and pass to `wp record edit --file`).
        #[arg(long)]
        body_only: bool,
    },
    /// Write a new version of a record, signed by you.
    ///
    /// By default the new body replaces the latest version. With --base-version N the write
    /// is refused (exit code 5) if anyone wrote after version N, so a concurrent edit is never
    /// silently lost. With --merge the given fields are merged into the latest body (JSON merge
    /// patch), and re-applied on top if someone else writes first.
    Edit {
        /// The record id (see `wp passport show`, or `wp fetch` for a shared passport).
        record_id: String,
        #[command(flatten)]
        body: BodyArgs,
        /// In the passport shared with you under this grant (professionals).
        #[arg(long, value_name = "GRANT_ID")]
        grant: Option<String>,
        /// Refuse if the record is no longer at this version.
        #[arg(long, value_name = "N", conflicts_with = "merge")]
        base_version: Option<i64>,
        /// Merge the given fields into the latest body instead of replacing it.
        #[arg(long)]
        merge: bool,
    },
    /// Delete a record with a signed tombstone; its history stays.
    Delete {
        /// The record id (see `wp passport show`, or `wp fetch` for a shared passport).
        record_id: String,
        /// In the passport shared with you under this grant.
        #[arg(long, value_name = "GRANT_ID")]
        grant: Option<String>,
    },
    /// A record's whole history, every version verified and chained from version 1.
    History {
        /// The record id (see `wp passport show`, or `wp fetch` for a shared passport).
        record_id: String,
        /// In the passport shared with you under this grant.
        #[arg(long, value_name = "GRANT_ID")]
        grant: Option<String>,
    },
}

/// `wp grant add`: what to share, with whom, for how long (one of --days and --until).
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("ends").required(true).multiple(false)))]
pub struct GrantAdd {
    /// The grantee: an organisation's share code (its people give it to you, e.g.
    /// K7PD-4MQX-93HN), or a party id (`wp org find NAME` shows a listed organisation's; a
    /// professional tells you theirs).
    #[arg(long, value_name = "SHARE_CODE|PARTY_ID")]
    pub to: String,
    /// Organisations: a role whose members the grant covers (repeatable), e.g. hr,
    /// line_manager, clinician.
    #[arg(long = "role", value_name = "ROLE", value_parser = role_parser())]
    pub roles: Vec<Role>,
    /// Organisations: a member (party id) the grant covers whatever their role
    /// (repeatable).
    #[arg(long = "member", value_name = "PARTY_ID")]
    pub members: Vec<String>,
    #[command(flatten)]
    pub sections: Sections,
    /// Why they may see it, e.g. "workplace adjustments at Acme Ltd".
    #[arg(long)]
    pub purpose: String,
    /// For how many days from now (consent always ends).
    #[arg(long, value_name = "N", group = "ends")]
    pub days: Option<i64>,
    /// Until this date (YYYY-MM-DD, end of the day UTC) or time (RFC 3339).
    #[arg(long, value_name = "DATE", group = "ends")]
    pub until: Option<String>,
    /// The consent text you agree to [default: a sentence naming who, what, why, until when].
    #[arg(long)]
    pub consent_text: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Share chosen sections with an employer or a professional, for a purpose and a time.
    ///
    /// Employers may read, and agree adjustments; professionals may read and write. Writing
    /// and agreeing a section include reading it (a new version is written on top of the
    /// latest one). For an organisation, say who there may use it: --role for everyone in a
    /// role, --member for one person (see `wp org find` and `wp org members`).
    Add(Box<GrantAdd>),
    /// List the grants on your passport.
    List,
    /// Revoke a grant: the grantee's next request is refused.
    Revoke {
        /// The grant id (see `wp grant list`).
        grant_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new key, switch this profile to it, and revoke the old one.
    ///
    /// Records signed with the old key before the rotation still verify.
    Rotate,
    /// Revoke one of your keys by its id (see `wp whoami`).
    Revoke {
        /// The key id (see `wp whoami`).
        kid: String,
    },
}

/// `wp notifications [list options] | wp notifications SUBCOMMAND`: the list's options are
/// accepted without `list` too, so the bare command is the list.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct NotificationsArgs {
    #[command(subcommand)]
    pub command: Option<NotificationsCommand>,
    #[command(flatten)]
    pub list: NotificationListArgs,
}

#[derive(Debug, Args)]
pub struct NotificationListArgs {
    /// Older ones: those before this notification id (the list's last line gives it).
    #[arg(long, value_name = "ID")]
    pub before: Option<String>,
    /// Only the unread ones (of these 50).
    #[arg(long)]
    pub unread: bool,
}

#[derive(Debug, Subcommand)]
pub enum NotificationsCommand {
    /// List your notifications, newest first, 50 at a time; * marks the unread.
    List(NotificationListArgs),
    /// Mark a notification read, or every one with --all.
    #[command(group(ArgGroup::new("which").required(true).args(["id", "all"])))]
    Read {
        /// The notification id (see `wp notifications`).
        id: Option<String>,
        /// Every notification.
        #[arg(long)]
        all: bool,
    },
    /// Your email address and whether it is verified, whether this server sends email, which
    /// kinds come by email, and whether you have a calendar feed.
    Settings,
    /// Set the address notifications go to, or --remove it.
    ///
    /// A verification link is sent there first; nothing else is, until it is opened (or its code
    /// given to `wp notifications verify`).
    #[command(group(ArgGroup::new("what").required(true).args(["address", "remove"])))]
    Email {
        /// The address, e.g. alex@example.org.
        address: Option<String>,
        /// Remove the address: no more email.
        #[arg(long)]
        remove: bool,
    },
    /// Verify your address with the code from the link sent to it (the part after
    /// `#/email/verify/`, or the whole link). Needs only the server, not a profile.
    Verify {
        /// The code (wpe_...), or the link.
        code: String,
    },
    /// Choose which kinds of notification come by email, e.g. `access_requested=off`.
    ///
    /// Kinds not named keep their choice. Security alerts (a device added or removed, the
    /// passport downloaded, moved or erased) always come to a verified address.
    /// `wp notifications settings` lists your kinds.
    Choose {
        /// A kind and on or off (repeatable).
        #[arg(required = true, value_name = "KIND=on|off", value_parser = email_choice)]
        choices: Vec<(String, bool)>,
    },
    /// Make a new secret address for your calendar feed (review and consent end dates), shown
    /// once; any earlier one stops working. Or --stop it.
    Calendar {
        /// Stop the feed: its address no longer works.
        #[arg(long)]
        stop: bool,
    },
}

/// `KIND=on|off`. The kind is checked against the caller's own kinds when the command runs,
/// since which kinds there are depends on who asks.
fn email_choice(text: &str) -> Result<(String, bool), String> {
    let (kind, value) = text
        .split_once('=')
        .ok_or_else(|| "expected KIND=on or KIND=off, e.g. access_requested=off".to_owned())?;
    match value {
        "on" => Ok((kind.to_owned(), true)),
        "off" => Ok((kind.to_owned(), false)),
        _ => Err(format!("{kind}: say on or off, not {value:?}")),
    }
}

/// Section names as possible values, so `--help` lists them.
fn section_parser() -> impl TypedValueParser<Value = Section> {
    PossibleValuesParser::new(Section::ALL.map(|s| s.as_str()))
        .map(|name| name.parse::<Section>().expect("a listed section name"))
}

/// Role names as possible values, so `--help` lists them.
fn role_parser() -> impl TypedValueParser<Value = Role> {
    PossibleValuesParser::new(Role::ALL.map(|r| r.as_str()))
        .map(|name| Role::parse(&name).expect("a listed role name"))
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;

    use super::*;

    /// The error clap gives for `wp ARGS`, if any.
    fn refusal(args: &str) -> Option<ErrorKind> {
        Cli::try_parse_from(std::iter::once("wp").chain(args.split(' ')))
            .err()
            .map(|e| e.kind())
    }

    /// The flag groups are clap's to enforce, before any command runs.
    #[test]
    fn flag_groups_are_checked_by_clap() {
        let missing = Some(ErrorKind::MissingRequiredArgument);
        let conflict = Some(ErrorKind::ArgumentConflict);
        // A grant or a request names at least one section, and a grant ends (one way).
        assert_eq!(refusal("grant add --to x --purpose p --days 3"), missing);
        assert_eq!(refusal("request create acme --purpose p --days 3"), missing);
        assert_eq!(
            refusal("grant add --to x --purpose p --read summary"),
            missing
        );
        let both = "grant add --to x --purpose p --read summary --days 3 --until 2027-01-01";
        assert_eq!(refusal(both), conflict);
        assert_eq!(
            refusal("grant add --to x --purpose p --write plans --until 2027-01-01"),
            None
        );
        // Approving names no section to give what was asked.
        assert_eq!(refusal("request approve wpr_x"), None);
        // One source of the exporting server's keys at most.
        for pair in [
            "--offline --server-key k",
            "--server-jwks f --server-key k",
            "--server-jwks f --offline",
        ] {
            assert_eq!(refusal(&format!("bundle verify b {pair}")), conflict);
        }
        assert_eq!(refusal("bundle verify b --server-key k"), None);
        // The bare command is the list; a subcommand takes no list options.
        assert_eq!(refusal("notifications --unread"), None);
        assert_eq!(refusal("notifications --before n1 read --all"), conflict);
        assert_eq!(refusal("notifications read"), missing);
        assert_eq!(refusal("notifications read n1 --all"), conflict);
        assert_eq!(refusal("notifications email"), missing);
        assert_eq!(refusal("notifications choose"), missing);
        assert_eq!(
            refusal("notifications choose access_requested=maybe"),
            Some(ErrorKind::ValueValidation)
        );
        assert_eq!(refusal("notifications choose access_requested=off"), None);
    }
}
