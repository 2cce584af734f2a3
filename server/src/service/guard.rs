//! The passport guard: the one place a caller's standing on a passport is decided and every
//! decision is written to the passport's access log.
//!
//! [`AuthorizedPassport::authorize`] resolves the caller against the grant as the database
//! holds it now (a refusal is logged before it is returned); the value it returns carries who
//! (the [`Caller`]), which passport (the row), which grant (the [`Access`]) and the time, and
//! its `require*` methods log their own refusals while [`AuthorizedPassport::allowed`] logs
//! success.

use wp_schemas::api::{Action, LogAction, Role};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::Section;

use super::AppState;
use super::{Caller, PendingCaller};
use crate::clock;
use crate::domain::access::{Access, Denial, resolve};
use crate::domain::audit::LogEvent;
use crate::domain::ids::{PartyId, PassportId};
use crate::domain::organisation::MembershipRecord;
use crate::domain::time::Timestamp;
use crate::error::{Error, Result};
use crate::keys::DataKey;
use crate::store::{Admission, PassportRow};

/// A caller's authorised standing on one passport, for one logged action.
pub struct AuthorizedPassport<'a> {
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
    /// A read's DPoP proof, admitted with the first entry this guard logs (or by
    /// [`AuthorizedPassport::admit`] for an answer that logs nothing).
    proof: std::sync::Mutex<Option<Admission>>,
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
        Self::authorize_with(state, caller, None, pid, action, sections).await
    }

    /// As [`AuthorizedPassport::authorize`], for a read whose proof is not yet admitted: it is
    /// admitted with the read's log entry, in one transaction, before anything is answered.
    /// Only for reads whose every answer but a server failure is logged: a change commits its
    /// own entry ([`AuthorizedPassport::allowed_event`]) and comes from an admitted [`Caller`].
    pub async fn authorize_pending(
        state: &'a AppState,
        pending: &'a PendingCaller,
        pid: &PassportId,
        action: LogAction,
        sections: &[Section],
    ) -> Result<Self> {
        let proof = Some(pending.proof.clone());
        Self::authorize_with(state, &pending.caller, proof, pid, action, sections).await
    }

    async fn authorize_with(
        state: &'a AppState,
        caller: &'a Caller,
        proof: Option<Admission>,
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
        // No entry to carry the proof: a missing or erased passport admits it on its own.
        let context = match context {
            Some(c) if c.passport.erased_at.is_none() => c,
            missing => {
                if let Some(proof) = &proof {
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
            Ok(access) => Ok(AuthorizedPassport {
                state,
                caller,
                passport,
                on_behalf_of: acting_for(&access, membership.as_ref()),
                access,
                action,
                sections: sections.to_vec(),
                now,
                proof: std::sync::Mutex::new(proof),
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
                state.log_admitting(pid, event, now, proof).await?;
                Err(denial.into())
            }
        }
    }

    pub fn pid(&self) -> &PassportId {
        &self.passport.id
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

    /// The section of a record the caller wants to read, or the refusal (logged) that answers
    /// a missing record and one in a section the caller may not read alike.
    pub async fn readable_record(&self, section: Option<Section>) -> Result<Section> {
        match section {
            Some(s) if self.access.can(s, Action::Read) => Ok(s),
            Some(s) => Err(self.deny(Denial::NoSuchRecord, vec![s]).await),
            None => Err(self.deny(Denial::NoSuchRecord, vec![]).await),
        }
    }

    /// Logs a refusal and returns it as the error to answer with.
    pub async fn deny(&self, denial: Denial, sections: Vec<Section>) -> Error {
        match self.log_denied(sections, &denial.to_string()).await {
            Ok(()) => denial.into(),
            Err(e) => e,
        }
    }

    /// Logs a refused attempt under `reason`, the refusal's stable text.
    pub async fn log_denied(&self, sections: Vec<Section>, reason: &str) -> Result<()> {
        self.log(
            LogEvent::denied(
                &self.caller.party_id,
                self.access.grant_id(),
                self.action,
                sections,
                reason,
            )
            .acting_for(self.on_behalf_of.clone()),
        )
        .await
    }

    /// Logs that the action was allowed on `sections`.
    pub async fn allowed(&self, sections: Vec<Section>, reason: &str) -> Result<()> {
        self.log(self.event_allowed(sections, reason)).await
    }

    /// The entry that records the action as allowed, for a store call that commits it with
    /// the change it allows.
    pub fn allowed_event(&self, sections: Vec<Section>, reason: &str) -> LogEvent {
        debug_assert!(
            self.proof.lock().expect("the pending proof").is_none(),
            "a change is made by an admitted caller (see authorize_pending)"
        );
        self.event_allowed(sections, reason)
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

    async fn log(&self, event: LogEvent) -> Result<()> {
        let proof = self.pending_proof();
        self.state
            .log_admitting(self.pid(), event, self.now, proof)
            .await
    }

    /// Admits the read's proof now, if it is still pending: for an answer that logs nothing.
    pub async fn admit(&self) -> Result<()> {
        match self.pending_proof() {
            Some(proof) => self.state.admit_proof(&proof).await,
            None => Ok(()),
        }
    }

    /// The proof still to admit, taken: it is admitted once, with whatever comes first.
    fn pending_proof(&self) -> Option<Admission> {
        self.proof.lock().expect("the pending proof").take()
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
    pub fn key(&self) -> Result<DataKey> {
        let (kid, wrapped) = self.passport.wrapped_key.as_ref().ok_or_else(erased)?;
        Ok(self.state.master.unwrap(kid, &self.passport.id, wrapped)?)
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
