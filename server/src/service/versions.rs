//! A version write, from the submitted JWS to the committed version: authorise, check the
//! signer, accept the version (domain rules in `domain::version`, where the signature is
//! verified), place it after the record's head, seal it and append it with its log entry.
//! Every refused or conflicting write by a known caller is in the passport's access log.

use wp_schemas::api::NotificationKind as Kind;
use wp_schemas::api::{Action, LogAction, VersionEnvelope, VersionPayload, agreed_by};
use wp_schemas::jose::CompactJws;
use wp_schemas::sections::{AdjustmentStatus, AdjustmentsBody, Section, SectionBody};

use super::AppState;
use super::AuthorizedPassport;
use super::Caller;
use super::store::{AppendError, ReviewChange, VersionAppend};
use super::vault;
use crate::domain::ids::{Kid, PartyId, PassportId, RecordId};
use crate::domain::notification::{Facts, Notice};
use crate::domain::party::RegisteredKey;
use crate::domain::version::{self, AcceptedVersion, Head, VersionRefusal};
use crate::error::{Error, Result};
use crate::keys::DataKey;

/// A version write that did not happen.
pub enum WriteFailure {
    /// Refused by a rule; `current_head` is set for a writer who may read the record and
    /// missed its head.
    Refused {
        refusal: VersionRefusal,
        current_head: Option<Box<VersionEnvelope>>,
    },
    /// The store, the keys or the log failed: an internal error, not logged as a refusal.
    Failed(Error),
}

impl From<Error> for WriteFailure {
    fn from(error: Error) -> Self {
        WriteFailure::Failed(error)
    }
}

impl From<VersionRefusal> for WriteFailure {
    fn from(refusal: VersionRefusal) -> Self {
        WriteFailure::Refused {
            refusal,
            current_head: None,
        }
    }
}

/// A failed write with the sections its log entry names.
struct Refused {
    failure: WriteFailure,
    sections: Vec<Section>,
}

impl From<WriteFailure> for Refused {
    fn from(failure: WriteFailure) -> Self {
        Refused {
            failure,
            sections: Vec::new(),
        }
    }
}

impl From<VersionRefusal> for Refused {
    fn from(refusal: VersionRefusal) -> Self {
        WriteFailure::from(refusal).into()
    }
}

impl From<Error> for Refused {
    fn from(error: Error) -> Self {
        WriteFailure::from(error).into()
    }
}

/// Names the section a failure's log entry is about.
trait Naming<T> {
    fn naming(self, section: Section) -> Result<T, Refused>;
}

impl<T, E: Into<WriteFailure>> Naming<T> for Result<T, E> {
    fn naming(self, section: Section) -> Result<T, Refused> {
        self.map_err(|e| Refused {
            failure: e.into(),
            sections: vec![section],
        })
    }
}

/// Writes the version in `jws` to passport `pid`: a new record when `rid` is None, else the
/// next version of record `rid`.
pub async fn write(
    state: &AppState,
    caller: &Caller,
    pid: &PassportId,
    rid: Option<&RecordId>,
    jws: &str,
) -> Result<VersionEnvelope, WriteFailure> {
    let parsed = version::parse(jws);
    let claimed: Vec<Section> = parsed.iter().map(|(_, p)| p.section).collect();
    let action = LogAction::VersionWritten;
    let guard = AuthorizedPassport::authorize(state, caller, pid, action, &claimed).await?;
    let attempt = WriteAttempt { guard: &guard };
    let (failure, sections) = match attempt.run(rid, jws, parsed).await {
        Ok(envelope) => return Ok(envelope),
        Err(Refused { failure, sections }) => (failure, sections),
    };
    if let WriteFailure::Refused { refusal, .. } = &failure {
        guard.log_denied(sections, &refusal.to_string()).await?;
    }
    Err(failure)
}

/// One version write by an authorised caller.
struct WriteAttempt<'g, 'a> {
    guard: &'g AuthorizedPassport<'a>,
}

