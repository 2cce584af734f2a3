//! Consent as an owner gives it: which sections, to whom (for an organisation, which of its
//! people), for how long, in what words. Builds the [`CreateGrant`] an owner's tool sends, and
//! tells its terms, and who acted under them, back in plain words.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use wp_schemas::api::{
    AccessLogEntry, AccessRequest, Action, CreateGrant, Party, Role, Scope, agreed_by,
};
use wp_schemas::sections::Section;

use crate::error::{ClientError, Result};

/// One scope per named section. Writing or agreeing a section includes reading it, because a
/// new version is written on top of the latest one. Empty when no section is named.
pub fn scopes(read: &[Section], write: &[Section], agree: &[Section]) -> Vec<Scope> {
    let mut actions: BTreeMap<Section, BTreeSet<Action>> = BTreeMap::new();
    for (sections, action) in [
        (read, Action::Read),
        (write, Action::Write),
        (agree, Action::Agree),
    ] {
        for section in sections {
            let set = actions.entry(*section).or_default();
            set.insert(Action::Read);
            set.insert(action);
        }
    }
    actions
        .into_iter()
        .map(|(section, actions)| Scope {
            section,
            actions: actions.into_iter().collect(),
        })
        .collect()
}

/// The end of a consent lasting `days` (at least 1) from now. The error says what is wrong
/// with the number, for the caller to put after its own name for it.
pub fn ends_in_days(days: i64) -> Result<DateTime<Utc>> {
    if days < 1 {
        return Err(ClientError::Other("must be at least 1".into()));
    }
    TimeDelta::try_days(days)
        .and_then(|span| Utc::now().checked_add_signed(span))
        .ok_or_else(|| ClientError::Other("is too far ahead".into()))
}

/// The end of a consent given as a date (YYYY-MM-DD, the end of that day UTC) or an RFC 3339
/// time. The error says what was expected, for the caller to put after the text it parsed.
pub fn parse_until(text: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ClientError::Other("expected YYYY-MM-DD or an RFC 3339 time".into()))?;
    Ok(date
        .and_hms_opt(23, 59, 59)
        .expect("a valid time")
        .and_utc())
}

/// "read summary, adjustments; agree adjustments".
pub fn describe_scopes(scopes: &[Scope]) -> String {
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

/// Items in plain words: "a", "a and b", "a, b, and c".
pub fn list_words(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
    }
}

/// A role as a group of people: "HR", "line managers", "clinicians".
pub fn role_plural(role: Role) -> &'static str {
    match role {
        Role::OrgAdmin => "organisation admins",
        Role::Hr => "HR",
        Role::LineManager => "line managers",
        Role::Clinician => "clinicians",
    }
}

/// Who at an organisation a grant covers: "HR, line managers, and Sam Patel". `member_names`
/// are the covered members' names (or ids, where a name is not known).
pub fn describe_covered(roles: &[Role], member_names: &[String]) -> String {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    let words: Vec<String> = roles
        .into_iter()
        .map(|r| role_plural(r).to_owned())
        .chain(member_names.iter().cloned())
        .collect();
    list_words(&words)
}

/// The grantee of a grant in plain words: "Acme Ltd (HR, line managers, and Sam Patel)" for an
/// organisation, "Dana Okafor (professional)" for anyone else.
pub fn describe_grantee(grantee: &Party, roles: &[Role], member_names: &[String]) -> String {
    let covered = describe_covered(roles, member_names);
    if grantee.kind.is_organisation() && !covered.is_empty() {
        format!("{} ({covered})", grantee.display_name)
    } else {
        format!("{} ({})", grantee.display_name, grantee.kind.as_str())
    }
}

/// A party in plain words: "Sam Patel (line manager, Acme Ltd)" for a member, "Dana Okafor
/// (professional, HCPC OT12345)" for a registered professional, "Acme Ltd (employer)" else.
/// A member who was removed or left is marked so.
pub fn describe_party(p: &Party) -> String {
    let mut about = match &p.membership {
        Some(m) => format!("{}, {}", m.role.title(), m.organisation_name),
        None => p.kind.as_str().to_owned(),
    };
    if let Some(r) = &p.registration {
        about += &format!(", {} {}", r.registration_body, r.registration_number);
    }
    if p.membership
        .as_ref()
        .is_some_and(|m| m.removed_at.is_some())
    {
        about += ", no longer a member";
    }
    format!("{} ({about})", p.display_name)
}

