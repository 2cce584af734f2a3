//! Passports, their records and versions, the sync feed and the access log.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use wp_schemas::api::{
    AccessLogPage, Action, CHECKPOINT_TYP, Changes, CheckpointClaims, LogAction, PartyKind,
    PassportInfo, PassportView, RecordHistory, SubmitVersion, VersionEnvelope,
};
use wp_schemas::jose::{CompactJws, KeyRef};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::Section;

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller, Id};
use crate::clock::{self, to_datetime};
use crate::domain::access::{Access, Denial, resolve};
use crate::domain::audit::LogEvent;
use crate::domain::party::RegisteredKey;
use crate::domain::version::{self, Head};
use crate::error::{Error, Result};
use crate::keys::DataKey;
use crate::store::{AppendError, NewVersion, PassportRow};
use crate::vault;

impl AppState {
    /// Finds the passport and the caller's standing on it, from the grant as it is in the
    /// database now. A refusal is logged on the passport before it is returned.
    pub(super) async fn authorize(
        &self,
        caller: &Caller,
        pid: &str,
        action: LogAction,
        sections: &[Section],
        now: i64,
    ) -> Result<(PassportRow, Access)> {
        let grant_id = caller.consent.as_ref().map(|c| c.grant_id.as_str());
        let (passport, grant) = self
            .store
            .access_context(pid, grant_id)
            .await?
            .ok_or_else(|| Error::not_found("no such passport"))?;
        if passport.erased_at.is_some() {
            return Err(Error::client(
                ProblemType::Gone,
                "the passport was erased by its owner",
            ));
        }
        match resolve(
            &caller.party_id,
            caller.consent.as_ref(),
            pid,
            &passport.owner_id,
            grant.as_ref(),
            now,
        ) {
            Ok(access) => Ok((passport, access)),
            Err(denial) => Err(self
                .deny(caller, pid, None, action, sections, denial, now)
                .await),
        }
    }

    /// Logs a refusal on the passport and returns it as the error to answer with.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn deny(
        &self,
        caller: &Caller,
        pid: &str,
        access: Option<&Access>,
        action: LogAction,
        sections: &[Section],
        denial: Denial,
        now: i64,
    ) -> Error {
        let grant_id = access
            .and_then(Access::grant_id)
            .or(caller.consent.as_ref().map(|c| c.grant_id.as_str()));
        let event = LogEvent::denied(
            &caller.party_id,
            grant_id,
            action,
            sections.to_vec(),
            &denial.reason,
        );
        match self.writer.log(pid, event, now).await {
            Ok(_) => denial.into(),
            Err(e) => e,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn log_allowed(
        &self,
        caller: &Caller,
        pid: &str,
        access: &Access,
        action: LogAction,
        sections: Vec<Section>,
        reason: &str,
        now: i64,
    ) -> Result<()> {
        let event = LogEvent::allowed(
            &caller.party_id,
            access.grant_id(),
            action,
            sections,
            reason,
        );
        self.writer.log(pid, event, now).await?;
        Ok(())
    }

    /// The data key of an authorised passport, unwrapped from what the access context read.
    fn passport_key(&self, passport: &PassportRow) -> Result<DataKey> {
        let (kid, wrapped) = passport.wrapped_key.as_ref().ok_or_else(|| {
            Error::client(ProblemType::Gone, "the passport was erased by its owner")
        })?;
        Ok(self.master.unwrap(kid, &passport.id, wrapped)?)
    }

    /// Refuses a record that does not exist, or that lies in a section the caller may not read,
    /// with the same answer either way (a refusal must not tell whether, or where, a record
    /// exists), and logs the attempt. `sections` names the record's section when there is one;
    /// only the owner reads the log.
    async fn no_such_record(
        &self,
        caller: &Caller,
        pid: &str,
        access: &Access,
        action: LogAction,
        sections: &[Section],
        now: i64,
    ) -> Error {
        let denial = Denial {
            kind: ProblemType::NotFound,
            reason: "no such record in the sections the caller may read".into(),
        };
        let error = self
            .deny(caller, pid, Some(access), action, sections, denial, now)
            .await;
        match error.kind() {
            Some(ProblemType::NotFound) => no_such_record(),
            _ => error,
        }
    }
}

fn reason(access: &Access) -> &'static str {
    if access.is_owner() {
        "owner"
    } else {
        "active grant"
    }
}