impl WriteAttempt<'_, '_> {
    async fn run(
        &self,
        rid: Option<&RecordId>,
        jws: &str,
        parsed: Result<(CompactJws<'_>, VersionPayload), VersionRefusal>,
    ) -> Result<VersionEnvelope, Refused> {
        let (parsed, payload) = parsed?;
        let (g, access) = (self.guard, &self.guard.access);
        let section = payload.section;
        let head = match rid {
            None => None,
            Some(rid) => Some(self.visible_head(rid).await?),
        };
        // Writing needs `write` on the section (the owner has it); an employer with `agree` may
        // only mark an existing adjustment agreed.
        let agreeing = !access.can(section, Action::Write)
            && head.is_some()
            && access.can(section, Action::Agree);
        if !agreeing {
            access
                .require(section, Action::Write)
                .map_err(VersionRefusal::OutsideScope)
                .naming(section)?;
        }
        // Only the owner removes a record; anyone else ends it with a new version (say, an
        // adjustment's status `ended`), which stays in the history.
        if payload.deleted && !access.is_owner() {
            return Err(VersionRefusal::OwnerDeletesOnly).naming(section);
        }
        let key = self.signer_key(&parsed).await.naming(section)?;
        let accepted =
            version::accept(jws, &parsed, payload, &key, g.pid(), rid, g.now).naming(section)?;
        if let Some(head) = &head {
            let record_id = accepted.record();
            if let Err(refusal) = version::check_successor(&accepted, head) {
                return Err(self.not_successor(record_id, refusal).await).naming(section);
            }
            if agreeing {
                self.check_agreement(record_id, &accepted)
                    .await
                    .naming(section)?;
            }
        }
        let why = if agreeing {
            "agreement under an active grant"
        } else {
            g.reason()
        };
        let seq = self
            .append(&accepted, head.as_ref(), why, agreeing)
            .await
            .naming(section)?;
        Ok(VersionEnvelope {
            seq,
            record_id: accepted.record().to_string(),
            section,
            version: accepted.version(),
            author: accepted.author().to_string(),
            hash: accepted.hash().to_owned(),
            deleted: accepted.deleted(),
            jws: accepted.jws().to_owned(),
            created_at: g.now.to_datetime(),
        })
    }

    /// Seals the accepted version and appends it after `head`, with the log entry that allows
    /// it, in one transaction; a head that moved meanwhile is a stale write.
    async fn append(
        &self,
        accepted: &AcceptedVersion,
        head: Option<&Head>,
        why: &str,
        agreeing: bool,
    ) -> Result<i64, WriteFailure> {
        let g = self.guard;
        let notices = self.notices(agreeing).await?;
        let tells = !notices.is_empty();
        let (section, record_id) = (accepted.section(), accepted.record());
        let key = self.key()?;
        let sealed = vault::seal(
            &g.state.master,
            &key,
            g.pid(),
            record_id,
            accepted.version(),
            accepted.jws(),
        );
        let version = VersionAppend {
            passport_id: g.pid().clone(),
            version: accepted.clone(),
            sealed,
            expected: head.cloned(),
            max_records: g.state.max_records_per_passport,
            event: g.allowed_event(vec![section], why),
            now: g.now,
            notices,
            review: review_change(
                accepted,
                agreeing
                    .then(|| g.on_behalf_of.as_ref().map(|(o, _)| o.clone()))
                    .flatten(),
            ),
        };
        let limit = version.max_records;
        match g.state.writer.append_version(version).await {
            Ok(seq) => {
                // Only a version that tells someone wakes the dispatcher (an owner's own
                // writes, most of them, tell no one).
                if tells {
                    g.state.notifications.written();
                }
                Ok(seq)
            }
            Err(AppendError::Stale) => {
                Err(self.not_successor(record_id, VersionRefusal::Stale).await)
            }
            Err(AppendError::Full) => Err(VersionRefusal::PassportFull(limit).into()),
            Err(AppendError::Other(e)) => Err(e.into()),
        }
    }

    /// What the owner is told of a version written by someone else: an agreement (by the
    /// organisation) or an update (by the person). Nothing of what it says.
    async fn notices(&self, agreeing: bool) -> Result<Vec<Notice>, WriteFailure> {
        let g = self.guard;
        if g.access.is_owner() {
            return Ok(Vec::new());
        }
        let owner = &g.passport.owner_id;
        let who = match (&g.on_behalf_of, agreeing) {
            (Some((organisation, _)), true) => (organisation, Kind::AdjustmentAgreed),
            _ => (&g.caller.party_id, Kind::VersionWritten),
        };
        let party = g.state.store.party(who.0).await?;
        let name = party.map(|p| p.display_name).unwrap_or_default();
        Ok(vec![Notice::new(owner, who.1, Facts::who(name))])
    }

    /// The passport's data key; a passport without one was erased.
    fn key(&self) -> Result<DataKey, WriteFailure> {
        if self.guard.passport.wrapped_key.is_none() {
            return Err(VersionRefusal::Erased.into());
        }
        Ok(self.guard.key()?)
    }

    /// The head of record `rid`, if the caller has any part in its section. A record in a
    /// section the caller may not touch is answered exactly like one that does not exist, so a
    /// refusal never tells whether, or where, it exists.
    async fn visible_head(&self, rid: &RecordId) -> Result<Head, Refused> {
        let g = self.guard;
        match g.state.store.record_head(g.pid(), rid).await? {
            Some(head) if g.access.touches(head.section) => Ok(head),
            Some(head) => Err(VersionRefusal::NoSuchRecord).naming(head.section),
            None => Err(VersionRefusal::NoSuchRecord.into()),
        }
    }

    /// The caller's registered key that signed the version.
    async fn signer_key(&self, parsed: &CompactJws<'_>) -> Result<RegisteredKey, WriteFailure> {
        // The header allow-list admits any string as `kid`: one that is no thumbprint names
        // no registered key.
        let kid = parsed.header_str("kid").and_then(Kid::parse);
        let kid = kid.ok_or(VersionRefusal::UnregisteredKey)?;
        let key = self.guard.state.store.key(&kid).await?;
        let key = key.ok_or(VersionRefusal::UnregisteredKey)?;
        if key.party_id != self.guard.caller.party_id {
            return Err(VersionRefusal::NotCallersKey.into());
        }
        Ok(key)
    }

    /// A version that does not succeed the record's head. A caller who may read the record gets
    /// the current head to rebase on; anyone else learns only that the write was refused as
    /// stale, nothing of the record's content, version or state.
    async fn not_successor(&self, rid: &RecordId, refusal: VersionRefusal) -> WriteFailure {
        let g = self.guard;
        let row = match g.state.store.head_version(g.pid(), rid).await {
            Ok(row) => row,
            Err(e) => return e.into(),
        };
        let readable = row
            .as_ref()
            .is_some_and(|r| g.access.can(r.section, Action::Read));
        let (Some(row), true) = (row, readable) else {
            return VersionRefusal::NotSuccessor.into();
        };
        if !refusal.offers_head() {
            return refusal.into();
        }
        let head = self
            .key()
            .and_then(|key| Ok(vault::open(&key, g.pid(), row)?));
        match head {
            Ok(head) => WriteFailure::Refused {
                refusal,
                current_head: Some(Box::new(head)),
            },
            Err(other) => other,
        }
    }

    /// An agreement may only mark the current adjustment agreed.
    async fn check_agreement(
        &self,
        rid: &RecordId,
        accepted: &AcceptedVersion,
    ) -> Result<(), WriteFailure> {
        let g = self.guard;
        let row = g.state.store.head_version(g.pid(), rid).await?;
        let row = row.ok_or(VersionRefusal::NoSuchRecord)?;
        let previous = vault::open(&self.key()?, g.pid(), row)?;
        let previous_body = CompactJws::parse(&previous.jws)
            .ok()
            .and_then(|j| j.claims::<VersionPayload>().ok())
            .and_then(|p| p.body)
            .unwrap_or_default();
        let signer = self.signer_identity().await?;
        Ok(version::check_agreement(
            &previous_body,
            accepted.body(),
            signer.as_deref(),
        )?)
    }

    /// How a member who agrees for their organisation must be named in `agreed_by`; None for
    /// a grantee acting for itself (an organisation of one names whom it likes).
    async fn signer_identity(&self) -> Result<Option<String>, WriteFailure> {
        let g = self.guard;
        if g.on_behalf_of.is_none() {
            return Ok(None);
        }
        let party = g.state.store.party(&g.caller.party_id).await?;
        let party = party.ok_or(VersionRefusal::UnregisteredKey)?;
        Ok(party
            .membership
            .map(|m| agreed_by(&party.display_name, m.role, &m.organisation_name)))
    }
}

/// What a version does to its record's review date: an adjustment under review keeps (or
/// gets) its date; one ended, declined, removed or without a date has none. `agreed_by` is the
/// organisation whose member's agreement this version is.
fn review_change(accepted: &AcceptedVersion, agreed_by: Option<PartyId>) -> Option<ReviewChange> {
    if accepted.section() != Section::Adjustments {
        return None;
    }
    let live = |b: &AdjustmentsBody| {
        !matches!(
            b.status,
            AdjustmentStatus::Ended | AdjustmentStatus::Declined
        )
    };
    Some(match accepted.body() {
        Some(SectionBody::Adjustments(body)) if !accepted.deleted() && live(body) => {
            match &body.review_date {
                Some(date) => ReviewChange::Set {
                    on: date.to_string(),
                    agreed_by,
                },
                None => ReviewChange::Cleared,
            }
        }
        _ => ReviewChange::Cleared,
    })
}