/// The name a member's agreement must carry in `agreed_by`: "Priya Shah (HR, Acme Ltd)" (the
/// server refuses a member's agreement naming anyone else). None for anyone not a member.
pub fn agreement_name(p: &Party) -> Option<String> {
    let m = p.membership.as_ref()?;
    Some(agreed_by(&p.display_name, m.role, &m.organisation_name))
}

/// Who made an access-log entry, in plain words, from the parties looked up (by id). A member
/// is named with the role and organisation the entry records ("Sam Patel (line manager, Acme
/// Ltd)"), which stay true however their membership changes later; anyone else as
/// [`describe_party`] names them. A party not looked up shows as its id. None without an actor.
pub fn describe_actor(entry: &AccessLogEntry, parties: &HashMap<String, Party>) -> Option<String> {
    let actor = entry.actor.as_deref()?;
    let party = parties.get(actor);
    let Some(on_behalf_of) = &entry.on_behalf_of else {
        return Some(party.map_or_else(|| actor.to_owned(), describe_party));
    };
    let name = party.map_or(actor, |p| p.display_name.as_str());
    let organisation = parties
        .get(&on_behalf_of.organisation)
        .map(|o| o.display_name.as_str())
        .or_else(|| {
            party
                .and_then(|p| p.membership.as_ref())
                .filter(|m| m.organisation == on_behalf_of.organisation)
                .map(|m| m.organisation_name.as_str())
        })
        .unwrap_or(&on_behalf_of.organisation);
    Some(format!(
        "{name} ({}, {organisation})",
        on_behalf_of.role.title()
    ))
}

/// What an owner chose to share, with whom, for how long.
pub struct GrantTerms {
    /// The grantee's party id, as the owner gave it.
    pub grantee: String,
    /// For an organisation: the roles of its members covered.
    pub roles: Vec<Role>,
    /// For an organisation: members (party ids) covered whatever their role.
    pub members: Vec<String>,
    pub scopes: Vec<Scope>,
    pub purpose: String,
    pub ends_at: DateTime<Utc>,
    /// The owner's own words; `None` for a sentence naming who, what, why and until when.
    pub consent_text: Option<String>,
}

impl GrantTerms {
    /// The grant to send, starting now. `grantee` (as looked up), `members` (the covered
    /// members, as looked up) and `owner` (the owner's name) are for the consent text.
    pub fn into_grant(
        mut self,
        grantee: &Party,
        members: &[Party],
        owner: Option<&str>,
    ) -> CreateGrant {
        let consent_text = match self.consent_text.take() {
            Some(text) => text,
            None => self.default_consent_text(grantee, members, owner),
        };
        CreateGrant {
            grantee: self.grantee,
            roles: self.roles,
            members: self.members,
            scopes: self.scopes,
            purpose: self.purpose,
            starts_at: None,
            ends_at: self.ends_at,
            consent_text,
        }
    }

    /// The names of the covered members, in the order given; an id not looked up stays an id.
    fn member_names(&self, members: &[Party]) -> Vec<String> {
        self.members
            .iter()
            .map(|id| {
                members
                    .iter()
                    .find(|p| &p.id == id)
                    .map_or_else(|| id.clone(), |p| p.display_name.clone())
            })
            .collect()
    }

    fn default_consent_text(
        &self,
        grantee: &Party,
        members: &[Party],
        owner: Option<&str>,
    ) -> String {
        consent_sentence(
            owner,
            &describe_grantee(grantee, &self.roles, &self.member_names(members)),
            &self.purpose,
            &self.scopes,
            self.ends_at,
        )
    }
}

