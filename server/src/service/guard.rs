//! The passport guard: the one place a caller's standing on a passport is decided and every
//! decision is written to the passport's access log.
//!
//! [`AuthorizedPassport::authorize`] (an admitted [`Caller`], for changes and owner requests) and
//! [`AuthorizedRead::authorize`] (a [`PendingCaller`], for reads) resolve the caller against the
//! grant as the database holds it now (a refusal is logged before it is returned); the value
//! they return carries who (the [`Caller`]), which passport (the row), which grant (the
//! [`Access`]) and the time ([`Standing`]), and their `require*` methods log their own refusals.
//!
//! An answer about a passport is a [`Logged`] value, and only a [`Receipt`] makes one: a read's
//! guard gives its receipt only by consuming itself into the log entry that admits its proof,
//! so a read cannot answer without its entry, nor leave its proof unadmitted. Changes commit
//! their entry with the change ([`AuthorizedPassport::allowed_event`]).

use serde::Serialize;
use wp_schemas::api::{Action, LogAction, Outcome, Role};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::Section;

use super::AppState;
use super::store::{Admission, PassportRow};
use super::{Caller, PendingCaller};
use crate::clock;
use crate::domain::access::{Access, Denial, resolve};
use crate::domain::audit::LogEvent;
use crate::domain::ids::{PartyId, PassportId};
use crate::domain::organisation::MembershipRecord;
use crate::domain::time::Timestamp;
use crate::error::{Error, Result};
use crate::keys::DataKey;

/// A caller's authorised standing on one passport, for one logged action: what both guards
/// know. It logs nothing itself.
pub struct Standing<'a> {
    pub state: &'a AppState,
    pub caller: &'a Caller,
    pub passport: PassportRow,
    pub access: Access,
    /// For a member acting under a grant to their organisation: the organisation and role.
    pub on_behalf_of: Option<(PartyId, Role)>,
    pub action: LogAction,
    /// The sections the request names, for the log entry of an owner-only refusal.
    sections: Vec<Section>,
    pub now: Timestamp,
}

/// Proof that a request's log entry was written (and a read's proof admitted with it), or that
/// its route logs no entry on success ([`AuthorizedPassport::unlogged`]): what every answer
/// about a passport is made from. Only the guards make one.
#[must_use = "a receipt stands for a logged request: answer with it"]
pub struct Receipt(());

impl Receipt {
    /// The answer `body`, logged.
    pub fn answer<T>(self, body: T) -> Logged<T> {
        Logged(body)
    }
}

/// An answer about a passport whose request was logged as its route says (made only from a
/// [`Receipt`]). Serialised as the answer itself.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Logged<T>(T);

impl<T> Logged<T> {
    /// The answer, for the handler to shape.
    pub fn into_inner(self) -> T {
        self.0
    }

    /// The same answer in another form (the export as FHIR), or why it cannot be.
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Logged<U>, E> {
        f(self.0).map(Logged)
    }
}

/// The guard of a request by an admitted [`Caller`]: a change, which commits its own entry
/// with what it changes, or an owner's request that logs after it is done.
pub struct AuthorizedPassport<'a>(Standing<'a>);

/// The guard of a read by a [`PendingCaller`], whose proof is admitted with the read's log
/// entry, in one transaction, before anything is answered. It is consumed by that entry:
/// [`AuthorizedRead::allowed`] (the receipt the answer is made from) or a refusal.
#[must_use = "a read is answered only through its log entry: allowed, or denied"]
pub struct AuthorizedRead<'a> {
    standing: Standing<'a>,
    proof: Admission,
}

impl<'a> std::ops::Deref for AuthorizedPassport<'a> {
    type Target = Standing<'a>;
    fn deref(&self) -> &Standing<'a> {
        &self.0
    }
}

impl<'a> std::ops::Deref for AuthorizedRead<'a> {
    type Target = Standing<'a>;
    fn deref(&self) -> &Standing<'a> {
        &self.standing
    }
}

