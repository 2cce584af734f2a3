//! The one place that answers "who is asking, under which consent, for which passport and which
//! section". Decisions are taken from the grant as it is in the database now, never from a cached
//! or token-carried copy, so a revocation takes effect on the next request.

use wp_schemas::api::{Action, GrantStatus};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::Section;

use super::auth::ConsentClaim;
use super::grant::GrantRecord;
use crate::error::Error;

/// What the caller is to this passport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Owner,
    Grantee(Box<GrantRecord>),
}

/// A refusal, with the reason that goes into the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub kind: ProblemType,
    pub reason: String,
}

impl Denial {
    fn new(kind: ProblemType, reason: impl Into<String>) -> Self {
        Denial {
            kind,
            reason: reason.into(),
        }
    }
}

impl From<Denial> for Error {
    fn from(d: Denial) -> Self {
        Error::client(d.kind, d.reason)
    }
}

/// Resolves the caller's standing on passport `passport_id` owned by `owner`.
/// `grant` is the grant named by the consent token, freshly read from the database.
pub fn resolve(
    caller: &str,
    consent: Option<&ConsentClaim>,
    passport_id: &str,
    owner: &str,
    grant: Option<&GrantRecord>,
    now: i64,
) -> Result<Access, Denial> {
    let Some(consent) = consent else {
        return if caller == owner {
            Ok(Access::Owner)
        } else {
            Err(Denial::new(
                ProblemType::Forbidden,
                "not the owner, and no consent token",
            ))
        };
    };
    if consent.passport_id != passport_id {
        return Err(Denial::new(
            ProblemType::Forbidden,
            "the consent token is for another passport",
        ));
    }
    let Some(grant) = grant.filter(|g| g.id == consent.grant_id && g.passport_id == passport_id)
    else {
        return Err(Denial::new(
            ProblemType::ConsentInactive,
            "the grant no longer exists",
        ));
    };
    if grant.grantee != caller {
        return Err(Denial::new(
            ProblemType::Forbidden,
            "the grant is for another party",
        ));
    }
    match grant.status(now) {
        GrantStatus::Active => Ok(Access::Grantee(Box::new(grant.clone()))),
        GrantStatus::Revoked => Err(Denial::new(
            ProblemType::ConsentInactive,
            "the grant was revoked",
        )),
        GrantStatus::Expired => Err(Denial::new(
            ProblemType::ConsentInactive,
            "the grant has expired",
        )),
        GrantStatus::Pending => Err(Denial::new(
            ProblemType::ConsentInactive,
            "the grant has not started yet",
        )),
    }
}

impl Access {
    pub fn grant_id(&self) -> Option<&str> {
        match self {
            Access::Owner => None,
            Access::Grantee(g) => Some(&g.id),
        }
    }

    pub fn is_owner(&self) -> bool {
        matches!(self, Access::Owner)
    }

    pub fn can(&self, section: Section, action: Action) -> bool {
        match self {
            Access::Owner => action != Action::Agree,
            Access::Grantee(g) => g.allows(section, action),
        }
    }

    /// Whether the caller has any part (read, write or agree) in `section`. A record in a section
    /// it does not touch is, to this caller, a record that does not exist.
    pub fn touches(&self, section: Section) -> bool {
        [Action::Read, Action::Write, Action::Agree]
            .into_iter()
            .any(|a| self.can(section, a))
    }

    /// Sections the caller may read; others are left out of every answer, not shown empty.
    pub fn readable(&self) -> Vec<Section> {
        Section::ALL
            .into_iter()
            .filter(|s| self.can(*s, Action::Read))
            .collect()
    }

    pub fn require(&self, section: Section, action: Action) -> Result<(), Denial> {
        if self.can(section, action) {
            Ok(())
        } else {
            Err(Denial::new(
                ProblemType::Forbidden,
                format!(
                    "the grant does not allow {} on {}",
                    action.as_str(),
                    section.as_str()
                ),
            ))
        }
    }

    /// Only the owner manages grants, reads the access log, exports and erases.
    pub fn require_owner(&self, what: &str) -> Result<(), Denial> {
        if self.is_owner() {
            Ok(())
        } else {
            Err(Denial::new(
                ProblemType::Forbidden,
                format!("only the owner may {what}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wp_schemas::api::Scope;

    fn grant(revoked_at: Option<i64>) -> GrantRecord {
        GrantRecord {
            id: "g".into(),
            passport_id: "p".into(),
            grantor: "o".into(),
            grantee: "e".into(),
            scopes: vec![Scope {
                section: Section::Summary,
                actions: vec![Action::Read],
            }],
            purpose: "x".into(),
            consent_text: "x".into(),
            starts_at: 100,
            ends_at: 200,
            revoked_at,
            created_at: 100,
        }
    }

    fn consent(passport: &str) -> ConsentClaim {
        ConsentClaim {
            grant_id: "g".into(),
            passport_id: passport.into(),
            scopes: vec![],
        }
    }

    #[test]
    fn decisions() {
        assert_eq!(resolve("o", None, "p", "o", None, 150), Ok(Access::Owner));
        assert!(resolve("x", None, "p", "o", None, 150).is_err());
        let g = grant(None);
        let access = resolve("e", Some(&consent("p")), "p", "o", Some(&g), 150).unwrap();
        assert_eq!(access.readable(), vec![Section::Summary]);
        assert!(access.require(Section::Conditions, Action::Read).is_err());
        assert!(access.require_owner("read the log").is_err());
        assert!(resolve("e", Some(&consent("q")), "p", "o", Some(&g), 150).is_err());
        assert!(resolve("x", Some(&consent("p")), "p", "o", Some(&g), 150).is_err());
        assert_eq!(
            resolve("e", Some(&consent("p")), "p", "o", Some(&g), 250)
                .unwrap_err()
                .kind,
            ProblemType::ConsentInactive
        );
        assert_eq!(
            resolve(
                "e",
                Some(&consent("p")),
                "p",
                "o",
                Some(&grant(Some(120))),
                150
            )
            .unwrap_err()
            .kind,
            ProblemType::ConsentInactive
        );
        assert_eq!(
            resolve("e", Some(&consent("p")), "p", "o", None, 150)
                .unwrap_err()
                .kind,
            ProblemType::ConsentInactive
        );
    }
}
