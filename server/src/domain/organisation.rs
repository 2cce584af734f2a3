//! Organisations and their people: who belongs where as what, who manages an organisation, and
//! when an invitation may be redeemed. An organisation (an employer or a practice) is a party;
//! each person who acts for it is a party of kind `member` with one membership.

use wp_schemas::api::{Invitation, InvitationStatus, Member, Membership, PartyKind, Role};
use wp_schemas::jose::sha256_b64;

use super::ids::{InvitationId, PartyId};
use super::time::Timestamp;

/// Invitation codes start with this, so that a person (or a secret scanner) can tell one.
pub const INVITATION_CODE_PREFIX: &str = "wpi_";

/// A person's place at an organisation, as stored now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRecord {
    pub member: PartyId,
    pub organisation: PartyId,
    pub organisation_kind: PartyKind,
    pub organisation_name: String,
    pub role: Role,
    pub joined_at: Timestamp,
    pub removed_at: Option<Timestamp>,
}

impl MembershipRecord {
    /// A member acts for their organisation from joining until removed (or leaving).
    pub fn active_at(&self, now: Timestamp) -> bool {
        self.removed_at.is_none_or(|r| now < r)
    }

    pub fn to_wire(&self) -> Membership {
        Membership {
            organisation: self.organisation.to_string(),
            organisation_name: self.organisation_name.clone(),
            organisation_kind: self.organisation_kind,
            role: self.role,
            joined_at: self.joined_at.to_datetime(),
            removed_at: self.removed_at.map(Timestamp::to_datetime),
        }
    }

    /// The member as their organisation lists them.
    pub fn to_member(&self, display_name: String) -> Member {
        Member {
            party: self.member.to_string(),
            display_name,
            role: self.role,
            joined_at: self.joined_at.to_datetime(),
            removed_at: self.removed_at.map(Timestamp::to_datetime),
        }
    }

    /// The organisation and role a log entry names for this member.
    pub fn acting_as(&self) -> (PartyId, Role) {
        (self.organisation.clone(), self.role)
    }

    /// Whether this member manages organisation `organisation` (invites and removes) at `now`.
    pub fn manages(&self, organisation: &PartyId, now: Timestamp) -> bool {
        self.organisation == *organisation && self.role == Role::OrgAdmin && self.active_at(now)
    }
}

/// Why an organisation request is refused: its text is the detail a client is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrganisationRefusal {
    #[error("only the service admin or an org_admin of this organisation manages it")]
    NotManager,
    #[error("only the service admin or a member of this organisation sees its members")]
    NotMember,
    #[error("{} is not a role at {}", .0.as_str(), .1.as_str())]
    RoleDoesNotFit(Role, PartyKind),
    #[error("no such invitation code")]
    UnknownCode,
    #[error("the invitation was already used")]
    Used,
    #[error("the invitation has expired")]
    Expired,
    #[error("the invitation was revoked")]
    Revoked,
}

/// An invitation as stored: only the hash of its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRecord {
    pub id: InvitationId,
    pub organisation: PartyId,
    pub role: Role,
    pub code_hash: String,
    pub created_by: PartyId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub redeemed_at: Option<Timestamp>,
    pub redeemed_by: Option<PartyId>,
    pub revoked_at: Option<Timestamp>,
}

impl InvitationRecord {
    /// Derived from the times, never stored, so it cannot go stale.
    pub fn status(&self, now: Timestamp) -> InvitationStatus {
        if self.redeemed_at.is_some() {
            InvitationStatus::Redeemed
        } else if self.revoked_at.is_some() {
            InvitationStatus::Revoked
        } else if now >= self.expires_at {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        }
    }

    /// As the organisation's managers see it; `code` only in the answer that creates it.
    pub fn to_wire(&self, code: Option<String>, now: Timestamp) -> Invitation {
        Invitation {
            id: self.id.to_string(),
            organisation: self.organisation.to_string(),
            role: self.role,
            code,
            status: self.status(now),
            created_by: self.created_by.to_string(),
            created_at: self.created_at.to_datetime(),
            expires_at: self.expires_at.to_datetime(),
            redeemed_by: self.redeemed_by.as_ref().map(PartyId::to_string),
        }
    }

    /// The invitation may be redeemed now, or the refusal that says why not.
    pub fn check_redeemable(&self, now: Timestamp) -> Result<(), OrganisationRefusal> {
        match self.status(now) {
            InvitationStatus::Pending => Ok(()),
            InvitationStatus::Redeemed => Err(OrganisationRefusal::Used),
            InvitationStatus::Revoked => Err(OrganisationRefusal::Revoked),
            InvitationStatus::Expired => Err(OrganisationRefusal::Expired),
        }
    }
}

/// The stored form of a code: its SHA-256, so a copy of the database redeems nothing.
pub fn code_hash(code: &str) -> String {
    sha256_b64(code.as_bytes())
}

/// The code for 32 random bytes: the prefix and their base64url form.
pub fn code_of(random: &[u8; 32]) -> String {
    format!("{INVITATION_CODE_PREFIX}{}", wp_schemas::jose::b64(random))
}

/// A role may be given only where it fits the organisation's kind.
pub fn check_role(role: Role, kind: PartyKind) -> Result<(), OrganisationRefusal> {
    if role.fits(kind) {
        Ok(())
    } else {
        Err(OrganisationRefusal::RoleDoesNotFit(role, kind))
    }
}

