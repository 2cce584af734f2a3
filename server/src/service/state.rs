//! The state every request shares: the store, the group-commit writer, the keys and the
//! settings, with the per-request credential checks that need them.

use std::sync::Arc;
use std::time::Duration;

use wp_schemas::api::AccessTokenClaims;
use wp_schemas::problem::ProblemType;

use super::heads::HeadsCache;
use super::store::{Admission, Store, Writer};
use crate::config::Settings;
use crate::domain::audit::LogEvent;
use crate::domain::auth;
use crate::domain::ids::PassportId;
use crate::domain::time::Timestamp;
use crate::error::{Error, Result};
use crate::keys::{MasterKeys, ServerKeys};
use crate::metrics::{Cache, Metrics, Scraped};

/// Everything a handler needs, shared by every request.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The store, the writer and the keys are the service's alone (see the module comment of
/// `service`): a handler reaches them only through a use case.
pub struct Inner {
    pub(super) store: Store,
    /// Group commit for proof admissions and access-log appends.
    pub(super) writer: Writer,
    pub(super) keys: ServerKeys,
    pub(super) master: MasterKeys,
    /// The public base URL: token issuer and audience, and the base of DPoP `htu`.
    pub issuer: String,
    pub max_body_bytes: usize,
    /// Largest export bundle accepted for import (its own limit: a bundle is a whole passport).
    pub max_bundle_bytes: usize,
    /// A request running longer is answered 503 with a problem.
    pub request_timeout: Duration,
    pub max_records_per_passport: i64,
    /// Access tokens whose signature and claims were verified, until they expire.
    pub verified_tokens: TokenCache,
    /// The live heads of recently read passports, sealed, checked against each read's context.
    pub heads: HeadsCache,
    /// The servers whose exports an import checks against their published keys.
    pub origins: super::origins::Origins,
    /// The rate limits of the routes anyone can call (`http::limit` applies them); they also
    /// know the operator's trusted proxies.
    pub limits: super::limits::Limits,
    /// Whether clients reach this server over HTTPS: it serves TLS itself, or its public URL
    /// is `https://` (a TLS-terminating proxy in front).
    pub https: bool,
    /// `Strict-Transport-Security: max-age`, for answers given over HTTPS.
    pub hsts_max_age: u64,
    /// The notification scheduler and email dispatcher's clock, mail server and signals.
    pub notifications: super::notifications::Notifier,
    /// What this instance counts and times, for `--metrics-listen` (`crate::metrics`).
    pub metrics: Arc<Metrics>,
}

/// Verified access tokens. A token is immutable, so its signature needs checking once, not on
/// every request; what can change (the key's revocation, the grant) is checked every time.
/// Bounded (quick_cache's CLOCK-Pro evicts the tokens least used) and never past a token's
/// expiry: an expired token is forgotten when it is next presented.
pub struct TokenCache(quick_cache::sync::Cache<String, Arc<AccessTokenClaims>>);

/// Enough for every token alive at once on one instance at the load we expect.
const TOKEN_CACHE_LIMIT: usize = 100_000;

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache(quick_cache::sync::Cache::new(TOKEN_CACHE_LIMIT))
    }
}

impl TokenCache {
    pub fn get(&self, token: &str, now: Timestamp) -> Option<Arc<AccessTokenClaims>> {
        let claims = self.0.get(token)?;
        if claims.exp > now.secs() {
            Some(claims)
        } else {
            self.0.remove(token);
            None
        }
    }

