//! Parties and their keys.

use std::collections::HashMap;

use wp_schemas::api::{Party, PartyKey, PartyKind, ProfessionalRegistration};
use wp_schemas::jose::PublicJwk;
use wp_schemas::problem::ProblemType;

use super::organisations::MembershipRow;
use super::types::from_row;
use super::{Store, with_pool};
use crate::domain::ids::{Kid, PartyId};
use crate::domain::notification::Notice;
use crate::domain::organisation::MembershipRecord;
use crate::domain::party::RegisteredKey;
use crate::domain::time::Timestamp;
use crate::error::{Error, Result, ResultExt};

struct PartyRow {
    id: PartyId,
    kind: String,
    display_name: String,
    profession: Option<String>,
    registration_body: Option<String>,
    registration_number: Option<String>,
    created_at: Timestamp,
    origin: Option<String>,
}
from_row!(PartyRow {
    id,
    kind,
    display_name,
    profession,
    registration_body,
    registration_number,
    created_at,
    origin
});

struct KeyRow {
    kid: Kid,
    party_id: PartyId,
    kind: String,
    jwk: String,
    created_at: Timestamp,
    revoked_at: Option<Timestamp>,
}
from_row!(KeyRow {
    kid,
    party_id,
    kind,
    jwk,
    created_at,
    revoked_at
});

impl KeyRow {
    fn into_key(self) -> Result<RegisteredKey> {
        Ok(RegisteredKey {
            party_kind: parse_kind(&self.kind)?,
            jwk: serde_json::from_str(&self.jwk).map_err(anyhow::Error::from)?,
            kid: self.kid,
            party_id: self.party_id,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
        })
    }
}

pub(crate) fn parse_kind(kind: &str) -> Result<PartyKind> {
    PartyKind::parse(kind).ok_or_else(|| anyhow::anyhow!("unknown party kind {kind}").into())
}

pub(crate) fn key_conflict() -> Error {
    Error::client(ProblemType::Conflict, "this key is already registered")
}

/// What a key revocation did.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyRevocation {
    Revoked,
    NotFound,
    LastActiveKey,
}

/// A party to insert.
pub struct NewParty<'a> {
    pub id: &'a PartyId,
    pub kind: PartyKind,
    pub display_name: &'a str,
    pub registration: Option<&'a ProfessionalRegistration>,
    /// Its first key; an organisation whose members act for it has none.
    pub jwk: Option<&'a PublicJwk>,
}

