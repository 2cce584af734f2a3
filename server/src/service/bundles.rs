//! Export bundles (docs/BUNDLE.md), without the HTTP: the owner exports their whole passport,
//! and imports it into another server, which checks every signature and chain first.

use std::collections::BTreeSet;

use wp_schemas::api::{LogAction, PartyKind, PassportInfo};
use wp_schemas::bundle::{BUNDLE_FORMAT, Bundle, BundleBody};
use wp_schemas::sections::Section;

use super::origins::OriginKeys;
use super::vault;
use super::{AppState, AuthorizedPassport, Caller, Logged};
use crate::clock;
use crate::domain::audit::LogEvent;
use crate::domain::ids::{Kid, PartyId, PassportId};
use crate::domain::import::{self, ImportRefusal};
use crate::domain::notification::{Facts, Notice};
use crate::error::{Error, Result};
use wp_schemas::api::NotificationKind as Kind;

/// The owner's passport as one bundle, without the owner's signature (their client adds it).
/// The export is logged after it is read, like every owner read; the bundle's log ends just
/// before that entry, where its checkpoint says it does.
pub async fn export(state: &AppState, caller: &Caller, pid: &PassportId) -> Result<Logged<Bundle>> {
    let guard =
        AuthorizedPassport::authorize(state, caller, pid, LogAction::Exported, &Section::ALL)
            .await?;
    guard.require_owner("export the passport").await?;
    let heads = state
        .store
        .passport_heads(pid)
        .await?
        .ok_or_else(|| Error::not_found("no such passport"))?;
    // Everything up to the heads read first: a version or entry that commits meanwhile is
    // after them, so the bundle is the passport as of that one moment.
    let key = guard.key()?;
    let mut versions = Vec::new();
    for row in state
        .store
        .versions_since(pid, 0, heads.seq, i64::MAX)
        .await?
    {
        versions.push(vault::open(&key, pid, row)?);
    }
    let access_log = state.store.log_upto(pid, heads.log_seq).await?;
    let now = guard.now;
    let grants: Vec<_> = state
        .store
        .grants_of_passport(pid)
        .await?
        .iter()
        .map(|g| g.to_wire(now))
        .collect();

    // The owner, every author and grantee, and the organisation of each member among them.
    let mut ids: BTreeSet<String> = BTreeSet::new();
    ids.insert(guard.passport.owner_id.to_string());
    ids.extend(versions.iter().map(|v| v.author.clone()));
    ids.extend(grants.iter().map(|g| g.grantee.clone()));
    let mut parties = state.store.parties(&party_ids(&ids)).await?;
    let organisations: BTreeSet<String> = parties
        .iter()
        .filter_map(|p| p.membership.as_ref().map(|m| m.organisation.clone()))
        .filter(|o| !ids.contains(o))
        .collect();
    parties.extend(state.store.parties(&party_ids(&organisations)).await?);

    let log = Some((heads.log_seq, heads.log_head));
    let checkpoint = super::passports::checkpoint(state, pid, heads.seq, &heads.head, log, now);
    let server_keys = state.keys.published(now).map(|k| k.jwk.clone()).collect();
    let body = BundleBody {
        passport_id: pid.to_string(),
        owner: guard.passport.owner_id.to_string(),
        created_at: guard.passport.created_at.to_datetime(),
        exported_at: now.to_datetime(),
        server: state.issuer.clone(),
        versions,
        parties,
        grants,
        access_log,
        checkpoint,
        server_keys,
    };
    // The server's word on the whole body: parties, keys, memberships, grants and log are
    // what only it knows, and no importer may change them.
    let attestation = wp_schemas::bundle::attest(&body, state.keys.active(), now.secs());
    let bundle = Bundle {
        format: BUNDLE_FORMAT.to_owned(),
        body,
        attestation: Some(attestation),
        owner_signature: None,
    };
    // The owner's security alert is written with the export's log entry.
    let alert = Notice::new(&caller.party_id, Kind::PassportExported, Facts::default());
    let receipt = guard
        .allowed_notifying(Section::ALL.to_vec(), "owner", vec![alert])
        .await?;
    tracing::info!(passport = %pid, "passport exported");
    Ok(receipt.answer(bundle))
}

/// The export ([`export`]) as a FHIR R4 Bundle (docs/FHIR.md), logged the same.
pub async fn export_fhir(
    state: &AppState,
    caller: &Caller,
    pid: &PassportId,
) -> Result<Logged<serde_json::Value>> {
    export(state, caller, pid)
        .await?
        .try_map(|bundle| wp_schemas::fhir::from_bundle(&bundle))
        .map_err(|why| Error::Other(anyhow::anyhow!(why)))
}

