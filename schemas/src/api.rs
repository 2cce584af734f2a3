//! Request and response bodies of the HTTP API, and the claims inside the signed objects.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jose::{JwsProfile, KeyRef, PublicJwk};
use crate::sections::Section;
use crate::text::{LINE_PATTERN, TEXT_PATTERN};

// ---------------------------------------------------------------------------------------------
// Parties and keys

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    Employee,
    /// An employer: an organisation whose members read and agree, or (enrolled with a key of
    /// its own, as before organisations existed) an organisation of one.
    Employer,
    /// A registered professional acting alone.
    Professional,
    Admin,
    /// A professional practice or occupational-health provider, whose clinicians read and write.
    Practice,
    /// A person who acts for one organisation (an employer or a practice), with their own keys.
    Member,
}

impl PartyKind {
    pub const ALL: [PartyKind; 6] = [
        Self::Employee,
        Self::Employer,
        Self::Professional,
        Self::Admin,
        Self::Practice,
        Self::Member,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Employee => "employee",
            Self::Employer => "employer",
            Self::Professional => "professional",
            Self::Admin => "admin",
            Self::Practice => "practice",
            Self::Member => "member",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Whether this kind is an organisation that people join.
    pub fn is_organisation(self) -> bool {
        ORGANISATION_KINDS.contains(&self)
    }
}

/// What a member does at their organisation. Employers have `org_admin`, `hr` and
/// `line_manager`; practices have `org_admin` and `clinician`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Invites and removes members.
    OrgAdmin,
    /// An HR adviser (employers).
    Hr,
    /// A line manager (employers).
    LineManager,
    /// A registered clinician, e.g. an occupational therapist (practices).
    Clinician,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::OrgAdmin, Role::Hr, Role::LineManager, Role::Clinician];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::OrgAdmin => "org_admin",
            Role::Hr => "hr",
            Role::LineManager => "line_manager",
            Role::Clinician => "clinician",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// In plain words, for people: "line manager".
    pub fn title(self) -> &'static str {
        match self {
            Role::OrgAdmin => "organisation admin",
            Role::Hr => "HR",
            Role::LineManager => "line manager",
            Role::Clinician => "clinician",
        }
    }

    /// Whether an organisation of `kind` has this role.
    pub fn fits(self, kind: PartyKind) -> bool {
        match kind {
            PartyKind::Employer => matches!(self, Role::OrgAdmin | Role::Hr | Role::LineManager),
            PartyKind::Practice => matches!(self, Role::OrgAdmin | Role::Clinician),
            _ => false,
        }
    }
}

/// How an agreement names a member who agrees an adjustment for their organisation, in the
/// adjustment's `agreed_by`: "Priya Shah (HR, Acme Ltd)". The server refuses a member's
/// agreement that names anyone else, so the next employer sees who agreed, where.
pub fn agreed_by(display_name: &str, role: Role, organisation_name: &str) -> String {
    format!("{display_name} ({}, {organisation_name})", role.title())
}

/// A member's place: which organisation they act for, and as what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Membership {
    /// The organisation's party id.
    pub organisation: String,
    pub organisation_name: String,
    pub organisation_kind: PartyKind,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
    /// Set once the member was removed or left: they act for the organisation no more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<DateTime<Utc>>,
}

/// Longest display name of a party, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest profession, registration body or registration number.
pub const MAX_REGISTRATION_CHARS: usize = 100;
/// Longest purpose of a grant.
pub const MAX_PURPOSE_CHARS: usize = 500;
/// Longest consent text of a grant.
pub const MAX_CONSENT_TEXT_CHARS: usize = 10_000;
/// Longest place an organisation gives in its listing ("Leeds", "Head office, Bristol").
pub const MAX_PLACE_CHARS: usize = 100;
/// Longest line about an organisation in its listing.
pub const MAX_ABOUT_CHARS: usize = 200;
/// An organisation's share code: 12 characters of Crockford's base32, shown in three groups of
/// four (`K7PD-4MQX-93HN`). Case does not matter, nor do the hyphens; I and L read as 1, O as 0.
pub const SHARE_CODE_PATTERN: &str = "^[0-9A-Za-z]{4}-?[0-9A-Za-z]{4}-?[0-9A-Za-z]{4}$";
/// A canonical UUID: lower-case, hyphenated (RFC 9562 section 4).
pub const UUID_PATTERN: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
/// A compact JWS (RFC 7515 section 7.1): three base64url parts without padding.
pub const COMPACT_JWS_PATTERN: &str = "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]+$";

