//! Passports, their records and versions, the sync feed and the access log.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use wp_schemas::api::{
    AccessLogPage, CHECKPOINT_TYP, Changes, CheckpointClaims, LogAction, PartyKind, PassportInfo,
    PassportView, RecordHistory, SubmitVersion, VersionEnvelope,
};
use wp_schemas::jose::KeyRef;
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::Section;

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller, PendingCaller, require_json};
use super::reply::Created;
use crate::clock;
use crate::domain::audit::LogEvent;
use crate::domain::ids::{PartyId, PassportId, RecordId};
use crate::error::{Error, Result};
use crate::service::{AuthorizedPassport, bundles, heads, versions};
use crate::vault;

/// The guard for `action` on passport `pid`, for requests that name no sections.
async fn authorize<'a>(
    state: &'a AppState,
    caller: &'a Caller,
    pid: &PassportId,
    action: LogAction,
) -> Result<AuthorizedPassport<'a>> {
    AuthorizedPassport::authorize(state, caller, pid, action, &[]).await
}

/// The guard for a read of passport `pid`, whose proof is admitted with its log entry.
async fn authorize_read<'a>(
    state: &'a AppState,
    reader: &'a PendingCaller,
    pid: &PassportId,
    action: LogAction,
) -> Result<AuthorizedPassport<'a>> {
    AuthorizedPassport::authorize_pending(state, reader, pid, action, &[]).await
}

/// `POST /v1/passports`: an employee creates their (one) passport.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Created<PassportInfo>> {
    if caller.kind != PartyKind::Employee || caller.consent.is_some() {
        return Err(Error::forbidden(
            "only an employee creates a passport, for themselves",
        ));
    }
    let now = clock::now();
    let pid = PassportId::random();
    let (master_kid, wrapped) = state.master.new_data_key(&pid);
    let event = LogEvent::allowed(
        &caller.party_id,
        None,
        LogAction::PassportCreated,
        vec![],
        "owner",
    );
    state
        .store
        .create_passport(&pid, &caller.party_id, &master_kid, &wrapped, event, now)
        .await?;
    Ok(Created(PassportInfo {
        id: pid.into(),
        owner: caller.party_id.into(),
        created_at: now.to_datetime(),
        seq: 0,
    }))
}

/// `GET /v1/passports/{pid}`: the latest version of every live record in the sections the
/// caller may read. Other sections are absent.
pub async fn read(
    State(state): State<AppState>,
    reader: PendingCaller,
    ApiPath(pid): ApiPath<PassportId>,
) -> Result<Json<PassportView>> {
    let guard = authorize_read(&state, &reader, &pid, LogAction::PassportRead).await?;
    let readable = guard.access.readable();
    let key = guard.key()?;
    let mut sections: BTreeMap<Section, Vec<VersionEnvelope>> =
        readable.iter().map(|s| (*s, Vec::new())).collect();
    for row in heads::live_heads(&state, &guard.passport, &readable).await? {
        if let Some(list) = sections.get_mut(&row.section) {
            list.push(vault::open(&key, &pid, row)?);
        }
    }
    guard.allowed(readable, guard.reason()).await?;
    Ok(Json(PassportView {
        id: pid.into(),
        owner: guard.passport.owner_id.into(),
        seq: guard.passport.seq,
        sections,
    }))
}

/// `DELETE /v1/passports/{pid}`: the owner erases the passport; its data key is destroyed.
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(pid): ApiPath<PassportId>,
) -> Result<StatusCode> {
    let guard = authorize(&state, &caller, &pid, LogAction::PassportErased).await?;
    guard.require_owner("erase the passport").await?;
    state.store.erase_passport(&pid, guard.now).await?;
    state.heads.evict(&pid);
    tracing::info!(passport = %pid, "passport erased");
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
) -> Result<Json<VersionEnvelope>> {
    let guard = authorize_read(&state, &reader, &pid, LogAction::PassportRead).await?;
    let row = state.store.head_version(&pid, &rid).await?;
    let section = guard
        .readable_record(row.as_ref().map(|r| r.section))
        .await?;
    let row = row.ok_or_else(|| anyhow::anyhow!("a record's head without a row"))?;
    let envelope = vault::open(&guard.key()?, &pid, row)?;
    guard.allowed(vec![section], guard.reason()).await?;
    Ok(Json(envelope))
}

