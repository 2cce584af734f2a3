//! Notifications (the outbox), email addresses and choices, calendar feeds, review dates, and
//! the claiming of emails to send.

use wp_schemas::api::NotificationKind;

use super::grants::GrantRow;
use super::types::from_row;
use super::{Store, with_pool};
use crate::domain::grant::GrantRecord;
use crate::domain::ids::{NotificationId, PartyId, PassportId};
use crate::domain::notification::{Facts, Notice};
use crate::domain::time::Timestamp;
use crate::error::Result;

/// Writes `$notices` (a `&[Notice]`) in transaction `$tx` at `$now`: each with its email
/// decided now (the recipient's verified address, unless they turned this kind off; security
/// alerts always), and a reminder whose key was written already skipped.
macro_rules! insert_notices_in {
    ($tx:expr, $notices:expr, $now:expr) => {{
        let notices: &[$crate::domain::notification::Notice] = $notices;
        let now: $crate::domain::time::Timestamp = $now;
        for notice in notices {
            let facts = serde_json::to_string(&notice.facts).map_err(anyhow::Error::from)?;
            sqlx::query(
                "INSERT INTO notifications (id, recipient_id, kind, facts, dedupe_key, created_at, \
                 email_to, email_next_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, \
                 (SELECT e.address FROM email_addresses e WHERE e.party_id = $2 \
                  AND e.verified_at IS NOT NULL AND ($7 OR NOT EXISTS \
                  (SELECT 1 FROM email_opt_outs o WHERE o.party_id = $2 AND o.kind = $3))), $6) \
                 ON CONFLICT (dedupe_key) DO NOTHING",
            )
            .bind($crate::domain::ids::NotificationId::random())
            .bind(&notice.recipient)
            .bind(notice.kind.as_str())
            .bind(&facts)
            .bind(&notice.dedupe_key)
            .bind(now)
            .bind(notice.kind.is_security())
            .execute(&mut *$tx)
            .await?;
        }
    }};
}
pub(crate) use insert_notices_in;

/// A notification as stored.
pub struct NotificationRow {
    pub id: NotificationId,
    pub recipient_id: Option<PartyId>,
    pub kind: String,
    pub facts: String,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
}
from_row!(NotificationRow {
    id,
    recipient_id,
    kind,
    facts,
    created_at,
    read_at
});

/// A stored notification, decoded.
#[derive(Debug, Clone)]
pub struct StoredNotification {
    pub id: NotificationId,
    /// None for an email to an address alone (an invitation).
    pub recipient: Option<PartyId>,
    pub kind: NotificationKind,
    pub facts: Facts,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
}

impl NotificationRow {
    fn decode(self) -> Result<StoredNotification> {
        let kind = NotificationKind::parse(&self.kind)
            .ok_or_else(|| anyhow::anyhow!("bad notification kind {} in store", self.kind))?;
        Ok(StoredNotification {
            id: self.id,
            recipient: self.recipient_id,
            kind,
            facts: serde_json::from_str(&self.facts).map_err(anyhow::Error::from)?,
            created_at: self.created_at,
            read_at: self.read_at,
        })
    }
}

/// An email claimed for sending: the notification and the address.
#[derive(Debug, Clone)]
pub struct ClaimedEmail {
    pub notification: StoredNotification,
    pub to: String,
}

struct ClaimedRow {
    notification: NotificationRow,
    email_to: String,
}
from_row!(ClaimedRow { email_to } |row| {
    notification: sqlx::FromRow::from_row(row)?
});

/// A person's address for notifications.
#[derive(Debug, Clone)]
pub struct EmailAddress {
    pub address: String,
    pub verified: bool,
    pub unsubscribe_secret: String,
}

/// A review date due between two days, with whom it concerns.
#[derive(Debug, Clone)]
pub struct DueReview {
    pub passport_id: PassportId,
    pub record_id: String,
    pub review_on: String,
    pub set_at: Timestamp,
    pub owner_id: PartyId,
    pub owner_name: String,
    pub agreed_by: Option<PartyId>,
}
struct DueReviewRow {
    passport_id: PassportId,
    record_id: String,
    review_on: String,
    set_at: Timestamp,
    owner_id: PartyId,
    owner_name: String,
    agreed_by: Option<PartyId>,
}
from_row!(DueReviewRow {
    passport_id,
    record_id,
    review_on,
    set_at,
    owner_id,
    owner_name,
    agreed_by
});

/// The next page of a recipient's notifications: older than `before` (a notification id).
const PAGE: i64 = 50;