/// A registered professional's registration, e.g. HCPC OT12345.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfessionalRegistration {
    /// e.g. "occupational therapist", "occupational health physician".
    #[schemars(length(max = MAX_REGISTRATION_CHARS), pattern(LINE_PATTERN))]
    pub profession: String,
    /// e.g. HCPC, NMC, GMC.
    #[schemars(length(max = MAX_REGISTRATION_CHARS), pattern(LINE_PATTERN))]
    pub registration_body: String,
    #[schemars(length(max = MAX_REGISTRATION_CHARS), pattern(LINE_PATTERN))]
    pub registration_number: String,
}

/// `POST /v1/parties`: an employee registers themselves.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterEmployee {
    #[schemars(length(max = MAX_NAME_CHARS), pattern(LINE_PATTERN))]
    pub display_name: String,
    pub jwk: PublicJwk,
    /// A compact JWS over [`KeyProofClaims`] signed by `jwk`'s private key.
    #[schemars(pattern(COMPACT_JWS_PATTERN))]
    pub proof: String,
}

/// `POST /v1/admin/join`: the operator's one-time admin invitation (`work-passport-server
/// admin-link`), redeemed with a key the new admin proves they hold (`aud` BASE/v1/admin/join).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinAsAdmin {
    /// The invitation: a JWT signed by the server (`typ` wp-admin-invitation+jwt).
    #[schemars(pattern(COMPACT_JWS_PATTERN))]
    pub invitation: String,
    #[schemars(length(max = MAX_NAME_CHARS), pattern(LINE_PATTERN))]
    pub display_name: String,
    pub jwk: PublicJwk,
    /// A compact JWS over [`KeyProofClaims`] signed by `jwk`'s private key.
    #[schemars(pattern(COMPACT_JWS_PATTERN))]
    pub proof: String,
}

/// `POST /v1/admin/parties`: an admin enrols an employer, a professional or another admin.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolParty {
    /// `employer`, `professional` or `admin`: employees register themselves, organisations
    /// are made by `POST /v1/admin/organisations` and members join by invitation.
    #[schemars(schema_with = "enrolled_kinds")]
    pub kind: PartyKind,
    #[schemars(length(max = MAX_NAME_CHARS), pattern(LINE_PATTERN))]
    pub display_name: String,
    pub jwk: PublicJwk,
    /// Required for professionals, refused for others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<ProfessionalRegistration>,
}

/// The kinds of party `kinds` names, as the schema of a field that admits only those (the
/// server refuses the others).
fn party_kinds(kinds: &[PartyKind]) -> schemars::Schema {
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    schemars::json_schema!({"type": "string", "enum": names})
}

fn enrolled_kinds(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    party_kinds(&ENROLLED_KINDS)
}

fn organisation_kinds(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    party_kinds(&ORGANISATION_KINDS)
}

/// What an admin enrols with `POST /v1/admin/parties`.
pub const ENROLLED_KINDS: [PartyKind; 3] = [
    PartyKind::Employer,
    PartyKind::Professional,
    PartyKind::Admin,
];

/// What `POST /v1/admin/organisations` makes.
pub const ORGANISATION_KINDS: [PartyKind; 2] = [PartyKind::Employer, PartyKind::Practice];

/// `POST /v1/parties/{id}/keys`: add a key (rotation), proving possession of it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddKey {
    pub jwk: PublicJwk,
    #[schemars(pattern(COMPACT_JWS_PATTERN))]
    pub proof: String,
}

