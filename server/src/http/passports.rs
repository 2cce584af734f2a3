//! Passports, their records and versions, the sync feed and the access log.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use wp_schemas::api::{
    AccessLogPage, PassportInfo, PassportView, RecordHistory, SubmitVersion, VersionEnvelope,
};
use wp_schemas::problem::ProblemType;

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller, PendingCaller, require_json};
use super::reply::Created;
use crate::domain::ids::{PartyId, PassportId, RecordId};
use crate::error::{Error, Result};
use crate::service::passports::{self, Feed};
use crate::service::{Logged, bundles, versions};

/// `POST /v1/passports`: an employee creates their (one) passport.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Created<PassportInfo>> {
    let info = passports::create(&state, &caller).await?;
    Ok(Created(info))
}

/// `GET /v1/passports/{pid}`: the latest version of every live record in the sections the
/// caller may read. Other sections are absent.
pub async fn read(
    State(state): State<AppState>,
    reader: PendingCaller,
    ApiPath(pid): ApiPath<PassportId>,
) -> Result<Json<Logged<PassportView>>> {
    Ok(Json(passports::read(&state, &reader, &pid).await?))
}

/// `DELETE /v1/passports/{pid}`: the owner erases the passport; its data key is destroyed.
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(pid): ApiPath<PassportId>,
) -> Result<StatusCode> {
    passports::erase(&state, &caller, &pid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/passports/{pid}/records`: the first version of a new record.
pub async fn create_record(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(pid): ApiPath<PassportId>,
    ApiJson(req): ApiJson<SubmitVersion>,
) -> Result<Created<VersionEnvelope>> {
    write_version(&state, &caller, &pid, None, &req.jws).await
}

/// `POST /v1/passports/{pid}/records/{rid}/versions`: the next version of a record, naming the
/// version it replaces.
pub async fn add_version(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((pid, rid)): ApiPath<(PassportId, RecordId)>,
    ApiJson(req): ApiJson<SubmitVersion>,
) -> Result<Created<VersionEnvelope>> {
    write_version(&state, &caller, &pid, Some(&rid), &req.jws).await
}

async fn write_version(
    state: &AppState,
    caller: &Caller,
    pid: &PassportId,
    rid: Option<&RecordId>,
    jws: &str,
) -> Result<Created<VersionEnvelope>> {
    let envelope = versions::write(state, caller, pid, rid, jws).await?;
    Ok(Created(envelope))
}

/// `GET /v1/passports/{pid}/records/{rid}`: the record's latest version.
pub async fn read_record(
    State(state): State<AppState>,
    reader: PendingCaller,
    ApiPath((pid, rid)): ApiPath<(PassportId, RecordId)>,
) -> Result<Json<Logged<VersionEnvelope>>> {
    Ok(Json(passports::record(&state, &reader, &pid, &rid).await?))
}

/// `GET /v1/passports/{pid}/records/{rid}/versions`: the record's whole history.
pub async fn history(
    State(state): State<AppState>,
    reader: PendingCaller,
    ApiPath((pid, rid)): ApiPath<(PassportId, RecordId)>,
) -> Result<Json<Logged<RecordHistory>>> {
    Ok(Json(passports::history(&state, &reader, &pid, &rid).await?))
}

#[derive(Deserialize)]
pub struct ChangesQuery {
    #[serde(default)]
    since: i64,
    limit: Option<i64>,
}

/// `GET /v1/passports/{pid}/changes?since=N`: the versions after cursor N in the sections the
/// caller may read, and a server-signed checkpoint of the passport's history.
pub async fn changes(
    State(state): State<AppState>,
    reader: PendingCaller,
    ApiPath(pid): ApiPath<PassportId>,
    ApiQuery(query): ApiQuery<ChangesQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let limit = query.limit.unwrap_or(500).clamp(1, 1000);
    if query.since < 0 {
        return Err(Error::bad_request("since must not be negative"));
    }
    let known_tags: Vec<&str> = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(str::trim))
        .collect();
    let feed = passports::changes(&state, &reader, &pid, query.since, limit, &known_tags).await?;
    Ok(match feed.into_inner() {
        Feed::Unchanged { etag } => {
            (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response()
        }
        Feed::Page {
            changes,
            etag: Some(etag),
        } => ([(header::ETAG, etag)], Json(changes)).into_response(),
        Feed::Page {
            changes,
            etag: None,
        } => Json(changes).into_response(),
    })
}

#[derive(Deserialize)]
pub struct LogQuery {
    before: Option<i64>,
    limit: Option<i64>,
    /// A party id: anything else is refused (400) before it reaches the store.
    actor: Option<PartyId>,
}

/// `GET /v1/passports/{pid}/access-log`: newest first; the owner only.
pub async fn access_log(
    State(state): State<AppState>,
    reader: PendingCaller,
    ApiPath(pid): ApiPath<PassportId>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Json<Logged<AccessLogPage>>> {
    let limit = query.limit.unwrap_or(100).clamp(1, 500);
    let (before, actor) = (query.before, query.actor.as_ref());
    let page = passports::access_log(&state, &reader, &pid, before, actor, limit).await?;
    Ok(Json(page))
}

#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Bundle,
    Fhir,
}

#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: ExportFormat,
}

/// `GET /v1/passports/{pid}/export`: the owner's whole passport as one bundle (docs/BUNDLE.md),
/// for their client to sign; with `?format=fhir`, the same as a FHIR R4 Bundle (docs/FHIR.md).
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(pid): ApiPath<PassportId>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response> {
    if query.format == ExportFormat::Bundle {
        return Ok(Json(bundles::export(&state, &caller, &pid).await?).into_response());
    }
    let fhir = bundles::export_fhir(&state, &caller, &pid).await?;
    Ok((
        [(header::CONTENT_TYPE, wp_schemas::fhir::FHIR_JSON)],
        Json(fhir),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// The owner knows the server the bundle came from could not be checked, and imports it.
    #[serde(default)]
    acknowledge_unverified_origin: bool,
}

/// `POST /v1/passports/import`: a bundle its owner signed, to continue the passport here. The
/// body has its own limit (`--max-bundle-bytes`), not the API's.
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Created<PassportInfo>> {
    require_json(&headers)?;
    let bytes = axum::body::to_bytes(body, state.max_bundle_bytes)
        .await
        .map_err(|_| {
            Error::client(
                ProblemType::PayloadTooLarge,
                format!(
                    "the bundle is larger than this server accepts ({} bytes)",
                    state.max_bundle_bytes
                ),
            )
        })?;
    let info =
        bundles::import(&state, &caller, &bytes, query.acknowledge_unverified_origin).await?;
    Ok(Created(info))
}
