//! The one place that answers "who is asking, under which consent, for which passport and which
//! section". Decisions are taken from the grant as it is in the database now, never from a cached
//! or token-carried copy, so a revocation takes effect on the next request.

use wp_schemas::api::{Action, GrantStatus};
use wp_schemas::sections::Section;

use super::auth::ConsentClaim;
use super::grant::GrantRecord;
use super::ids::{GrantId, PartyId, PassportId};
use super::organisation::MembershipRecord;
use super::time::Timestamp;

/// What the caller is to this passport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Owner,
    Grantee(Box<GrantRecord>),
}

/// A refusal of access. Its `Display` text is the stable reason the access log records; the
/// problem a client sees is chosen in `http::error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("not the owner, and no consent token")]
    NoConsent,
    #[error("the consent token is for another passport")]
    OtherPassport,
    #[error("the grant no longer exists")]
    GrantGone,
    #[error("the grant is for another party")]
    OtherParty,
    #[error("the member was removed from the organisation")]
    NoLongerMember,
    #[error("the grant does not cover the member's role")]
    NotCovered,
    #[error("the grant was revoked")]
    Revoked,
    #[error("the grant has expired")]
    Expired,
    #[error("the grant has not started yet")]
    NotStarted,
    #[error("the grant does not allow {} on {}", .action.as_str(), .section.as_str())]
    NotAllowed { section: Section, action: Action },
    #[error("only the owner may {0}")]
    OwnerOnly(&'static str),
    /// A record that does not exist, or that lies in a section the caller has no part in:
    /// one refusal for both, so that it never tells whether, or where, a record exists.
    #[error("no such record in the sections the caller may read")]
    NoSuchRecord,
}

/// Resolves the caller's standing on passport `passport_id` owned by `owner`.
/// `grant` is the grant named by the consent token, and `membership` the caller's membership
/// of the grant's grantee (when the grantee is an organisation the caller belongs to), both
/// freshly read from the database: a revocation or a removal counts on the next request.
pub fn resolve(
    caller: &PartyId,
    consent: Option<&ConsentClaim>,
    passport_id: &PassportId,
    owner: &PartyId,
    grant: Option<&GrantRecord>,
    membership: Option<&MembershipRecord>,
    now: Timestamp,
) -> Result<Access, Denial> {
    let Some(consent) = consent else {
        return if caller == owner {
            Ok(Access::Owner)
        } else {
            Err(Denial::NoConsent)
        };
    };
    if consent.passport_id != *passport_id {
        return Err(Denial::OtherPassport);
    }
    let Some(grant) = grant.filter(|g| g.id == consent.grant_id && g.passport_id == *passport_id)
    else {
        return Err(Denial::GrantGone);
    };
    if grant.grantee != *caller {
        check_member(caller, grant, membership, now)?;
    }
    match grant.status(now) {
        GrantStatus::Active => Ok(Access::Grantee(Box::new(grant.clone()))),
        GrantStatus::Revoked => Err(Denial::Revoked),
        GrantStatus::Expired => Err(Denial::Expired),
        GrantStatus::Pending => Err(Denial::NotStarted),
    }
}

/// A caller who is not the grantee acts under a grant to their organisation only while a
/// member of it, and only when the grant covers their role or names them.
fn check_member(
    caller: &PartyId,
    grant: &GrantRecord,
    membership: Option<&MembershipRecord>,
    now: Timestamp,
) -> Result<(), Denial> {
    let Some(member) =
        membership.filter(|m| m.member == *caller && m.organisation == grant.grantee)
    else {
        return Err(Denial::OtherParty);
    };
    if !member.active_at(now) {
        return Err(Denial::NoLongerMember);
    }
    if !grant.covers(caller, member.role) {
        return Err(Denial::NotCovered);
    }
    Ok(())
}