impl Store {
    /// Writes notifications in a transaction of their own (reminders, whose writing is the
    /// change; events write theirs with the change, by `insert_notices_in!`).
    pub async fn notify(&self, notices: &[Notice], now: Timestamp) -> Result<()> {
        if notices.is_empty() {
            return Ok(());
        }
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            insert_notices_in!(tx, notices, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// A recipient's notifications, newest first, `PAGE` at a time, older than `before`;
    /// verification emails are not listed.
    pub async fn notifications_of(
        &self,
        recipient: &PartyId,
        before: Option<&NotificationId>,
    ) -> Result<(Vec<StoredNotification>, bool)> {
        let rows: Vec<NotificationRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT n.id, n.recipient_id, n.kind, n.facts, n.created_at, n.read_at \
                 FROM notifications n WHERE n.recipient_id = $1 AND n.kind NOT IN ('email_verification', 'invitation') \
                 AND ($2 IS NULL OR (n.created_at, n.id) < \
                   (SELECT b.created_at, b.id FROM notifications b WHERE b.id = $2 AND b.recipient_id = $1)) \
                 ORDER BY n.created_at DESC, n.id DESC LIMIT $3",
            )
            .bind(recipient)
            .bind(before)
            .bind(PAGE + 1)
            .fetch_all(pool)
            .await?
        });
        let more = rows.len() as i64 > PAGE;
        let list = rows
            .into_iter()
            .take(PAGE as usize)
            .map(NotificationRow::decode)
            .collect::<Result<_>>()?;
        Ok((list, more))
    }

    pub async fn unread_count(&self, recipient: &PartyId) -> Result<i64> {
        let (n,): (i64,) = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT COUNT(*) FROM notifications WHERE recipient_id = $1 AND read_at IS NULL \
                 AND kind NOT IN ('email_verification', 'invitation')",
            )
            .bind(recipient)
            .fetch_one(pool)
            .await?
        });
        Ok(n)
    }

    /// Marks one of the recipient's notifications read (or all, with None); false if the
    /// recipient has no such notification.
    pub async fn mark_read(
        &self,
        recipient: &PartyId,
        id: Option<&NotificationId>,
        now: Timestamp,
    ) -> Result<bool> {
        let found = with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            sqlx::query(
                "UPDATE notifications SET read_at = COALESCE(read_at, $3) \
                 WHERE recipient_id = $1 AND ($2 IS NULL OR id = $2)",
            )
            .bind(recipient)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(id.is_none() || found == 1)
    }

    pub async fn email_address(&self, party: &PartyId) -> Result<Option<EmailAddress>> {
        let row: Option<(String, Option<i64>, String)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT address, verified_at, unsubscribe_secret FROM email_addresses WHERE party_id = $1",
            )
            .bind(party)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(address, verified, secret)| EmailAddress {
            address,
            verified: verified.is_some(),
            unsubscribe_secret: secret,
        }))
    }

    /// Sets a party's address, unverified, with the hash of its verification code, and writes
    /// the verification email in the same transaction. Emails not yet sent to an earlier address
    /// stop.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_email_address(
        &self,
        party: &PartyId,
        address: &str,
        code_hash: &str,
        code_expires_at: Timestamp,
        unsubscribe_secret: &str,
        verification: &Notice,
        now: Timestamp,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO email_addresses (party_id, address, verified_at, code_hash, \
                 code_expires_at, unsubscribe_secret, updated_at) VALUES ($1, $2, NULL, $3, $4, $5, $6) \
                 ON CONFLICT (party_id) DO UPDATE SET address = $2, verified_at = NULL, code_hash = $3, \
                 code_expires_at = $4, unsubscribe_secret = $5, updated_at = $6",
            )
            .bind(party)
            .bind(address)
            .bind(code_hash)
            .bind(code_expires_at)
            .bind(unsubscribe_secret)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            forget_pending_emails_in!(tx, party);
            insert_email_in!(tx, Some(party), verification.kind, &verification.facts, address, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Verifies the address whose code hashes to `code_hash`, if the code is still valid;
    /// the party whose address it is.
    pub async fn verify_email_address(
        &self,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<Option<PartyId>> {
        Ok(with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            sqlx::query_as::<_, (PartyId,)>(
                "UPDATE email_addresses SET verified_at = $2, code_hash = NULL, code_expires_at = NULL \
                 WHERE code_hash = $1 AND code_expires_at > $2 RETURNING party_id",
            )
            .bind(code_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?
            .map(|(p,)| p)
        }))
    }

    /// Removes a party's address: nothing more is emailed, pending emails included.
    pub async fn remove_email_address(&self, party: &PartyId) -> Result<bool> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            let removed = sqlx::query("DELETE FROM email_addresses WHERE party_id = $1")
                .bind(party)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            forget_pending_emails_in!(tx, party);
            tx.commit().await?;
            Ok(removed == 1)
        })
    }

    /// The kinds a party turned off by email.
    pub async fn email_opt_outs(&self, party: &PartyId) -> Result<Vec<NotificationKind>> {
        let rows: Vec<(String,)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT kind FROM email_opt_outs WHERE party_id = $1")
                .bind(party)
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(k,)| NotificationKind::parse(&k))
            .collect())
    }

    /// Sets whether each kind comes by email (true removes an opt-out, false adds one).
    pub async fn set_email_choices(
        &self,
        party: &PartyId,
        choices: &[(NotificationKind, bool)],
    ) -> Result<()> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            for (kind, email) in choices {
                let sql = if *email {
                    "DELETE FROM email_opt_outs WHERE party_id = $1 AND kind = $2"
                } else {
                    "INSERT INTO email_opt_outs (party_id, kind) VALUES ($1, $2) ON CONFLICT DO NOTHING"
                };
                sqlx::query(sql).bind(party).bind(kind.as_str()).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Replaces (or, with None, removes) a party's calendar feed.
    pub async fn set_calendar_feed(
        &self,
        party: &PartyId,
        token_hash: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM calendar_feeds WHERE party_id = $1")
                .bind(party)
                .execute(&mut *tx)
                .await?;
            if let Some(hash) = token_hash {
                sqlx::query("INSERT INTO calendar_feeds (party_id, token_hash, created_at) VALUES ($1, $2, $3)")
                    .bind(party)
                    .bind(hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn has_calendar_feed(&self, party: &PartyId) -> Result<bool> {
        let row: Option<(i64,)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT created_at FROM calendar_feeds WHERE party_id = $1")
                .bind(party)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.is_some())
    }

    pub async fn calendar_feed_owner(&self, token_hash: &str) -> Result<Option<PartyId>> {
        let row: Option<(PartyId,)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT party_id FROM calendar_feeds WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(p,)| p))
    }

    /// Review dates from `from` to `to` (days, `YYYY-MM-DD`, inclusive) of live passports.
    pub async fn reviews_between(&self, from: &str, to: &str) -> Result<Vec<DueReview>> {
        self.reviews_where("r.review_on >= $1 AND r.review_on <= $2", &[from, to])
            .await
    }

    /// The review dates of one owner's passport.
    pub async fn reviews_of_owner(&self, owner: &PartyId) -> Result<Vec<DueReview>> {
        self.reviews_where("p.owner_id = $1", &[owner.as_str()])
            .await
    }

    /// The review dates of passports agreed by `organisation`.
    pub async fn reviews_agreed_by(&self, organisation: &PartyId) -> Result<Vec<DueReview>> {
        self.reviews_where("r.agreed_by = $1", &[organisation.as_str()])
            .await
    }

    /// The review dates that `filter` keeps, its `$1`, `$2`... bound to `binds`.
    async fn reviews_where(&self, filter: &str, binds: &[&str]) -> Result<Vec<DueReview>> {
        let sql = format!(
            "SELECT r.passport_id, r.record_id, r.review_on, r.set_at, p.owner_id, \
             o.display_name AS owner_name, r.agreed_by FROM review_dates r \
             JOIN passports p ON p.id = r.passport_id JOIN parties o ON o.id = p.owner_id \
             WHERE p.erased_at IS NULL AND {filter} ORDER BY r.review_on, r.record_id"
        );
        let rows: Vec<DueReviewRow> = with_pool!(self, pool => {
            let mut query = sqlx::query_as(&sql);
            for bind in binds {
                query = query.bind(*bind);
            }
            query.fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|r| DueReview {
                passport_id: r.passport_id,
                record_id: r.record_id,
                review_on: r.review_on,
                set_at: r.set_at,
                owner_id: r.owner_id,
                owner_name: r.owner_name,
                agreed_by: r.agreed_by,
            })
            .collect())
    }

    /// Grants not revoked whose end falls between `from` and `to`.
    pub async fn grants_ending_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<GrantRecord>> {
        let rows: Vec<GrantRow> = with_pool!(self, pool => {
            sqlx::query_as(super::grants::select_grants!(
                "WHERE revoked_at IS NULL AND ends_at >= $1 AND ends_at <= $2 ORDER BY ends_at, id"
            ))
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(GrantRow::into_grant).collect()
    }

    /// Claims up to `limit` emails due at `now` until `lease_until`: pending, and either never
    /// claimed or whose claim ran out (its instance died, or hangs). On PostgreSQL the rows
    /// another instance is claiming are skipped (`FOR UPDATE SKIP LOCKED`), so two instances
    /// never claim one email; SQLite has one writer at a time.
    pub async fn claim_emails(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
        claim: &str,
    ) -> Result<Vec<ClaimedEmail>> {
        const DUE: &str = "SELECT id FROM notifications WHERE email_to IS NOT NULL \
             AND email_sent_at IS NULL AND email_parked_at IS NULL AND email_next_at <= $1 \
             AND (email_lease_until IS NULL OR email_lease_until <= $1) \
             ORDER BY email_next_at, id LIMIT $3";
        let lock = match self {
            Store::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Store::Sqlite(..) => "",
        };
        let sql = format!(
            "UPDATE notifications SET email_lease_until = $2, email_claim = $4 \
             WHERE id IN ({DUE}{lock}) \
             RETURNING id, recipient_id, kind, facts, created_at, read_at, email_to"
        );
        let rows: Vec<ClaimedRow> = with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            sqlx::query_as(&sql)
                .bind(now)
                .bind(lease_until)
                .bind(limit)
                .bind(claim)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(ClaimedEmail {
                    notification: r.notification.decode()?,
                    to: r.email_to,
                })
            })
            .collect()
    }

    /// Renews the lease of an email claimed under `claim` just before it is sent, and counts
    /// the attempt: the attempts so far, or None if the email is no longer this claim's (its
    /// lease ran out and another instance claimed it, or it was sent or parked meanwhile). So an
    /// instance slower than its lease never sends an email another has claimed.
    pub async fn renew_claim(
        &self,
        id: &NotificationId,
        claim: &str,
        lease_until: Timestamp,
    ) -> Result<Option<i64>> {
        let row: Option<(i64,)> = with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            sqlx::query_as(
                "UPDATE notifications SET email_lease_until = $3, email_attempts = email_attempts + 1 \
                 WHERE id = $1 AND email_claim = $2 AND email_sent_at IS NULL \
                 AND email_parked_at IS NULL AND email_to IS NOT NULL RETURNING email_attempts",
            )
            .bind(id)
            .bind(claim)
            .bind(lease_until)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(n,)| n))
    }

    /// Records an email as sent; a verification's or an invitation's code is forgotten with it.
    pub async fn email_sent(&self, id: &NotificationId, now: Timestamp) -> Result<()> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            sqlx::query(
                "UPDATE notifications SET email_sent_at = $2, email_lease_until = NULL, \
                 email_error = NULL, \
                 facts = CASE WHEN kind IN ('email_verification', 'invitation') THEN '{}' ELSE facts END \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Records a failed attempt: tried again at `retry_at`, or parked (None) for the operator.
    pub async fn email_failed(
        &self,
        id: &NotificationId,
        retry_at: Option<Timestamp>,
        error: &str,
        now: Timestamp,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            sqlx::query(
                "UPDATE notifications SET email_lease_until = NULL, email_error = $2, \
                 email_next_at = COALESCE($3, email_next_at), \
                 email_parked_at = CASE WHEN $3 IS NULL THEN $4 ELSE NULL END WHERE id = $1",
            )
            .bind(id)
            .bind(error)
            .bind(retry_at)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The ids of every party of `kind` (the service admins, to alert).
    pub async fn parties_of_kind(&self, kind: wp_schemas::api::PartyKind) -> Result<Vec<PartyId>> {
        let rows: Vec<(PartyId,)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id FROM parties WHERE kind = $1 ORDER BY id")
                .bind(kind.as_str())
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(p,)| p).collect())
    }

    /// Emails pending (not sent, not parked) and parked: the outbox's depth and its failures.
    pub async fn email_counts(&self) -> Result<(i64, i64)> {
        let row: (i64, i64) = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT \
                 COALESCE(SUM(CASE WHEN email_parked_at IS NULL THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN email_parked_at IS NOT NULL THEN 1 ELSE 0 END), 0) \
                 FROM notifications WHERE email_to IS NOT NULL AND email_sent_at IS NULL",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(row)
    }
}

