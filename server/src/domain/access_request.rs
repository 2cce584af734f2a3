//! Access requests: how an organisation asks an employee for access. A member asks for
//! sections, actions and a duration, for a purpose; the employee opens the one-time code, and
//! approves as asked or narrowed, or declines. A request never grants anything by itself: only
//! an approval makes a grant, and only within what was asked.

use std::collections::BTreeSet;

use wp_schemas::api::{AccessRequest, AccessRequestStatus, Action, Role, Scope};

use super::ids::{AccessRequestId, GrantId, PartyId};
use super::time::Timestamp;

/// Access request codes start with this.
pub const REQUEST_CODE_PREFIX: &str = "wpr_";

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approved,
    Declined,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Declined => "declined",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Decision::Approved, Decision::Declined]
            .into_iter()
            .find(|d| d.as_str() == text)
    }
}

/// An access request as stored (only the hash of its code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequestRecord {
    pub id: AccessRequestId,
    pub organisation: PartyId,
    pub organisation_name: String,
    pub requested_by: PartyId,
    pub requested_by_name: String,
    pub roles: Vec<Role>,
    pub scopes: Vec<Scope>,
    pub purpose: String,
    pub duration_days: i64,
    pub employee: Option<PartyId>,
    pub code_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub decision: Option<Decision>,
    pub grant_id: Option<GrantId>,
}

/// Why a request cannot be opened or decided: the text is the detail a client is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestRefusal {
    #[error("no such access request")]
    UnknownCode,
    #[error("the access request is for another employee")]
    NotForCaller,
    #[error("the access request was already {}", .0.as_str())]
    Decided(Decision),
    #[error("the access request has expired")]
    Expired,
    #[error("an approval may only narrow the request: {0}")]
    Widens(&'static str),
    #[error("only an employee with a passport approves an access request")]
    NoPassport,
}

impl AccessRequestRecord {
    pub fn status(&self, now: Timestamp) -> AccessRequestStatus {
        match self.decision {
            Some(Decision::Approved) => AccessRequestStatus::Approved,
            Some(Decision::Declined) => AccessRequestStatus::Declined,
            None if now >= self.expires_at => AccessRequestStatus::Expired,
            None => AccessRequestStatus::Pending,
        }
    }

    /// `caller` may open and decide this request now, or the refusal that says why not.
    pub fn check_open(&self, caller: &PartyId, now: Timestamp) -> Result<(), RequestRefusal> {
        if self.employee.as_ref().is_some_and(|e| e != caller) {
            return Err(RequestRefusal::NotForCaller);
        }
        if let Some(decision) = self.decision {
            return Err(RequestRefusal::Decided(decision));
        }
        if now >= self.expires_at {
            return Err(RequestRefusal::Expired);
        }
        Ok(())
    }