/// Claims of a proof of key possession (registration and key rotation). `aud` is the URL the
/// proof is sent to, so a proof cannot be used elsewhere.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct KeyProofClaims {
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PartyKey {
    /// RFC 7638 thumbprint of the key.
    pub kid: String,
    pub jwk: PublicJwk,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Party {
    pub id: String,
    pub kind: PartyKind,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<ProfessionalRegistration>,
    /// A member's organisation and role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership: Option<Membership>,
    /// An organisation made without a key of its own has none: its members act for it.
    pub keys: Vec<PartyKey>,
    pub created_at: DateTime<Utc>,
    /// Set for a party known here only from an imported passport (an author of its versions):
    /// the public URL of the server it is registered at. Its keys are the ones the bundle
    /// carried; it cannot sign in here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Organisations, members and invitations

/// `POST /v1/admin/organisations`: the service admin creates an employer or a practice.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganisation {
    /// `employer` or `practice`.
    #[schemars(schema_with = "organisation_kinds")]
    pub kind: PartyKind,
    #[schemars(length(max = MAX_NAME_CHARS), pattern(LINE_PATTERN))]
    pub display_name: String,
}

/// Longest life of an invitation, and its default.
pub const MAX_INVITATION_DAYS: i64 = 30;
pub const DEFAULT_INVITATION_DAYS: i64 = 7;

/// `POST /v1/organisations/{oid}/invitations`: invite a person to join as `role`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    pub role: Role,
    /// Days until the code expires: 1 to 30, 7 by default.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::integer::option_i64"
    )]
    #[schemars(range(min = 1, max = MAX_INVITATION_DAYS))]
    pub expires_in_days: Option<i64>,
    /// Email the invitation to this address (when the server sends email): the person gets
    /// the link to join, and the answer still holds the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Redeemed,
    Expired,
    Revoked,
}

/// An invitation. `code` is present only in the answer that creates it: the server keeps only
/// its hash, so it can be shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Invitation {
    pub id: String,
    pub organisation: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub status: InvitationStatus,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redeemed_by: Option<String>,
}

/// `POST /v1/invitations/redeem`: a person joins with a key they generated and prove they hold
/// (the proof's `aud` is `{issuer}/v1/invitations/redeem`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemInvitation {
    #[schemars(pattern(INVITATION_CODE_PATTERN))]
    pub code: String,
    #[schemars(length(max = MAX_NAME_CHARS), pattern(LINE_PATTERN))]
    pub display_name: String,
    pub jwk: PublicJwk,
    #[schemars(pattern(COMPACT_JWS_PATTERN))]
    pub proof: String,
    /// Required for a clinician, refused for other roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<ProfessionalRegistration>,
}

/// An invitation code: `wpi_` and 43 base64url characters (256 random bits).
pub const INVITATION_CODE_PATTERN: &str = "^wpi_[A-Za-z0-9_-]{43}$";

/// A member as their organisation sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Member {
    pub party: String,
    pub display_name: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<DateTime<Utc>>,
}

/// Longest an access request waits for the employee, and its default.
pub const MAX_REQUEST_DAYS: i64 = 30;
pub const DEFAULT_REQUEST_DAYS: i64 = 14;
/// Longest a grant lasts, in days (two years, as `ends_at` allows).
pub const MAX_GRANT_DAYS: i64 = 732;

/// `POST /v1/organisations/{oid}/access-requests`: a member asks an employee for access. The
/// answer carries a one-time code for the employee; the request grants nothing by itself.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccessRequest {
    /// What the organisation asks for (as in a grant).
    #[schemars(length(min = 1))]
    pub scopes: Vec<Scope>,
    /// Who at the organisation would be covered; by default the requester's own role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// Why, in the organisation's words, e.g. "workplace adjustments in your new job".
    #[schemars(length(max = MAX_PURPOSE_CHARS), pattern(LINE_PATTERN))]
    pub purpose: String,
    /// How long the access would last, in days (1 to 732).
    #[serde(deserialize_with = "crate::integer::i64")]
    #[schemars(range(min = 1, max = MAX_GRANT_DAYS))]
    pub duration_days: i64,
    /// The employee it is for (their party id), if the organisation knows it: then only they may
    /// open, approve or decline it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(UUID_PATTERN))]
    pub employee: Option<String>,
    /// Days until the request expires: 1 to 30, 14 by default.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::integer::option_i64"
    )]
    #[schemars(range(min = 1, max = MAX_REQUEST_DAYS))]
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessRequestStatus {
    Pending,
    Approved,
    Declined,
    Expired,
}

/// An access request, as the organisation and the employee see it. `code` is present only in
/// the answer that creates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccessRequest {
    pub id: String,
    pub organisation: String,
    pub organisation_name: String,
    pub requested_by: String,
    pub requested_by_name: String,
    pub roles: Vec<Role>,
    pub scopes: Vec<Scope>,
    pub purpose: String,
    pub duration_days: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub status: AccessRequestStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The grant an approval made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
}

/// `POST /v1/access-requests/open` and `.../decline`: the employee names the request by its code.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRequestCode {
    #[schemars(pattern(ACCESS_REQUEST_CODE_PATTERN))]
    pub code: String,
}

