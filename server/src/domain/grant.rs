//! Consent grants: what an employee lets one grantee do with their passport, and until when.

use std::collections::BTreeSet;

use wp_schemas::api::{Action, CreateGrant, Grant, GrantStatus, PartyKind, Role, Scope};
use wp_schemas::sections::Section;

use super::ids::{GrantId, PartyId, PassportId};
use super::party::CLOCK_SKEW_SECS;
use super::time::Timestamp;

/// Why a grant request is refused: each names the field of the request it refuses
/// ([`GrantRefusal::field`]; `http/error.rs` makes it a 422 naming that field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantRefusal {
    #[error("must be a party id (a lower-case UUID)")]
    GranteeNotAnId,
    #[error("must be an employer, a practice or a professional")]
    NotAGrantee,
    #[error("must not be in the past")]
    StartsInThePast,
    #[error("must be in the future and after starts_at")]
    EndsTooSoon,
    #[error("a grant lasts at most two years")]
    TooLong,
    /// Text a person wrote (`purpose`, `consent_text`) breaks the text rule.
    #[error("{reason}")]
    Text { field: &'static str, reason: String },
    #[error("at least one section must be granted")]
    NoScopes,
    /// The scope at this index names a section an earlier one named.
    #[error("each section may appear once")]
    SectionTwice(usize),
    /// The scope at this index names no action.
    #[error("at least one action")]
    NoAction(usize),
    /// The scope at this index names an action its grantee may not be given.
    #[error(
        "{} is not allowed here: only professionals and practices write, and only employers agree adjustments",
        .1.as_str()
    )]
    ActionNotAllowed(usize, Action),
    #[error("only a grant to an organisation names roles or members")]
    NotAnOrganisation,
    #[error("{} is not a role at {}", .0.as_str(), .1.as_str())]
    RoleDoesNotFit(Role, PartyKind),
    /// The member at this index is not named by a party id.
    #[error("must be a party id (a lower-case UUID)")]
    MemberNotAnId(usize),
}

impl GrantRefusal {
    /// The field of the request it refuses, as the problem names it.
    pub fn field(&self) -> String {
        use GrantRefusal as R;
        match self {
            R::GranteeNotAnId | R::NotAGrantee => "grantee".into(),
            R::StartsInThePast => "starts_at".into(),
            R::EndsTooSoon | R::TooLong => "ends_at".into(),
            R::Text { field, .. } => (*field).into(),
            R::NoScopes => "scopes".into(),
            R::SectionTwice(i) => format!("scopes[{i}].section"),
            R::NoAction(i) | R::ActionNotAllowed(i, _) => format!("scopes[{i}].actions"),
            R::NotAnOrganisation | R::RoleDoesNotFit(..) => "roles".into(),
            R::MemberNotAnId(i) => format!("members[{i}]"),
        }
    }
}

type Result<T, E = GrantRefusal> = std::result::Result<T, E>;

/// Consent always ends, and not later than this after it starts.
pub const MAX_GRANT_SECS: i64 = 2 * 366 * 24 * 3600;

/// A grant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: GrantId,
    pub passport_id: PassportId,
    pub grantor: PartyId,
    pub grantee: PartyId,
    /// For an organisation: the roles of its members the grant covers.
    pub roles: Vec<Role>,
    /// For an organisation: members the grant covers whatever their role.
    pub members: Vec<PartyId>,
    pub scopes: Vec<Scope>,
    pub purpose: String,
    pub consent_text: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl GrantRecord {
    /// Derived from the times, never stored, so it cannot go stale.
    pub fn status(&self, now: Timestamp) -> GrantStatus {
        if self.revoked_at.is_some() {
            GrantStatus::Revoked
        } else if now < self.starts_at {
            GrantStatus::Pending
        } else if now >= self.ends_at {
            GrantStatus::Expired
        } else {
            GrantStatus::Active
        }
    }

    /// Whether the grant, to an organisation, covers `member` acting as `role` there.
    pub fn covers(&self, member: &PartyId, role: Role) -> bool {
        self.roles.contains(&role) || self.members.contains(member)
    }

    pub fn allows(&self, section: Section, action: Action) -> bool {
        self.scopes
            .iter()
            .any(|s| s.section == section && s.actions.contains(&action))
    }

    pub fn to_wire(&self, now: Timestamp) -> Grant {
        Grant {
            id: self.id.to_string(),
            passport_id: self.passport_id.to_string(),
            grantor: self.grantor.to_string(),
            grantee: self.grantee.to_string(),
            roles: self.roles.clone(),
            members: self.members.iter().map(PartyId::to_string).collect(),
            scopes: self.scopes.clone(),
            purpose: self.purpose.clone(),
            consent_text: self.consent_text.clone(),
            starts_at: self.starts_at.to_datetime(),
            ends_at: self.ends_at.to_datetime(),
            revoked_at: self.revoked_at.map(Timestamp::to_datetime),
            status: self.status(now),
            created_at: self.created_at.to_datetime(),
        }
    }
}