impl Access {
    pub fn grant_id(&self) -> Option<&GrantId> {
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
            Err(Denial::NotAllowed { section, action })
        }
    }

    /// Only the owner manages grants, reads the access log, exports and erases.
    pub fn require_owner(&self, what: &'static str) -> Result<(), Denial> {
        if self.is_owner() {
            Ok(())
        } else {
            Err(Denial::OwnerOnly(what))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wp_schemas::api::{PartyKind, Role, Scope};

    fn id(n: u32) -> (PartyId, PassportId) {
        (PartyId::nth(n), PassportId::nth(n))
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    /// Employee 1 owns passport 1 and grants party 2 (an employer) the summary.
    fn grant(revoked_at: Option<i64>) -> GrantRecord {
        GrantRecord {
            id: GrantId::nth(1),
            passport_id: PassportId::nth(1),
            grantor: PartyId::nth(1),
            grantee: PartyId::nth(2),
            roles: vec![],
            members: vec![],
            scopes: vec![Scope {
                section: Section::Summary,
                actions: vec![Action::Read],
            }],
            purpose: "x".into(),
            consent_text: "x".into(),
            starts_at: at(100),
            ends_at: at(200),
            revoked_at: revoked_at.map(at),
            created_at: at(100),
        }
    }

    fn consent(passport: u32) -> ConsentClaim {
        ConsentClaim {
            grant_id: GrantId::nth(1),
            passport_id: PassportId::nth(passport),
            scopes: vec![],
            on_behalf_of: None,
        }
    }

    #[test]
    fn decisions() {
        let (owner, pid) = id(1);
        let (employer, stranger) = (PartyId::nth(2), PartyId::nth(3));
        assert_eq!(
            resolve(&owner, None, &pid, &owner, None, None, at(150)),
            Ok(Access::Owner)
        );
        assert_eq!(
            resolve(&stranger, None, &pid, &owner, None, None, at(150)),
            Err(Denial::NoConsent)
        );
        let g = grant(None);
        let access = resolve(
            &employer,
            Some(&consent(1)),
            &pid,
            &owner,
            Some(&g),
            None,
            at(150),
        )
        .unwrap();
        assert_eq!(access.readable(), vec![Section::Summary]);
        assert_eq!(
            access.require(Section::Conditions, Action::Read),
            Err(Denial::NotAllowed {
                section: Section::Conditions,
                action: Action::Read
            })
        );
        assert_eq!(
            access.require_owner("read the log"),
            Err(Denial::OwnerOnly("read the log"))
        );
        assert_eq!(
            resolve(
                &employer,
                Some(&consent(2)),
                &pid,
                &owner,
                Some(&g),
                None,
                at(150)
            ),
            Err(Denial::OtherPassport)
        );
        assert_eq!(
            resolve(
                &stranger,
                Some(&consent(1)),
                &pid,
                &owner,
                Some(&g),
                None,
                at(150)
            ),
            Err(Denial::OtherParty)
        );
        assert_eq!(
            resolve(
                &employer,
                Some(&consent(1)),
                &pid,
                &owner,
                Some(&g),
                None,
                at(250)
            )
            .unwrap_err(),
            Denial::Expired
        );
        assert_eq!(
            resolve(
                &employer,
                Some(&consent(1)),
                &pid,
                &owner,
                Some(&grant(Some(120))),
                None,
                at(150)
            )
            .unwrap_err(),
            Denial::Revoked
        );
        assert_eq!(
            resolve(
                &employer,
                Some(&consent(1)),
                &pid,
                &owner,
                None,
                None,
                at(150)
            )
            .unwrap_err(),
            Denial::GrantGone
        );
    }

    #[test]
    fn members_act_under_grants_to_their_organisation() {
        let (owner, pid) = id(1);
        let acme = PartyId::nth(2);
        let (sam, priya) = (PartyId::nth(5), PartyId::nth(6));
        let mut g = grant(None);
        g.roles = vec![Role::Hr];
        g.members = vec![priya.clone()];
        let membership =
            |who: &PartyId, role: Role, removed_at: Option<i64>, org: &PartyId| MembershipRecord {
                member: who.clone(),
                organisation: org.clone(),
                organisation_kind: PartyKind::Employer,
                organisation_name: "Acme Ltd".into(),
                role,
                joined_at: at(100),
                removed_at: removed_at.map(at),
            };
        let decide = |who: &PartyId, m: Option<&MembershipRecord>| {
            resolve(who, Some(&consent(1)), &pid, &owner, Some(&g), m, at(150))
        };
        let hr = membership(&sam, Role::Hr, None, &acme);
        assert!(decide(&sam, Some(&hr)).is_ok(), "the grant covers HR");
        let manager = membership(&sam, Role::LineManager, None, &acme);
        assert_eq!(decide(&sam, Some(&manager)), Err(Denial::NotCovered));
        let named = membership(&priya, Role::LineManager, None, &acme);
        assert!(
            decide(&priya, Some(&named)).is_ok(),
            "the grant names Priya"
        );
        let removed = membership(&sam, Role::Hr, Some(140), &acme);
        assert_eq!(decide(&sam, Some(&removed)), Err(Denial::NoLongerMember));
        let elsewhere = membership(&sam, Role::Hr, None, &PartyId::nth(9));
        assert_eq!(decide(&sam, Some(&elsewhere)), Err(Denial::OtherParty));
        assert_eq!(decide(&sam, None), Err(Denial::OtherParty));
    }
}