    pub fn insert(&self, token: &str, claims: AccessTokenClaims) -> Arc<AccessTokenClaims> {
        let claims = Arc::new(claims);
        self.0.insert(token.to_owned(), claims.clone());
        claims
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the installation (data directory, database, key material; see
    /// [`super::install`]), refusing what would lose passports, and builds the shared state.
    pub async fn open(settings: &Settings, issuer: String) -> anyhow::Result<AppState> {
        let limits = super::limits::Limits::new(settings)?;
        let issuer_is_https = issuer.starts_with("https://");
        let super::install::Installation {
            store,
            keys,
            master,
            ..
        } = super::install::open(settings, super::install::Mode::Serve).await?;
        let metrics = Arc::new(Metrics::new());
        Ok(AppState(Arc::new(Inner {
            writer: Writer::spawn(store.clone(), metrics.clone()),
            store,
            keys,
            master,
            issuer,
            max_body_bytes: settings.max_body_bytes,
            max_bundle_bytes: settings.max_bundle_bytes,
            request_timeout: Duration::from_secs(settings.request_timeout),
            max_records_per_passport: settings.max_records_per_passport,
            verified_tokens: Default::default(),
            heads: Default::default(),
            origins: super::origins::Origins::new(
                &settings.trusted_origins,
                settings.allow_http_origins,
            )?,
            limits,
            https: settings.tls_cert.is_some() || issuer_is_https,
            hsts_max_age: settings.hsts_max_age,
            notifications: super::notifications::Notifier::new(
                settings.clock.clone(),
                crate::mail::Mailer::from_settings(settings)?,
                Duration::from_secs(settings.notify_interval.max(1)),
                settings.email_lease.max(1) as i64,
            ),
            metrics,
        })))
    }

    /// The database's kind, for the start-up log.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Readiness: the database answers.
    pub async fn ping(&self) -> Result<()> {
        self.store.ping().await
    }

    /// The metrics' text for a scrape, with the pool and the replay table's size read now. A
    /// database that does not answer leaves the replay table out, not the scrape.
    pub async fn metrics_text(&self) -> String {
        // The pool first: the count's own connection is not the service's.
        let pool = self.store.pool_stats();
        let replay_jtis = match self.store.count_jtis().await {
            Ok(count) => Some(count),
            Err(e) => {
                tracing::warn!(error = ?e, "counting the replay table for a metrics scrape failed");
                None
            }
        };
        let email_outbox = self.store.email_counts().await.ok();
        self.metrics.render(&Scraped {
            pool,
            replay_jtis,
            email_outbox,
        })
    }

    /// Forgets used `jti`s that could no longer be replayed anyway (expired before `now`).
    pub async fn purge_expired_jtis(&self, now: Timestamp) -> Result<()> {
        self.store.purge_expired_jtis(now).await.map(|_| ())
    }

    /// Closes the database once the last request is answered.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// The public keys that verify tokens and checkpoints at `now`, retired ones whose tokens
    /// may still be valid included.
    pub fn published_keys(&self, now: Timestamp) -> Vec<wp_schemas::jose::PublicJwk> {
        self.keys.published(now).map(|k| k.jwk.clone()).collect()
    }

    /// 32 bytes from the system's secure random source: the secret of a one-time code.
    pub fn random_secret(&self) -> Result<[u8; 32]> {
        use ring::rand::SecureRandom;
        let mut random = [0u8; 32];
        self.master
            .rng()
            .fill(&mut random)
            .map_err(|_| anyhow::anyhow!("no system randomness"))?;
        Ok(random)
    }

    /// A token's verified claims: from the cache, or verified now (RFC 9068 checks) and cached.
    pub fn verify_token(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<std::sync::Arc<AccessTokenClaims>> {
        let cached = self.verified_tokens.get(token, now);
        self.metrics.cache(Cache::VerifiedTokens, cached.is_some());
        if let Some(claims) = cached {
            return Ok(claims);
        }
        let claims = auth::verify_token(token, &self.keys, &self.issuer, now)?;
        Ok(self.verified_tokens.insert(token, claims))
    }

    /// Admits a request's DPoP proof now: its `jti` was never seen (on any instance), and the
    /// token's key is still registered to the caller and not revoked.
    pub async fn admit_proof(&self, proof: &Admission) -> Result<()> {
        if self.writer.admit(proof.clone()).await? {
            return Ok(());
        }
        Err(self.refused_proof(proof).await)
    }

    /// Appends `event` to passport `pid`'s log. With `proof`, the proof is admitted in the same
    /// transaction and the entry written only if it is: a read and its proof commit together.
    pub async fn log_admitting(
        &self,
        pid: &PassportId,
        event: LogEvent,
        now: Timestamp,
        proof: Option<Admission>,
    ) -> Result<()> {
        let Some(proof) = proof else {
            self.writer.log(pid, event, now, Vec::new()).await?;
            return Ok(());
        };
        match self
            .writer
            .admit_and_log(proof.clone(), pid, event, now)
            .await?
        {
            Some(_) => Ok(()),
            None => Err(self.refused_proof(&proof).await),
        }
    }

    /// Appends `event` to passport `pid`'s log and writes `notices` in the same transaction.
    pub async fn log_notifying(
        &self,
        pid: &PassportId,
        event: LogEvent,
        now: Timestamp,
        notices: Vec<crate::domain::notification::Notice>,
    ) -> Result<()> {
        let tells = !notices.is_empty();
        self.writer.log(pid, event, now, notices).await?;
        if tells {
            self.notifications.written();
        }
        Ok(())
    }

    /// Why a proof was not admitted: its key is revoked (or was never this party's), or the
    /// proof is a replay.
    async fn refused_proof(&self, proof: &Admission) -> Error {
        let key = match self.store.key(&proof.kid).await {
            Ok(key) => key,
            Err(e) => return e,
        };
        if !key.is_some_and(|k| k.party_id == proof.party_id && k.active_at(crate::clock::now())) {
            return Error::client(ProblemType::InvalidToken, "the token's key is revoked");
        }
        Error::client(
            ProblemType::ReplayedDpopProof,
            "the DPoP proof was already used",
        )
    }
}
