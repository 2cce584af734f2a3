//! Organisations and their people: who belongs where as what, who manages an organisation, and
//! when an invitation may be redeemed. An organisation (an employer or a practice) is a party;
//! each person who acts for it is a party of kind `member` with one membership.

use wp_schemas::api::{
    Invitation, InvitationStatus, MAX_ABOUT_CHARS, MAX_PLACE_CHARS, Member, Membership,
    OrganisationEntry, OrganisationListing, PartyKind, Role,
};
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
    #[error("no organisation has this share code")]
    UnknownShareCode,
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

/// The characters of a share code: Crockford's base32 (no I, L, O or U, so that nothing is
/// mistaken for another character when read aloud or typed from paper).
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A share code's length: 12 characters, 60 random bits.
pub const SHARE_CODE_CHARS: usize = 12;

/// The share code for 8 random bytes (their first 60 bits), in its canonical form: 12
/// characters of Crockford's base32, upper case, without hyphens.
pub fn share_code_of(random: &[u8; 8]) -> String {
    let bits = u64::from_be_bytes(*random) >> 4;
    (0..SHARE_CODE_CHARS)
        .rev()
        .map(|i| char::from(CROCKFORD[((bits >> (i * 5)) & 31) as usize]))
        .collect()
}

/// A share code as people see it: in three groups of four, `K7PD-4MQX-93HN`.
pub fn share_code_shown(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The canonical form of a share code as a person typed it, if it is one: case, spaces and
/// hyphens do not matter, and I and L are read as 1, O as 0 (Crockford's rule).
pub fn parse_share_code(text: &str) -> Option<String> {
    let mut code = String::with_capacity(SHARE_CODE_CHARS);
    for c in text.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' => continue,
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        };
        if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) {
            return None;
        }
        code.push(c);
    }
    (code.len() == SHARE_CODE_CHARS).then_some(code)
}

/// How employees find an organisation: its share code and, if it chose to be listed, its
/// entry in the directory, with the place and the line about it that it gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingRecord {
    pub organisation: PartyId,
    pub kind: PartyKind,
    pub display_name: String,
    /// Canonical (see [`parse_share_code`]).
    pub share_code: String,
    pub listed_at: Option<Timestamp>,
    pub place: Option<String>,
    pub about: Option<String>,
}

impl ListingRecord {
    /// As its members and the service admin see it, share code included.
    pub fn to_wire(&self) -> OrganisationListing {
        OrganisationListing {
            id: self.organisation.to_string(),
            kind: self.kind,
            display_name: self.display_name.clone(),
            listed: self.listed_at.is_some(),
            place: self.place.clone(),
            about: self.about.clone(),
            share_code: share_code_shown(&self.share_code),
        }
    }

    /// As an employee finds it (by name or by share code): never its share code.
    pub fn to_entry(&self) -> OrganisationEntry {
        OrganisationEntry {
            id: self.organisation.to_string(),
            kind: self.kind,
            display_name: self.display_name.clone(),
            place: self.place.clone(),
            about: self.about.clone(),
        }
    }
}

/// What an organisation's managers may say about it: none when left out, else one line of
/// text, not blank, of at most `max` characters. Answers the text, or why it is refused.
pub fn listing_text(value: Option<&str>, max: usize) -> Result<Option<String>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    match wp_schemas::text::refusal(value, max, false) {
        Some(why) => Err(why),
        None => Ok(Some(value.trim().to_owned())),
    }
}

/// The place an organisation gives (a town, a site): at most [`MAX_PLACE_CHARS`].
pub fn listing_place(value: Option<&str>) -> Result<Option<String>, String> {
    listing_text(value, MAX_PLACE_CHARS)
}

/// The line about an organisation: at most [`MAX_ABOUT_CHARS`].
pub fn listing_about(value: Option<&str>) -> Result<Option<String>, String> {
    listing_text(value, MAX_ABOUT_CHARS)
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
    fn share_codes_are_typed_forgivingly() {
        let code = share_code_of(&[0xff; 8]);
        assert_eq!(code, "ZZZZZZZZZZZZ");
        let code = share_code_of(&[0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);
        assert_eq!(code.len(), SHARE_CODE_CHARS);
        assert_eq!(parse_share_code(&code).as_deref(), Some(code.as_str()));
        let shown = share_code_shown(&code);
        assert_eq!(shown.len(), 14);
        assert_eq!(parse_share_code(&shown).as_deref(), Some(code.as_str()));
        assert_eq!(
            parse_share_code(&shown.to_lowercase()).as_deref(),
            Some(code.as_str())
        );
        assert_eq!(
            parse_share_code(" k7pd 4mqx-93hn ").as_deref(),
            Some("K7PD4MQX93HN")
        );
        assert_eq!(
            parse_share_code("IOL0-0000-0000").as_deref(),
            Some("101000000000")
        );
        for bad in [
            "",
            "K7PD-4MQX-93H",
            "K7PD-4MQX-93HNN",
            "K7PD-4MQX-93HU",
            "K7PD-4MQX-93HÉ",
            "../etc/passwd",
        ] {
            assert_eq!(parse_share_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn listing_texts() {
        assert_eq!(listing_place(None), Ok(None));
        assert!(listing_place(Some("  ")).is_err());
        assert_eq!(listing_place(Some(" Leeds ")), Ok(Some("Leeds".into())));
        assert!(listing_place(Some("a\nb")).is_err());
        assert!(listing_about(Some(&"x".repeat(MAX_ABOUT_CHARS + 1))).is_err());
        assert_eq!(
            listing_about(Some(&"x".repeat(MAX_ABOUT_CHARS))).map(|a| a.map(|a| a.len())),
            Ok(Some(MAX_ABOUT_CHARS))
        );
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