/// An access request code: `wpr_` and 43 base64url characters (256 random bits).
pub const ACCESS_REQUEST_CODE_PATTERN: &str = "^wpr_[A-Za-z0-9_-]{43}$";

/// `POST /v1/access-requests/approve`: the employee approves, as asked or narrowed (fewer
/// sections or actions, an earlier end); this creates the grant on their passport.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveAccessRequest {
    #[schemars(pattern(ACCESS_REQUEST_CODE_PATTERN))]
    pub code: String,
    /// A subset of what was asked; by default all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<Scope>>,
    /// No later than the asked duration from now; by default exactly that.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::rfc3339::deserialize_option"
    )]
    pub ends_at: Option<DateTime<Utc>>,
    /// The consent text the employee was shown and agreed to.
    #[schemars(length(max = MAX_CONSENT_TEXT_CHARS), pattern(TEXT_PATTERN))]
    pub consent_text: String,
}

/// An organisation as an employee finds it: in the directory (`GET /v1/organisations?name=`,
/// listed organisations only) or by its share code (`GET /v1/share-codes/{share_code}`). The
/// place and the line about it are what the organisation gave, to tell two of the same name
/// apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrganisationEntry {
    pub id: String,
    pub kind: PartyKind,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
}

/// `GET` and `PUT /v1/organisations/{oid}/listing`: how employees find the organisation, as its
/// members and the service admin see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrganisationListing {
    pub id: String,
    pub kind: PartyKind,
    pub display_name: String,
    /// Whether the organisation is in the directory of names.
    pub listed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    /// The code employees share with it by, listed or not, shown as `K7PD-4MQX-93HN`; the
    /// pages' share link is `BASE/#/share/{share_code}`.
    #[schemars(pattern(SHARE_CODE_PATTERN))]
    pub share_code: String,
}

/// `PUT /v1/organisations/{oid}/listing` (the service admin or an org_admin of it): whether it
/// is listed, and what the listing says. A place or line left out (or null) is removed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetListing {
    pub listed: bool,
    /// Where it is, e.g. "Leeds" or "Head office, Bristol".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_PLACE_CHARS), pattern(LINE_PATTERN))]
    pub place: Option<String>,
    /// One line about it, e.g. "Food manufacturer".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_ABOUT_CHARS), pattern(LINE_PATTERN))]
    pub about: Option<String>,
    /// Replace the share code with a new one: the old code finds the organisation no more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_share_code: bool,
}

/// An organisation in the service admin's list (`GET /v1/admin/organisations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrganisationSummary {
    pub id: String,
    pub kind: PartyKind,
    pub display_name: String,
    pub listed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// Its active members.
    pub members: i64,
    /// Its active organisation admins: with none, invite a new first admin.
    pub admins: i64,
    pub created_at: DateTime<Utc>,
}

/// `GET /v1/me`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Me {
    pub party: Party,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passport_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Tokens (RFC 7523 assertions in, RFC 9068 access tokens bound by RFC 9449 DPoP out)

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const GRANT_TYPE: &str = "client_credentials";
/// `typ` of a record version JWS.
pub const VERSION_TYP: &str = "wp-version+jws";
/// `typ` of a sync checkpoint JWS.
pub const CHECKPOINT_TYP: &str = "wp-checkpoint+jws";
/// `typ` of the operator's one-time admin invitation, signed by the server.
pub const ADMIN_INVITATION_TYP: &str = "wp-admin-invitation+jwt";
/// `typ` of a DPoP proof (RFC 9449 section 4.2).
pub const DPOP_TYP: &str = "dpop+jwt";
/// `typ` of an access or consent token (RFC 9068 section 2.1).
pub const AT_TYP: &str = "at+jwt";
/// `typ` of a client assertion or a proof of key possession, when present (RFC 7519 section 5.1).
pub const JWT_TYP: &str = "JWT";

// The protected header each kind of JWS may carry: `alg` (EdDSA) and `typ` always, plus `kid`
// (a registered key's RFC 7638 thumbprint) or `jwk` (the public key itself); nothing else.