    /// The scopes and end an approval gives: what was asked, or less. `scopes` must name only
    /// asked sections with asked actions; `ends_at` must come no later than the asked duration
    /// from `now`.
    pub fn narrow(
        &self,
        scopes: Option<&[Scope]>,
        ends_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(Vec<Scope>, Timestamp), RequestRefusal> {
        let latest = now + self.duration_days * 86_400;
        let ends_at = ends_at.unwrap_or(latest);
        if ends_at > latest {
            return Err(RequestRefusal::Widens(
                "ends_at is later than the asked duration",
            ));
        }
        let Some(scopes) = scopes else {
            return Ok((self.scopes.clone(), ends_at));
        };
        for scope in scopes {
            let asked = self.scopes.iter().find(|s| s.section == scope.section);
            let asked: BTreeSet<Action> = asked
                .map(|s| s.actions.iter().copied().collect())
                .unwrap_or_default();
            if asked.is_empty() {
                return Err(RequestRefusal::Widens("a section that was not asked for"));
            }
            if scope.actions.iter().any(|a| !asked.contains(a)) {
                return Err(RequestRefusal::Widens("an action that was not asked for"));
            }
        }
        Ok((scopes.to_vec(), ends_at))
    }

    /// As the organisation and the employee see it; `code` only in the answer that creates it.
    pub fn to_wire(&self, code: Option<String>, now: Timestamp) -> AccessRequest {
        AccessRequest {
            id: self.id.to_string(),
            organisation: self.organisation.to_string(),
            organisation_name: self.organisation_name.clone(),
            requested_by: self.requested_by.to_string(),
            requested_by_name: self.requested_by_name.clone(),
            roles: self.roles.clone(),
            scopes: self.scopes.clone(),
            purpose: self.purpose.clone(),
            duration_days: self.duration_days,
            employee: self.employee.as_ref().map(PartyId::to_string),
            code,
            status: self.status(now),
            created_at: self.created_at.to_datetime(),
            expires_at: self.expires_at.to_datetime(),
            grant_id: self.grant_id.as_ref().map(GrantId::to_string),
        }
    }
}

/// The code for 32 random bytes.
pub fn code_of(random: &[u8; 32]) -> String {
    format!("{REQUEST_CODE_PREFIX}{}", wp_schemas::jose::b64(random))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wp_schemas::sections::Section;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn scope(section: Section, actions: &[Action]) -> Scope {
        Scope {
            section,
            actions: actions.to_vec(),
        }
    }

    fn request() -> AccessRequestRecord {
        AccessRequestRecord {
            id: AccessRequestId::nth(1),
            organisation: PartyId::nth(1),
            organisation_name: "Acme Ltd".into(),
            requested_by: PartyId::nth(2),
            requested_by_name: "Priya Shah".into(),
            roles: vec![Role::Hr],
            scopes: vec![
                scope(Section::Summary, &[Action::Read]),
                scope(Section::Adjustments, &[Action::Read, Action::Agree]),
            ],
            purpose: "workplace adjustments".into(),
            duration_days: 365,
            employee: Some(PartyId::nth(3)),
            code_hash: "h".into(),
            created_at: at(0),
            expires_at: at(1_000),
            decided_at: None,
            decision: None,
            grant_id: None,
        }
    }

    #[test]
    fn only_its_employee_opens_a_pending_request() {
        let r = request();
        assert_eq!(r.check_open(&PartyId::nth(3), at(10)), Ok(()));
        assert_eq!(
            r.check_open(&PartyId::nth(4), at(10)),
            Err(RequestRefusal::NotForCaller)
        );
        assert_eq!(
            r.check_open(&PartyId::nth(3), at(1_000)),
            Err(RequestRefusal::Expired)
        );
        let approved = AccessRequestRecord {
            decision: Some(Decision::Approved),
            ..request()
        };
        assert_eq!(
            approved.check_open(&PartyId::nth(3), at(10)),
            Err(RequestRefusal::Decided(Decision::Approved))
        );
        assert_eq!(approved.status(at(5_000)), AccessRequestStatus::Approved);
    }

    #[test]
    fn an_approval_only_narrows() {
        let r = request();
        let (scopes, ends) = r.narrow(None, None, at(100)).unwrap();
        assert_eq!(scopes, r.scopes);
        assert_eq!(ends, at(100 + 365 * 86_400));
        let fewer = [scope(Section::Adjustments, &[Action::Read])];
        let (scopes, _) = r.narrow(Some(&fewer), Some(at(200)), at(100)).unwrap();
        assert_eq!(scopes, fewer.to_vec());
        let more = [scope(Section::Conditions, &[Action::Read])];
        assert_eq!(
            r.narrow(Some(&more), None, at(100)),
            Err(RequestRefusal::Widens("a section that was not asked for"))
        );
        let write = [scope(Section::Summary, &[Action::Write])];
        assert_eq!(
            r.narrow(Some(&write), None, at(100)),
            Err(RequestRefusal::Widens("an action that was not asked for"))
        );
        assert_eq!(
            r.narrow(None, Some(at(100 + 366 * 86_400)), at(100)),
            Err(RequestRefusal::Widens(
                "ends_at is later than the asked duration"
            ))
        );
    }
}
