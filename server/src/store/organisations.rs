//! Organisations, their members and invitations.

use wp_schemas::api::{PartyKind, ProfessionalRegistration, Role};
use wp_schemas::jose::PublicJwk;

use super::parties::{insert_party_in, parse_kind};
use super::types::from_row;
use super::{NewParty, Store, with_pool};
use crate::domain::ids::{InvitationId, PartyId};
use crate::domain::notification::{Facts, Notice};
use crate::domain::organisation::{InvitationRecord, ListingRecord, MembershipRecord};
use crate::domain::time::Timestamp;
use crate::error::{Result, ResultExt};
use wp_schemas::api::NotificationKind as Kind;

/// A membership joined with its organisation's kind and name.
pub(super) struct MembershipRow {
    pub member_id: PartyId,
    pub organisation_id: PartyId,
    pub organisation_kind: String,
    pub organisation_name: String,
    pub role: String,
    pub joined_at: Timestamp,
    pub removed_at: Option<Timestamp>,
}
from_row!(MembershipRow {
    member_id,
    organisation_id,
    organisation_kind,
    organisation_name,
    role,
    joined_at,
    removed_at
});

impl MembershipRow {
    pub fn into_record(self) -> Result<MembershipRecord> {
        Ok(MembershipRecord {
            member: self.member_id,
            organisation: self.organisation_id,
            organisation_kind: parse_kind(&self.organisation_kind)?,
            organisation_name: self.organisation_name,
            role: parse_role(&self.role)?,
            joined_at: self.joined_at,
            removed_at: self.removed_at,
        })
    }
}

pub(super) fn parse_role(role: &str) -> Result<Role> {
    Role::parse(role).ok_or_else(|| anyhow::anyhow!("unknown role {role} in store").into())
}

const MEMBERSHIP_COLUMNS: &str = "SELECT m.member_id, m.organisation_id, o.kind AS organisation_kind, \
     o.display_name AS organisation_name, m.role, m.joined_at, m.removed_at, p.display_name AS member_name \
     FROM memberships m JOIN parties o ON o.id = m.organisation_id";

/// Memberships whose member is in a list the caller pushes (`... IN (...)`).
pub(super) const MEMBERSHIP_OF: &str = "SELECT m.member_id, m.organisation_id, o.kind AS organisation_kind, \
     o.display_name AS organisation_name, m.role, m.joined_at, m.removed_at \
     FROM memberships m JOIN parties o ON o.id = m.organisation_id WHERE m.member_id";

/// A membership with the member's display name.
struct MemberRow {
    membership: MembershipRow,
    member_name: String,
}
from_row!(MemberRow { member_name } |row| { membership: sqlx::FromRow::from_row(row)? });

struct InvitationRow {
    id: InvitationId,
    organisation_id: PartyId,
    role: String,
    code_hash: String,
    created_by: PartyId,
    created_at: Timestamp,
    expires_at: Timestamp,
    redeemed_at: Option<Timestamp>,
    redeemed_by: Option<PartyId>,
    revoked_at: Option<Timestamp>,
}
from_row!(InvitationRow {
    id,
    organisation_id,
    role,
    code_hash,
    created_by,
    created_at,
    expires_at,
    redeemed_at,
    redeemed_by,
    revoked_at
});

/// Names the columns the row type decodes, never `*`: a statement prepared on a pooled SQLite
/// connection before a migration adds a column would otherwise stop decoding after it.
macro_rules! select_invitations {
    ($where:literal) => {
        concat!(
            "SELECT id, organisation_id, role, code_hash, created_by, created_at, expires_at, \
             redeemed_at, redeemed_by, revoked_at FROM invitations ",
            $where
        )
    };
}

impl InvitationRow {
    fn into_record(self) -> Result<InvitationRecord> {
        Ok(InvitationRecord {
            id: self.id,
            organisation: self.organisation_id,
            role: parse_role(&self.role)?,
            code_hash: self.code_hash,
            created_by: self.created_by,
            created_at: self.created_at,
            expires_at: self.expires_at,
            redeemed_at: self.redeemed_at,
            redeemed_by: self.redeemed_by,
            revoked_at: self.revoked_at,
        })
    }
}

/// A listing joined with its organisation's kind and name.
struct ListingRow {
    organisation_id: PartyId,
    kind: String,
    display_name: String,
    share_code: String,
    listed_at: Option<Timestamp>,
    place: Option<String>,
    about: Option<String>,
}
from_row!(ListingRow {
    organisation_id,
    kind,
    display_name,
    share_code,
    listed_at,
    place,
    about
});

const LISTING_COLUMNS: &str = "SELECT l.organisation_id, p.kind, p.display_name, l.share_code, \
     l.listed_at, l.place, l.about FROM organisation_listings l \
     JOIN parties p ON p.id = l.organisation_id";