/// A record version: `{alg, typ: wp-version+jws, kid}`, all three required.
pub const VERSION_JWS: JwsProfile = JwsProfile {
    typ: VERSION_TYP,
    typ_optional: false,
    key: KeyRef::Kid,
};
/// A client assertion (RFC 7523): `{alg, kid, typ?}`, `typ` JWT if present.
pub const ASSERTION_JWS: JwsProfile = JwsProfile {
    typ: JWT_TYP,
    typ_optional: true,
    key: KeyRef::Kid,
};
/// A proof of key possession at registration or key rotation: `{alg, kid, typ?}`, `typ` JWT if
/// present, `kid` the thumbprint of the key being registered.
pub const KEY_PROOF_JWS: JwsProfile = ASSERTION_JWS;
/// A DPoP proof (RFC 9449 section 4.2): `{alg, typ: dpop+jwt, jwk}`, all three required; `jwk`
/// holds `kty`, `crv`, `x` and optionally `kid` (its thumbprint).
pub const DPOP_JWS: JwsProfile = JwsProfile {
    typ: DPOP_TYP,
    typ_optional: false,
    key: KeyRef::Jwk,
};
/// An access or consent token, signed by the server: `{alg, typ: at+jwt, kid}`.
pub const ACCESS_TOKEN_JWS: JwsProfile = JwsProfile {
    typ: AT_TYP,
    typ_optional: false,
    key: KeyRef::Kid,
};
/// A sync checkpoint, signed by the server: `{alg, typ: wp-checkpoint+jws, kid}`.
pub const CHECKPOINT_JWS: JwsProfile = JwsProfile {
    typ: CHECKPOINT_TYP,
    typ_optional: false,
    key: KeyRef::Kid,
};

/// The operator's one-time admin invitation, signed by the server: `{alg, typ:
/// wp-admin-invitation+jwt, kid}`.
pub const ADMIN_INVITATION_JWS: JwsProfile = JwsProfile {
    typ: ADMIN_INVITATION_TYP,
    typ_optional: false,
    key: KeyRef::Kid,
};

/// Claims of an admin invitation: issuer and audience the server's base URL, used once (`jti`)
/// before `exp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AdminInvitationClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Claims of a client assertion (RFC 7523 section 3).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AssertionClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Claims of a DPoP proof (RFC 9449 section 4.2).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DpopClaims {
    pub jti: String,
    pub htm: String,
    pub htu: String,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ath: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Confirmation {
    /// RFC 7638 thumbprint of the key the token is bound to.
    pub jkt: String,
}

/// RFC 9396 authorization details carried by a consent token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuthorizationDetail {
    /// Always `work_passport`.
    #[serde(rename = "type")]
    pub kind: String,
    pub grant_id: String,
    pub passport_id: String,
    pub scopes: Vec<Scope>,
    /// For a member: the organisation they act for under the grant, and their role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<OnBehalfOf>,
}

/// The organisation a member acts for, and their role there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OnBehalfOf {
    pub organisation: String,
    pub role: Role,
}

/// Claims of an access token (RFC 9068); with `authorization_details` it is a consent token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub cnf: Confirmation,
    pub party_kind: PartyKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Vec<AuthorizationDetail>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `DPoP`.
    pub token_type: String,
    pub expires_in: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passport_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<Scope>>,
    /// A consent token for a member under a grant to their organisation: the organisation and
    /// their role, as in the token's `authorization_details`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<OnBehalfOf>,
}

// ---------------------------------------------------------------------------------------------
// Consent grants

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// See the section's records and their history.
    Read,
    /// Add or update records in the section (professionals).
    Write,
    /// Record that an adjustment is agreed (employers; `adjustments` only).
    Agree,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Agree => "agree",
        }
    }
}

/// What a grant allows on one section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub section: Section,
    /// At least one; a repeated action counts once.
    #[schemars(length(min = 1))]
    pub actions: Vec<Action>,
}

