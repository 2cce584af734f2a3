//! The HTTP API: router, shared state, and one module per resource. Handlers are thin: they
//! authenticate, call the domain rules and the store, and shape the answer. The routes are one
//! table ([`routes`]) from which both the router and the OpenAPI document are built.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use wp_schemas::problem::{Problem, ProblemType};

use wp_schemas::api::AccessTokenClaims;

use crate::domain::auth::{self, DpopProof};
use crate::error::{Error, Result};
use crate::keys::{MasterKeys, ServerKeys};
use crate::store::{Store, Writer};

pub mod error;
pub mod extract;
mod grants;
mod meta;
mod parties;
mod passports;
pub mod routes;
mod token;

/// Everything a handler needs, shared by every request.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    /// Group commit for proof admissions and access-log appends.
    pub writer: Writer,
    pub keys: ServerKeys,
    pub master: MasterKeys,
    /// The public base URL: token issuer and audience, and the base of DPoP `htu`.
    pub issuer: String,
    pub max_body_bytes: usize,
    /// A request running longer is answered 503 with a problem.
    pub request_timeout: Duration,
    pub max_records_per_passport: i64,
    /// Access tokens whose signature and claims were verified, until they expire.
    pub verified_tokens: TokenCache,
}

/// Verified access tokens. A token is immutable, so its signature needs checking once, not on
/// every request; what can change (the key's revocation, the grant) is checked every time.
#[derive(Default)]
pub struct TokenCache(
    std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<AccessTokenClaims>>>,
);

/// Enough for every token alive at once on one instance at the load we expect; beyond it the
/// cache forgets expired tokens, then everything.
const TOKEN_CACHE_LIMIT: usize = 100_000;

impl TokenCache {
    pub fn get(&self, token: &str, now: i64) -> Option<std::sync::Arc<AccessTokenClaims>> {
        let map = self.0.lock().expect("token cache");
        map.get(token).filter(|c| c.exp > now).cloned()
    }

    pub fn insert(
        &self,
        token: &str,
        claims: AccessTokenClaims,
        now: i64,
    ) -> std::sync::Arc<AccessTokenClaims> {
        let claims = std::sync::Arc::new(claims);
        let mut map = self.0.lock().expect("token cache");
        if map.len() >= TOKEN_CACHE_LIMIT {
            map.retain(|_, c| c.exp > now);
            if map.len() >= TOKEN_CACHE_LIMIT {
                map.clear();
            }
        }
        map.insert(token.to_owned(), claims.clone());
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
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }

    /// A token's verified claims: from the cache, or verified now (RFC 9068 checks) and cached.
    pub fn verify_token(&self, token: &str, now: i64) -> Result<std::sync::Arc<AccessTokenClaims>> {
        if let Some(claims) = self.verified_tokens.get(token, now) {
            return Ok(claims);
        }
        let claims = auth::verify_token(token, &self.keys, &self.issuer, now)?;
        Ok(self.verified_tokens.insert(token, claims, now))
    }

    /// The per-request checks that need the database: the proof's `jti` was never seen (on
    /// any instance), and the token's key is still registered to the caller and not revoked.
    pub async fn check_key_and_proof(&self, party_id: &str, proof: &DpopProof) -> Result<()> {
        let jti = format!("dpop:{}:{}", proof.jkt, proof.jti);
        if self
            .writer
            .admit(jti, proof.replay_until, &proof.jkt, party_id)
            .await?
        {
            return Ok(());
        }
        // Refused: say why. A key is revoked (or was never this party's), or the proof is a replay.
        let key = self.store.key(&proof.jkt).await?;
        if !key.is_some_and(|k| k.party_id == party_id && k.active_at(crate::clock::now())) {
            return Err(Error::client(
                ProblemType::InvalidToken,
                "the token's key is revoked",
            ));
        }
        Err(Error::client(
            ProblemType::ReplayedDpopProof,
            "the DPoP proof was already used",
        ))
    }
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static(error::REQUEST_ID);
    let max_body = state.max_body_bytes;
    let request_timeout = state.request_timeout;
    let mut router = Router::new();
    for route in routes::table() {
        router = router.route(route.path, route.handler);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(|_| {
            error::problem_response(Problem::new(ProblemType::Internal, "an internal error occurred; it has been logged"))
        }))
        .layer(axum::middleware::from_fn_with_state(request_timeout, time_limit))
        // Inside the request-id layer, outside everything that makes a problem.
        .layer(axum::middleware::from_fn(error::with_instance))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        // Spans carry method, path and request id; never bodies, tokens or query strings.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// A request still running after the limit is dropped (its transaction rolls back) and answered
/// 503 with a problem; tower-http's timeout layer would answer with an empty body.
async fn time_limit(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error::problem_response(Problem::new(
            ProblemType::Unavailable,
            format!(
                "the request took longer than {} s; try again",
                limit.as_secs_f32()
            ),
        )),
    }
}

async fn not_found() -> Response {
    Error::not_found("no such route").into_response()
}

/// RFC 9110 section 15.5.6: axum adds the `Allow` header listing the route's methods.
async fn method_not_allowed() -> Response {
    error::problem_response(Problem::new(
        ProblemType::MethodNotAllowed,
        "this route does not support the method: see the Allow header",
    ))
}
