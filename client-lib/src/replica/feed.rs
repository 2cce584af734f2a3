//! The changes feed: one request at a time, and what a refusal means for the local copy.

use reqwest::{Method, StatusCode, header};
use wp_schemas::api::Changes;
use wp_schemas::paths;
use wp_schemas::problem::ProblemType;

use super::{Replica, SyncState};
use crate::error::{ClientError, Result};
use crate::passport::PassportClient;

/// An answer of the changes feed.
pub(super) enum Answer {
    NotModified,
    Changes {
        changes: Changes,
        etag: Option<String>,
        bytes: u64,
    },
}

impl Replica {
    /// One request to the changes feed, with `If-None-Match` when there is a tag.
    pub(super) async fn fetch(
        &self,
        passport: &PassportClient<'_>,
        since: i64,
        etag: Option<&str>,
    ) -> Result<Answer> {
        let mut path = format!("{}?since={since}", paths::passport_changes(&passport.id));
        if let Some(limit) = self.page_limit {
            path.push_str(&format!("&limit={limit}"));
        }
        let extra = etag.map(|t| (header::IF_NONE_MATCH, t.to_owned()));
        let response = passport
            .client()
            .send(Method::GET, &path, passport.grant_id(), None::<&()>, extra)
            .await?;
        if response.status() == StatusCode::NOT_MODIFIED {
            if etag.is_none() {
                return Err(ClientError::Protocol(
                    "304 to a request without If-None-Match".into(),
                ));
            }
            return Ok(Answer::NotModified);
        }
        let etag = response
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await?;
        let changes: Changes = serde_json::from_slice(&body)
            .map_err(|e| ClientError::Protocol(format!("the changes feed: {e}")))?;
        Ok(Answer::Changes {
            changes,
            etag,
            bytes: body.len() as u64,
        })
    }

    /// Turns a refusal into what the caller must know: consent ended (local copy deleted), or
    /// a rollback for a cursor the server no longer reaches.
    pub(super) async fn refused(
        &self,
        passport: &PassportClient<'_>,
        state: Option<&SyncState>,
        error: ClientError,
    ) -> ClientError {
        let kind = error.problem_type();
        if error.consent_ended(passport.grant_id().is_some()) {
            return match self.purge(&passport.id).await {
                Ok(_) => error,
                // The caller must know the copy is still there.
                Err(e) => e,
            };
        }
        if let Some(state) = state
            && kind == Some(ProblemType::Conflict)
            && error.status() == Some(409)
        {
            let served = self.served_seq(passport).await.unwrap_or(-1);
            return ClientError::Rollback {
                seen: state.checkpoint_seq.max(state.cursor),
                served,
            };
        }
        error
    }

    /// The sequence the server now signs for, for a rollback report (-1 if it gives none).
    async fn served_seq(&self, passport: &PassportClient<'_>) -> Result<i64> {
        let path = format!("{}?since=0&limit=1", paths::passport_changes(&passport.id));
        let changes: Changes = passport
            .client()
            .call(Method::GET, &path, passport.grant_id(), None::<&()>)
            .await?;
        let (claims, _) = self
            .verify_checkpoint(passport.client(), &passport.id, &changes.checkpoint)
            .await?;
        Ok(claims.seq)
    }
}