/// `POST /v1/passports/{pid}/grants`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrant {
    /// The party id of the grantee: an employer, a practice or a professional.
    #[schemars(pattern(UUID_PATTERN))]
    pub grantee: String,
    /// For an organisation: the roles of its members the grant covers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// For an organisation: members (party ids) the grant covers whatever their role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(UUID_PATTERN)))]
    pub members: Vec<String>,
    /// At least one; each section at most once.
    #[schemars(length(min = 1))]
    pub scopes: Vec<Scope>,
    /// Why the grantee may see this, e.g. "workplace adjustments at Acme Ltd".
    #[schemars(length(max = MAX_PURPOSE_CHARS), pattern(LINE_PATTERN))]
    pub purpose: String,
    /// Defaults to now.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::rfc3339::deserialize_option"
    )]
    pub starts_at: Option<DateTime<Utc>>,
    /// Required: consent always ends.
    #[serde(deserialize_with = "crate::rfc3339::deserialize")]
    pub ends_at: DateTime<Utc>,
    /// The consent text the employee was shown and agreed to.
    #[schemars(length(max = MAX_CONSENT_TEXT_CHARS), pattern(TEXT_PATTERN))]
    pub consent_text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    Pending,
    Active,
    Expired,
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Grant {
    pub id: String,
    pub passport_id: String,
    pub grantor: String,
    pub grantee: String,
    /// For an organisation: the roles the grant covers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// For an organisation: the members the grant covers whatever their role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    pub scopes: Vec<Scope>,
    pub purpose: String,
    pub consent_text: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    pub status: GrantStatus,
    pub created_at: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Passports and records

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PassportInfo {
    pub id: String,
    pub owner: String,
    pub created_at: DateTime<Utc>,
    /// The passport's sync cursor: the sequence number of its latest version.
    pub seq: i64,
}

/// The signed content of a record version: what the author's JWS payload holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionPayload {
    pub passport: String,
    pub record: String,
    pub section: Section,
    /// 1 for the first version, then +1.
    pub version: i64,
    /// base64url SHA-256 of the previous version's JWS; absent for version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
    /// The author's party id.
    pub author: String,
    /// When the author signed it (seconds since the epoch).
    pub iat: i64,
    /// The section body; absent on a tombstone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// A tombstone: the record is deleted from this version on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// A stored record version: the author's JWS byte for byte, and where it sits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VersionEnvelope {
    /// The passport-wide sequence number (sync cursor).
    pub seq: i64,
    pub record_id: String,
    pub section: Section,
    pub version: i64,
    pub author: String,
    /// base64url SHA-256 of `jws`.
    pub hash: String,
    pub deleted: bool,
    pub jws: String,
    pub created_at: DateTime<Utc>,
}

/// `POST .../records` and `POST .../records/{rid}/versions`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitVersion {
    /// A compact JWS over a [`VersionPayload`], signed by the author.
    #[schemars(pattern(COMPACT_JWS_PATTERN))]
    pub jws: String,
}

/// `GET /v1/passports/{pid}`: the latest version of every live record the caller may see.
/// Sections the caller may not see are absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PassportView {
    pub id: String,
    pub owner: String,
    pub seq: i64,
    pub sections: BTreeMap<Section, Vec<VersionEnvelope>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordHistory {
    pub record_id: String,
    pub section: Section,
    pub versions: Vec<VersionEnvelope>,
}

// ---------------------------------------------------------------------------------------------
// Sync

/// Claims of a server-signed checkpoint: the passport's history up to `seq` hashes to `head`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckpointClaims {
    pub passport: String,
    pub seq: i64,
    pub head: String,
    pub iat: i64,
    /// In an export bundle's checkpoint only: the access log's last sequence number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_seq: Option<i64>,
    /// In an export bundle's checkpoint only: the `hash` of the log entry at `log_seq` (the
    /// log's genesis when it is 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_head: Option<String>,
}

/// `GET /v1/passports/{pid}/changes?since=N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Changes {
    pub passport_id: String,
    pub since: i64,
    /// The cursor to send as `since` next time.
    pub next_since: i64,
    /// More versions are waiting: ask again with `next_since` at once.
    pub more: bool,
    /// Versions after `since` in sections the caller may read, in sequence order.
    pub versions: Vec<VersionEnvelope>,
    /// A compact JWS over [`CheckpointClaims`] signed by the server. The answer is the history
    /// at the checkpoint's `seq`: no version returned is after it, and on the last page
    /// (`more: false`) `next_since` equals it.
    pub checkpoint: String,
}

// ---------------------------------------------------------------------------------------------
// Access log

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogAction {
    TokenIssued,
    PassportCreated,
    PassportRead,
    HistoryRead,
    ChangesRead,
    VersionWritten,
    GrantCreated,
    GrantsListed,
    GrantRevoked,
    AccessLogRead,
    Exported,
    /// Erasing the passport (only its refusals remain: erasure deletes the log).
    PassportErased,
    /// The passport arrived here in a bundle from another server; the entries before this one
    /// were written there.
    PassportImported,
    /// The owner set or removed the email address notifications go to.
    NotificationEmailChanged,
    /// The owner made a new calendar feed address, or stopped the feed.
    CalendarFeedChanged,
}

