//! Importing a passport from another server's export bundle (docs/BUNDLE.md): whose it is, what
//! of it travels, and what it becomes here. The bundle's own checks (signatures, chains, the
//! checkpoint) are `wp_schemas::bundle::check`'s; this decides on a bundle that passed them.

use std::collections::{BTreeMap, BTreeSet};

use wp_schemas::api::{AccessLogEntry, Party, PartyKey, PartyKind, Role};
use wp_schemas::bundle::{Bundle, Report};
use wp_schemas::chain::log_genesis;
use wp_schemas::sections::Section;

use super::ids::{Kid, PartyId, PassportId, RecordId};
use super::time::Timestamp;

/// Why a bundle is refused (`http/error.rs` makes each a problem).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportRefusal {
    /// Malformed, or a check failed: the text says which.
    #[error("{0}")]
    Invalid(String),
    /// The caller is not the bundle's owner.
    #[error("{0}")]
    NotYours(&'static str),
    /// More records than a passport here may hold.
    #[error("the bundle holds more records than a passport here may")]
    TooManyRecords,
    /// The exporting server's keys could not be checked, and the owner did not say to import
    /// anyway: the text says why, and what to do.
    #[error("{0}")]
    OriginUnverified(String),
    /// The passport is already on this server.
    #[error("this passport is already on this server (was this bundle imported before?)")]
    PassportExists,
}

/// A party of the bundle that becomes an external party here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalParty {
    pub party: Party,
    pub id: PartyId,
}

/// A version as it is stored here: the original JWS, where it sat, when it was first stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedVersion {
    pub record_id: RecordId,
    pub version: i64,
    pub seq: i64,
    pub section: Section,
    pub author: PartyId,
    pub hash: String,
    pub deleted: bool,
    pub jws: String,
    pub created_at: Timestamp,
}

/// A record's head after the imported versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRecord {
    pub id: RecordId,
    pub section: Section,
    pub version: i64,
    pub hash: String,
    pub deleted: bool,
}

/// What an import writes, in one transaction.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    pub passport_id: PassportId,
    pub created_at: Timestamp,
    /// The server the bundle came from.
    pub origin: String,
    /// Authors (and the organisations of member authors) to know here as external parties.
    pub parties: Vec<ExternalParty>,
    /// (member, organisation, role, joined) of external member authors.
    pub memberships: Vec<(PartyId, PartyId, Role, Timestamp)>,
    pub versions: Vec<ImportedVersion>,
    pub records: Vec<ImportedRecord>,
    /// The history's sequence and head after the imported versions.
    pub seq: i64,
    pub head: String,
    /// The access log written at the origin, kept as it is: the log here continues its chain.
    pub log: Vec<AccessLogEntry>,
    pub log_head: String,
}

