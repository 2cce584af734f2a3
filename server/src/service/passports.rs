//! Passports and their records, without the HTTP: creation and erasure, the reads (the
//! passport, a record, its history), the sync feed with its signed checkpoint, and the access
//! log. Every read goes through [`AuthorizedRead`] and answers only with its [`Logged`] receipt.

use std::collections::BTreeMap;

use wp_schemas::api::{
    AccessLogPage, CHECKPOINT_TYP, Changes, CheckpointClaims, LogAction, PartyKind, PassportInfo,
    PassportView, RecordHistory, VersionEnvelope,
};
use wp_schemas::jose::KeyRef;
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::Section;

use super::store::VersionRow;
use super::{AppState, AuthorizedPassport, AuthorizedRead, Caller, Logged, PendingCaller, Receipt};
use super::{heads, vault};
use crate::clock;
use crate::domain::audit::LogEvent;
use crate::domain::ids::{PartyId, PassportId, RecordId};
use crate::domain::notification::{Facts, Notice};
use crate::domain::time::Timestamp;
use crate::error::{Error, Result};

/// An employee creates their (one) passport, with a new data key wrapped by the master key.
pub async fn create(state: &AppState, caller: &Caller) -> Result<PassportInfo> {
    caller.require_kind(
        PartyKind::Employee,
        "only an employee creates a passport, for themselves",
    )?;
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
    Ok(PassportInfo {
        id: pid.into(),
        owner: caller.party_id.clone().into(),
        created_at: now.to_datetime(),
        seq: 0,
    })
}

/// The owner erases the passport: its data key is destroyed, and its log with it.
pub async fn erase(state: &AppState, caller: &Caller, pid: &PassportId) -> Result<()> {
    let action = LogAction::PassportErased;
    let guard = AuthorizedPassport::authorize(state, caller, pid, action, &[]).await?;
    guard.require_owner("erase the passport").await?;
    let alert = Notice::new(
        &caller.party_id,
        wp_schemas::api::NotificationKind::PassportErased,
        Facts::default(),
    );
    state.store.erase_passport(pid, &[alert], guard.now).await?;
    state.notifications.written();
    state.heads.evict(pid);
    tracing::info!(passport = %pid, "passport erased");
    Ok(())
}

/// The latest version of every live record in the sections the caller may read; the other
/// sections are absent.
pub async fn read(
    state: &AppState,
    reader: &PendingCaller,
    pid: &PassportId,
) -> Result<Logged<PassportView>> {
    let guard = AuthorizedRead::authorize(state, reader, pid, LogAction::PassportRead).await?;
    let readable = guard.access.readable();
    let key = guard.key()?;
    let mut sections: BTreeMap<Section, Vec<VersionEnvelope>> =
        readable.iter().map(|s| (*s, Vec::new())).collect();
    for row in heads::live_heads(state, &guard.passport, &readable).await? {
        if let Some(list) = sections.get_mut(&row.section) {
            list.push(vault::open(&key, pid, row)?);
        }
    }
    let view = PassportView {
        id: pid.clone().into(),
        owner: guard.passport.owner_id.clone().into(),
        seq: guard.passport.seq,
        sections,
    };
    let reason = guard.reason();
    Ok(guard.allowed(readable, reason).await?.answer(view))
}

/// A record's latest version.
pub async fn record(
    state: &AppState,
    reader: &PendingCaller,
    pid: &PassportId,
    rid: &RecordId,
) -> Result<Logged<VersionEnvelope>> {
    let guard = AuthorizedRead::authorize(state, reader, pid, LogAction::PassportRead).await?;
    let row = state.store.head_version(pid, rid).await?;
    let (receipt, _, versions) = read_versions(guard, row.into_iter().collect()).await?;
    let head = versions.into_iter().next();
    Ok(receipt.answer(head.ok_or_else(|| anyhow::anyhow!("a read record without its head"))?))
}

/// A record's whole history.
pub async fn history(
    state: &AppState,
    reader: &PendingCaller,
    pid: &PassportId,
    rid: &RecordId,
) -> Result<Logged<RecordHistory>> {
    let guard = AuthorizedRead::authorize(state, reader, pid, LogAction::HistoryRead).await?;
    let rows = state.store.history(pid, rid).await?;
    let (receipt, section, versions) = read_versions(guard, rows).await?;
    Ok(receipt.answer(RecordHistory {
        record_id: rid.clone().into(),
        section,
        versions,
    }))
}