/// `POST /v1/passports`: an employee creates their (one) passport.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, Json<PassportInfo>)> {
    if caller.kind != PartyKind::Employee || caller.consent.is_some() {
        return Err(Error::forbidden(
            "only an employee creates a passport, for themselves",
        ));
    }
    let now = clock::now();
    let pid = uuid::Uuid::new_v4().to_string();
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
    Ok((
        StatusCode::CREATED,
        Json(PassportInfo {
            id: pid,
            owner: caller.party_id,
            created_at: to_datetime(now),
            seq: 0,
        }),
    ))
}

/// `GET /v1/passports/{pid}`: the latest version of every live record in the sections the
/// caller may read. Other sections are absent.
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(Id(pid)): ApiPath<Id>,
) -> Result<Json<PassportView>> {
    let now = clock::now();
    let (passport, access) = state
        .authorize(&caller, &pid, LogAction::PassportRead, &[], now)
        .await?;
    let readable = access.readable();
    let key = state.passport_key(&passport)?;
    let mut sections: BTreeMap<Section, Vec<VersionEnvelope>> =
        readable.iter().map(|s| (*s, Vec::new())).collect();
    for row in state.store.live_heads_in(&pid, &readable).await? {
        let Ok(section) = row.section.parse::<Section>() else {
            continue;
        };
        if let Some(list) = sections.get_mut(&section) {
            list.push(vault::open(&key, &pid, row)?);
        }
    }
    state
        .log_allowed(
            &caller,
            &pid,
            &access,
            LogAction::PassportRead,
            readable,
            reason(&access),
            now,
        )
        .await?;
    Ok(Json(PassportView {
        id: pid,
        owner: passport.owner_id,
        seq: passport.seq,
        sections,
    }))
}

