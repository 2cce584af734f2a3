//! Operations endpoints: liveness, readiness, the JWKS and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wp_schemas::api::Health;
use wp_schemas::openapi::{SchemaOf, Schemas};
use wp_schemas::problem::ProblemType;

use super::AppState;
use super::reply::Documented;
use crate::clock;
use crate::error::{Error, Result};

pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Ready when the database answers.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>> {
    if let Err(e) = state.ping().await {
        tracing::warn!(error = ?e, "database not ready");
        return Err(Error::client(
            ProblemType::Unavailable,
            "the database does not answer",
        ));
    }
    Ok(Json(Health {
        status: "ready".into(),
    }))
}

/// The server's JWK set: a body with no wire type of its own, whose schema is written by hand.
pub struct JwkSet(Value);

impl IntoResponse for JwkSet {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

impl Documented for JwkSet {
    fn success() -> Option<(u16, SchemaOf)> {
        Some((200, Schemas::jwk_set))
    }
}

/// The public keys that verify access tokens and checkpoints, including retired keys whose
/// tokens may still be valid.
pub async fn jwks(State(state): State<AppState>) -> JwkSet {
    let keys: Vec<Value> = state
        .published_keys(clock::now())
        .into_iter()
        .map(|jwk| json!({"kty": jwk.kty, "crv": jwk.crv, "x": jwk.x, "kid": jwk.kid, "alg": "EdDSA", "use": "sig"}))
        .collect();
    JwkSet(json!({ "keys": keys }))
}

/// The OpenAPI document: any object, as far as the document itself says.
pub struct Document(&'static Value);

impl IntoResponse for Document {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

impl Documented for Document {
    fn success() -> Option<(u16, SchemaOf)> {
        Some((200, Schemas::any_object))
    }
}

/// The OpenAPI document, generated from the route table.
pub async fn openapi() -> Document {
    Document(super::routes::document())
}
