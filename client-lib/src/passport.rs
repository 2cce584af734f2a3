//! One passport, seen by its owner or by a grantee under a consent token.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::Value;
use wp_schemas::api::{
    AccessLogEntry, AccessLogPage, Changes, CreateGrant, Grant, OnBehalfOf, PassportView,
    RecordHistory, Scope, VersionEnvelope,
};
use wp_schemas::chain::verify_log;
use wp_schemas::paths;
use wp_schemas::sections::{AdjustmentStatus, Section};

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::proofs::{self, VersionDraft};
use crate::verify::{self, VerifiedVersion};

/// The verified latest version of every record the caller may see, by section.
#[derive(Debug, Clone)]
pub struct VerifiedPassport {
    pub id: String,
    pub owner: String,
    pub seq: i64,
    pub sections: BTreeMap<Section, Vec<VerifiedVersion>>,
}

impl VerifiedPassport {
    pub fn records(&self, section: Section) -> &[VerifiedVersion] {
        self.sections.get(&section).map_or(&[], Vec::as_slice)
    }
}

pub struct PassportClient<'c> {
    client: &'c Client,
    pub id: String,
    /// A grantee's consent; None for the owner.
    consent: Option<Consent>,
}

/// What a grantee's consent token allows, as the token endpoint answered.
#[derive(Debug, Clone)]
pub(crate) struct Consent {
    pub grant_id: String,
    pub scopes: Vec<Scope>,
    /// For a member: the organisation and role they act for.
    pub on_behalf_of: Option<OnBehalfOf>,
}

impl<'c> PassportClient<'c> {
    pub(crate) fn new(client: &'c Client, id: String, consent: Option<Consent>) -> Self {
        PassportClient {
            client,
            id,
            consent,
        }
    }

    pub fn grant_id(&self) -> Option<&str> {
        self.consent.as_ref().map(|c| c.grant_id.as_str())
    }

    /// A grantee's scopes; None for the owner.
    pub fn scopes(&self) -> Option<&[Scope]> {
        self.consent.as_ref().map(|c| c.scopes.as_slice())
    }

    /// For a member under a grant to their organisation: the organisation and the role they
    /// act for, as their consent token names them.
    pub fn on_behalf_of(&self) -> Option<&OnBehalfOf> {
        self.consent.as_ref()?.on_behalf_of.as_ref()
    }

