//! Consent as an owner gives it: which sections, for how long, in what words. Builds the
//! [`CreateGrant`] an owner's tool sends, and tells its terms back as a sentence.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use wp_schemas::api::{Action, CreateGrant, Party, Scope};
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

/// What an owner chose to share, with whom, for how long.
pub struct GrantTerms {
    /// The grantee's party id, as the owner gave it.
    pub grantee: String,
    pub scopes: Vec<Scope>,
    pub purpose: String,
    pub ends_at: DateTime<Utc>,
    /// The owner's own words; `None` for a sentence naming who, what, why and until when.
    pub consent_text: Option<String>,
}

impl GrantTerms {
    /// The grant to send, starting now. `grantee` (as looked up) and `owner` (the owner's
    /// name) are for the consent text.
    pub fn into_grant(mut self, grantee: &Party, owner: Option<&str>) -> CreateGrant {
        let consent_text = match self.consent_text.take() {
            Some(text) => text,
            None => self.default_consent_text(grantee, owner),
        };
        CreateGrant {
            grantee: self.grantee,
            roles: Vec::new(),
            members: Vec::new(),
            scopes: self.scopes,
            purpose: self.purpose,
            starts_at: None,
            ends_at: self.ends_at,
            consent_text,
        }
    }

    fn default_consent_text(&self, grantee: &Party, owner: Option<&str>) -> String {
        format!(
            "I, {}, agree to share my Work Passport with {} ({}) for: {}. They may {}. \
             This consent ends on {} unless I revoke it sooner.",
            owner.unwrap_or("the passport owner"),
            grantee.display_name,
            grantee.kind.as_str(),
            self.purpose,
            describe_scopes(&self.scopes),
            self.ends_at.format("%Y-%m-%d")
        )
    }
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
            scopes: scopes(&[], &[Section::Adjustments], &[]),
            purpose: "Workplace assessment".into(),
            ends_at: parse_until("2030-01-31").unwrap(),
            consent_text: consent_text.map(str::to_owned),
        }
    }

    #[test]
    fn a_grant_without_own_words_names_who_what_why_and_until_when() {
        let grant = terms(None).into_grant(&dana(), Some("Alex Smith"));
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
        let unnamed = terms(None).into_grant(&dana(), None);
        assert!(
            unnamed
                .consent_text
                .starts_with("I, the passport owner, agree")
        );
        let own = terms(Some("My words.")).into_grant(&dana(), Some("Alex Smith"));
        assert_eq!(own.consent_text, "My words.");
    }
}