/// Decides on a checked bundle: it must be sound, signed by its owner with `signing` key, one
/// of the `caller`'s active keys here; its authors become external parties; its versions and log
/// travel; its grants do not (the owner grants again here).
pub fn plan(
    bundle: &Bundle,
    report: &Report,
    caller: &PartyId,
    caller_kids: &[Kid],
    max_records: i64,
) -> Result<ImportPlan, ImportRefusal> {
    if !report.is_sound() {
        return Err(ImportRefusal::Invalid(report.failures.join("; ")));
    }
    let body = &bundle.body;
    let signed_by = report.signed_by.as_deref().unwrap_or_default();
    if !caller_kids.iter().any(|k| k.as_str() == signed_by) {
        return Err(ImportRefusal::NotYours(
            "the bundle is signed by its owner with a key that is not one of yours here: register \
             here with the key your passport's owner signs with, and sign the bundle with it",
        ));
    }
    let invalid = |what: &str| ImportRefusal::Invalid(what.to_owned());
    let passport_id = PassportId::parse(&body.passport_id)
        .ok_or_else(|| invalid("the passport id is not a UUID"))?;
    PartyId::parse(&body.owner).ok_or_else(|| invalid("the owner id is not a UUID"))?;

    let mut versions = Vec::with_capacity(body.versions.len());
    let mut records: BTreeMap<RecordId, ImportedRecord> = BTreeMap::new();
    let mut authors: BTreeSet<&str> = BTreeSet::new();
    for v in &body.versions {
        let record_id =
            RecordId::parse(&v.record_id).ok_or_else(|| invalid("a record id is not a UUID"))?;
        let author =
            PartyId::parse(&v.author).ok_or_else(|| invalid("an author id is not a UUID"))?;
        authors.insert(&v.author);
        records.insert(
            record_id.clone(),
            ImportedRecord {
                id: record_id.clone(),
                section: v.section,
                version: v.version,
                hash: v.hash.clone(),
                deleted: v.deleted,
            },
        );
        versions.push(ImportedVersion {
            record_id,
            version: v.version,
            seq: v.seq,
            section: v.section,
            author,
            hash: v.hash.clone(),
            deleted: v.deleted,
            jws: v.jws.clone(),
            created_at: Timestamp::of(&v.created_at),
        });
    }
    if records.len() as i64 > max_records {
        return Err(ImportRefusal::TooManyRecords);
    }

    // The owner's identity there is an external party here like any author: versions they
    // signed name that id. The caller's own party here is another id holding the same key.
    authors.insert(&body.owner);
    let by_id: BTreeMap<&str, &Party> = body.parties.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut wanted: BTreeSet<&str> = BTreeSet::new();
    for id in &authors {
        let party = by_id
            .get(id)
            .ok_or_else(|| invalid("an author is not among the parties"))?;
        wanted.insert(id);
        if let Some(m) = &party.membership
            && by_id.contains_key(m.organisation.as_str())
        {
            wanted.insert(m.organisation.as_str());
        }
    }
    let mut parties = Vec::new();
    let mut memberships = Vec::new();
    for id in wanted {
        let party = by_id[id];
        let pid = PartyId::parse(id).ok_or_else(|| invalid("a party id is not a UUID"))?;
        if &pid == caller {
            continue;
        }
        if party.kind == PartyKind::Admin {
            return Err(invalid("an admin cannot author a passport's versions"));
        }
        if let Some(m) = &party.membership {
            let organisation = PartyId::parse(&m.organisation)
                .ok_or_else(|| invalid("an organisation id is not a UUID"))?;
            if by_id.contains_key(m.organisation.as_str()) {
                memberships.push((
                    pid.clone(),
                    organisation,
                    m.role,
                    Timestamp::of(&m.joined_at),
                ));
            }
        }
        parties.push(ExternalParty {
            party: party.clone(),
            id: pid,
        });
    }
    let seq = versions.last().map_or(0, |v| v.seq);
    let head = versions.iter().fold(
        wp_schemas::chain::history_genesis(passport_id.as_str()),
        |h, v| wp_schemas::chain::history_next(&h, &v.hash),
    );
    let log_head = body
        .access_log
        .last()
        .map_or_else(|| log_genesis(passport_id.as_str()), |e| e.hash.clone());
    Ok(ImportPlan {
        passport_id,
        created_at: Timestamp::of(&body.created_at),
        origin: body.server.clone(),
        parties,
        memberships,
        versions,
        records: records.into_values().collect(),
        seq,
        head,
        log: body.access_log.clone(),
        log_head,
    })
}

/// A bundle party that this server already knows under the same id is used as it is, and
/// only if the bundle agrees with what this server knows of it: an import never changes a party
/// (no key is added to anyone, no membership moved). An external party must come from the same
/// server (`origin`: the bundle's server, or the party's own origin when the exporting server
/// knew it from an import), be of the same kind, hold exactly the same keys with the same
/// revocations, and have the same membership; a party of this server must be of the same kind
/// and hold every key the bundle gives it (its own record is the truth, and may have grown).
pub fn check_known(incoming: &Party, known: &Party, origin: &str) -> Result<(), ImportRefusal> {
    // A party the exporting server itself knew from an import keeps its first origin.
    let origin = incoming.origin.as_deref().unwrap_or(origin);
    let disagrees = |what: &str| {
        Err(ImportRefusal::Invalid(format!(
            "the bundle names party {} with {what} than this server knows it by: an import \
             never changes a party this server knows",
            incoming.id
        )))
    };
    if incoming.kind != known.kind {
        return disagrees("another kind");
    }
    match &known.origin {
        None => {
            if !incoming.keys.iter().all(|k| holds(&known.keys, k)) {
                return disagrees("other keys");
            }
        }
        Some(o) => {
            if o != origin {
                return disagrees("another origin");
            }
            if !keys_agree(&incoming.keys, &known.keys) {
                return disagrees("other keys or key revocations");
            }
            let place = |p: &Party| {
                p.membership
                    .as_ref()
                    .map(|m| (m.organisation.clone(), m.role))
            };
            if place(incoming) != place(known) {
                return disagrees("another membership");
            }
        }
    }
    Ok(())
}