    /// The connection this passport is reached through (the replica sends its own requests).
    pub(crate) fn client(&self) -> &'c Client {
        self.client
    }

    pub(crate) async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.client
            .call(Method::GET, path, self.grant_id(), None::<&()>)
            .await
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T> {
        self.client
            .call(Method::POST, path, self.grant_id(), body)
            .await
    }

    /// Verifies one version against its author's keys (refreshing them once: a key may be new).
    /// Its place in its record's chain is checked apart, with [`verify::successor`].
    pub async fn verify(&self, envelope: &VersionEnvelope) -> Result<VerifiedVersion> {
        verify::in_scope(envelope.section, verify::readable(self.scopes()).as_deref())?;
        let author = self.client.party(&envelope.author).await?;
        let payload = match verify::version(envelope, &self.id, &author) {
            Ok(p) => p,
            Err(ClientError::Verification(_)) => {
                let author = self.client.refresh_party(&envelope.author).await?;
                verify::version(envelope, &self.id, &author)?
            }
            Err(e) => return Err(e),
        };
        let author = self.client.party(&envelope.author).await?;
        Ok(VerifiedVersion {
            envelope: envelope.clone(),
            payload,
            author,
        })
    }

    /// The passport as the server sends it, unverified (for tools that verify themselves).
    pub async fn read_raw(&self) -> Result<PassportView> {
        self.get(&paths::passport(&self.id)).await
    }

    /// The latest version of every visible record, each signature verified.
    pub async fn read(&self) -> Result<VerifiedPassport> {
        let view = self.read_raw().await?;
        if view.id != self.id {
            return Err(ClientError::Verification(
                "the server answered with another passport".into(),
            ));
        }
        let mut sections = BTreeMap::new();
        for (section, envelopes) in view.sections {
            let mut verified = Vec::with_capacity(envelopes.len());
            for envelope in &envelopes {
                if envelope.section != section {
                    return Err(ClientError::Verification(
                        "a record filed under the wrong section".into(),
                    ));
                }
                verified.push(self.verify(envelope).await?);
            }
            sections.insert(section, verified);
        }
        Ok(VerifiedPassport {
            id: view.id,
            owner: view.owner,
            seq: view.seq,
            sections,
        })
    }

    /// A record's whole history, its chain verified from version 1.
    pub async fn history(&self, record_id: &str) -> Result<Vec<VerifiedVersion>> {
        let history: RecordHistory = self
            .get(&paths::passport_record_versions(&self.id, record_id))
            .await?;
        if history.record_id != record_id {
            return Err(ClientError::Verification(
                "the server answered with another record".into(),
            ));
        }
        let mut verified: Vec<VerifiedVersion> = Vec::with_capacity(history.versions.len());
        for envelope in &history.versions {
            if envelope.record_id != record_id {
                return Err(ClientError::Verification("a history mixes records".into()));
            }
            let version = self.verify(envelope).await?;
            let head = verified.last().map(|v| verify::head_of(&v.envelope));
            verify::successor(envelope, head.as_ref(), &version.payload)?;
            verified.push(version);
        }
        Ok(verified)
    }

    /// The latest version of one record, verified.
    pub async fn record(&self, record_id: &str) -> Result<VerifiedVersion> {
        let envelope: VersionEnvelope = self
            .get(&paths::passport_record(&self.id, record_id))
            .await?;
        self.verify(&envelope).await
    }

    async fn submit(&self, path: &str, draft: VersionDraft) -> Result<VerifiedVersion> {
        let jws = proofs::sign_version(self.client.key(), self.client.party_id()?, draft);
        let envelope: VersionEnvelope = self
            .post(path, Some(&serde_json::json!({ "jws": jws })))
            .await?;
        if envelope.jws != jws {
            return Err(ClientError::Verification(
                "the server stored something other than what was signed".into(),
            ));
        }
        self.verify(&envelope).await
    }

    /// Adds a record to `section`, signed by this client's key.
    pub async fn create_record(&self, section: Section, body: Value) -> Result<VerifiedVersion> {
        let draft = VersionDraft {
            passport: self.id.clone(),
            record: uuid::Uuid::new_v4().to_string(),
            section,
            version: 1,
            prev: None,
            body: Some(body),
        };
        self.submit(&paths::passport_records(&self.id), draft).await
    }

    /// Writes `body` (None: a tombstone) as the version after `head`. A stale `head` gets
    /// [`ClientError::Conflict`] with the current head: call again on top of that one.
    pub async fn write_after(
        &self,
        head: &VersionEnvelope,
        body: Option<Value>,
    ) -> Result<VerifiedVersion> {
        let draft = VersionDraft {
            passport: self.id.clone(),
            record: head.record_id.clone(),
            section: head.section,
            version: head.version + 1,
            prev: Some(head.hash.clone()),
            body,
        };
        self.submit(
            &paths::passport_record_versions(&self.id, &head.record_id),
            draft,
        )
        .await
    }

    /// Replaces a record's body on top of its current head.
    pub async fn update_record(&self, record_id: &str, body: Value) -> Result<VerifiedVersion> {
        let head = self.record(record_id).await?;
        self.write_after(&head.envelope, Some(body)).await
    }

    /// Deletes a record with a signed tombstone; its history stays.
    pub async fn delete_record(&self, record_id: &str) -> Result<VerifiedVersion> {
        let head = self.record(record_id).await?;
        self.write_after(&head.envelope, None).await
    }

    /// Applies `change` to the current head, and again to the newer head whenever another
    /// writer got there first (at most `attempts` times): the helper for a 409.
    pub async fn rebase_and_write(
        &self,
        record_id: &str,
        attempts: usize,
        change: impl Fn(&Value) -> Value,
    ) -> Result<VerifiedVersion> {
        let mut head = self.record(record_id).await?;
        for _ in 0..attempts.max(1) {
            let body = change(head.payload.body.as_ref().unwrap_or(&Value::Null));
            match self.write_after(&head.envelope, Some(body)).await {
                Err(ClientError::Conflict { current_head, .. }) => {
                    head = self.verify(&current_head).await?;
                }
                other => return other,
            }
        }
        Err(ClientError::Other(
            "the record kept changing; gave up".into(),
        ))
    }

    /// As an employer with `agree` on adjustments: records that the adjustment is agreed, as a
    /// new version signed by the employer that changes only `status` and `agreed_by`.
    pub async fn agree_adjustment(
        &self,
        record_id: &str,
        agreed_by: &str,
    ) -> Result<VerifiedVersion> {
        let head = self.record(record_id).await?;
        if head.envelope.section != Section::Adjustments {
            return Err(ClientError::Other("only adjustments are agreed".into()));
        }
        let mut body = head.payload.body.clone().unwrap_or_default();
        body["status"] = serde_json::to_value(AdjustmentStatus::Agreed).expect("status serializes");
        body["agreed_by"] = Value::String(agreed_by.into());
        self.write_after(&head.envelope, Some(body)).await
    }

    /// As a member of an organisation with `agree` on adjustments: agrees in their own name,
    /// as the server requires of a member ([`crate::consent::agreement_name`]).
    pub async fn agree_adjustment_as_member(&self, record_id: &str) -> Result<VerifiedVersion> {
        let me = self.client.party(self.client.party_id()?).await?;
        let name = crate::consent::agreement_name(&me).ok_or_else(|| {
            ClientError::Other("only a member agrees in their own name: give agreed_by".into())
        })?;
        self.agree_adjustment(record_id, &name).await
    }

    /// The raw changes feed after `since` (see [`crate::replica`] for a verified, synced copy).
    pub async fn changes(&self, since: i64) -> Result<Changes> {
        self.get(&format!(
            "{}?since={since}",
            paths::passport_changes(&self.id)
        ))
        .await
    }

    // -----------------------------------------------------------------------------------------
    // Owner only

    pub async fn grant(&self, request: &CreateGrant) -> Result<Grant> {
        let body = serde_json::to_value(request).map_err(|e| ClientError::Other(e.to_string()))?;
        self.post(&paths::passport_grants(&self.id), Some(&body))
            .await
    }

    pub async fn grants(&self) -> Result<Vec<Grant>> {
        self.get(&paths::passport_grants(&self.id)).await
    }

    pub async fn revoke(&self, grant_id: &str) -> Result<Grant> {
        self.post(&paths::passport_grant_revoke(&self.id, grant_id), None)
            .await
    }

    pub async fn access_log_page(
        &self,
        before: Option<i64>,
        actor: Option<&str>,
    ) -> Result<AccessLogPage> {
        let mut query = Vec::new();
        if let Some(b) = before {
            query.push(format!("before={b}"));
        }
        if let Some(a) = actor {
            query.push(format!("actor={a}"));
        }
        let mut path = paths::passport_access_log(&self.id);
        if !query.is_empty() {
            path = format!("{path}?{}", query.join("&"));
        }
        self.get(&path).await
    }

    /// The access log, oldest first, not verified: the entries by `actor` (all, without),
    /// paged back from the newest until `limit` are fetched (or all, without).
    pub async fn access_log(
        &self,
        actor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<AccessLogEntry>> {
        let mut entries = Vec::new();
        let mut before = None;
        loop {
            let page = self.access_log_page(before, actor).await?;
            entries.extend(page.entries);
            match page.next_before {
                Some(b) if limit.is_none_or(|l| entries.len() < l) => before = Some(b),
                _ => break,
            }
        }
        entries.reverse();
        Ok(entries)
    }

    /// The whole access log, oldest first, its hash chain verified from the first entry.
    pub async fn verified_access_log(&self) -> Result<Vec<AccessLogEntry>> {
        let entries = self.access_log(None, None).await?;
        verify_log(&self.id, &entries, None).map_err(|b| {
            ClientError::Verification(format!("access log entry {}: {}", b.seq, b.reason))
        })?;
        Ok(entries)
    }

    /// Erases the passport for good.
    pub async fn erase(&self) -> Result<()> {
        self.client
            .send(
                Method::DELETE,
                &paths::passport(&self.id),
                self.grant_id(),
                None::<&()>,
                None,
            )
            .await?;
        Ok(())
    }
}