/// Who asks in an access request: "Acme Ltd (HR and line managers)".
pub fn describe_requester(request: &AccessRequest) -> String {
    let covered = describe_covered(&request.roles, &[]);
    if covered.is_empty() {
        request.organisation_name.clone()
    } else {
        format!("{} ({covered})", request.organisation_name)
    }
}

/// The consent an employee gives by approving `request`, with `scopes` (what they chose to
/// give: all or part of what was asked) until `ends_at`: a sentence naming who, what, why and
/// until when, as [`GrantTerms`] writes for a grant made unasked.
pub fn approval_text(
    request: &AccessRequest,
    scopes: &[Scope],
    ends_at: DateTime<Utc>,
    owner: Option<&str>,
) -> String {
    consent_sentence(
        owner,
        &describe_requester(request),
        &request.purpose,
        scopes,
        ends_at,
    )
}

fn consent_sentence(
    owner: Option<&str>,
    who: &str,
    purpose: &str,
    scopes: &[Scope],
    ends_at: DateTime<Utc>,
) -> String {
    // "for: my new job." would end in two full stops.
    let purpose = purpose.trim_end_matches(['.', '!', '?', ' ']);
    format!(
        "I, {}, agree to share my Work Passport with {who} for: {purpose}. They may {}. \
         This consent ends on {} unless I revoke it sooner.",
        owner.unwrap_or("the passport owner"),
        describe_scopes(scopes),
        ends_at.format("%Y-%m-%d")
    )
}

#[cfg(test)]
mod tests {
    use wp_schemas::api::PartyKind;

    use super::*;

    fn scope(section: Section, actions: &[Action]) -> Scope {
        Scope {
            section,
            actions: actions.to_vec(),
        }
    }

    #[test]
    fn writing_or_agreeing_includes_reading() {
        let scopes = scopes(
            &[Section::Summary],
            &[Section::FitNotes],
            &[Section::Adjustments],
        );
        assert_eq!(
            scopes,
            [
                scope(Section::Summary, &[Action::Read]),
                scope(Section::Adjustments, &[Action::Read, Action::Agree]),
                scope(Section::FitNotes, &[Action::Read, Action::Write]),
            ]
        );
        assert!(super::scopes(&[], &[], &[]).is_empty());
    }

    #[test]
    fn days_are_at_least_one_and_representable() {
        let before = Utc::now();
        let ends = ends_in_days(30).unwrap();
        assert_eq!((ends - before).num_days(), 30);
        assert_eq!(
            ends_in_days(0).unwrap_err().to_string(),
            "must be at least 1"
        );
        assert_eq!(
            ends_in_days(i64::MAX).unwrap_err().to_string(),
            "is too far ahead"
        );
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
        assert_eq!(
            parse_until("next week").unwrap_err().to_string(),
            "expected YYYY-MM-DD or an RFC 3339 time"
        );
        assert!(parse_until("2030-02-30").is_err());
    }

    #[test]
    fn scopes_read_as_a_sentence() {
        let scopes = [
            scope(Section::Summary, &[Action::Read]),
            scope(Section::Adjustments, &[Action::Read, Action::Agree]),
        ];
        assert_eq!(
            describe_scopes(&scopes),
            "read summary, adjustments; agree adjustments"
        );
        assert_eq!(describe_scopes(&[]), "");
    }

    fn dana() -> Party {
        serde_json::from_value(serde_json::json!({
            "id": "d4a7e0c2-0000-4000-8000-000000000001",
            "kind": "professional",
            "display_name": "Dana Okafor",
            "keys": [],
            "created_at": "2026-01-01T00:00:00Z",
        }))
        .unwrap()
    }

    fn terms(consent_text: Option<&str>) -> GrantTerms {
        GrantTerms {
            grantee: dana().id,
            roles: Vec::new(),
            members: Vec::new(),
            scopes: scopes(&[], &[Section::Adjustments], &[]),
            purpose: "Workplace assessment".into(),
            ends_at: parse_until("2030-01-31").unwrap(),
            consent_text: consent_text.map(str::to_owned),
        }
    }