/// The ids among `texts` that are party ids, in order (an author's id is text in a version).
fn party_ids(texts: &BTreeSet<String>) -> Vec<PartyId> {
    texts.iter().filter_map(|id| PartyId::parse(id)).collect()
}

/// Imports a bundle the caller (an employee, with their own access token) signed as its owner:
/// checks it whole, its attestation against the published keys of the server it names when
/// this server trusts that server (otherwise only with `acknowledged`: the owner's word that
/// they know its origin could not be checked, which the log keeps), then writes it in one
/// transaction, or nothing.
pub async fn import(
    state: &AppState,
    caller: &Caller,
    bytes: &[u8],
    acknowledged: bool,
) -> Result<PassportInfo> {
    caller.require_kind(
        PartyKind::Employee,
        "only an employee imports a passport, their own, with their own access token",
    )?;
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ImportRefusal::Invalid(format!("the bundle is not JSON (truncated?): {e}")))?;
    let (mut report, bundle) = wp_schemas::bundle::check(&value);
    let Some(bundle) = bundle else {
        return Err(ImportRefusal::Invalid(report.failures.join("; ")).into());
    };
    let me = state
        .store
        .party(&caller.party_id)
        .await?
        .ok_or_else(|| Error::not_found("no such party"))?;
    let my_kids: Vec<Kid> = me
        .keys
        .iter()
        .filter(|k| k.revoked_at.is_none())
        .filter_map(|k| Kid::parse(&k.kid))
        .collect();
    // Whose bundle it is first: nobody makes this server ask an origin about someone else's.
    let plan = import::plan(
        &bundle,
        &report,
        &caller.party_id,
        &my_kids,
        state.max_records_per_passport,
    )?;
    let unchecked = match state.origins.published_keys(&bundle.body.server).await {
        OriginKeys::Published(keys) => {
            wp_schemas::bundle::check_origin(
                &mut report,
                &keys,
                "fetched from it when the bundle was imported",
            );
            None
        }
        OriginKeys::Unchecked(why) => Some(why),
    };
    if !report.is_sound() {
        return Err(ImportRefusal::Invalid(report.failures.join("; ")).into());
    }
    if let Some(why) = &unchecked
        && !acknowledged
    {
        return Err(ImportRefusal::OriginUnverified(format!(
            "the bundle is attested by key {}, but this server could not check that {} \
                 publishes it: {why}. Without that check nothing proves who the bundle's \
                 people are. Import it anyway only if you know where this file came from \
                 (acknowledge_unverified_origin=true); the access log will say so",
            report.attested_by.as_deref().unwrap_or_default(),
            plan.origin
        ))
        .into());
    }
    for external in &plan.parties {
        if let Some(known) = state.store.party(&external.id).await? {
            import::check_known(&external.party, &known, &plan.origin)?;
        }
    }
    if state.store.passport_exists(&plan.passport_id).await? {
        return Err(ImportRefusal::PassportExists.into());
    }

    let (master_kid, wrapped) = state.master.new_data_key(&plan.passport_id);
    let key = state
        .master
        .unwrap(&master_kid, &plan.passport_id, &wrapped)?;
    let sealed: Vec<Vec<u8>> = plan
        .versions
        .iter()
        .map(|v| {
            vault::seal(
                &state.master,
                &key,
                &plan.passport_id,
                &v.record_id,
                v.version,
                &v.jws,
            )
        })
        .collect();
    let now = clock::now();
    let reason = match &unchecked {
        None => format!(
            "owner; moved here from {}, its attestation checked against the keys it publishes",
            plan.origin
        ),
        Some(why) => format!(
            "owner; moved here from {}; the origin could not be checked ({}), imported on the \
             owner's acknowledgement",
            plan.origin,
            why.chars().take(300).collect::<String>()
        ),
    };
    let event = LogEvent::allowed(
        &caller.party_id,
        None,
        LogAction::PassportImported,
        vec![],
        reason,
    );
    state
        .store
        .import_passport(
            &plan,
            &caller.party_id,
            &sealed,
            &master_kid,
            &wrapped,
            event,
            &[Notice::new(
                &caller.party_id,
                Kind::PassportImported,
                Facts::default(),
            )],
            now,
        )
        .await?;
    state.notifications.written();
    tracing::info!(
        passport = %plan.passport_id,
        versions = plan.versions.len(),
        origin_checked = unchecked.is_none(),
        "passport imported"
    );
    Ok(PassportInfo {
        id: plan.passport_id.to_string(),
        owner: caller.party_id.to_string(),
        created_at: plan.created_at.to_datetime(),
        seq: plan.seq,
    })
}