impl LogAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenIssued => "token_issued",
            Self::PassportCreated => "passport_created",
            Self::PassportRead => "passport_read",
            Self::HistoryRead => "history_read",
            Self::ChangesRead => "changes_read",
            Self::VersionWritten => "version_written",
            Self::GrantCreated => "grant_created",
            Self::GrantsListed => "grants_listed",
            Self::GrantRevoked => "grant_revoked",
            Self::AccessLogRead => "access_log_read",
            Self::Exported => "exported",
            Self::PassportErased => "passport_erased",
            Self::PassportImported => "passport_imported",
            Self::NotificationEmailChanged => "notification_email_changed",
            Self::CalendarFeedChanged => "calendar_feed_changed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(Value::String(text.to_owned())).ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allowed,
    Denied,
}

/// One entry of a passport's append-only, hash-chained access log. Never holds health data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccessLogEntry {
    pub passport_id: String,
    /// 1, 2, 3... per passport.
    pub seq: i64,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// For a member: the organisation they acted for and their role (part of the hash when
    /// present; see `chain::log_entry_hash`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<OnBehalfOf>,
    pub action: LogAction,
    /// Sections involved (names only, never contents).
    pub sections: Vec<Section>,
    pub outcome: Outcome,
    /// Why it was allowed or denied.
    pub reason: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccessLogPage {
    /// Newest first.
    pub entries: Vec<AccessLogEntry>,
    /// Pass as `before` to get the next (older) page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    pub status: String,
}

/// What a notification is about (docs/PROTOCOL.md section 16). Security alerts
/// ([`NotificationKind::is_security`]) always go by email to a verified address.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// Employee: an organisation asked to see parts of the passport.
    AccessRequested,
    /// Employee: a consent they gave ends in 14 or 3 days.
    GrantEnding,
    /// Employee: a consent they gave has ended.
    GrantEnded,
    /// Employee: an adjustment's review is due in 30 or 7 days.
    ReviewDue,
    /// Employee: an adjustment's review date has passed.
    ReviewOverdue,
    /// Employee: someone else (a professional, under their consent) wrote a version.
    VersionWritten,
    /// Employee: an employer agreed an adjustment.
    AdjustmentAgreed,
    /// Security: a device or key was added to the account (a recovery key's use adds one).
    KeyAdded,
    /// Security: a device or key was removed.
    KeyRevoked,
    /// Security: the passport was exported.
    PassportExported,
    /// Security: the passport was imported here.
    PassportImported,
    /// Security: the passport was erased.
    PassportErased,
    /// Member: an access request they sent was approved (with the sections and end date).
    RequestApproved,
    /// Member: an access request they sent was declined.
    RequestDeclined,
    /// Member: a consent they use ends in 14 or 3 days.
    ConsentEnding,
    /// Member: a consent they used has ended.
    ConsentEnded,
    /// Member: a review of an adjustment their organisation agreed is due (while the consent lasts).
    AgreedReviewDue,
    /// Organisation admin: a member joined.
    MemberJoined,
    /// Organisation admin: a member left or was removed.
    MemberLeft,
    /// Service admin: notification emails are failing and parked.
    DeliveriesFailing,
    /// The email that verifies an address (never listed).
    EmailVerification,
    /// An invitation to join an organisation, emailed to the person invited (never listed).
    Invitation,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 22] = [
        Self::AccessRequested,
        Self::GrantEnding,
        Self::GrantEnded,
        Self::ReviewDue,
        Self::ReviewOverdue,
        Self::VersionWritten,
        Self::AdjustmentAgreed,
        Self::KeyAdded,
        Self::KeyRevoked,
        Self::PassportExported,
        Self::PassportImported,
        Self::PassportErased,
        Self::RequestApproved,
        Self::RequestDeclined,
        Self::ConsentEnding,
        Self::ConsentEnded,
        Self::AgreedReviewDue,
        Self::MemberJoined,
        Self::MemberLeft,
        Self::DeliveriesFailing,
        Self::EmailVerification,
        Self::Invitation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessRequested => "access_requested",
            Self::GrantEnding => "grant_ending",
            Self::GrantEnded => "grant_ended",
            Self::ReviewDue => "review_due",
            Self::ReviewOverdue => "review_overdue",
            Self::VersionWritten => "version_written",
            Self::AdjustmentAgreed => "adjustment_agreed",
            Self::KeyAdded => "key_added",
            Self::KeyRevoked => "key_revoked",
            Self::PassportExported => "passport_exported",
            Self::PassportImported => "passport_imported",
            Self::PassportErased => "passport_erased",
            Self::RequestApproved => "request_approved",
            Self::RequestDeclined => "request_declined",
            Self::ConsentEnding => "consent_ending",
            Self::ConsentEnded => "consent_ended",
            Self::AgreedReviewDue => "agreed_review_due",
            Self::MemberJoined => "member_joined",
            Self::MemberLeft => "member_left",
            Self::DeliveriesFailing => "deliveries_failing",
            Self::EmailVerification => "email_verification",
            Self::Invitation => "invitation",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Security alerts and the service's own: sent to a verified address whatever the
    /// person's choices, and without an unsubscribe link.
    pub fn is_security(self) -> bool {
        matches!(
            self,
            Self::KeyAdded
                | Self::KeyRevoked
                | Self::PassportExported
                | Self::PassportImported
                | Self::PassportErased
                | Self::EmailVerification
                | Self::Invitation
        )
    }

    /// The kinds a party of `kind` can receive (for its settings page); `member` for a member
    /// of an organisation, `org_admin` for its admins.
    pub fn for_party(kind: PartyKind, member: bool, org_admin: bool) -> Vec<NotificationKind> {
        use NotificationKind as K;
        let mut kinds = vec![K::KeyAdded, K::KeyRevoked];
        match kind {
            PartyKind::Employee => kinds.extend([
                K::AccessRequested,
                K::GrantEnding,
                K::GrantEnded,
                K::ReviewDue,
                K::ReviewOverdue,
                K::VersionWritten,
                K::AdjustmentAgreed,
                K::PassportExported,
                K::PassportImported,
                K::PassportErased,
            ]),
            PartyKind::Admin => kinds.push(K::DeliveriesFailing),
            _ => {
                kinds.extend([K::ConsentEnding, K::ConsentEnded]);
                if member {
                    kinds.extend([K::RequestApproved, K::RequestDeclined, K::AgreedReviewDue]);
                }
                if org_admin {
                    kinds.extend([K::MemberJoined, K::MemberLeft]);
                }
            }
        }
        kinds.sort();
        kinds
    }
}