    #[test]
    fn a_grant_without_own_words_names_who_what_why_and_until_when() {
        let grant = terms(None).into_grant(&dana(), &[], Some("Alex Smith"));
        assert_eq!(grant.grantee, dana().id);
        assert_eq!(grant.starts_at, None);
        assert_eq!(grant.ends_at.to_rfc3339(), "2030-01-31T23:59:59+00:00");
        assert_eq!(
            grant.consent_text,
            "I, Alex Smith, agree to share my Work Passport with Dana Okafor (professional) for: \
             Workplace assessment. They may read adjustments; write adjustments. This consent \
             ends on 2030-01-31 unless I revoke it sooner."
        );
        assert_eq!(dana().kind, PartyKind::Professional);
        let unnamed = terms(None).into_grant(&dana(), &[], None);
        assert!(
            unnamed
                .consent_text
                .starts_with("I, the passport owner, agree")
        );
        let own = terms(Some("My words.")).into_grant(&dana(), &[], Some("Alex Smith"));
        assert_eq!(own.consent_text, "My words."); // A purpose written as a sentence does not end in two full stops.
        let mut stopped = terms(None);
        stopped.purpose = "Workplace assessment.".into();
        let text = stopped.into_grant(&dana(), &[], None).consent_text;
        assert!(
            text.contains("for: Workplace assessment. They may"),
            "{text}"
        );
    }

