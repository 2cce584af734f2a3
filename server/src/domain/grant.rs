//! Consent grants: what an employee lets one grantee do with their passport, and until when.

use std::collections::BTreeSet;

use wp_schemas::api::{Action, CreateGrant, Grant, GrantStatus, PartyKind, Scope};
use wp_schemas::sections::Section;

use super::party::CLOCK_SKEW_SECS;
use crate::clock::to_datetime;
use crate::error::{Error, Result};

/// Consent always ends, and not later than this after it starts.
pub const MAX_GRANT_SECS: i64 = 2 * 366 * 24 * 3600;

/// A grant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: String,
    pub passport_id: String,
    pub grantor: String,
    pub grantee: String,
    pub scopes: Vec<Scope>,
    pub purpose: String,
    pub consent_text: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

impl GrantRecord {
    /// Derived from the times, never stored, so it cannot go stale.
    pub fn status(&self, now: i64) -> GrantStatus {
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

    pub fn allows(&self, section: Section, action: Action) -> bool {
        self.scopes
            .iter()
            .any(|s| s.section == section && s.actions.contains(&action))
    }

    pub fn to_wire(&self, now: i64) -> Grant {
        Grant {
            id: self.id.clone(),
            passport_id: self.passport_id.clone(),
            grantor: self.grantor.clone(),
            grantee: self.grantee.clone(),
            scopes: self.scopes.clone(),
            purpose: self.purpose.clone(),
            consent_text: self.consent_text.clone(),
            starts_at: to_datetime(self.starts_at),
            ends_at: to_datetime(self.ends_at),
            revoked_at: self.revoked_at.map(to_datetime),
            status: self.status(now),
            created_at: to_datetime(self.created_at),
        }
    }
}

/// Text a person wrote: 1 to `max` characters, without control characters (line breaks
/// allowed where `lines`).
fn text(field: &str, value: &str, max: usize, lines: bool) -> Result<String> {
    if let Some(why) = wp_schemas::text::refusal(value, max, lines) {
        return Err(Error::invalid_field(field, why));
    }
    Ok(value.trim().to_owned())
}

/// The grantee named in a grant request, before it is looked up: a party id in canonical form.
pub fn grantee_id(grantee: &str) -> Result<&str> {
    if !super::ids::is_uuid(grantee) {
        return Err(Error::invalid_field(
            "grantee",
            "must be a party id (a lower-case UUID)",
        ));
    }
    Ok(grantee)
}

/// Validates a grant request against the grantee's kind. Who may do what: employers read and
/// agree adjustments; professionals read and write; nobody else is a grantee.
pub fn new_grant(
    request: &CreateGrant,
    id: String,
    passport_id: &str,
    grantor: &str,
    grantee_kind: PartyKind,
    now: i64,
) -> Result<GrantRecord> {
    if !matches!(grantee_kind, PartyKind::Employer | PartyKind::Professional) {
        return Err(Error::invalid_field(
            "grantee",
            "must be an employer or a professional",
        ));
    }
    if request.scopes.is_empty() {
        return Err(Error::invalid_field(
            "scopes",
            "at least one section must be granted",
        ));
    }
    let mut seen = BTreeSet::new();
    let mut scopes = Vec::with_capacity(request.scopes.len());
    for (i, scope) in request.scopes.iter().enumerate() {
        let field = format!("scopes[{i}]");
        if !seen.insert(scope.section) {
            return Err(Error::invalid_field(
                format!("{field}.section"),
                "each section may appear once",
            ));
        }
        let actions: BTreeSet<Action> = scope.actions.iter().copied().collect();
        if actions.is_empty() {
            return Err(Error::invalid_field(
                format!("{field}.actions"),
                "at least one action",
            ));
        }
        for action in &actions {
            let allowed = match action {
                Action::Read => true,
                Action::Write => grantee_kind == PartyKind::Professional,
                Action::Agree => {
                    grantee_kind == PartyKind::Employer && scope.section == Section::Adjustments
                }
            };
            if !allowed {
                return Err(Error::invalid_field(
                    format!("{field}.actions"),
                    format!(
                        "{} is not allowed here: only professionals write, and only employers agree adjustments",
                        action.as_str()
                    ),
                ));
            }
        }
        scopes.push(Scope {
            section: scope.section,
            actions: actions.into_iter().collect(),
        });
    }
    let starts_at = request.starts_at.map_or(now, |t| t.timestamp());
    let ends_at = request.ends_at.timestamp();
    if starts_at < now - CLOCK_SKEW_SECS {
        return Err(Error::invalid_field("starts_at", "must not be in the past"));
    }
    if ends_at <= starts_at || ends_at <= now {
        return Err(Error::invalid_field(
            "ends_at",
            "must be in the future and after starts_at",
        ));
    }
    if ends_at - starts_at > MAX_GRANT_SECS {
        return Err(Error::invalid_field(
            "ends_at",
            "a grant lasts at most two years",
        ));
    }
    Ok(GrantRecord {
        id,
        passport_id: passport_id.to_owned(),
        grantor: grantor.to_owned(),
        grantee: request.grantee.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn request(scopes: Vec<Scope>, ends_in: i64) -> CreateGrant {
        CreateGrant {
            grantee: "e".into(),
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
            "g".into(),
            "p",
            "o",
            PartyKind::Employer,
            1_000_000,
        )
        .unwrap();
        assert_eq!(g.status(999_999), GrantStatus::Pending);
        assert_eq!(g.status(1_000_000), GrantStatus::Active);
        assert_eq!(g.status(1_000_100), GrantStatus::Expired);
        let revoked = GrantRecord {
            revoked_at: Some(1_000_050),
            ..g
        };
        assert_eq!(revoked.status(1_000_010), GrantStatus::Revoked);
    }

    #[test]
    fn who_may_do_what() {
        let now = 1_000_000;
        let employer_write = request(vec![scope(Section::Adjustments, &[Action::Write])], 100);
        assert!(
            new_grant(
                &employer_write,
                "g".into(),
                "p",
                "o",
                PartyKind::Employer,
                now
            )
            .is_err()
        );
        assert!(
            new_grant(
                &employer_write,
                "g".into(),
                "p",
                "o",
                PartyKind::Professional,
                now
            )
            .is_ok()
        );
        let agree_summary = request(vec![scope(Section::Summary, &[Action::Agree])], 100);
        assert!(
            new_grant(
                &agree_summary,
                "g".into(),
                "p",
                "o",
                PartyKind::Employer,
                now
            )
            .is_err()
        );
        let read = request(vec![scope(Section::Summary, &[Action::Read])], 100);
        assert!(new_grant(&read, "g".into(), "p", "o", PartyKind::Employee, now).is_err());
        let too_long = request(
            vec![scope(Section::Summary, &[Action::Read])],
            MAX_GRANT_SECS + 1,
        );
        assert!(new_grant(&too_long, "g".into(), "p", "o", PartyKind::Employer, now).is_err());
        let ended = request(vec![scope(Section::Summary, &[Action::Read])], -1);
        assert!(new_grant(&ended, "g".into(), "p", "o", PartyKind::Employer, now).is_err());
        let twice = request(
            vec![
                scope(Section::Summary, &[Action::Read]),
                scope(Section::Summary, &[Action::Read]),
            ],
            100,
        );
        assert!(new_grant(&twice, "g".into(), "p", "o", PartyKind::Employer, now).is_err());
    }

    #[test]
    fn text_fields_refuse_control_characters() {
        let now = 1_000_000;
        let mut req = request(vec![scope(Section::Summary, &[Action::Read])], 3600);
        req.consent_text = "I agree.\r\nAlice".into();
        assert!(new_grant(&req, "g".into(), "p", "o", PartyKind::Employer, now).is_ok());
        for (purpose, consent) in [("a\u{0}b", "ok"), ("a\nb", "ok"), ("ok", "nul\u{0}")] {
            req.purpose = purpose.into();
            req.consent_text = consent.into();
            let e = new_grant(&req, "g".into(), "p", "o", PartyKind::Employer, now).unwrap_err();
            assert_eq!(
                e.kind(),
                Some(wp_schemas::problem::ProblemType::InvalidBody)
            );
        }
        assert!(grantee_id(&uuid::Uuid::new_v4().to_string()).is_ok());
        assert!(grantee_id("nul\u{0}").is_err());
    }
}