impl<'a> Standing<'a> {
    /// Finds passport `pid` and the caller's standing on it. A refusal is logged, with `proof`
    /// (a read's, still to admit) admitted in the same transaction; a missing or erased
    /// passport, which has no log to carry it, admits the proof on its own.
    async fn resolve(
        state: &'a AppState,
        caller: &'a Caller,
        proof: Option<&Admission>,
        pid: &PassportId,
        action: LogAction,
        sections: &[Section],
    ) -> Result<Self> {
        let now = clock::now();
        let grant_id = caller.consent.as_ref().map(|c| &c.grant_id);
        let context = state
            .store
            .access_context(pid, grant_id, &caller.party_id)
            .await?;
        let context = match context {
            Some(c) if c.passport.erased_at.is_none() => c,
            missing => {
                if let Some(proof) = proof {
                    state.admit_proof(proof).await?;
                }
                return Err(match missing {
                    None => Error::not_found("no such passport"),
                    Some(_) => erased(),
                });
            }
        };
        let (passport, grant, membership) = (context.passport, context.grant, context.membership);
        let consent = caller.consent.as_ref();
        match resolve(
            &caller.party_id,
            consent,
            pid,
            &passport.owner_id,
            grant.as_ref(),
            membership.as_ref(),
            now,
        ) {
            Ok(access) => Ok(Standing {
                state,
                caller,
                passport,
                on_behalf_of: acting_for(&access, membership.as_ref()),
                access,
                action,
                sections: sections.to_vec(),
                now,
            }),
            Err(denial) => {
                let event = LogEvent::denied(
                    &caller.party_id,
                    grant_id,
                    action,
                    sections.to_vec(),
                    denial.to_string(),
                )
                .acting_for(membership.as_ref().map(MembershipRecord::acting_as));
                state.log_admitting(pid, event, now, proof.cloned()).await?;
                Err(denial.into())
            }
        }
    }

    pub fn pid(&self) -> &PassportId {
        &self.passport.id
    }

    /// Why the action is allowed, as the log says it.
    pub fn reason(&self) -> &'static str {
        if self.access.is_owner() {
            "owner"
        } else {
            "active grant"
        }
    }

    /// The passport's data key, unwrapped from what the access context read.
    pub(super) fn key(&self) -> Result<DataKey> {
        let (kid, wrapped) = self.passport.wrapped_key.as_ref().ok_or_else(erased)?;
        Ok(self.state.master.unwrap(kid, &self.passport.id, wrapped)?)
    }

    fn event_allowed(&self, sections: Vec<Section>, reason: &str) -> LogEvent {
        LogEvent::allowed(
            &self.caller.party_id,
            self.access.grant_id(),
            self.action,
            sections,
            reason,
        )
        .acting_for(self.on_behalf_of.clone())
    }

    fn event_denied(&self, sections: Vec<Section>, reason: &str) -> LogEvent {
        LogEvent {
            outcome: Outcome::Denied,
            ..self.event_allowed(sections, reason)
        }
    }

    /// Appends `event`, admitting `proof` (a read's) in the same transaction.
    async fn log(&self, event: LogEvent, proof: Option<Admission>) -> Result<()> {
        self.state
            .log_admitting(self.pid(), event, self.now, proof)
            .await
    }

    /// Logs `denial` (with `proof`, if a read's) and returns it as the error to answer with.
    async fn deny_with(
        &self,
        denial: Denial,
        sections: Vec<Section>,
        proof: Option<Admission>,
    ) -> Error {
        let event = self.event_denied(sections, &denial.to_string());
        match self.log(event, proof).await {
            Ok(()) => denial.into(),
            Err(e) => e,
        }
    }
}

impl<'a> AuthorizedPassport<'a> {
    /// Finds passport `pid` and the caller's standing on it. `sections` are what the request
    /// names, recorded with a refusal.
    pub async fn authorize(
        state: &'a AppState,
        caller: &'a Caller,
        pid: &PassportId,
        action: LogAction,
        sections: &[Section],
    ) -> Result<Self> {
        let standing = Standing::resolve(state, caller, None, pid, action, sections).await?;
        Ok(AuthorizedPassport(standing))
    }

    /// The caller must be allowed `action` on `section`; a refusal is logged.
    pub async fn require(&self, section: Section, action: Action) -> Result<()> {
        match self.access.require(section, action) {
            Ok(()) => Ok(()),
            Err(denial) => Err(self.deny(denial, vec![section]).await),
        }
    }

    /// The caller must be the owner (to `what`); a refusal is logged.
    pub async fn require_owner(&self, what: &'static str) -> Result<()> {
        match self.access.require_owner(what) {
            Ok(()) => Ok(()),
            Err(denial) => Err(self.deny(denial, self.sections.clone()).await),
        }
    }

    /// Logs a refusal and returns it as the error to answer with.
    pub async fn deny(&self, denial: Denial, sections: Vec<Section>) -> Error {
        self.0.deny_with(denial, sections, None).await
    }