impl ListingRow {
    fn into_record(self) -> Result<ListingRecord> {
        Ok(ListingRecord {
            organisation: self.organisation_id,
            kind: parse_kind(&self.kind)?,
            display_name: self.display_name,
            share_code: self.share_code,
            listed_at: self.listed_at,
            place: self.place,
            about: self.about,
        })
    }
}

struct OrganisationRow {
    id: PartyId,
    kind: String,
    display_name: String,
    created_at: Timestamp,
    listed_at: Option<Timestamp>,
    place: Option<String>,
    members: i64,
    admins: i64,
}
from_row!(OrganisationRow {
    id,
    kind,
    display_name,
    created_at,
    listed_at,
    place,
    members,
    admins
});

/// An organisation as the service admin lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationRecord {
    pub id: PartyId,
    pub kind: PartyKind,
    pub display_name: String,
    pub created_at: Timestamp,
    pub listed: bool,
    pub place: Option<String>,
    pub members: i64,
    pub admins: i64,
}

/// What an organisation's managers set in its listing.
pub struct ListingChange<'a> {
    pub organisation: &'a PartyId,
    pub listed_at: Option<Timestamp>,
    pub place: Option<&'a str>,
    pub about: Option<&'a str>,
    /// A new share code, replacing the old one.
    pub share_code: Option<&'a str>,
    pub by: &'a PartyId,
    pub now: Timestamp,
}

/// The person an invitation makes a member.
pub struct Joiner<'a> {
    pub id: &'a PartyId,
    pub display_name: &'a str,
    pub registration: Option<&'a ProfessionalRegistration>,
    pub jwk: &'a PublicJwk,
}

impl Store {
    /// Creates an organisation: a party without a key of its own.
    pub async fn create_organisation(
        &self,
        id: &PartyId,
        kind: PartyKind,
        display_name: &str,
        now: Timestamp,
    ) -> Result<()> {
        let new = NewParty {
            id,
            kind,
            display_name,
            registration: None,
            jwk: None,
        };
        self.insert_party(new, now).await
    }