/// Versions of one record (`rows`, read after the guard), opened and logged; a missing record
/// and one in a section the caller may not read are refused (and logged) alike.
async fn read_versions(
    guard: AuthorizedRead<'_>,
    rows: Vec<VersionRow>,
) -> Result<(Receipt, Section, Vec<VersionEnvelope>)> {
    let (guard, section) = guard
        .readable_record(rows.first().map(|r| r.section))
        .await?;
    let key = guard.key()?;
    let versions = rows
        .into_iter()
        .map(|row| vault::open(&key, guard.pid(), row))
        .collect::<Result<Vec<_>>>()?;
    let reason = guard.reason();
    let receipt = guard.allowed(vec![section], reason).await?;
    Ok((receipt, section, versions))
}

/// What the sync feed answers.
pub enum Feed {
    /// Nothing new since the client's last sync, which holds the history up to `etag`.
    Unchanged { etag: String },
    /// A page of the feed; `etag` on the last page only.
    Page {
        changes: Changes,
        etag: Option<String>,
    },
}

/// The versions after cursor `since` in the sections the caller may read, with a
/// server-signed checkpoint; `known_tags` are the entity tags the client says it holds.
pub async fn changes(
    state: &AppState,
    reader: &PendingCaller,
    pid: &PassportId,
    since: i64,
    limit: i64,
    known_tags: &[&str],
) -> Result<Logged<Feed>> {
    let guard = AuthorizedRead::authorize(state, reader, pid, LogAction::ChangesRead).await?;
    if since > guard.passport.seq {
        // The client has seen more than the server holds: a rollback, never a reason to resync.
        return Err(guard
            .refuse(Error::client(
                ProblemType::Conflict,
                "the cursor is ahead of the server's history: the server may have been rolled back",
            ))
            .await);
    }
    // The tag names the history hash as well as the sequence, so that a forked history (same
    // sequence, another head) is served with its checkpoint instead of hidden behind a 304.
    let etag = format!("\"{}.{}\"", guard.passport.seq, guard.passport.head);
    // Only a client that holds everything up to the head may be told "nothing new": a client
    // still paging (its cursor behind the head) gets the next page whatever tag it sends.
    if since == guard.passport.seq && known_tags.contains(&etag.as_str()) {
        // Nothing new since the client's last sync: 304, after the same checks and logging.
        let readable = guard.access.readable();
        let receipt = guard.allowed(readable, "unchanged").await?;
        return Ok(receipt.answer(Feed::Unchanged { etag }));
    }
    let changes = changes_page(&guard, since, limit).await?;
    let (readable, reason) = (guard.access.readable(), guard.reason());
    let receipt = guard.allowed(readable, reason).await?;
    // A tag only on the last page, the tag of the state read before the scan, which the cursor
    // covers: it stands for "everything up to the head", which a page with more to come is not.
    let etag = (!changes.more).then_some(etag);
    Ok(receipt.answer(Feed::Page { changes, etag }))
}

/// One page of the feed after `since`, in the sections the caller may read, with a checkpoint.
/// The feed is the history as the access context read it: versions up to that sequence, signed
/// for by a checkpoint of that sequence and head. Versions committed since wait for the next
/// sync, so a reader of every section can always recompute the checkpoint's head.
async fn changes_page(guard: &AuthorizedRead<'_>, since: i64, limit: i64) -> Result<Changes> {
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
    let passport = &guard.passport;
    Ok(Changes {
        passport_id: pid.to_string(),
        since,
        next_since,
        more,
        versions,
        checkpoint: checkpoint(state, pid, passport.seq, &passport.head, None, guard.now),
    })
}

/// The server-signed checkpoint of passport `pid`'s history at `seq` and `head` (and, in a
/// bundle, of its access log at `log`: sequence and head), made at `now`.
pub(super) fn checkpoint(
    state: &AppState,
    pid: &PassportId,
    seq: i64,
    head: &str,
    log: Option<(i64, String)>,
    now: Timestamp,
) -> String {
    let (log_seq, log_head) = log.unzip();
    state.keys.active().sign_json(
        CHECKPOINT_TYP,
        KeyRef::Kid,
        &CheckpointClaims {
            passport: pid.to_string(),
            seq,
            head: head.to_owned(),
            iat: now.secs(),
            log_seq,
            log_head,
        },
    )
}

/// A page of the access log, newest first, before sequence `before` and (with `actor`) of that
/// party only; the owner only.
pub async fn access_log(
    state: &AppState,
    reader: &PendingCaller,
    pid: &PassportId,
    before: Option<i64>,
    actor: Option<&PartyId>,
    limit: i64,
) -> Result<Logged<AccessLogPage>> {
    let guard = AuthorizedRead::authorize(state, reader, pid, LogAction::AccessLogRead).await?;
    let guard = guard.require_owner("read the access log").await?;
    let entries = state.store.log_page(pid, before, actor, limit).await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    let page = AccessLogPage {
        entries,
        next_before,
    };
    Ok(guard.allowed(vec![], "owner").await?.answer(page))
}