/// Text a person wrote: 1 to `max` characters, without control characters (line breaks
/// allowed where `lines`).
fn text(field: &'static str, value: &str, max: usize, lines: bool) -> Result<String> {
    if let Some(reason) = wp_schemas::text::refusal(value, max, lines) {
        return Err(GrantRefusal::Text { field, reason });
    }
    Ok(value.trim().to_owned())
}

/// The grantee named in a grant request, before it is looked up: a party id in canonical form.
pub fn grantee_id(grantee: &str) -> Result<PartyId> {
    PartyId::parse(grantee).ok_or(GrantRefusal::GranteeNotAnId)
}

/// Validates a grant request against the grantee's kind. Who may do what: employers (and their
/// members) read and agree adjustments; professionals and practices (and their clinicians) read
/// and write; nobody else is a grantee. Only a grant to an organisation names roles or members;
/// that the members are members is the caller's to check against the store.
pub fn new_grant(
    request: &CreateGrant,
    passport_id: &PassportId,
    grantor: &PartyId,
    (grantee, grantee_kind): (&PartyId, PartyKind),
    now: Timestamp,
) -> Result<GrantRecord> {
    if !matches!(
        grantee_kind,
        PartyKind::Employer | PartyKind::Professional | PartyKind::Practice
    ) {
        return Err(GrantRefusal::NotAGrantee);
    }
    let (roles, members) = covered(request, grantee_kind)?;
    let scopes = check_scopes(&request.scopes, grantee_kind)?;
    let starts_at = request.starts_at.as_ref().map_or(now, Timestamp::of);
    let ends_at = Timestamp::of(&request.ends_at);
    if starts_at < now - CLOCK_SKEW_SECS {
        return Err(GrantRefusal::StartsInThePast);
    }
    if ends_at <= starts_at || ends_at <= now {
        return Err(GrantRefusal::EndsTooSoon);
    }
    if ends_at - starts_at > MAX_GRANT_SECS {
        return Err(GrantRefusal::TooLong);
    }
    Ok(GrantRecord {
        id: GrantId::random(),
        passport_id: passport_id.clone(),
        grantor: grantor.clone(),
        grantee: grantee.clone(),
        roles,
        members,
        scopes,
        purpose: text(
            "purpose",
            &request.purpose,
            wp_schemas::api::MAX_PURPOSE_CHARS,
            false,
        )?,
        consent_text: text(
            "consent_text",
            &request.consent_text,
            wp_schemas::api::MAX_CONSENT_TEXT_CHARS,
            true,
        )?,
        starts_at,
        ends_at,
        revoked_at: None,
        created_at: now,
    })
}

/// The scopes a grantee of `kind` may be given: at least one section, each once, each with at
/// least one action; professionals and practices write, employers agree adjustments.
pub fn check_scopes(requested: &[Scope], grantee_kind: PartyKind) -> Result<Vec<Scope>> {
    if requested.is_empty() {
        return Err(GrantRefusal::NoScopes);
    }
    let mut seen = BTreeSet::new();
    let mut scopes = Vec::with_capacity(requested.len());
    for (i, scope) in requested.iter().enumerate() {
        if !seen.insert(scope.section) {
            return Err(GrantRefusal::SectionTwice(i));
        }
        let actions: BTreeSet<Action> = scope.actions.iter().copied().collect();
        if actions.is_empty() {
            return Err(GrantRefusal::NoAction(i));
        }
        for action in &actions {
            let allowed = match action {
                Action::Read => true,
                Action::Write => {
                    matches!(grantee_kind, PartyKind::Professional | PartyKind::Practice)
                }
                Action::Agree => {
                    grantee_kind == PartyKind::Employer && scope.section == Section::Adjustments
                }
            };
            if !allowed {
                return Err(GrantRefusal::ActionNotAllowed(i, *action));
            }
        }
        scopes.push(Scope {
            section: scope.section,
            actions: actions.into_iter().collect(),
        });
    }
    Ok(scopes)
}

