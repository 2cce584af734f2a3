//! One-time identifiers (assertion and DPoP proof `jti`s), shared by every server instance.

use super::{Store, with_pool};
use crate::domain::time::Timestamp;
use crate::error::Result;

/// Admits DPoP proofs (a slice of `&Admission`) in `$executor`, a pool or a transaction: records
/// each `jti` that is new and whose key is still registered to its party and not revoked.
/// Evaluates to the set of jtis admitted. The one statement that admits a proof: the
/// group-commit writer and a version's own transaction both come here.
macro_rules! admit_proofs {
    ($executor:expr, $admissions:expr) => {{
        let mut admitted = std::collections::HashSet::new();
        // 4 parameters each; SQLite allows 32766 in a statement.
        for part in $admissions.chunks(1024) {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO used_jtis (jti, expires_at) SELECT v.column1, v.column2 FROM (",
            );
            query.push_values(part, |mut row, a: &&$crate::service::store::Admission| {
                row.push_bind(&a.jti)
                    .push_bind(a.expires_at)
                    .push_bind(&a.kid)
                    .push_bind(&a.party_id);
            });
            query.push(
                ") AS v WHERE EXISTS (SELECT 1 FROM party_keys k WHERE k.kid = v.column3 \
                 AND k.party_id = v.column4 AND k.revoked_at IS NULL) \
                 ON CONFLICT (jti) DO NOTHING RETURNING jti",
            );
            let rows: Vec<(String,)> = query.build_query_as().fetch_all($executor).await?;
            admitted.extend(rows.into_iter().map(|r| r.0));
        }
        admitted
    }};
}
pub(crate) use admit_proofs;

impl Store {
    /// Records `jti` as used until `expires_at`. Returns false if it was already used: a replay.
    pub async fn use_jti(&self, jti: &str, expires_at: Timestamp) -> Result<bool> {
        let inserted = with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            sqlx::query("INSERT INTO used_jtis (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                .bind(jti)
                .bind(expires_at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(inserted == 1)
    }

    /// How many used ids are remembered (the metrics' `wp_replay_jtis`).
    pub async fn count_jtis(&self) -> Result<i64> {
        let (count,): (i64,) = with_pool!(self, pool => {
            sqlx::query_as("SELECT COUNT(*) FROM used_jtis").fetch_one(pool).await?
        });
        Ok(count)
    }

    /// Forgets ids that could no longer be accepted anyway (their proof or assertion expired).
    pub async fn purge_expired_jtis(&self, now: Timestamp) -> Result<u64> {
        Ok(with_pool!(self, pool => {
            let _writing = self.write_guard().await;
            sqlx::query("DELETE FROM used_jtis WHERE expires_at < $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