    fn party(value: serde_json::Value) -> Party {
        let mut base = serde_json::json!({ "keys": [], "created_at": "2026-01-01T00:00:00Z" });
        for (k, v) in value.as_object().unwrap() {
            base[k] = v.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    const ACME: &str = "a0000000-0000-4000-8000-000000000001";
    const SAM: &str = "a0000000-0000-4000-8000-000000000002";
    const PRIYA: &str = "a0000000-0000-4000-8000-000000000003";

    fn acme() -> Party {
        party(serde_json::json!({ "id": ACME, "kind": "employer", "display_name": "Acme Ltd" }))
    }

    fn member(id: &str, name: &str, role: &str) -> Party {
        party(serde_json::json!({
            "id": id,
            "kind": "member",
            "display_name": name,
            "membership": {
                "organisation": ACME,
                "organisation_name": "Acme Ltd",
                "organisation_kind": "employer",
                "role": role,
                "joined_at": "2026-01-02T00:00:00Z",
            },
        }))
    }

    #[test]
    fn lists_read_as_words() {
        let words =
            |items: &[&str]| list_words(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(words(&[]), "");
        assert_eq!(words(&["HR"]), "HR");
        assert_eq!(words(&["HR", "line managers"]), "HR and line managers");
        assert_eq!(
            words(&["HR", "line managers", "Sam Patel"]),
            "HR, line managers, and Sam Patel"
        );
    }

    #[test]
    fn an_organisation_grant_names_who_it_covers() {
        let sam = vec!["Sam Patel".to_owned()];
        assert_eq!(
            describe_covered(&[Role::LineManager, Role::Hr, Role::Hr], &sam),
            "HR, line managers, and Sam Patel"
        );
        assert_eq!(
            describe_grantee(&acme(), &[Role::Hr, Role::LineManager], &sam),
            "Acme Ltd (HR, line managers, and Sam Patel)"
        );
        assert_eq!(describe_grantee(&acme(), &[], &[]), "Acme Ltd (employer)");
        assert_eq!(
            describe_grantee(&dana(), &[], &[]),
            "Dana Okafor (professional)"
        );

        let terms = GrantTerms {
            grantee: ACME.into(),
            roles: vec![Role::Hr],
            members: vec![SAM.into(), PRIYA.into()],
            scopes: scopes(&[Section::Summary], &[], &[Section::Adjustments]),
            purpose: "workplace adjustments".into(),
            ends_at: parse_until("2030-01-31").unwrap(),
            consent_text: None,
        };
        // Sam was looked up; Priya was not, and shows as her id.
        let grant = terms.into_grant(
            &acme(),
            &[member(SAM, "Sam Patel", "line_manager")],
            Some("Alex"),
        );
        assert_eq!(grant.roles, [Role::Hr]);
        assert_eq!(grant.members, [SAM, PRIYA]);
        assert_eq!(
            grant.consent_text,
            format!(
                "I, Alex, agree to share my Work Passport with Acme Ltd (HR, Sam Patel, and \
                 {PRIYA}) for: workplace adjustments. They may read summary, adjustments; agree \
                 adjustments. This consent ends on 2030-01-31 unless I revoke it sooner."
            )
        );
        let json = serde_json::to_value(&grant).unwrap();
        assert_eq!(json["roles"], serde_json::json!(["hr"]));
    }

    #[test]
    fn members_are_named_with_their_role_and_organisation() {
        assert_eq!(
            describe_party(&member(SAM, "Sam Patel", "line_manager")),
            "Sam Patel (line manager, Acme Ltd)"
        );
        let mut priya = member(PRIYA, "Priya Shah", "hr");
        assert_eq!(describe_party(&priya), "Priya Shah (HR, Acme Ltd)");
        priya.membership.as_mut().unwrap().removed_at = Some(Utc::now());
        assert_eq!(
            describe_party(&priya),
            "Priya Shah (HR, Acme Ltd, no longer a member)"
        );
        assert_eq!(describe_party(&acme()), "Acme Ltd (employer)");
        assert_eq!(
            agreement_name(&member(SAM, "Sam Patel", "line_manager")).as_deref(),
            Some("Sam Patel (line manager, Acme Ltd)")
        );
        assert_eq!(agreement_name(&acme()), None);
        let mut dana = dana();
        dana.registration = Some(wp_schemas::api::ProfessionalRegistration {
            profession: "occupational therapist".into(),
            registration_body: "HCPC".into(),
            registration_number: "OT12345".into(),
        });
        assert_eq!(
            describe_party(&dana),
            "Dana Okafor (professional, HCPC OT12345)"
        );
    }

    #[test]
    fn a_log_entry_names_its_actor_as_it_acted() {
        let entry = |actor: Option<&str>, on_behalf_of: Option<(&str, &str)>| -> AccessLogEntry {
            serde_json::from_value(serde_json::json!({
                "passport_id": "p", "seq": 1, "at": "2026-01-03T00:00:00Z",
                "actor": actor,
                "on_behalf_of": on_behalf_of.map(|(o, r)| serde_json::json!({ "organisation": o, "role": r })),
                "action": "passport_read", "sections": [], "outcome": "allowed",
                "reason": "", "prev_hash": "", "hash": "",
            }))
            .unwrap()
        };
        let sam = member(SAM, "Sam Patel", "line_manager");
        let parties: HashMap<String, Party> =
            [(SAM.to_owned(), sam.clone()), (ACME.to_owned(), acme())].into();
        assert_eq!(
            describe_actor(&entry(Some(SAM), Some((ACME, "line_manager"))), &parties).as_deref(),
            Some("Sam Patel (line manager, Acme Ltd)")
        );
        // The role the entry records wins over the member's role now.
        assert_eq!(
            describe_actor(&entry(Some(SAM), Some((ACME, "hr"))), &parties).as_deref(),
            Some("Sam Patel (HR, Acme Ltd)")
        );
        // Without the organisation looked up, the member's own membership names it.
        let only_sam: HashMap<String, Party> = [(SAM.to_owned(), sam)].into();
        assert_eq!(
            describe_actor(&entry(Some(SAM), Some((ACME, "line_manager"))), &only_sam).as_deref(),
            Some("Sam Patel (line manager, Acme Ltd)")
        );
        assert_eq!(
            describe_actor(&entry(Some(PRIYA), Some((ACME, "hr"))), &HashMap::new()).as_deref(),
            Some(format!("{PRIYA} (HR, {ACME})").as_str())
        );
        assert_eq!(
            describe_actor(&entry(Some(ACME), None), &parties).as_deref(),
            Some("Acme Ltd (employer)")
        );
        assert_eq!(describe_actor(&entry(None, None), &parties), None);
    }
}