/// One notification, in words without health data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Notification {
    pub id: String,
    pub kind: NotificationKind,
    /// A security alert (cannot be turned off by email).
    pub security: bool,
    /// A short title (an email's subject).
    pub title: String,
    /// What happened, in a sentence.
    pub text: String,
    /// Where in the pages to act: an address of the pages (`#/grants`), relative to the server.
    pub link: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
}

/// `GET /v1/notifications`: the caller's notifications, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotificationPage {
    pub notifications: Vec<Notification>,
    /// How many of the caller's notifications are unread (all of them, not only this page's).
    pub unread: i64,
    /// Pass as `before` for the next (older) page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<String>,
}

/// The caller's email address for notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotificationEmail {
    pub address: String,
    /// False until the link sent to the address is opened; nothing else is sent before.
    pub verified: bool,
}

/// One kind of notification and whether it comes by email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EmailChoice {
    pub kind: NotificationKind,
    /// The kind in words, for a settings page.
    pub title: String,
    /// Security alerts always come by email (`email` is true and cannot be set false).
    pub security: bool,
    pub email: bool,
}

/// `GET /v1/notifications/settings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotificationSettings {
    /// Whether this server sends email at all (its operator configured a mail server).
    pub email_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<NotificationEmail>,
    /// The kinds this caller can receive.
    pub choices: Vec<EmailChoice>,
    /// Whether the caller has a calendar feed (its URL is shown only when made).
    pub calendar: bool,
}

/// `PUT /v1/notifications/email`: the address to send to; a verification link goes there.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetNotificationEmail {
    /// An email address (at most 254 characters, one `@`, no spaces).
    pub address: String,
}

/// `PUT /v1/notifications/settings`: which kinds come by email (kinds not named keep their
/// choice; a security alert cannot be set false).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetEmailChoices {
    pub email: std::collections::BTreeMap<NotificationKind, bool>,
}

/// `POST /v1/email/verify`: the code from the verification link (no sign-in needed).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmail {
    pub code: String,
}

/// `POST /v1/notifications/calendar`: the new secret address of the caller's calendar feed
/// (any earlier one stops working). Shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CalendarFeed {
    pub url: String,
}