/// `GET /v1/passports/{pid}/records/{rid}/versions`: the record's whole history.
pub async fn history(
    State(state): State<AppState>,
    reader: PendingCaller,
    ApiPath((pid, rid)): ApiPath<(PassportId, RecordId)>,
) -> Result<Json<RecordHistory>> {
    let guard = authorize_read(&state, &reader, &pid, LogAction::HistoryRead).await?;
    let rows = state.store.history(&pid, &rid).await?;
    let section = guard
        .readable_record(rows.first().map(|r| r.section))
        .await?;
    let key = guard.key()?;
    let versions = rows
        .into_iter()
        .map(|row| vault::open(&key, &pid, row))
        .collect::<Result<Vec<_>>>()?;
    guard.allowed(vec![section], guard.reason()).await?;
    Ok(Json(RecordHistory {
        record_id: rid.into(),
        section,
        versions,
    }))
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
    let guard = authorize_read(&state, &reader, &pid, LogAction::ChangesRead).await?;
    if query.since > guard.passport.seq {
        // The client has seen more than the server holds: a rollback, never a reason to resync.
        guard.admit().await?;
        return Err(Error::client(
            ProblemType::Conflict,
            "the cursor is ahead of the server's history: the server may have been rolled back",
        ));
    }
    // The tag names the history hash as well as the sequence, so that a forked history (same
    // sequence, another head) is served with its checkpoint instead of hidden behind a 304.
    let etag = format!("\"{}.{}\"", guard.passport.seq, guard.passport.head);
    if unchanged(&headers, &etag, query.since, guard.passport.seq) {
        // Nothing new since the client's last sync: 304, after the same checks and logging.
        guard.allowed(guard.access.readable(), "unchanged").await?;
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let changes = changes_page(&guard, query.since, limit).await?;
    guard
        .allowed(guard.access.readable(), guard.reason())
        .await?;
    // A tag only on the last page, the tag of the state read before the scan, which the cursor
    // covers: it stands for "everything up to the head", which a page with more to come is not.
    if changes.more {
        return Ok(Json(changes).into_response());
    }
    Ok(([(header::ETAG, etag)], Json(changes)).into_response())
}

/// Only a client that holds everything up to the head may be told "nothing new": a client
/// still paging (its cursor behind the head) gets the next page whatever tag it sends.
fn unchanged(headers: &HeaderMap, etag: &str, since: i64, seq: i64) -> bool {
    since == seq
        && headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|tag| tag.trim() == etag))
}

/// One page of the feed after `since`, in the sections the caller may read, with a checkpoint.
/// The feed is the history as the access context read it: versions up to that sequence, signed
/// for by a checkpoint of that sequence and head. Versions committed since wait for the next
/// sync, so a reader of every section can always recompute the checkpoint's head.
async fn changes_page(guard: &AuthorizedPassport<'_>, since: i64, limit: i64) -> Result<Changes> {
    let (state, pid) = (guard.state, guard.pid());
    let readable = guard.access.readable();
    let up_to = guard.passport.seq;
    let mut rows = state
        .store
        .versions_since(pid, since, up_to, limit + 1)
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_since = if more {
        rows.last().map_or(since, |r| r.seq)
    } else {
        up_to
    };
    let key = guard.key()?;
    let mut versions = Vec::new();
    for row in rows {
        if readable.contains(&row.section) {
            versions.push(vault::open(&key, pid, row)?);
        }
    }
    Ok(Changes {
        passport_id: pid.to_string(),
        since,
        next_since,
        more,
        versions,
        checkpoint: checkpoint(guard),
    })
}

/// The server-signed checkpoint of the passport's history at the sequence and head the access
/// context read.
fn checkpoint(guard: &AuthorizedPassport<'_>) -> String {
    let passport = &guard.passport;
    guard.state.keys.active().sign_json(
        CHECKPOINT_TYP,
        KeyRef::Kid,
        &CheckpointClaims {
            passport: passport.id.to_string(),
            seq: passport.seq,
            head: passport.head.clone(),
            iat: guard.now.secs(),
            log_seq: None,
            log_head: None,
        },
    )
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
) -> Result<Json<AccessLogPage>> {
    let guard = authorize_read(&state, &reader, &pid, LogAction::AccessLogRead).await?;
    guard.require_owner("read the access log").await?;
    let limit = query.limit.unwrap_or(100).clamp(1, 500);
    let entries = state
        .store
        .log_page(&pid, query.before, query.actor.as_ref(), limit)
        .await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    guard.allowed(vec![], "owner").await?;
    Ok(Json(AccessLogPage {
        entries,
        next_before,
    }))
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
    let bundle = bundles::export(&state, &caller, &pid).await?;
    if query.format == ExportFormat::Bundle {
        return Ok(Json(bundle).into_response());
    }
    let fhir =
        wp_schemas::fhir::from_bundle(&bundle).map_err(|why| Error::Other(anyhow::anyhow!(why)))?;
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