/// Writes, in transaction `$tx` at `$now`, an email of `$kind` with `$facts` to `$address`
/// alone: to someone who is no party here (an invitation), or not yet verified.
macro_rules! insert_email_in {
    ($tx:expr, $recipient:expr, $kind:expr, $facts:expr, $address:expr, $now:expr) => {{
        let facts = serde_json::to_string($facts).map_err(anyhow::Error::from)?;
        let recipient: Option<&$crate::domain::ids::PartyId> = $recipient;
        sqlx::query(
            "INSERT INTO notifications (id, recipient_id, kind, facts, created_at, email_to, \
             email_next_at) VALUES ($1, $2, $3, $4, $5, $6, $5)",
        )
        .bind($crate::domain::ids::NotificationId::random())
        .bind(recipient)
        .bind($kind.as_str())
        .bind(&facts)
        .bind($now)
        .bind($address)
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(crate) use insert_email_in;

/// Stops the emails not yet sent to party `$party` (its address changed or went), in `$tx`.
macro_rules! forget_pending_emails_in {
    ($tx:expr, $party:expr) => {
        sqlx::query(
            "UPDATE notifications SET email_to = NULL WHERE recipient_id = $1 \
             AND email_to IS NOT NULL AND email_sent_at IS NULL",
        )
        .bind($party)
        .execute(&mut *$tx)
        .await?
    };
}
use forget_pending_emails_in;