/// Whether two key histories are the same: the same keys (by kid and key bytes), each revoked
/// at the same time or not at all.
pub fn keys_agree(incoming: &[PartyKey], known: &[PartyKey]) -> bool {
    incoming.len() == known.len()
        && incoming.iter().all(|k| {
            known.iter().any(|own| {
                same_key(own, k)
                    && own.revoked_at.as_ref().map(Timestamp::of)
                        == k.revoked_at.as_ref().map(Timestamp::of)
            })
        })
}

fn holds(keys: &[PartyKey], key: &PartyKey) -> bool {
    keys.iter().any(|own| same_key(own, key))
}

fn same_key(a: &PartyKey, b: &PartyKey) -> bool {
    a.kid == b.kid && a.jwk.x == b.jwk.x
}

/// The review dates of the plan's live adjustments (record, `YYYY-MM-DD`), read from their head
/// versions, so that an imported passport's reviews are reminded here too. A version that does
/// not parse has none (the import checked every signature already).
pub fn review_dates(plan: &ImportPlan) -> Vec<(RecordId, String)> {
    use wp_schemas::api::VersionPayload;
    use wp_schemas::sections::{AdjustmentStatus, SectionBody, parse_body};
    plan.records
        .iter()
        .filter(|r| r.section == Section::Adjustments && !r.deleted)
        .filter_map(|r| {
            let head = plan
                .versions
                .iter()
                .find(|v| v.record_id == r.id && v.version == r.version)?;
            let payload: VersionPayload = wp_schemas::jose::CompactJws::parse(&head.jws)
                .ok()?
                .claims()
                .ok()?;
            match parse_body(Section::Adjustments, payload.body.as_ref()?).ok()? {
                SectionBody::Adjustments(body)
                    if !matches!(
                        body.status,
                        AdjustmentStatus::Ended | AdjustmentStatus::Declined
                    ) =>
                {
                    Some((r.id.clone(), body.review_date?.to_string()))
                }
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use wp_schemas::bundle::{BUNDLE_FORMAT, BundleBody};
    use wp_schemas::jose::SigningKey;

    fn party(id: &PartyId, key: &SigningKey, origin: Option<&str>) -> Party {
        let at = Utc.timestamp_opt(1_764_000_000, 0).unwrap();
        Party {
            id: id.to_string(),
            kind: PartyKind::Employee,
            display_name: "Alex".into(),
            registration: None,
            membership: None,
            keys: vec![PartyKey {
                kid: key.kid().to_owned(),
                jwk: key.public_jwk().clone(),
                created_at: at,
                revoked_at: None,
            }],
            created_at: at,
            origin: origin.map(str::to_owned),
        }
    }

    fn bundle(owner: &Party) -> Bundle {
        let at = Utc.timestamp_opt(1_764_000_000, 0).unwrap();
        Bundle {
            format: BUNDLE_FORMAT.into(),
            body: BundleBody {
                passport_id: PassportId::random().to_string(),
                owner: owner.id.clone(),
                created_at: at,
                exported_at: at,
                server: "https://a.example".into(),
                versions: vec![],
                parties: vec![owner.clone()],
                grants: vec![],
                access_log: vec![],
                checkpoint: String::new(),
                server_keys: vec![],
            },
            attestation: None,
            owner_signature: None,
        }
    }

    fn sound(kid: &str) -> Report {
        Report {
            signed_by: Some(kid.to_owned()),
            ..Report::default()
        }
    }

    #[test]
    fn only_a_sound_bundle_signed_with_one_of_the_callers_keys_is_planned() {
        let key = SigningKey::generate();
        let (old_id, new_id) = (PartyId::random(), PartyId::random());
        let owner = party(&old_id, &key, None);
        let b = bundle(&owner);
        let mine = [Kid::parse(key.kid()).unwrap()];
        let plan = plan(&b, &sound(key.kid()), &new_id, &mine, 10).unwrap();
        // The owner's identity there becomes an external party here, beside the caller.
        assert_eq!(plan.parties.len(), 1);
        assert_eq!(plan.parties[0].id, old_id);
        assert_eq!(plan.seq, 0);

        let failed = Report {
            failures: vec!["the owner's signature does not verify".into()],
            ..sound(key.kid())
        };
        assert!(matches!(
            plan_err(&b, &failed, &new_id, &mine),
            ImportRefusal::Invalid(why) if why.contains("does not verify")
        ));
        let other = [Kid::parse(SigningKey::generate().kid()).unwrap()];
        assert!(matches!(
            plan_err(&b, &sound(key.kid()), &new_id, &other),
            ImportRefusal::NotYours(_)
        ));
    }

    #[test]
    fn versions_travel_with_their_heads_and_the_record_limit_holds() {
        let key = SigningKey::generate();
        let (old_id, new_id) = (PartyId::random(), PartyId::random());
        let owner = party(&old_id, &key, None);
        let mut b = bundle(&owner);
        let record = RecordId::random().to_string();
        let at = Utc.timestamp_opt(1_764_000_000, 0).unwrap();
        for (seq, hash) in [(1, "h1"), (2, "h2")] {
            b.body.versions.push(wp_schemas::api::VersionEnvelope {
                seq,
                record_id: record.clone(),
                section: Section::Summary,
                version: seq,
                author: old_id.to_string(),
                hash: hash.into(),
                deleted: false,
                jws: "a.b.c".into(),
                created_at: at,
            });
        }
        let mine = [Kid::parse(key.kid()).unwrap()];
        let plan = plan(&b, &sound(key.kid()), &new_id, &mine, 1).unwrap();
        assert_eq!(plan.seq, 2);
        assert_eq!(plan.records.len(), 1);
        assert_eq!(
            (plan.records[0].version, plan.records[0].hash.as_str()),
            (2, "h2")
        );
        let genesis = wp_schemas::chain::history_genesis(&b.body.passport_id);
        let head =
            wp_schemas::chain::history_next(&wp_schemas::chain::history_next(&genesis, "h1"), "h2");
        assert_eq!(plan.head, head);
        assert_eq!(
            plan_with_limit(&b, &sound(key.kid()), &new_id, &mine, 0),
            ImportRefusal::TooManyRecords
        );
    }

    fn plan_with_limit(
        b: &Bundle,
        r: &Report,
        caller: &PartyId,
        kids: &[Kid],
        limit: i64,
    ) -> ImportRefusal {
        plan(b, r, caller, kids, limit).unwrap_err()
    }

    fn plan_err(b: &Bundle, r: &Report, caller: &PartyId, kids: &[Kid]) -> ImportRefusal {
        plan(b, r, caller, kids, 10).unwrap_err()
    }

    #[test]
    fn a_known_party_is_reused_only_when_it_is_the_same() {
        let key = SigningKey::generate();
        let id = PartyId::random();
        let incoming = party(&id, &key, None);
        let a = "https://a.example";
        // An external party from the same server; a party of this server with that key.
        assert!(check_known(&incoming, &party(&id, &key, Some(a)), a).is_ok());
        assert!(check_known(&incoming, &party(&id, &key, None), a).is_ok());
        // From another server; a party here that never had that key.
        assert!(check_known(&incoming, &party(&id, &key, Some("https://c.example")), a).is_err());
        let other = SigningKey::generate();
        assert!(check_known(&incoming, &party(&id, &other, None), a).is_err());
        // A party the exporting server knew from an import keeps its first origin.
        let travelled = party(&id, &key, Some("https://c.example"));
        assert!(check_known(&travelled, &party(&id, &key, Some("https://c.example")), a).is_ok());

        // A key planted beside the known one, on an external party or on one of this server's.
        let mut planted = incoming.clone();
        planted.keys.push(party(&id, &other, None).keys[0].clone());
        assert!(check_known(&planted, &party(&id, &key, Some(a)), a).is_err());
        assert!(check_known(&planted, &party(&id, &key, None), a).is_err());
        // A key revocation dropped, or added.
        let mut revoked = party(&id, &key, Some(a));
        revoked.keys[0].revoked_at = Some(Utc.timestamp_opt(1_764_000_100, 0).unwrap());
        assert!(check_known(&incoming, &revoked, a).is_err());
        assert!(check_known(&revoked, &party(&id, &key, Some(a)), a).is_err());
        // Another kind, or a membership moved to another organisation or role.
        let mut employer = incoming.clone();
        employer.kind = PartyKind::Employer;
        assert!(check_known(&employer, &party(&id, &key, Some(a)), a).is_err());
        let membership = |organisation: &str, role: Role| wp_schemas::api::Membership {
            organisation: organisation.into(),
            organisation_name: "Acme Ltd".into(),
            organisation_kind: PartyKind::Employer,
            role,
            joined_at: Utc.timestamp_opt(1_764_000_000, 0).unwrap(),
            removed_at: None,
        };
        let mut member = party(&id, &key, Some(a));
        member.membership = Some(membership("acme", Role::Hr));
        let mut moved = member.clone();
        moved.membership = Some(membership("beta", Role::Hr));
        assert!(check_known(&moved, &member, a).is_err());
        moved.membership = Some(membership("acme", Role::OrgAdmin));
        assert!(check_known(&moved, &member, a).is_err());
        assert!(check_known(&member.clone(), &member, a).is_ok());
    }
}