    /// Logs a refused attempt under `reason`, the refusal's stable text.
    pub async fn log_denied(&self, sections: Vec<Section>, reason: &str) -> Result<()> {
        self.log(self.event_denied(sections, reason), None).await
    }

    /// Logs that the action was allowed on `sections`, for a request that changes nothing.
    pub async fn allowed(&self, sections: Vec<Section>, reason: &str) -> Result<Receipt> {
        self.log(self.event_allowed(sections, reason), None).await?;
        Ok(Receipt(()))
    }

    /// Logs the action as allowed and writes `notices` (say, the owner's security alert) in
    /// the same transaction.
    pub async fn allowed_notifying(
        &self,
        sections: Vec<Section>,
        reason: &str,
        notices: Vec<crate::domain::notification::Notice>,
    ) -> Result<Receipt> {
        let event = self.event_allowed(sections, reason);
        self.state
            .log_notifying(self.pid(), event, self.now, notices)
            .await?;
        Ok(Receipt(()))
    }

    /// The entry that records the action as allowed, for a store call that commits it with
    /// the change it allows.
    pub fn allowed_event(&self, sections: Vec<Section>, reason: &str) -> LogEvent {
        self.event_allowed(sections, reason)
    }

    /// The receipt of a request whose route logs only its refusals (`Audit::RefusalsOnly` in
    /// the route table): the owner's own view of the passport's grants, which discloses nothing
    /// to anyone else.
    pub fn unlogged(&self) -> Receipt {
        debug_assert!(
            self.access.is_owner(),
            "only an owner's request goes unlogged"
        );
        Receipt(())
    }
}

impl<'a> AuthorizedRead<'a> {
    /// The guard of a read of passport `pid` by `pending`, whose proof is admitted with the
    /// read's log entry (or with its refusal's).
    pub async fn authorize(
        state: &'a AppState,
        pending: &'a PendingCaller,
        pid: &PassportId,
        action: LogAction,
    ) -> Result<Self> {
        let proof = &pending.proof;
        let standing =
            Standing::resolve(state, &pending.caller, Some(proof), pid, action, &[]).await?;
        Ok(AuthorizedRead {
            standing,
            proof: proof.clone(),
        })
    }

    /// The caller must be the owner (to `what`); a refusal is logged.
    pub async fn require_owner(self, what: &'static str) -> Result<Self> {
        match self.access.require_owner(what) {
            Ok(()) => Ok(self),
            Err(denial) => Err(self.deny(denial, vec![]).await),
        }
    }

    /// The section of a record the caller wants to read, or the refusal (logged) that answers
    /// a missing record and one in a section the caller may not read alike.
    pub async fn readable_record(self, section: Option<Section>) -> Result<(Self, Section)> {
        match section {
            Some(s) if self.access.can(s, Action::Read) => Ok((self, s)),
            Some(s) => Err(self.deny(Denial::NoSuchRecord, vec![s]).await),
            None => Err(self.deny(Denial::NoSuchRecord, vec![]).await),
        }
    }

    /// Logs that the read was allowed on `sections`, admitting its proof: the receipt its
    /// answer is made from.
    pub async fn allowed(self, sections: Vec<Section>, reason: &str) -> Result<Receipt> {
        let event = self.event_allowed(sections, reason);
        self.standing.log(event, Some(self.proof)).await?;
        Ok(Receipt(()))
    }

    /// Logs a refusal, admitting the read's proof, and returns it as the error to answer with.
    pub async fn deny(self, denial: Denial, sections: Vec<Section>) -> Error {
        self.standing
            .deny_with(denial, sections, Some(self.proof))
            .await
    }

    /// Admits the read's proof and answers `error`, a refusal of the request itself rather
    /// than of the caller (a sync cursor ahead of the history): nothing was read, so nothing
    /// is logged, but the proof is used.
    pub async fn refuse(self, error: Error) -> Error {
        match self.standing.state.admit_proof(&self.proof).await {
            Ok(()) => error,
            Err(e) => e,
        }
    }
}

/// The organisation and role a grantee acts for: set when the caller is a member acting under a
/// grant to their organisation (not for the grantee itself, nor the owner).
fn acting_for(access: &Access, membership: Option<&MembershipRecord>) -> Option<(PartyId, Role)> {
    match access {
        Access::Grantee(grant) => membership
            .filter(|m| m.organisation == grant.grantee)
            .map(MembershipRecord::acting_as),
        Access::Owner => None,
    }
}

fn erased() -> Error {
    Error::client(ProblemType::Gone, "the passport was erased by its owner")
}