    /// Listed organisations whose name contains `name` (any case), at most `limit`, by name.
    pub async fn find_organisations(&self, name: &str, limit: i64) -> Result<Vec<ListingRecord>> {
        let pattern = format!("%{}%", like_escaped(&name.to_lowercase()));
        let rows: Vec<ListingRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "{LISTING_COLUMNS} WHERE l.listed_at IS NOT NULL AND p.origin IS NULL \
                 AND p.kind IN ('employer', 'practice') \
                 AND LOWER(p.display_name) LIKE $1 ESCAPE '\\' ORDER BY p.display_name, p.id LIMIT $2"
            ))
            .bind(&pattern)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(ListingRow::into_record).collect()
    }

    /// Every organisation (employer or practice) made here, with its listing and its active
    /// members and organisation admins; those whose name contains `name` (any case) if given;
    /// at most `limit`, by name.
    pub async fn organisations(
        &self,
        name: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OrganisationRecord>> {
        let pattern = format!(
            "%{}%",
            like_escaped(&name.unwrap_or_default().to_lowercase())
        );
        let rows: Vec<OrganisationRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT p.id, p.kind, p.display_name, p.created_at, l.listed_at, l.place, \
                 (SELECT COUNT(*) FROM memberships m WHERE m.organisation_id = p.id \
                  AND m.removed_at IS NULL) AS members, \
                 (SELECT COUNT(*) FROM memberships m WHERE m.organisation_id = p.id \
                  AND m.removed_at IS NULL AND m.role = 'org_admin') AS admins \
                 FROM parties p LEFT JOIN organisation_listings l ON l.organisation_id = p.id \
                 WHERE p.kind IN ('employer', 'practice') AND p.origin IS NULL \
                 AND LOWER(p.display_name) LIKE $1 ESCAPE '\\' ORDER BY p.display_name, p.id LIMIT $2",
            )
            .bind(&pattern)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(OrganisationRecord {
                    kind: parse_kind(&r.kind)?,
                    id: r.id,
                    display_name: r.display_name,
                    created_at: r.created_at,
                    listed: r.listed_at.is_some(),
                    place: r.place,
                    members: r.members,
                    admins: r.admins,
                })
            })
            .collect()
    }

    /// How employees find `organisation`, if it has a listing yet.
    pub async fn listing(&self, organisation: &PartyId) -> Result<Option<ListingRecord>> {
        let row: Option<ListingRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("{LISTING_COLUMNS} WHERE l.organisation_id = $1"))
                .bind(organisation)
                .fetch_optional(pool)
                .await?
        });
        row.map(ListingRow::into_record).transpose()
    }

    /// The organisation whose share code is `share_code` (canonical), listed or not.
    pub async fn listing_by_share_code(&self, share_code: &str) -> Result<Option<ListingRecord>> {
        let row: Option<ListingRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "{LISTING_COLUMNS} WHERE l.share_code = $1 AND p.origin IS NULL"
            ))
            .bind(share_code)
            .fetch_optional(pool)
            .await?
        });
        row.map(ListingRow::into_record).transpose()
    }

    /// Gives `organisation` a listing, unlisted, with `share_code`, unless it has one already;
    /// answers its listing either way.
    pub async fn ensure_listing(
        &self,
        organisation: &PartyId,
        share_code: &str,
        now: Timestamp,
    ) -> Result<ListingRecord> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            sqlx::query(
                "INSERT INTO organisation_listings (organisation_id, share_code, updated_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (organisation_id) DO NOTHING",
            )
            .bind(organisation)
            .bind(share_code)
            .bind(now)
            .execute(pool)
            .await?;
        });
        self.listing(organisation)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the listing of {organisation} was not kept").into())
    }

    /// Sets what `organisation`'s listing says (it has one: [`Store::ensure_listing`]), and its
    /// share code when `share_code` is given.
    pub async fn set_listing(&self, change: ListingChange<'_>) -> Result<ListingRecord> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            sqlx::query(
                "UPDATE organisation_listings SET listed_at = $2, place = $3, about = $4, \
                 share_code = COALESCE($5, share_code), updated_at = $6, updated_by = $7 \
                 WHERE organisation_id = $1",
            )
            .bind(change.organisation)
            .bind(change.listed_at)
            .bind(change.place)
            .bind(change.about)
            .bind(change.share_code)
            .bind(change.now)
            .bind(change.by)
            .execute(pool)
            .await?;
        });
        self.listing(change.organisation)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the listing of {} is gone", change.organisation).into())
    }

    /// The membership of `member`, if they are (or were) a member of an organisation.
    pub async fn membership(&self, member: &PartyId) -> Result<Option<MembershipRecord>> {
        let row: Option<MembershipRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "{MEMBERSHIP_COLUMNS} JOIN parties p ON p.id = m.member_id WHERE m.member_id = $1"
            ))
                .bind(member)
                .fetch_optional(pool)
                .await?
        });
        row.map(MembershipRow::into_record).transpose()
    }

    /// The members of an organisation (with their display names), removed ones included.
    pub async fn members(&self, organisation: &PartyId) -> Result<Vec<(MembershipRecord, String)>> {
        let rows: Vec<(String, MembershipRow)> = with_pool!(self, pool => {
            let rows: Vec<MemberRow> = sqlx::query_as(&format!(
                "{MEMBERSHIP_COLUMNS} JOIN parties p ON p.id = m.member_id \
                 WHERE m.organisation_id = $1 ORDER BY m.joined_at, m.member_id"
            ))
            .bind(organisation)
            .fetch_all(pool)
            .await?;
            rows.into_iter().map(|r| (r.member_name, r.membership)).collect()
        });
        rows.into_iter()
            .map(|(name, row)| Ok((row.into_record()?, name)))
            .collect()
    }

    /// Ends a membership (idempotent: the first removal time stays) and, in the same
    /// transaction, revokes the invitations to the organisation the member made that are still
    /// pending: an invitation does not outlive the authority of whoever made it (a removed
    /// org_admin could otherwise come back through one).
    pub async fn remove_member(
        &self,
        organisation: &PartyId,
        member: &PartyId,
        now: Timestamp,
    ) -> Result<Option<MembershipRecord>> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            let removed = sqlx::query(
                "UPDATE memberships SET removed_at = $3 \
                 WHERE organisation_id = $1 AND member_id = $2 AND removed_at IS NULL",
            )
            .bind(organisation)
            .bind(member)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(
                "UPDATE invitations SET revoked_at = $3 \
                 WHERE organisation_id = $1 AND created_by = $2 \
                 AND redeemed_at IS NULL AND revoked_at IS NULL",
            )
            .bind(organisation)
            .bind(member)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            // The admins hear of a member who just left (not of a removal made before).
            if removed == 1 {
                let (name,): (String,) = sqlx::query_as("SELECT display_name FROM parties WHERE id = $1")
                    .bind(member)
                    .fetch_one(&mut *tx)
                    .await?;
                let notices = tell_admins_in!(tx, organisation, member, Kind::MemberLeft, &name);
                super::insert_notices_in!(tx, &notices, now);
            }
            tx.commit().await?;
        });
        Ok(self
            .membership(member)
            .await?
            .filter(|m| m.organisation == *organisation))
    }

    /// Stores an invitation and, with `email` (an address and the words to send it), writes
    /// the email that carries its code in the same transaction.
    pub async fn create_invitation(
        &self,
        invitation: &InvitationRecord,
        email: Option<(&str, &Facts)>,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO invitations (id, organisation_id, role, code_hash, created_by, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&invitation.id)
            .bind(&invitation.organisation)
            .bind(invitation.role.as_str())
            .bind(&invitation.code_hash)
            .bind(&invitation.created_by)
            .bind(invitation.created_at)
            .bind(invitation.expires_at)
            .execute(&mut *tx)
            .await?;
            if let Some((address, facts)) = email {
                super::insert_email_in!(tx, None, Kind::Invitation, facts, address, invitation.created_at);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn invitations(&self, organisation: &PartyId) -> Result<Vec<InvitationRecord>> {
        let rows: Vec<InvitationRow> = with_pool!(self, pool => {
            sqlx::query_as(select_invitations!("WHERE organisation_id = $1 ORDER BY created_at DESC, id"))
                .bind(organisation)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(InvitationRow::into_record).collect()
    }

    pub async fn invitation_by_code_hash(
        &self,
        code_hash: &str,
    ) -> Result<Option<InvitationRecord>> {
        let row: Option<InvitationRow> = with_pool!(self, pool => {
            sqlx::query_as(select_invitations!("WHERE code_hash = $1"))
                .bind(code_hash)
                .fetch_optional(pool)
                .await?
        });
        row.map(InvitationRow::into_record).transpose()
    }

    /// Revokes a pending invitation (a used or revoked one stays as it is).
    pub async fn revoke_invitation(
        &self,
        organisation: &PartyId,
        id: &InvitationId,
        now: Timestamp,
    ) -> Result<Option<InvitationRecord>> {
        let row: Option<InvitationRow> = with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            sqlx::query(
                "UPDATE invitations SET revoked_at = $3 WHERE organisation_id = $1 AND id = $2 \
                 AND revoked_at IS NULL AND redeemed_at IS NULL",
            )
            .bind(organisation)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?;
            sqlx::query_as(select_invitations!("WHERE organisation_id = $1 AND id = $2"))
                .bind(organisation)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(InvitationRow::into_record).transpose()
    }

    /// Redeems the invitation whose code hashes to `code_hash`, if it is still pending at
    /// `now`: marks it used and makes `joiner` a member with its role, in one transaction, so
    /// a code is redeemed once even when two people race. None: nothing was redeemed (the
    /// caller reads the invitation to say why).
    pub async fn redeem_invitation(
        &self,
        code_hash: &str,
        joiner: Joiner<'_>,
        now: Timestamp,
    ) -> Result<Option<Role>> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            let claimed: Option<(PartyId, String)> = sqlx::query_as(
                "UPDATE invitations SET redeemed_at = $2, redeemed_by = $3 WHERE code_hash = $1 \
                 AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
                 RETURNING organisation_id, role",
            )
            .bind(code_hash)
            .bind(now)
            .bind(joiner.id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((organisation, role)) = claimed else {
                return Ok(None);
            };
            let new = NewParty {
                id: joiner.id,
                kind: PartyKind::Member,
                display_name: joiner.display_name,
                registration: joiner.registration,
                jwk: Some(joiner.jwk),
            };
            insert_party_in!(tx, new, now);
            sqlx::query(
                "INSERT INTO memberships (member_id, organisation_id, role, joined_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(joiner.id)
            .bind(&organisation)
            .bind(&role)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let notices = tell_admins_in!(tx, &organisation, joiner.id, Kind::MemberJoined, joiner.display_name);
            super::insert_notices_in!(tx, &notices, now);
            tx.commit().await?;
            Ok(Some(parse_role(&role)?))
        })
    }
}

/// The notices telling organisation `$org`'s active admins (but `$member`) that `$name` came or
/// went, read in transaction `$tx`.
macro_rules! tell_admins_in {
    ($tx:expr, $org:expr, $member:expr, $kind:expr, $name:expr) => {{
        let admins: Vec<(PartyId,)> = sqlx::query_as(
            "SELECT member_id FROM memberships WHERE organisation_id = $1 AND role = 'org_admin' \
             AND removed_at IS NULL AND member_id <> $2 ORDER BY member_id",
        )
        .bind($org)
        .bind($member)
        .fetch_all(&mut *$tx)
        .await?;
        admins
            .into_iter()
            .map(|(admin,)| Notice::new(&admin, $kind, Facts::who($name)))
            .collect::<Vec<_>>()
    }};
}
use tell_admins_in;

/// `text` with LIKE's wildcards escaped (the escape character is `\`).
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
