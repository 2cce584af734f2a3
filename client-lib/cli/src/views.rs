//! What each command prints: one result type per command output, rendered for people, as JSON
//! and as the id alone (see [`Render`]).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde_json::{Value, json};
use wp_schemas::api::{
    AccessLogEntry, AccessRequest, AccessRequestStatus, Action, Grant, Invitation,
    InvitationStatus, Me, Member, NotificationKind, NotificationPage, NotificationSettings,
    OrganisationEntry, OrganisationListing, OrganisationSummary, Party, PartyKind, PassportInfo,
    Scope,
};
use wp_schemas::jose::PublicJwk;
use wp_schemas::sections::Section;

use super::output::{self, Render, Table, pretty, to_json};
use wp_client::consent::{
    describe_actor, describe_covered, describe_grantee, describe_requester, describe_scopes,
};
use wp_client::{LocalRecord, SyncReport, VerifiedPassport, VerifiedVersion};

/// Parties' names for display ("Dana Okafor (professional, HCPC OT12345)"), looked up before
/// rendering. A party that could not be looked up shows as its id.
#[derive(Default)]
pub struct Names(pub HashMap<String, String>);

impl Names {
    pub fn of(&self, id: &str) -> String {
        self.0.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and identity

pub struct KeyCreated {
    pub kid: String,
    pub key_file: PathBuf,
    pub public_file: PathBuf,
    pub public_jwk: PublicJwk,
}

impl Render for KeyCreated {
    fn human(&self) -> String {
        let public = self.public_file.display();
        format!(
            "Created key {} in {} (private: keep it; readable by you only).\n\
             Public key, also written to {public}:\n{}\
             Next: an employee runs `wp register --name ...`; an employer or professional gives \
             {public} to an admin, then runs `wp login-as --party-id <id>`.\n",
            self.kid,
            self.key_file.display(),
            pretty(&self.public_jwk)
        )
    }

    fn json(&self) -> Value {
        json!({
            "kid": self.kid,
            "key_file": self.key_file,
            "public_jwk_file": self.public_file,
            "public_jwk": self.public_jwk,
        })
    }

    fn quiet(&self) -> Option<String> {
        Some(self.public_file.display().to_string())
    }
}

pub struct Registered {
    pub party: Party,
    pub server: String,
}

impl Render for Registered {
    fn human(&self) -> String {
        format!(
            "Registered {} as an employee on {}.\nParty id: {}\nNext: `wp passport create`.\n",
            self.party.display_name, self.server, self.party.id
        )
    }

    fn json(&self) -> Value {
        to_json(&self.party)
    }

    fn quiet(&self) -> Option<String> {
        Some(self.party.id.clone())
    }
}

pub struct SignedIn {
    pub me: Me,
    pub server: String,
}

impl Render for SignedIn {
    fn human(&self) -> String {
        format!(
            "This profile is now {} on {}.\nParty id: {}\n",
            output::party(&self.me.party, None),
            self.server,
            self.me.party.id
        )
    }

    fn json(&self) -> Value {
        to_json(&self.me)
    }

    fn quiet(&self) -> Option<String> {
        Some(self.me.party.id.clone())
    }
}

pub struct WhoAmI {
    pub profile_dir: PathBuf,
    pub server: String,
    pub me: Me,
    pub current_kid: String,
}

impl WhoAmI {
    fn fields(&self) -> Vec<(&'static str, String)> {
        let p = &self.me.party;
        let mut pairs = vec![
            ("Name", p.display_name.clone()),
            ("Kind", p.kind.as_str().to_owned()),
            ("Party id", p.id.clone()),
        ];
        if let Some(r) = &p.registration {
            let registration = format!(
                "{}, {} {}",
                r.profession, r.registration_body, r.registration_number
            );
            pairs.push(("Registration", registration));
        }
        if let Some(m) = &p.membership {
            pairs.push((
                "Organisation",
                format!(
                    "{} ({}, {})",
                    m.organisation_name,
                    m.organisation_kind.as_str(),
                    m.organisation
                ),
            ));
            pairs.push(("Role", m.role.title().to_owned()));
            pairs.push(("Joined", output::time(&m.joined_at)));
            if let Some(removed) = &m.removed_at {
                pairs.push(("Removed", output::time(removed)));
            }
        }
        if p.kind == PartyKind::Employee {
            let passport = self.me.passport_id.clone();
            pairs.push((
                "Passport",
                passport.unwrap_or_else(|| "none yet (`wp passport create`)".into()),
            ));
        }
        pairs.push(("Server", self.server.clone()));
        pairs.push(("Profile", self.profile_dir.display().to_string()));
        pairs
    }

    fn keys_table(&self) -> String {
        let mut table = Table::new(&["kid", "added", "revoked", "current"]);
        for k in &self.me.party.keys {
            let current = if k.kid == self.current_kid { "yes" } else { "" };
            table.row(vec![
                k.kid.clone(),
                output::time(&k.created_at),
                k.revoked_at.as_ref().map(output::time).unwrap_or_default(),
                current.to_owned(),
            ]);
        }
        table.render()
    }
}

impl Render for WhoAmI {
    fn human(&self) -> String {
        format!(
            "{}Keys:\n{}",
            output::fields(&self.fields()),
            self.keys_table()
        )
    }

    fn json(&self) -> Value {
        json!({
            "profile_dir": self.profile_dir,
            "server": self.server,
            "party": self.me.party,
            "passport_id": self.me.passport_id,
            "current_kid": self.current_kid,
        })
    }

    /// The party id, e.g. to give to an organisation that will ask for access.
    fn quiet(&self) -> Option<String> {
        Some(self.me.party.id.clone())
    }
}

pub struct Enrolled(pub Party);

impl Render for Enrolled {
    fn human(&self) -> String {
        let id = &self.0.id;
        format!(
            "Enrolled {}.\nParty id: {id}\n\
             They run: wp login-as --party-id {id} (in the profile holding that key)\n",
            output::party(&self.0, None)
        )
    }

    fn json(&self) -> Value {
        to_json(&self.0)
    }

    fn quiet(&self) -> Option<String> {
        Some(self.0.id.clone())
    }
}

/// A member who joined with an invitation code.
pub struct Joined {
    pub party: Party,
    pub server: String,
    /// The key made for this profile, if it had none.
    pub new_key: Option<String>,
}

impl Render for Joined {
    fn human(&self) -> String {
        let mut out = String::new();
        if let Some(kid) = &self.new_key {
            out += &format!("Created key {kid} for this profile (private: keep it).\n");
        }
        let at = match &self.party.membership {
            Some(m) => format!("{} at {}", m.role.title(), m.organisation_name),
            None => "a member".to_owned(),
        };
        out += &format!(
            "Joined as {} ({at}) on {}.\nParty id: {}\n\
             Next: `wp grants` lists the passports shared with you.\n",
            self.party.display_name, self.server, self.party.id
        );
        out
    }

    fn json(&self) -> Value {
        to_json(&self.party)
    }

    fn quiet(&self) -> Option<String> {
        Some(self.party.id.clone())
    }
}

pub struct KeyRotated {
    pub new_kid: String,
    pub revoked_kid: String,
}

impl Render for KeyRotated {
    fn human(&self) -> String {
        format!(
            "Rotated: key {} is now in use; the old key {} is revoked.\n\
             Versions signed with the old key before now still verify.\n",
            self.new_kid, self.revoked_kid
        )
    }

    fn json(&self) -> Value {
        json!({ "new_kid": self.new_kid, "revoked_kid": self.revoked_kid })
    }

    fn quiet(&self) -> Option<String> {
        Some(self.new_kid.clone())
    }
}

/// A key revoked by id; the party as it now is, for scripts.
pub struct KeyRevoked {
    pub kid: String,
    pub party: Party,
}

impl Render for KeyRevoked {
    fn human(&self) -> String {
        format!(
            "Key {} revoked: tokens bound to it stop working at once.\n",
            self.kid
        )
    }

    fn json(&self) -> Value {
        to_json(&self.party)
    }
}

// ---------------------------------------------------------------------------------------------
// Organisations

pub struct OrgCreated(pub Party);

impl Render for OrgCreated {
    fn human(&self) -> String {
        let id = &self.0.id;
        format!(
            "Created {} ({}).\nOrganisation id: {id}\n\
             Next: invite its people, e.g. `wp org invite {id} --role org_admin`.\n",
            self.0.display_name,
            self.0.kind.as_str()
        )
    }

    fn json(&self) -> Value {
        to_json(&self.0)
    }

    fn quiet(&self) -> Option<String> {
        Some(self.0.id.clone())
    }
}

pub struct OrgList(pub Vec<OrganisationEntry>);

impl Render for OrgList {
    fn human(&self) -> String {
        let mut table = Table::new(&["id", "kind", "name", "place", "about"]);
        for o in &self.0 {
            table.row(vec![
                o.id.clone(),
                o.kind.as_str().to_owned(),
                o.display_name.clone(),
                o.place.clone().unwrap_or_default(),
                o.about.clone().unwrap_or_default(),
            ]);
        }
        table.render()
    }

    fn json(&self) -> Value {
        to_json(&self.0)
    }
}

/// The service admin's list of every organisation.
pub struct OrgSummaries(pub Vec<OrganisationSummary>);

impl Render for OrgSummaries {
    fn human(&self) -> String {
        let mut table = Table::new(&["id", "kind", "name", "listed", "members", "admins"]);
        for o in &self.0 {
            table.row(vec![
                o.id.clone(),
                o.kind.as_str().to_owned(),
                o.display_name.clone(),
                if o.listed { "yes" } else { "no" }.to_owned(),
                o.members.to_string(),
                o.admins.to_string(),
            ]);
        }
        let mut text = table.render();
        if self.0.iter().any(|o| o.admins == 0) {
            text.push_str(
                "An organisation with no admins needs a new first admin: \
                 `wp org invite ORG --role org_admin`.\n",
            );
        }
        text
    }

    fn json(&self) -> Value {
        to_json(&self.0)
    }
}

/// How employees find an organisation: its share code and link, and its listing.
pub struct ListingShown {
    pub listing: OrganisationListing,
    pub share_link: String,
    pub changed: bool,
}

impl Render for ListingShown {
    fn human(&self) -> String {
        let l = &self.listing;
        let mut text = String::new();
        if self.changed {
            text.push_str(&format!("Changed the listing of {}.\n", l.display_name));
        }
        text.push_str(&format!(
            "{} ({})\nShare code: {}\nShare link: {}\n",
            l.display_name,
            l.kind.as_str(),
            l.share_code,
            self.share_link
        ));
        text.push_str(if l.listed {
            "Listed: employees find it by name.\n"
        } else {
            "Not listed: employees find it only by its share code or link.\n"
        });
        for (what, value) in [("Place", &l.place), ("About", &l.about)] {
            if let Some(value) = value {
                text.push_str(&format!("{what}: {value}\n"));
            }
        }
        text
    }

    fn json(&self) -> Value {
        let mut value = to_json(&self.listing);
        value["share_link"] = json!(self.share_link);
        value
    }

    fn quiet(&self) -> Option<String> {
        Some(self.listing.share_code.clone())
    }
}

fn invitation_status(status: InvitationStatus) -> String {
    format!("{status:?}").to_lowercase()
}

/// A new invitation, with its code: the only time the code is shown.
pub struct Invited {
    pub invitation: Invitation,
    pub org_name: String,
}

impl Render for Invited {
    fn human(&self) -> String {
        let i = &self.invitation;
        format!(
            "Invitation {} to join {} as {}, until {}.\nCode: {}\n\
             Give the code to the person (it is not shown again); they run\n  \
             wp join {} --name \"Their Name\"\n",
            i.id,
            self.org_name,
            i.role.title(),
            output::time(&i.expires_at),
            i.code.as_deref().unwrap_or("(none)"),
            i.code.as_deref().unwrap_or("CODE"),
        )
    }

    fn json(&self) -> Value {
        to_json(&self.invitation)
    }

    /// The code, for `CODE=$(wp -q org invite ...)`.
    fn quiet(&self) -> Option<String> {
        Some(
            self.invitation
                .code
                .clone()
                .unwrap_or_else(|| self.invitation.id.clone()),
        )
    }
}

pub struct InvitationList {
    pub invitations: Vec<Invitation>,
    pub org_name: String,
    pub names: Names,
}

impl Render for InvitationList {
    fn human(&self) -> String {
        let mut table = Table::new(&["invitation", "role", "status", "by", "expires", "joined as"]);
        for i in &self.invitations {
            table.row(vec![
                i.id.clone(),
                i.role.as_str().to_owned(),
                invitation_status(i.status),
                self.names.of(&i.created_by),
                output::time(&i.expires_at),
                i.redeemed_by
                    .as_deref()
                    .map(|p| self.names.of(p))
                    .unwrap_or_default(),
            ]);
        }
        format!("Invitations to {}:\n{}", self.org_name, table.render())
    }

    fn json(&self) -> Value {
        to_json(&self.invitations)
    }
}

pub struct InvitationRevoked {
    pub invitation: Invitation,
    pub org_name: String,
}

impl Render for InvitationRevoked {
    fn human(&self) -> String {
        format!(
            "Invitation {} to join {} as {} revoked: its code no longer works.\n",
            self.invitation.id,
            self.org_name,
            self.invitation.role.title()
        )
    }

    fn json(&self) -> Value {
        to_json(&self.invitation)
    }

    fn quiet(&self) -> Option<String> {
        Some(self.invitation.id.clone())
    }
}

pub struct MemberList {
    pub members: Vec<Member>,
    pub org_name: String,
    pub me: Option<String>,
}

impl Render for MemberList {
    fn human(&self) -> String {
        let mut table = Table::new(&["party", "name", "role", "joined", "removed"]);
        for m in &self.members {
            let name = if self.me.as_deref() == Some(m.party.as_str()) {
                format!("{} (you)", m.display_name)
            } else {
                m.display_name.clone()
            };
            table.row(vec![
                m.party.clone(),
                name,
                m.role.title().to_owned(),
                output::date(&m.joined_at),
                m.removed_at.as_ref().map(output::date).unwrap_or_default(),
            ]);
        }
        format!("Members of {}:\n{}", self.org_name, table.render())
    }

    fn json(&self) -> Value {
        to_json(&self.members)
    }
}

pub struct MemberRemoved {
    pub member: Member,
    pub org_name: String,
    /// The caller removed themself.
    pub left: bool,
}

impl Render for MemberRemoved {
    fn human(&self) -> String {
        let m = &self.member;
        if self.left {
            format!(
                "You left {}: you act for it no more, and your next request under its grants \
                 is refused.\n",
                self.org_name
            )
        } else {
            format!(
                "Removed {} ({}) from {}: they act for it no more, and their next request \
                 under its grants is refused.\n",
                m.display_name,
                m.role.title(),
                self.org_name
            )
        }
    }

    fn json(&self) -> Value {
        to_json(&self.member)
    }

    fn quiet(&self) -> Option<String> {
        Some(self.member.party.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// Passports

pub struct PassportCreated(pub PassportInfo);

impl Render for PassportCreated {
    fn human(&self) -> String {
        format!(
            "Created passport {}.\nNext: `wp example summary > summary.json`, edit it, then \
             `wp record add summary --file summary.json`.\n",
            self.0.id
        )
    }

    fn json(&self) -> Value {
        to_json(&self.0)
    }

    fn quiet(&self) -> Option<String> {
        Some(self.0.id.clone())
    }
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
fn sections(p: &VerifiedPassport, shown: &[Section], me: Option<&str>) -> String {
    shown
        .iter()
        .map(|section| {
            format!(
                "\n{section}\n{}",
                output::records_table(p.records(*section), me)
            )
        })
        .collect()
}

/// The owner's own passport.
pub struct OwnPassport {
    pub passport: VerifiedPassport,
    pub me: String,
}

impl Render for OwnPassport {
    fn human(&self) -> String {
        format!(
            "Passport {} (yours), at sequence {}: every record's signature verified.\n{}",
            self.passport.id,
            self.passport.seq,
            sections(&self.passport, &Section::ALL, Some(&self.me))
        )
    }

    fn json(&self) -> Value {
        passport_json(&self.passport)
    }
}

pub struct PassportErased {
    pub id: String,
}

impl Render for PassportErased {
    fn human(&self) -> String {
        format!(
            "Passport {} erased: its data key is destroyed and every grant has ended.\n",
            self.id
        )
    }

    fn json(&self) -> Value {
        json!({ "erased": self.id })
    }
}

/// A passport shared with the caller under a grant: only the sections it may read are shown.
pub struct SharedPassport {
    pub passport: VerifiedPassport,
    pub owner: Party,
    pub grant_id: String,
    pub scopes: Vec<Scope>,
    pub me: Option<String>,
}

impl SharedPassport {
    fn readable(&self) -> Vec<Section> {
        let may_read = |s: &Section| {
            self.scopes
                .iter()
                .any(|sc| sc.section == *s && sc.actions.contains(&Action::Read))
        };
        Section::ALL.into_iter().filter(may_read).collect()
    }
}

impl Render for SharedPassport {
    fn human(&self) -> String {
        format!(
            "Passport {} of {}, shared with you under grant {}: {}.\n\
             Every record's signature verified.\n{}",
            self.passport.id,
            self.owner.display_name,
            self.grant_id,
            describe_scopes(&self.scopes),
            sections(&self.passport, &self.readable(), self.me.as_deref())
        )
    }

    fn json(&self) -> Value {
        let mut value = passport_json(&self.passport);
        value["owner"] = output::party_json(&self.owner);
        value["grant_id"] = json!(self.grant_id);
        value["scopes"] = to_json(&self.scopes);
        value
    }
}

// ---------------------------------------------------------------------------------------------
// Records

/// How a version came to be written.
#[derive(Clone, Copy)]
pub enum Change {
    Added,
    Edited,
    Deleted,
    Agreed,
}

/// A version the caller wrote, signed by them.
pub struct Written {
    pub change: Change,
    pub record_id: String,
    pub version: VerifiedVersion,
}

impl Render for Written {
    fn human(&self) -> String {
        let envelope = &self.version.envelope;
        let summary = output::summary(envelope.section, self.version.payload.body.as_ref());
        let (id, v, section) = (&self.record_id, envelope.version, envelope.section);
        match self.change {
            Change::Added | Change::Edited => {
                let verb = match self.change {
                    Change::Added => "Added",
                    _ => "Wrote",
                };
                format!("{verb} {section} record {id} version {v}, signed by you: {summary}\n")
            }
            Change::Deleted => format!(
                "Deleted record {id} with a signed tombstone (version {v}); its history stays.\n"
            ),
            Change::Agreed => {
                format!("Agreed: {summary} (record {id}, version {v}, signed by you).\n")
            }
        }
    }

    fn json(&self) -> Value {
        output::version_json(&self.version)
    }

    fn quiet(&self) -> Option<String> {
        Some(self.record_id.clone())
    }
}

/// One record's latest version and its whole body.
pub struct RecordShown {
    pub version: VerifiedVersion,
    pub me: String,
}

impl Render for RecordShown {
    fn human(&self) -> String {
        let v = &self.version;
        let fields = output::fields(&[
            ("Record", v.envelope.record_id.clone()),
            ("Section", v.envelope.section.to_string()),
            ("Version", v.envelope.version.to_string()),
            ("Author", output::party(&v.author, Some(&self.me))),
            ("Signed", output::signed_at(v)),
            ("Verified", "signature and author checked".into()),
        ]);
        let body = match &v.payload.body {
            Some(body) => pretty(body),
            None => "(deleted)\n".to_owned(),
        };
        fields + &body
    }

    fn json(&self) -> Value {
        output::version_json(&self.version)
    }
}

pub struct History {
    pub record_id: String,
    pub versions: Vec<VerifiedVersion>,
    pub me: String,
}

impl Render for History {
    fn human(&self) -> String {
        let section = self
            .versions
            .first()
            .map(|v| v.envelope.section.to_string())
            .unwrap_or_default();
        format!(
            "Record {} ({section}): {} versions, every signature verified and chained from \
             version 1.\n{}",
            self.record_id,
            self.versions.len(),
            output::history_table(&self.versions, Some(&self.me))
        )
    }

    fn json(&self) -> Value {
        json!({
            "record_id": self.record_id,
            "section": self.versions.first().map(|v| v.envelope.section),
            "verified": true,
            "versions": self.versions.iter().map(output::version_json).collect::<Vec<_>>(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Grants and the access log

pub struct GrantMade {
    pub grant: Grant,
    pub grantee: Party,
    /// The members the grant covers by name, as looked up.
    pub members: Vec<Party>,
}

impl GrantMade {
    /// "Acme Ltd (HR, line managers, and Sam Patel)", or the grantee as any party.
    fn grantee(&self) -> String {
        let g = &self.grant;
        if g.roles.is_empty() && g.members.is_empty() {
            return output::party(&self.grantee, None);
        }
        let names: Vec<String> = g
            .members
            .iter()
            .map(|id| {
                self.members
                    .iter()
                    .find(|p| &p.id == id)
                    .map_or_else(|| id.clone(), |p| p.display_name.clone())
            })
            .collect();
        describe_grantee(&self.grantee, &g.roles, &names)
    }
}

impl Render for GrantMade {
    fn human(&self) -> String {
        let g = &self.grant;
        format!(
            "Granted {} until {}: {}.\nGrant id: {}\nConsent text: {}\n\
             They use it with `wp fetch --grant {}`; you end it with `wp grant revoke {}`.\n",
            self.grantee(),
            output::time(&g.ends_at),
            describe_scopes(&g.scopes),
            g.id,
            g.consent_text,
            g.id,
            g.id
        )
    }

    fn json(&self) -> Value {
        output::grant_json(&self.grant, Some(&self.grantee))
    }

    fn quiet(&self) -> Option<String> {
        Some(self.grant.id.clone())
    }
}

/// Whose side of the grants a list shows.
#[derive(Clone, Copy)]
pub enum Side {
    /// The owner's view: the grantee of each grant.
    To,
    /// The grantee's view: the grantor of each grant.
    From,
}

pub struct GrantList {
    pub grants: Vec<Grant>,
    pub side: Side,
    pub names: Names,
    /// Plain names of the members the grants cover.
    pub members: Names,
}

impl GrantList {
    /// Who at the organisation a grant covers ("HR and Sam Patel"); empty for other grantees.
    fn covers(&self, g: &Grant) -> String {
        let names: Vec<String> = g.members.iter().map(|m| self.members.of(m)).collect();
        describe_covered(&g.roles, &names)
    }
}

impl Side {
    /// The party on this side of `g`.
    pub fn party_of(self, g: &Grant) -> &str {
        match self {
            Side::To => &g.grantee,
            Side::From => &g.grantor,
        }
    }
}

impl Render for GrantList {
    fn human(&self) -> String {
        let other = match self.side {
            Side::To => "to",
            Side::From => "from",
        };
        let organisations = self
            .grants
            .iter()
            .any(|g| !g.roles.is_empty() || !g.members.is_empty());
        let mut headers = vec!["grant", other];
        if organisations {
            headers.push("covers");
        }
        headers.extend(["scopes", "purpose", "status", "ends"]);
        let mut table = Table::new(&headers);
        for g in &self.grants {
            let mut row = vec![g.id.clone(), self.names.of(self.side.party_of(g))];
            if organisations {
                row.push(self.covers(g));
            }
            row.extend([
                describe_scopes(&g.scopes),
                output::truncate(&g.purpose, 40),
                format!("{:?}", g.status).to_lowercase(),
                output::date(&g.ends_at),
            ]);
            table.row(row);
        }
        table.render()
    }

    fn json(&self) -> Value {
        to_json(&self.grants)
    }
}

pub struct GrantRevoked {
    pub grant: Grant,
    pub grantee_name: String,
}

impl Render for GrantRevoked {
    fn human(&self) -> String {
        format!(
            "Grant {} revoked: {} can no longer read or write your passport (their next \
             request is refused).\n",
            self.grant.id, self.grantee_name
        )
    }

    fn json(&self) -> Value {
        to_json(&self.grant)
    }

    fn quiet(&self) -> Option<String> {
        Some(self.grant.id.clone())
    }
}

pub struct AccessLog {
    pub passport_id: String,
    pub verified: bool,
    /// The entries shown, after --actor and --limit.
    pub entries: Vec<AccessLogEntry>,
    /// How many entries were fetched, and the last one's sequence, for the verified line.
    pub total: usize,
    pub last_seq: i64,
    /// The actors and the organisations members acted for, as looked up.
    pub parties: HashMap<String, Party>,
    /// The caller, shown as "you".
    pub me: Option<String>,
}

impl AccessLog {
    /// "Sam Patel (line manager, Acme Ltd)": a member with the role and organisation the entry
    /// records; the caller as "you"; "-" without an actor.
    fn actor(&self, e: &AccessLogEntry) -> String {
        match (
            e.actor.as_deref(),
            self.parties.get(e.actor.as_deref().unwrap_or_default()),
        ) {
            (Some(a), Some(p)) if self.me.as_deref() == Some(a) => output::party(p, Some(a)),
            _ => describe_actor(e, &self.parties).unwrap_or_else(|| "-".to_owned()),
        }
    }

    fn footer(&self) -> String {
        if self.verified {
            format!(
                "Access log verified: {} entries, hash chain intact from entry 1 to {}.\n",
                self.total, self.last_seq
            )
        } else {
            "(not verified: `wp log --verify` checks the whole hash chain)\n".to_owned()
        }
    }
}

impl Render for AccessLog {
    fn human(&self) -> String {
        let mut table = Table::new(&[
            "seq", "at", "actor", "action", "sections", "outcome", "reason",
        ]);
        for e in &self.entries {
            let sections: Vec<&str> = e.sections.iter().map(|s| s.as_str()).collect();
            table.row(vec![
                e.seq.to_string(),
                output::time(&e.at),
                self.actor(e),
                e.action.as_str().to_owned(),
                sections.join(","),
                format!("{:?}", e.outcome).to_lowercase(),
                output::truncate(&e.reason, 48),
            ]);
        }
        table.render() + &self.footer()
    }

    fn json(&self) -> Value {
        let entries: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                let mut v = to_json(e);
                if e.actor.is_some() {
                    v["actor_name"] = Value::String(self.actor(e));
                }
                v
            })
            .collect();
        json!({ "passport_id": self.passport_id, "verified": self.verified, "entries": entries })
    }
}

// ---------------------------------------------------------------------------------------------
// Replicas

pub struct Synced {
    pub report: SyncReport,
    pub grant_id: String,
    pub db: PathBuf,
    pub records: Vec<LocalRecord>,
    pub me: Option<String>,
}

impl Synced {
    fn headline(&self) -> String {
        let r = &self.report;
        let db = self.db.display();
        if r.unchanged {
            return format!(
                "Passport {} is up to date in {db} (nothing new since sequence {}).\n",
                r.passport_id, r.cursor
            );
        }
        let applied = r.applied.len();
        format!(
            "Synced passport {} into {db}: {applied} new version{} verified and applied, up to \
             sequence {} (server checkpoint {} checked).\n",
            r.passport_id,
            if applied == 1 { "" } else { "s" },
            r.cursor,
            r.checkpoint_seq
        )
    }
}

impl Render for Synced {
    fn human(&self) -> String {
        let mut table = Table::new(&["record", "section", "v", "author", "summary"]);
        for r in &self.records {
            table.row(vec![
                r.record_id.clone(),
                r.section.to_string(),
                r.version.to_string(),
                output::party(&r.author_party, self.me.as_deref()),
                output::summary(r.section, Some(&r.body)),
            ]);
        }
        self.headline() + &table.render()
    }

    fn json(&self) -> Value {
        let r = &self.report;
        let records: Vec<Value> = self
            .records
            .iter()
            .map(|r| {
                json!({
                    "record_id": r.record_id,
                    "section": r.section,
                    "version": r.version,
                    "seq": r.seq,
                    "author": output::party_json(&r.author_party),
                    "body": r.body,
                })
            })
            .collect();
        json!({
            "passport_id": r.passport_id,
            "grant_id": self.grant_id,
            "db": self.db,
            "applied": r.applied.len(),
            "unchanged": r.unchanged,
            "cursor": r.cursor,
            "checkpoint_seq": r.checkpoint_seq,
            "records": records,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Bundles

/// What a bundle proves and what failed, as `wp bundle verify` prints it.
pub struct BundleChecked(pub wp_client::bundle::Report);

fn report_lines(report: &wp_client::bundle::Report) -> String {
    let mut out = String::new();
    if report.is_sound() && !report.origin_checked {
        out.push_str(&format!(
            "VERIFIED, BUT NOT ITS ORIGIN: every check passed, but the attestation key was not \
             compared with the keys {} publishes, so nothing proves that server made this \
             bundle (anyone can attest with a key of their own). Within that, it proves:\n",
            report.server.as_deref().unwrap_or("its server")
        ));
    } else if report.is_sound() {
        out.push_str("VERIFIED: every check passed. This bundle proves:\n");
    } else {
        out.push_str(&format!(
            "NOT VERIFIED: {} check(s) failed:\n",
            report.failures.len()
        ));
        for failure in &report.failures {
            out.push_str(&format!("  - {failure}\n"));
        }
        out.push_str("What did check out (do not rely on it while anything above failed):\n");
    }
    for line in &report.proves {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

impl Render for BundleChecked {
    fn human(&self) -> String {
        report_lines(&self.0)
    }

    fn json(&self) -> Value {
        to_json(&self.0)
    }
}

/// `wp passport export --fhir --out FILE`: the FHIR view, written.
pub struct FhirWritten(pub String);

impl Render for FhirWritten {
    fn human(&self) -> String {
        format!(
            "The FHIR R4 view of your passport is in {}. It is a copy for health systems; \
             your proof is the bundle (`wp passport export`).\n",
            self.0
        )
    }

    fn json(&self) -> Value {
        json!({"file": self.0})
    }

    fn quiet(&self) -> Option<String> {
        Some(self.0.clone())
    }
}

/// `wp passport export --out FILE`.
pub struct Exported {
    pub report: wp_client::bundle::Report,
    pub file: Option<String>,
}

impl Render for Exported {
    fn human(&self) -> String {
        let r = &self.report;
        format!(
            "Passport {} exported to {}: {} versions, {} access-log entries, checked and signed \
             by you (key {}).\nThe server attested it with its key {} (one it publishes): \
             keep that key's thumbprint to check the file's origin later.\nAnyone can check it \
             with `wp bundle verify {}`; move it with `wp passport import --to URL --file {}`.\n",
            r.passport_id.as_deref().unwrap_or_default(),
            self.file.as_deref().unwrap_or("stdout"),
            r.versions,
            r.log_entries,
            r.signed_by.as_deref().unwrap_or_default(),
            r.attested_by.as_deref().unwrap_or_default(),
            self.file.as_deref().unwrap_or("FILE"),
            self.file.as_deref().unwrap_or("FILE"),
        )
    }

    fn json(&self) -> Value {
        json!({"file": self.file, "report": to_json(&self.report)})
    }

    fn quiet(&self) -> Option<String> {
        self.report.passport_id.clone()
    }
}

/// `wp passport import --to URL`.
pub struct Imported {
    pub info: PassportInfo,
    pub from: Option<String>,
    pub to: String,
}

impl Render for Imported {
    fn human(&self) -> String {
        format!(
            "Passport {} moved from {} to {}: {} versions, every signature and the access log \
             checked there too. This profile now uses {} as party {}.\nGrants did not travel: \
             share again with `wp grant add`. The old server keeps its copy until you run `wp \
             passport erase` there.\n",
            self.info.id,
            self.from.as_deref().unwrap_or("the old server"),
            self.to,
            self.info.seq,
            self.to,
            self.info.owner
        )
    }

    fn json(&self) -> Value {
        json!({"imported": to_json(&self.info), "from": self.from, "to": self.to})
    }

    fn quiet(&self) -> Option<String> {
        Some(self.info.id.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// Access requests

fn request_status(status: AccessRequestStatus) -> String {
    format!("{status:?}").to_lowercase()
}

/// "Acme Ltd (HR) asks to read summary; agree adjustments, for 365 days, for: ...".
fn request_terms(r: &AccessRequest) -> String {
    format!(
        "{}, asked by {}, asks to {} for {} days, for: {}.",
        describe_requester(r),
        r.requested_by_name,
        describe_scopes(&r.scopes),
        r.duration_days,
        r.purpose
    )
}

/// A new access request, with its code: the only time the code is shown.
pub struct RequestMade(pub AccessRequest);

impl Render for RequestMade {
    fn human(&self) -> String {
        let r = &self.0;
        let code = r.code.as_deref().unwrap_or("CODE");
        format!(
            "Access request {}: {}\nCode: {code}\nGive the code to the employee (it is not shown \
             again) before {}; they run\n  wp request open {code}\nIt grants nothing until they \
             approve it.\n",
            r.id,
            request_terms(r),
            output::time(&r.expires_at),
        )
    }

    fn json(&self) -> Value {
        to_json(&self.0)
    }

    /// The code, for `CODE=$(wp -q request create ...)`.
    fn quiet(&self) -> Option<String> {
        Some(self.0.code.clone().unwrap_or_else(|| self.0.id.clone()))
    }
}

pub struct RequestList {
    pub requests: Vec<AccessRequest>,
    pub org_name: String,
}

impl Render for RequestList {
    fn human(&self) -> String {
        let mut table = Table::new(&[
            "request", "by", "scopes", "days", "purpose", "status", "expires", "grant",
        ]);
        for r in &self.requests {
            table.row(vec![
                r.id.clone(),
                r.requested_by_name.clone(),
                describe_scopes(&r.scopes),
                r.duration_days.to_string(),
                output::truncate(&r.purpose, 40),
                request_status(r.status),
                output::date(&r.expires_at),
                r.grant_id.clone().unwrap_or_default(),
            ]);
        }
        format!("Access requests of {}:\n{}", self.org_name, table.render())
    }

    fn json(&self) -> Value {
        to_json(&self.requests)
    }
}

/// What the employee sees before deciding.
pub struct RequestShown(pub AccessRequest);

impl Render for RequestShown {
    fn human(&self) -> String {
        let r = &self.0;
        let next = match r.status {
            AccessRequestStatus::Pending => format!(
                "To share as asked: wp request approve CODE\n\
                 To share less: add --read/--write/--agree with fewer sections, or --days N\n\
                 To say no: wp request decline CODE\n\
                 The request is open until {}.\n",
                output::time(&r.expires_at)
            ),
            status => format!("This request is {}.\n", request_status(status)),
        };
        format!("{}\n{next}", request_terms(r))
    }

    fn json(&self) -> Value {
        to_json(&self.0)
    }

    fn quiet(&self) -> Option<String> {
        Some(self.0.id.clone())
    }
}

pub struct RequestApproved {
    pub grant: Grant,
    pub request: AccessRequest,
}

impl Render for RequestApproved {
    fn human(&self) -> String {
        let g = &self.grant;
        format!(
            "Granted {} until {}: {}.\nGrant id: {}\nConsent text: {}\n\
             You end it with `wp grant revoke {}`.\n",
            describe_requester(&self.request),
            output::time(&g.ends_at),
            describe_scopes(&g.scopes),
            g.id,
            g.consent_text,
            g.id
        )
    }

    fn json(&self) -> Value {
        to_json(&self.grant)
    }

    fn quiet(&self) -> Option<String> {
        Some(self.grant.id.clone())
    }
}

pub struct RequestDeclined(pub AccessRequest);

impl Render for RequestDeclined {
    fn human(&self) -> String {
        format!(
            "Declined the request from {}: nothing is shared, and its code no longer works.\n",
            describe_requester(&self.0)
        )
    }

    fn json(&self) -> Value {
        to_json(&self.0)
    }

    fn quiet(&self) -> Option<String> {
        Some(self.0.id.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// Notifications

/// A notification's link (`#/grants`, relative to the server) as an address of the pages to open.
fn page_url(server: &str, link: &str) -> String {
    format!(
        "{}/{}",
        server.trim_end_matches('/'),
        link.trim_start_matches('/')
    )
}

/// A page of notifications, newest first.
pub struct NotificationList {
    pub page: NotificationPage,
    /// The server's URL, which the links are relative to.
    pub server: String,
    /// Only the page's unread ones are in it (`--unread`).
    pub unread_only: bool,
}

impl Render for NotificationList {
    fn human(&self) -> String {
        let page = &self.page;
        let mut out = match page.unread {
            0 => "No unread notifications.\n".to_owned(),
            1 => "1 unread notification (marked *).\n".to_owned(),
            n => format!("{n} unread notifications (marked *).\n"),
        };
        if page.notifications.is_empty() && !(self.unread_only && page.unread == 0) {
            out.push_str("  (none)\n");
        }
        for n in &page.notifications {
            let marker = if n.read_at.is_none() { '*' } else { ' ' };
            out.push_str(&format!(
                "{marker} {}  {}: {}\n    {}  (id {})\n",
                output::time(&n.created_at),
                n.title,
                n.text,
                page_url(&self.server, &n.link),
                n.id
            ));
        }
        if let Some(before) = &page.next_before {
            out.push_str(&format!("Older ones: wp notifications --before {before}\n"));
        }
        if page.unread > 0 {
            out.push_str("Mark them read: wp notifications read ID, or read --all\n");
        }
        out
    }

    fn json(&self) -> Value {
        to_json(&self.page)
    }
}

/// What a settings command changed, said before the settings.
pub enum NotificationChange {
    None,
    EmailSet,
    Chosen(BTreeMap<NotificationKind, bool>),
}

pub struct NotificationSettingsShown {
    pub settings: NotificationSettings,
    pub change: NotificationChange,
}

impl NotificationSettingsShown {
    fn headline(&self) -> String {
        match (&self.change, &self.settings.email) {
            (NotificationChange::EmailSet, Some(email)) => format!(
                "A verification link was sent to {}. Open it, or run `wp notifications verify \
                 CODE` with the code from it; nothing else is sent there until then.\n\n",
                email.address
            ),
            (NotificationChange::Chosen(chosen), _) => {
                let said: Vec<String> = chosen
                    .iter()
                    .map(|(kind, on)| format!("{} {}", kind.as_str(), on_off(*on)))
                    .collect();
                format!("Saved: {} by email.\n\n", said.join(", "))
            }
            _ => String::new(),
        }
    }

    fn fields(&self) -> Vec<(&'static str, String)> {
        let s = &self.settings;
        let address = match &s.email {
            None => "none (`wp notifications email ADDRESS` sets one)".to_owned(),
            Some(e) if e.verified => format!("{} (verified)", e.address),
            Some(e) => format!(
                "{} (not verified yet: open the link sent to it, or `wp notifications verify CODE`)",
                e.address
            ),
        };
        let sending = if s.email_enabled {
            "this server sends email"
        } else {
            "off: this server sends no email (its operator has set up no mail server)"
        };
        let calendar = if s.calendar {
            "yes (`wp notifications calendar` replaces its address, `--stop` stops it)"
        } else {
            "none (`wp notifications calendar` makes one)"
        };
        vec![
            ("Email address", address),
            ("Email", sending.to_owned()),
            ("Calendar feed", calendar.to_owned()),
        ]
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

impl Render for NotificationSettingsShown {
    fn human(&self) -> String {
        let mut table = Table::new(&["kind", "by email", "about"]);
        for c in &self.settings.choices {
            let email = if c.security {
                "always"
            } else {
                on_off(c.email)
            };
            table.row(vec![
                c.kind.as_str().to_owned(),
                email.to_owned(),
                c.title.clone(),
            ]);
        }
        format!(
            "{}{}By email:\n{}Change with `wp notifications choose KIND=on|off`; security alerts \
             (always) come to a verified address whatever you choose.\n",
            self.headline(),
            output::fields(&self.fields()),
            table.render()
        )
    }

    fn json(&self) -> Value {
        to_json(&self.settings)
    }

    /// The address just set.
    fn quiet(&self) -> Option<String> {
        match (&self.change, &self.settings.email) {
            (NotificationChange::EmailSet, Some(email)) => Some(email.address.clone()),
            _ => None,
        }
    }
}

/// The notification commands that change one thing and say so.
pub enum NotificationsDone {
    /// One notification (its id), or every one.
    Read(Option<String>),
    EmailRemoved,
    Verified,
    /// The calendar feed's new secret address.
    CalendarMade(String),
    CalendarStopped,
}

impl Render for NotificationsDone {
    fn human(&self) -> String {
        match self {
            Self::Read(Some(id)) => format!("Notification {id} marked read.\n"),
            Self::Read(None) => "Every notification marked read.\n".to_owned(),
            Self::EmailRemoved => "Email address removed: no more email is sent.\n".to_owned(),
            Self::Verified => "Email address verified: the notifications you chose by email, \
                               and security alerts, now go there.\n"
                .to_owned(),
            Self::CalendarMade(url) => format!(
                "Your calendar feed, shown only this once:\n  {url}\nSubscribe to it in a \
                 calendar app. It has your adjustment review dates and the dates consents end, \
                 without health data, but ANYONE WITH THIS ADDRESS SEES THOSE DATES: keep it to \
                 yourself. Any earlier address stopped working; `wp notifications calendar \
                 --stop` stops this one.\n"
            ),
            Self::CalendarStopped => {
                "Calendar feed stopped: its address no longer works.\n".to_owned()
            }
        }
    }

    fn json(&self) -> Value {
        match self {
            Self::Read(Some(id)) => json!({ "read": id }),
            Self::Read(None) => json!({ "read": "all" }),
            Self::EmailRemoved => json!({ "email": null }),
            Self::Verified => json!({ "verified": true }),
            Self::CalendarMade(url) => json!({ "url": url }),
            Self::CalendarStopped => json!({ "calendar": false }),
        }
    }

    /// The notification marked read, or the feed's address (`URL=$(wp -q notifications
    /// calendar)`).
    fn quiet(&self) -> Option<String> {
        match self {
            Self::Read(id) => id.clone(),
            Self::CalendarMade(url) => Some(url.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Mode;

    #[test]
    fn a_result_renders_for_people_scripts_and_shells() {
        let rotated = KeyRotated {
            new_kid: "new".into(),
            revoked_kid: "old".into(),
        };
        assert_eq!(
            rotated.human(),
            "Rotated: key new is now in use; the old key old is revoked.\n\
             Versions signed with the old key before now still verify.\n"
        );
        assert_eq!(
            rotated.json(),
            json!({ "new_kid": "new", "revoked_kid": "old" })
        );
        assert_eq!(rotated.quiet().as_deref(), Some("new"));
    }

    #[test]
    fn quiet_prints_for_people_only_what_has_no_id() {
        assert!(Mode::Human.for_people(true));
        assert!(!Mode::Json.for_people(false));
        assert!(!Mode::Quiet.for_people(true));
        assert!(Mode::Quiet.for_people(false));
        assert_eq!(Mode::new(false, true), Mode::Quiet);
        assert_eq!(Mode::new(true, false), Mode::Json);
    }

    #[test]
    fn an_invitation_shows_its_code_once_and_quiet_prints_only_the_code() {
        let invitation: Invitation = serde_json::from_value(json!({
            "id": "i1",
            "organisation": "o1",
            "role": "line_manager",
            "code": "wpi_code",
            "status": "pending",
            "created_by": "admin",
            "created_at": "2026-01-01T00:00:00Z",
            "expires_at": "2026-01-08T00:00:00Z",
        }))
        .unwrap();
        let invited = Invited {
            invitation: invitation.clone(),
            org_name: "Acme Ltd".into(),
        };
        assert_eq!(
            invited.human(),
            "Invitation i1 to join Acme Ltd as line manager, until 2026-01-08 00:00 UTC.\n\
             Code: wpi_code\n\
             Give the code to the person (it is not shown again); they run\n  \
             wp join wpi_code --name \"Their Name\"\n"
        );
        assert_eq!(invited.quiet().as_deref(), Some("wpi_code"));
        assert_eq!(invited.json()["code"], "wpi_code");
        let listed = InvitationList {
            invitations: vec![Invitation {
                code: None,
                ..invitation
            }],
            org_name: "Acme Ltd".into(),
            names: Names([("admin".to_owned(), "Ada (admin)".to_owned())].into()),
        };
        assert!(
            listed
                .human()
                .contains("line_manager  pending  Ada (admin)")
        );
        assert!(!listed.human().contains("wpi_"));
    }

    #[test]
    fn a_member_removed_or_leaving_is_told_apart() {
        let member: Member = serde_json::from_value(json!({
            "party": "m1",
            "display_name": "Sam Patel",
            "role": "line_manager",
            "joined_at": "2026-01-01T00:00:00Z",
            "removed_at": "2026-02-01T00:00:00Z",
        }))
        .unwrap();
        let removed = MemberRemoved {
            member: member.clone(),
            org_name: "Acme Ltd".into(),
            left: false,
        };
        assert!(
            removed
                .human()
                .starts_with("Removed Sam Patel (line manager) from Acme Ltd:")
        );
        assert_eq!(removed.quiet().as_deref(), Some("m1"));
        let left = MemberRemoved {
            member,
            org_name: "Acme Ltd".into(),
            left: true,
        };
        assert!(left.human().starts_with("You left Acme Ltd:"));
    }

    #[test]
    fn notifications_mark_the_unread_and_link_to_the_pages() {
        let page: NotificationPage = serde_json::from_value(json!({
            "notifications": [{
                "id": "n2",
                "kind": "key_added",
                "security": true,
                "title": "A device was added to your account",
                "text": "A new device or key was added to your account.",
                "link": "#/devices",
                "created_at": "2026-12-06T10:45:00Z",
            }, {
                "id": "n1",
                "kind": "access_requested",
                "security": false,
                "title": "A request to see your passport",
                "text": "Acme Ltd asked to see parts of your passport.",
                "link": "#/request",
                "created_at": "2026-12-05T09:00:00Z",
                "read_at": "2026-12-05T10:00:00Z",
            }],
            "unread": 1,
            "next_before": "n1",
        }))
        .unwrap();
        let list = NotificationList {
            page,
            server: "https://passport.example.org/".into(),
            unread_only: false,
        };
        assert_eq!(
            list.human(),
            "1 unread notification (marked *).\n\
             * 2026-12-06 10:45 UTC  A device was added to your account: A new device or key \
             was added to your account.\n    https://passport.example.org/#/devices  (id n2)\n\
             \x20 2026-12-05 09:00 UTC  A request to see your passport: Acme Ltd asked to see \
             parts of your passport.\n    https://passport.example.org/#/request  (id n1)\n\
             Older ones: wp notifications --before n1\n\
             Mark them read: wp notifications read ID, or read --all\n"
        );
        assert_eq!(list.json()["unread"], 1);
        assert_eq!(list.quiet(), None);
    }

    #[test]
    fn a_party_not_looked_up_shows_as_its_id() {
        let names = Names([("p1".to_owned(), "Acme Ltd (employer)".to_owned())].into());
        assert_eq!(names.of("p1"), "Acme Ltd (employer)");
        assert_eq!(names.of("p2"), "p2");
    }

    #[test]
    fn a_json_document_prints_as_json_every_way() {
        let body = json!({ "about_me": "hi" });
        assert_eq!(body.human(), "{\n  \"about_me\": \"hi\"\n}\n");
        assert_eq!(body.json(), body);
        assert_eq!(body.quiet(), None);
    }
}
