//! One-time identifiers (assertion and DPoP proof `jti`s), shared by every server instance.

use super::{Store, with_pool};
use crate::domain::time::Timestamp;
use crate::error::Result;

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