/// The roles and members a grant to an organisation covers: roles that fit its kind, members
/// named by canonical party ids, each once. A grant to anyone else names neither.
fn covered(request: &CreateGrant, kind: PartyKind) -> Result<(Vec<Role>, Vec<PartyId>)> {
    if !kind.is_organisation() {
        if !request.roles.is_empty() || !request.members.is_empty() {
            return Err(GrantRefusal::NotAnOrganisation);
        }
        return Ok((Vec::new(), Vec::new()));
    }
    let roles: BTreeSet<Role> = request.roles.iter().copied().collect();
    if let Some(role) = roles.iter().find(|r| !r.fits(kind)) {
        return Err(GrantRefusal::RoleDoesNotFit(*role, kind));
    }
    let mut members = BTreeSet::new();
    for (i, member) in request.members.iter().enumerate() {
        let id = PartyId::parse(member).ok_or(GrantRefusal::MemberNotAnId(i))?;
        members.insert(id);
    }
    Ok((roles.into_iter().collect(), members.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn pid() -> PassportId {
        PassportId::nth(1)
    }

    fn owner() -> PartyId {
        PartyId::nth(1)
    }

    fn grantee() -> PartyId {
        PartyId::nth(2)
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn request(scopes: Vec<Scope>, ends_in: i64) -> CreateGrant {
        CreateGrant {
            grantee: grantee().to_string(),
            roles: vec![],
            members: vec![],
            scopes,
            purpose: "adjustments at Acme".into(),
            starts_at: None,
            ends_at: chrono::Utc.timestamp_opt(1_000_000 + ends_in, 0).unwrap(),
            consent_text: "I agree".into(),
        }
    }

    fn scope(section: Section, actions: &[Action]) -> Scope {
        Scope {
            section,
            actions: actions.to_vec(),
        }
    }

    #[test]
    fn status_follows_time() {
        let g = new_grant(
            &request(vec![scope(Section::Summary, &[Action::Read])], 100),
            &pid(),
            &owner(),
            (&grantee(), PartyKind::Employer),
            at(1_000_000),
        )
        .unwrap();
        assert_eq!(g.status(at(999_999)), GrantStatus::Pending);
        assert_eq!(g.status(at(1_000_000)), GrantStatus::Active);
        assert_eq!(g.status(at(1_000_100)), GrantStatus::Expired);
        let revoked = GrantRecord {
            revoked_at: Some(at(1_000_050)),
            ..g
        };
        assert_eq!(revoked.status(at(1_000_010)), GrantStatus::Revoked);
    }

    /// The field a refused grant request is refused on.
    fn refused(request: &CreateGrant, kind: PartyKind) -> String {
        new_grant(request, &pid(), &owner(), (&grantee(), kind), at(1_000_000))
            .unwrap_err()
            .field()
    }

    #[test]
    fn who_may_do_what() {
        let now = at(1_000_000);
        let employer_write = request(vec![scope(Section::Adjustments, &[Action::Write])], 100);
        assert_eq!(
            refused(&employer_write, PartyKind::Employer),
            "scopes[0].actions"
        );
        let ot = (&grantee(), PartyKind::Professional);
        assert!(new_grant(&employer_write, &pid(), &owner(), ot, now).is_ok());
        let agree_summary = request(vec![scope(Section::Summary, &[Action::Agree])], 100);
        assert_eq!(
            refused(&agree_summary, PartyKind::Employer),
            "scopes[0].actions"
        );
        let read = request(vec![scope(Section::Summary, &[Action::Read])], 100);
        assert_eq!(refused(&read, PartyKind::Employee), "grantee");
        let too_long = request(
            vec![scope(Section::Summary, &[Action::Read])],
            MAX_GRANT_SECS + 1,
        );
        assert_eq!(refused(&too_long, PartyKind::Employer), "ends_at");
        let ended = request(vec![scope(Section::Summary, &[Action::Read])], -1);
        assert_eq!(refused(&ended, PartyKind::Employer), "ends_at");
        let twice = request(
            vec![
                scope(Section::Summary, &[Action::Read]),
                scope(Section::Summary, &[Action::Read]),
            ],
            100,
        );
        assert_eq!(refused(&twice, PartyKind::Employer), "scopes[1].section");
        let nothing = request(vec![scope(Section::Summary, &[])], 100);
        assert_eq!(refused(&nothing, PartyKind::Employer), "scopes[0].actions");
        assert_eq!(
            refused(&request(vec![], 100), PartyKind::Employer),
            "scopes"
        );
    }

    #[test]
    fn text_fields_refuse_control_characters() {
        let now = at(1_000_000);
        let mut req = request(vec![scope(Section::Summary, &[Action::Read])], 3600);
        req.consent_text = "I agree.\r\nAlice".into();
        assert!(
            new_grant(
                &req,
                &pid(),
                &owner(),
                (&grantee(), PartyKind::Employer),
                now
            )
            .is_ok()
        );
        for (purpose, consent) in [("a\u{0}b", "ok"), ("a\nb", "ok"), ("ok", "nul\u{0}")] {
            req.purpose = purpose.into();
            req.consent_text = consent.into();
            let expected = if purpose == "ok" {
                "consent_text"
            } else {
                "purpose"
            };
            assert_eq!(refused(&req, PartyKind::Employer), expected);
        }
        assert_eq!(grantee_id(grantee().as_str()).unwrap(), grantee());
        assert_eq!(grantee_id("nul\u{0}").unwrap_err().field(), "grantee");
    }
}
