//! Operations endpoints: liveness, readiness, the JWKS and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wp_schemas::api::Health;
use wp_schemas::problem::ProblemType;

use super::AppState;
use crate::clock;
use crate::error::Error;

pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Ready when the database answers.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.ping().await {
        Ok(()) => Json(Health {
            status: "ready".into(),
        })
        .into_response(),
        Err(e) => {
            tracing::warn!(error = ?e, "database not ready");
            Error::client(ProblemType::Unavailable, "the database does not answer").into_response()
        }
    }
}

/// The public keys that verify access tokens and checkpoints, including retired keys whose
/// tokens may still be valid.
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    let keys: Vec<Value> = state
        .published_keys(clock::now())
        .into_iter()
        .map(|jwk| json!({"kty": jwk.kty, "crv": jwk.crv, "x": jwk.x, "kid": jwk.kid, "alg": "EdDSA", "use": "sig"}))
        .collect();
    Json(json!({ "keys": keys }))
}

/// The OpenAPI document, generated from the route table.
pub async fn openapi() -> Json<&'static Value> {
    Json(super::routes::document())
}