/// Who manages organisation `organisation`: the service admin, or an active org_admin of it.
/// `caller_kind` is the kind the caller acts as (none under a consent token).
pub fn check_manager(
    caller_kind: Option<PartyKind>,
    caller_membership: Option<&MembershipRecord>,
    organisation: &PartyId,
    now: Timestamp,
) -> Result<(), OrganisationRefusal> {
    let manages = caller_kind == Some(PartyKind::Admin)
        || caller_membership.is_some_and(|m| m.manages(organisation, now));
    if manages {
        Ok(())
    } else {
        Err(OrganisationRefusal::NotManager)
    }
}

/// Who sees an organisation's members: the service admin, or any active member of it.
pub fn check_member_or_admin(
    caller_kind: Option<PartyKind>,
    caller_membership: Option<&MembershipRecord>,
    organisation: &PartyId,
    now: Timestamp,
) -> Result<(), OrganisationRefusal> {
    let sees = caller_kind == Some(PartyKind::Admin)
        || caller_membership.is_some_and(|m| m.organisation == *organisation && m.active_at(now));
    if sees {
        Ok(())
    } else {
        Err(OrganisationRefusal::NotMember)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn member(role: Role, removed_at: Option<i64>) -> MembershipRecord {
        MembershipRecord {
            member: PartyId::nth(2),
            organisation: PartyId::nth(1),
            organisation_kind: PartyKind::Employer,
            organisation_name: "Acme Ltd".into(),
            role,
            joined_at: at(100),
            removed_at: removed_at.map(at),
        }
    }

    fn invitation() -> InvitationRecord {
        InvitationRecord {
            id: InvitationId::nth(1),
            organisation: PartyId::nth(1),
            role: Role::Hr,
            code_hash: code_hash("wpi_x"),
            created_by: PartyId::nth(3),
            created_at: at(100),
            expires_at: at(200),
            redeemed_at: None,
            redeemed_by: None,
            revoked_at: None,
        }
    }

    #[test]
    fn who_manages_and_who_sees() {
        let acme = PartyId::nth(1);
        let globex = PartyId::nth(7);
        let admin = member(Role::OrgAdmin, None);
        let hr = member(Role::Hr, None);
        let now = at(150);
        assert_eq!(
            check_manager(Some(PartyKind::Admin), None, &globex, now),
            Ok(())
        );
        assert_eq!(
            check_manager(Some(PartyKind::Member), Some(&admin), &acme, now),
            Ok(())
        );
        assert_eq!(
            check_manager(Some(PartyKind::Member), Some(&admin), &globex, now),
            Err(OrganisationRefusal::NotManager),
            "an org_admin of Acme does not manage Globex"
        );
        assert_eq!(
            check_manager(Some(PartyKind::Member), Some(&hr), &acme, now),
            Err(OrganisationRefusal::NotManager)
        );
        let removed_admin = member(Role::OrgAdmin, Some(120));
        assert_eq!(
            check_manager(Some(PartyKind::Member), Some(&removed_admin), &acme, now),
            Err(OrganisationRefusal::NotManager)
        );
        assert_eq!(
            check_member_or_admin(Some(PartyKind::Member), Some(&hr), &acme, now),
            Ok(())
        );
        assert_eq!(
            check_member_or_admin(Some(PartyKind::Member), Some(&hr), &globex, now),
            Err(OrganisationRefusal::NotMember)
        );
        assert_eq!(
            check_member_or_admin(Some(PartyKind::Employee), None, &acme, now),
            Err(OrganisationRefusal::NotMember)
        );
    }

    #[test]
    fn an_invitation_is_redeemed_once_before_it_expires_unless_revoked() {
        let pending = invitation();
        assert_eq!(pending.check_redeemable(at(150)), Ok(()));
        assert_eq!(
            pending.check_redeemable(at(200)),
            Err(OrganisationRefusal::Expired)
        );
        let used = InvitationRecord {
            redeemed_at: Some(at(160)),
            ..invitation()
        };
        assert_eq!(
            used.check_redeemable(at(170)),
            Err(OrganisationRefusal::Used)
        );
        let revoked = InvitationRecord {
            revoked_at: Some(at(160)),
            ..invitation()
        };
        assert_eq!(
            revoked.check_redeemable(at(170)),
            Err(OrganisationRefusal::Revoked)
        );
        assert_eq!(revoked.status(at(300)), InvitationStatus::Revoked);
    }

    #[test]
    fn codes_and_roles() {
        let code = code_of(&[7u8; 32]);
        assert!(code.starts_with(INVITATION_CODE_PREFIX));
        assert_eq!(code.len(), 4 + 43);
        assert_ne!(code_hash(&code), code, "only the hash is kept");
        assert_eq!(check_role(Role::LineManager, PartyKind::Employer), Ok(()));
        assert_eq!(
            check_role(Role::Clinician, PartyKind::Employer),
            Err(OrganisationRefusal::RoleDoesNotFit(
                Role::Clinician,
                PartyKind::Employer
            ))
        );
        assert_eq!(
            check_role(Role::Hr, PartyKind::Practice),
            Err(OrganisationRefusal::RoleDoesNotFit(
                Role::Hr,
                PartyKind::Practice
            ))
        );
    }
}