/// `DELETE /v1/passports/{pid}`: the owner erases the passport; its data key is destroyed.
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(Id(pid)): ApiPath<Id>,
) -> Result<StatusCode> {
    let now = clock::now();
    let (_, access) = state
        .authorize(&caller, &pid, LogAction::PassportErased, &[], now)
        .await?;
    if let Err(denial) = access.require_owner("erase the passport") {
        return Err(state
            .deny(
                &caller,
                &pid,
                Some(&access),
                LogAction::PassportErased,
                &[],
                denial,
                now,
            )
            .await);
    }
    state.store.erase_passport(&pid, now).await?;
    tracing::info!(passport = %pid, "passport erased");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/passports/{pid}/records`: the first version of a new record.
pub async fn create_record(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(Id(pid)): ApiPath<Id>,
    ApiJson(req): ApiJson<SubmitVersion>,
) -> Result<(StatusCode, Json<VersionEnvelope>)> {
    write_version(&state, &caller, &pid, None, &req.jws).await
}

/// `POST /v1/passports/{pid}/records/{rid}/versions`: the next version of a record, naming the
/// version it replaces.
pub async fn add_version(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((Id(pid), Id(rid))): ApiPath<(Id, Id)>,
    ApiJson(req): ApiJson<SubmitVersion>,
) -> Result<(StatusCode, Json<VersionEnvelope>)> {
    write_version(&state, &caller, &pid, Some(&rid), &req.jws).await
}

async fn write_version(
    state: &AppState,
    caller: &Caller,
    pid: &str,
    rid: Option<&str>,
    jws: &str,
) -> Result<(StatusCode, Json<VersionEnvelope>)> {
    let now = clock::now();
    let parsed = version::parse(jws);
    let claimed: Vec<Section> = parsed.iter().map(|(_, p)| p.section).collect();
    let (passport, access) = state
        .authorize(caller, pid, LogAction::VersionWritten, &claimed, now)
        .await?;
    let attempt = WriteAttempt {
        state,
        caller,
        passport: &passport,
        access: &access,
        now,
    };
    match attempt.run(rid, jws, parsed).await {
        Ok(envelope) => Ok((StatusCode::CREATED, Json(envelope))),
        // Every refused or conflicting attempt by a known caller is in the owner's log.
        Err(Refused { error, sections }) if error.kind().is_some() => {
            let event = LogEvent::denied(
                &caller.party_id,
                access.grant_id(),
                LogAction::VersionWritten,
                sections,
                error.log_reason(),
            );
            match state.writer.log(pid, event, now).await {
                Ok(_) => Err(error),
                Err(e) => Err(e),
            }
        }
        Err(Refused { error, .. }) => Err(error),
    }
}

/// A refused version write: the answer, and the sections the log entry names.
struct Refused {
    error: Error,
    sections: Vec<Section>,
}

impl Refused {
    fn on(sections: &[Section]) -> impl Fn(Error) -> Refused + '_ {
        |error| Refused {
            error,
            sections: sections.to_vec(),
        }
    }
}

impl From<Error> for Refused {
    fn from(error: Error) -> Self {
        Refused {
            error,
            sections: Vec::new(),
        }
    }
}

/// One version write by an authorised caller, from the submitted JWS to the committed version.
struct WriteAttempt<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    passport: &'a PassportRow,
    access: &'a Access,
    now: i64,
}

impl WriteAttempt<'_> {
    async fn run(
        &self,
        rid: Option<&str>,
        jws: &str,
        parsed: Result<(CompactJws<'_>, wp_schemas::api::VersionPayload)>,
    ) -> Result<VersionEnvelope, Refused> {
        let (parsed, payload) = parsed?;
        let (pid, access) = (self.passport.id.as_str(), self.access);
        let section = payload.section;
        let head = match rid {
            None => None,
            Some(rid) => Some(self.visible_head(rid).await?),
        };
        let refuse = Refused::on(std::slice::from_ref(&section));
        // Writing needs `write` on the section (the owner has it); an employer with `agree` may
        // only mark an existing adjustment agreed.
        let agreeing = !access.can(section, Action::Write)
            && head.is_some()
            && access.can(section, Action::Agree);
        if !agreeing {
            access
                .require(section, Action::Write)
                .map_err(|d| refuse(d.into()))?;
        }
        // Only the owner removes a record; anyone else ends it with a new version (say, an
        // adjustment's status `ended`), which stays in the history.
        if payload.deleted && !access.is_owner() {
            return Err(refuse(Error::forbidden(
                "only the owner deletes a record; end it with a new version instead",
            )));
        }
        let key = self.signer_key(&parsed).await.map_err(&refuse)?;
        let accepted =
            version::accept(jws, &parsed, payload, &key, pid, rid, self.now).map_err(&refuse)?;
        let record_id = accepted.payload.record.clone();
        if let Some(head) = &head {
            if let Err(e) = version::check_successor(&accepted.payload, head) {
                return Err(refuse(self.not_successor(&record_id, e).await));
            }
            if agreeing {
                self.check_agreement(&record_id, &accepted)
                    .await
                    .map_err(&refuse)?;
            }
        }
        let key = self.state.passport_key(self.passport).map_err(&refuse)?;
        let sealed = vault::seal(
            &self.state.master,
            &key,
            pid,
            &record_id,
            accepted.payload.version,
            jws,
        );
        let new = NewVersion {
            record_id: &record_id,
            section,
            version: accepted.payload.version,
            author: &self.caller.party_id,
            hash: &accepted.hash,
            deleted: accepted.payload.deleted,
            sealed,
        };
        let why = if agreeing {
            "agreement under an active grant"
        } else {
            reason(access)
        };
        let event = LogEvent::allowed(
            &self.caller.party_id,
            access.grant_id(),
            LogAction::VersionWritten,
            vec![section],
            why,
        );
        let limit = self.state.max_records_per_passport;
        let seq = match self
            .state
            .store
            .append_version(pid, new, head.as_ref(), limit, event, self.now)
            .await
        {
            Ok(seq) => seq,
            Err(AppendError::Stale) => {
                let e = Error::client(
                    ProblemType::VersionConflict,
                    "another version was written first",
                );
                return Err(refuse(self.not_successor(&record_id, e).await));
            }
            Err(AppendError::Other(e)) => return Err(refuse(e)),
        };
        Ok(VersionEnvelope {
            seq,
            record_id,
            section,
            version: accepted.payload.version,
            author: self.caller.party_id.clone(),
            hash: accepted.hash,
            deleted: accepted.payload.deleted,
            jws: jws.to_owned(),
            created_at: to_datetime(self.now),
        })
    }

    /// The head of record `rid`, if the caller has any part in its section. A record in a
    /// section the caller may not touch is answered exactly like one that does not exist, so a
    /// refusal never tells whether, or where, it exists.
    async fn visible_head(&self, rid: &str) -> Result<Head, Refused> {
        match self.state.store.record_head(&self.passport.id, rid).await? {
            Some(head) if self.access.touches(head.section) => Ok(head),
            Some(head) => Err(Refused {
                error: no_such_record(),
                sections: vec![head.section],
            }),
            None => Err(no_such_record().into()),
        }
    }

    /// The caller's registered key that signed the version.
    async fn signer_key(&self, parsed: &CompactJws<'_>) -> Result<RegisteredKey> {
        let kid = parsed.header_str("kid").unwrap_or_default();
        let key = self.state.store.key(kid).await?.ok_or_else(|| {
            Error::client(
                ProblemType::InvalidSignature,
                "the signing key is not registered",
            )
        })?;
        if key.party_id != self.caller.party_id {
            return Err(Error::client(
                ProblemType::InvalidSignature,
                "a version must be signed with the caller's own key",
            ));
        }
        Ok(key)
    }

    /// A version that does not succeed the record's head. A caller who may read the record gets
    /// the current head to rebase on; anyone else learns only that the write was refused as
    /// stale, nothing of the record's content, version or state.
    async fn not_successor(&self, rid: &str, e: Error) -> Error {
        let pid = self.passport.id.as_str();
        let row = match self.state.store.head_version(pid, rid).await {
            Ok(row) => row,
            Err(e) => return e,
        };
        let readable = row.as_ref().is_some_and(|r| {
            r.section
                .parse::<Section>()
                .is_ok_and(|s| self.access.can(s, Action::Read))
        });
        let (Some(row), true) = (row, readable) else {
            return Error::client(
                ProblemType::VersionConflict,
                "the version does not succeed the record's current head",
            );
        };
        if e.kind() != Some(ProblemType::VersionConflict) {
            return e;
        }
        let head = self
            .state
            .passport_key(self.passport)
            .and_then(|key| vault::open(&key, pid, row));
        match head {
            Ok(head) => e.with_current_head(head),
            Err(other) => other,
        }
    }

    /// An agreement may only mark the current adjustment agreed.
    async fn check_agreement(&self, rid: &str, accepted: &version::AcceptedVersion) -> Result<()> {
        let pid = self.passport.id.as_str();
        let row = self
            .state
            .store
            .head_version(pid, rid)
            .await?
            .ok_or_else(no_such_record)?;
        let previous = vault::open(&self.state.passport_key(self.passport)?, pid, row)?;
        let previous_body = CompactJws::parse(&previous.jws)
            .ok()
            .and_then(|j| j.claims::<wp_schemas::api::VersionPayload>().ok())
            .and_then(|p| p.body)
            .unwrap_or_default();
        version::check_agreement(&previous_body, &accepted.body)
    }
}

fn no_such_record() -> Error {
    Error::not_found("no such record")
}

/// `GET /v1/passports/{pid}/records/{rid}`: the record's latest version.
pub async fn read_record(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((Id(pid), Id(rid))): ApiPath<(Id, Id)>,
) -> Result<Json<VersionEnvelope>> {
    let now = clock::now();
    let action = LogAction::PassportRead;
    let (passport, access) = state.authorize(&caller, &pid, action, &[], now).await?;
    let row = state.store.head_version(&pid, &rid).await?;
    let section = row
        .as_ref()
        .map(|r| parse_stored_section(&r.section))
        .transpose()?;
    let (Some(row), Some(section)) = (row, section) else {
        return Err(state
            .no_such_record(&caller, &pid, &access, action, &[], now)
            .await);
    };
    if !access.can(section, Action::Read) {
        return Err(state
            .no_such_record(&caller, &pid, &access, action, &[section], now)
            .await);
    }
    let envelope = vault::open(&state.passport_key(&passport)?, &pid, row)?;
    state
        .log_allowed(
            &caller,
            &pid,
            &access,
            action,
            vec![section],
            reason(&access),
            now,
        )
        .await?;
    Ok(Json(envelope))
}

/// `GET /v1/passports/{pid}/records/{rid}/versions`: the record's whole history.
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((Id(pid), Id(rid))): ApiPath<(Id, Id)>,
) -> Result<Json<RecordHistory>> {
    let now = clock::now();
    let action = LogAction::HistoryRead;
    let (passport, access) = state.authorize(&caller, &pid, action, &[], now).await?;
    let rows = state.store.history(&pid, &rid).await?;
    let section = rows
        .first()
        .map(|r| parse_stored_section(&r.section))
        .transpose()?;
    let Some(section) = section else {
        return Err(state
            .no_such_record(&caller, &pid, &access, action, &[], now)
            .await);
    };
    if !access.can(section, Action::Read) {
        return Err(state
            .no_such_record(&caller, &pid, &access, action, &[section], now)
            .await);
    }
    let key = state.passport_key(&passport)?;
    let versions = rows
        .into_iter()
        .map(|row| vault::open(&key, &pid, row))
        .collect::<Result<Vec<_>>>()?;
    state
        .log_allowed(
            &caller,
            &pid,
            &access,
            action,
            vec![section],
            reason(&access),
            now,
        )
        .await?;
    Ok(Json(RecordHistory {
        record_id: rid,
        section,
        versions,
    }))
}

fn parse_stored_section(text: &str) -> Result<Section> {
    Ok(text
        .parse()
        .map_err(|_| anyhow::anyhow!("bad section in store"))?)
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
    caller: Caller,
    ApiPath(Id(pid)): ApiPath<Id>,
    ApiQuery(query): ApiQuery<ChangesQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let now = clock::now();
    let limit = query.limit.unwrap_or(500).clamp(1, 1000);
    if query.since < 0 {
        return Err(Error::bad_request("since must not be negative"));
    }
    let (passport, access) = state
        .authorize(&caller, &pid, LogAction::ChangesRead, &[], now)
        .await?;
    if query.since > passport.seq {
        // The client has seen more than the server holds: a rollback, never a reason to resync.
        return Err(Error::client(
            ProblemType::Conflict,
            "the cursor is ahead of the server's history: the server may have been rolled back",
        ));
    }
    // Nothing new since the client's last sync: 304, after the same checks and logging. The tag
    // names the history hash as well as the sequence, so that a forked history (same sequence,
    // another head) is served with its checkpoint instead of hidden behind a 304.
    let etag = format!("\"{}.{}\"", passport.seq, passport.head);
    // Only a client that holds everything up to the head may be told "nothing new": a client
    // still paging (its cursor behind the head) gets the next page whatever tag it sends.
    let unchanged = query.since == passport.seq
        && headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|tag| tag.trim() == etag));
    if unchanged {
        state
            .log_allowed(
                &caller,
                &pid,
                &access,
                LogAction::ChangesRead,
                access.readable(),
                "unchanged",
                now,
            )
            .await?;
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let readable = access.readable();
    let mut rows = state
        .store
        .versions_since(&pid, query.since, limit + 1)
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let last_scanned = rows.last().map(|r| r.seq);
    let key = state.passport_key(&passport)?;
    let mut versions = Vec::new();
    for row in rows {
        let Ok(section) = row.section.parse::<Section>() else {
            continue;
        };
        if readable.contains(&section) {
            versions.push(vault::open(&key, &pid, row)?);
        }
    }
    // Read the head after the versions, so the checkpoint covers every version returned.
    let head = state
        .store
        .passport(&pid)
        .await?
        .ok_or_else(|| Error::not_found("no such passport"))?;
    let seq = if more {
        last_scanned.unwrap_or(query.since)
    } else {
        // Every version up to the sequence read before the scan was committed before it (a
        // version and its sequence commit together): the cursor may go that far, never to a head
        // read after the scan, which could name a version this answer does not hold.
        passport.seq.max(last_scanned.unwrap_or(query.since))
    };
    let checkpoint = state.keys.active().sign_json(
        CHECKPOINT_TYP,
        KeyRef::Kid,
        &CheckpointClaims {
            passport: pid.clone(),
            seq: head.seq,
            head: head.head,
            iat: now,
        },
    );
    state
        .log_allowed(
            &caller,
            &pid,
            &access,
            LogAction::ChangesRead,
            readable,
            reason(&access),
            now,
        )
        .await?;
    // The tag of the state read before the scan, which the cursor above covers.
    let changes = Changes {
        passport_id: pid,
        since: query.since,
        next_since: seq,
        more,
        versions,
        checkpoint,
    };
    // A tag only on the last page: it stands for "everything up to the head", which a page
    // with more to come is not.
    if changes.more {
        return Ok(Json(changes).into_response());
    }
    Ok(([(header::ETAG, etag)], Json(changes)).into_response())
}

#[derive(Deserialize)]
pub struct LogQuery {
    before: Option<i64>,
    limit: Option<i64>,
    /// A party id: anything else is refused (400) before it reaches the store.
    actor: Option<Id>,
}

/// `GET /v1/passports/{pid}/access-log`: newest first; the owner only.
pub async fn access_log(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(Id(pid)): ApiPath<Id>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Json<AccessLogPage>> {
    let now = clock::now();
    let (_, access) = state
        .authorize(&caller, &pid, LogAction::AccessLogRead, &[], now)
        .await?;
    if let Err(denial) = access.require_owner("read the access log") {
        return Err(state
            .deny(
                &caller,
                &pid,
                Some(&access),
                LogAction::AccessLogRead,
                &[],
                denial,
                now,
            )
            .await);
    }
    let limit = query.limit.unwrap_or(100).clamp(1, 500);
    let entries = state
        .store
        .log_page(&pid, query.before, query.actor.as_deref(), limit)
        .await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    state
        .log_allowed(
            &caller,
            &pid,
            &access,
            LogAction::AccessLogRead,
            vec![],
            "owner",
            now,
        )
        .await?;
    Ok(Json(AccessLogPage {
        entries,
        next_before,
    }))
}