/// Inserts a [`NewParty`] (and its first key) inside transaction `$tx`; a key registered
/// already is a conflict.
macro_rules! insert_party_in {
    ($tx:expr, $new:expr, $now:expr) => {{
        let new: &$crate::service::store::NewParty<'_> = &$new;
        let registration = new.registration;
        sqlx::query(
            "INSERT INTO parties (id, kind, display_name, profession, registration_body, registration_number, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new.id)
        .bind(new.kind.as_str())
        .bind(new.display_name)
        .bind(registration.map(|r| r.profession.as_str()))
        .bind(registration.map(|r| r.registration_body.as_str()))
        .bind(registration.map(|r| r.registration_number.as_str()))
        .bind($now)
        .execute(&mut *$tx)
        .await?;
        if let Some(jwk) = new.jwk {
            let jwk_json = serde_json::to_string(jwk).map_err(anyhow::Error::from)?;
            sqlx::query("INSERT INTO party_keys (kid, party_id, jwk, created_at) VALUES ($1, $2, $3, $4)")
                .bind(jwk.thumbprint())
                .bind(new.id)
                .bind(&jwk_json)
                .bind($now)
                .execute(&mut *$tx)
                .await
                .on_unique_violation($crate::service::store::parties::key_conflict)?;
        }
    }};
}
pub(crate) use insert_party_in;

const KEY_COLUMNS: &str = "SELECT k.kid, k.party_id, p.kind, k.jwk, k.created_at, k.revoked_at \
     FROM party_keys k JOIN parties p ON p.id = k.party_id";

impl Store {
    /// Creates a party with its first key (an organisation may have none), in one transaction.
    pub async fn create_party(
        &self,
        id: &PartyId,
        kind: PartyKind,
        display_name: &str,
        registration: Option<&ProfessionalRegistration>,
        jwk: &PublicJwk,
        now: Timestamp,
    ) -> Result<()> {
        let new = NewParty {
            id,
            kind,
            display_name,
            registration,
            jwk: Some(jwk),
        };
        self.insert_party(new, now).await
    }

    /// Inserts a party (and its first key, if it has one), in one transaction.
    pub(super) async fn insert_party(&self, new: NewParty<'_>, now: Timestamp) -> Result<()> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            insert_party_in!(tx, new, now);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn party(&self, id: &PartyId) -> Result<Option<Party>> {
        Ok(self.parties(std::slice::from_ref(id)).await?.pop())
    }

    /// The parties with these ids that exist, in the order of `ids`, each with its keys and
    /// membership: three statements however many parties there are (an export reads every
    /// author's).
    pub async fn parties(&self, ids: &[PartyId]) -> Result<Vec<Party>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        /// Pushes `(id, id, ...)` as bound parameters: one list, then the rest of the query.
        macro_rules! in_list {
            ($query:expr) => {{
                $query.push(" IN (");
                let mut list = $query.separated(", ");
                for id in ids {
                    list.push_bind(id);
                }
                $query.push(")");
            }};
        }
        let (rows, keys, memberships) = with_pool!(self, pool => {
            // Columns named, never `*`: a pooled SQLite connection opened before a migration
            // added a column prepares `*` with the old column count and steps it with the new
            // one, which sqlx cannot decode.
            let mut query = sqlx::QueryBuilder::new(
                "SELECT id, kind, display_name, profession, registration_body, registration_number, created_at, origin \
                 FROM parties WHERE id",
            );
            in_list!(query);
            let rows: Vec<PartyRow> = query.build_query_as().fetch_all(pool).await?;
            // A party's own keys, and (for an external party) the keys its bundle carried.
            let mut query = sqlx::QueryBuilder::new(format!("{KEY_COLUMNS} WHERE k.party_id"));
            in_list!(query);
            query.push(
                " UNION ALL SELECT e.kid, e.party_id, p.kind, e.jwk, e.created_at, e.revoked_at \
                 FROM external_keys e JOIN parties p ON p.id = e.party_id WHERE e.party_id",
            );
            in_list!(query);
            query.push(" ORDER BY 5, 1");
            let keys: Vec<KeyRow> = query.build_query_as().fetch_all(pool).await?;
            let mut query = sqlx::QueryBuilder::new(super::organisations::MEMBERSHIP_OF);
            in_list!(query);
            let memberships: Vec<MembershipRow> = query.build_query_as().fetch_all(pool).await?;
            (rows, keys, memberships)
        });
        let mut keys_of: HashMap<PartyId, Vec<PartyKey>> = HashMap::new();
        for k in keys {
            let key = k.into_key()?;
            keys_of.entry(key.party_id).or_default().push(PartyKey {
                kid: key.kid.into(),
                jwk: key.jwk,
                created_at: key.created_at.to_datetime(),
                revoked_at: key.revoked_at.map(Timestamp::to_datetime),
            });
        }
        let mut membership_of: HashMap<PartyId, MembershipRecord> = HashMap::new();
        for m in memberships {
            let m = m.into_record()?;
            membership_of.insert(m.member.clone(), m);
        }
        let mut rows: HashMap<PartyId, PartyRow> =
            rows.into_iter().map(|row| (row.id.clone(), row)).collect();
        ids.iter()
            .filter_map(|id| rows.remove(id))
            .map(|row| {
                let registration = match (
                    row.profession,
                    row.registration_body,
                    row.registration_number,
                ) {
                    (Some(profession), Some(registration_body), Some(registration_number)) => {
                        Some(ProfessionalRegistration {
                            profession,
                            registration_body,
                            registration_number,
                        })
                    }
                    _ => None,
                };
                Ok(Party {
                    kind: parse_kind(&row.kind)?,
                    display_name: row.display_name,
                    registration,
                    membership: membership_of.remove(&row.id).map(|m| m.to_wire()),
                    keys: keys_of.remove(&row.id).unwrap_or_default(),
                    created_at: row.created_at.to_datetime(),
                    origin: row.origin,
                    id: row.id.into(),
                })
            })
            .collect()
    }

    /// The key with this thumbprint and the party holding it.
    pub async fn key(&self, kid: &Kid) -> Result<Option<RegisteredKey>> {
        let row: Option<KeyRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("{KEY_COLUMNS} WHERE k.kid = $1"))
                .bind(kid)
                .fetch_optional(pool)
                .await?
        });
        row.map(KeyRow::into_key).transpose()
    }

    /// Adds a key, and writes `notices` (the party's security alert) with it.
    pub async fn add_key(
        &self,
        party_id: &PartyId,
        jwk: &PublicJwk,
        notices: &[Notice],
        now: Timestamp,
    ) -> Result<()> {
        let jwk_json = serde_json::to_string(jwk).map_err(anyhow::Error::from)?;
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO party_keys (kid, party_id, jwk, created_at) VALUES ($1, $2, $3, $4)")
                .bind(jwk.thumbprint())
                .bind(party_id)
                .bind(&jwk_json)
                .bind(now)
                .execute(&mut *tx)
                .await
                .on_unique_violation(key_conflict)?;
            super::insert_notices_in!(tx, notices, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Revokes a key unless it is the party's last active one (which would lock the party out),
    /// and writes `notices` (the party's security alert) with the revocation.
    pub async fn revoke_key(
        &self,
        party_id: &PartyId,
        kid: &Kid,
        notices: &[Notice],
        now: Timestamp,
    ) -> Result<KeyRevocation> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            // Lock the party first, so that two concurrent revocations cannot each see the
            // other's key as still active and together revoke every key.
            sqlx::query("UPDATE parties SET display_name = display_name WHERE id = $1")
                .bind(party_id)
                .execute(&mut *tx)
                .await?;
            let revoked = sqlx::query(
                "UPDATE party_keys SET revoked_at = $3 WHERE party_id = $1 AND kid = $2 AND revoked_at IS NULL",
            )
            .bind(party_id)
            .bind(kid)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if revoked == 0 {
                return Ok(KeyRevocation::NotFound);
            }
            let (active,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM party_keys WHERE party_id = $1 AND revoked_at IS NULL",
            )
            .bind(party_id)
            .fetch_one(&mut *tx)
            .await?;
            if active == 0 {
                tx.rollback().await?;
                return Ok(KeyRevocation::LastActiveKey);
            }
            super::insert_notices_in!(tx, notices, now);
            tx.commit().await?;
        });
        Ok(KeyRevocation::Revoked)
    }
}
