//! The export bundle (`work-passport-bundle/2`): a whole passport in one JSON document that
//! anyone can check with no server, and that a second server imports. `docs/BUNDLE.md` is its
//! specification; this module is the one implementation of its checks, used by the client
//! library (`wp bundle verify`) and by the server's import alike.
//!
//! A bundle is `{"format", "body", "attestation", "owner_signature"}`. The server writes
//! `format`, `body` and `attestation`, its JWS over the SHA-256 of the body's canonical JSON
//! ([`canonical_json`], RFC 8785): everything in the body (parties, keys, memberships, grants,
//! log) is the exporting server's word. The owner's client adds `owner_signature`, a JWS over
//! the same digest. A `/1` bundle (before attestations) is still read, and reported as not
//! attested.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::{
    AccessLogEntry, CHECKPOINT_JWS, CheckpointClaims, Grant, Party, PartyKind, VersionEnvelope,
    VersionPayload,
};
use crate::chain::{self, RecordHead, history_genesis, history_next, log_genesis, verify_log};
use crate::jose::{CompactJws, JwsProfile, KeyRef, PublicJwk, SigningKey, sha256_b64};
use crate::sections::Section;

/// The format this module writes. A later format gets a new name; this one's rules never
/// change, so a bundle written today verifies with every later version.
pub const BUNDLE_FORMAT: &str = "work-passport-bundle/2";
/// The first format, without the server's attestation: still read and checked, and always
/// reported as not attested (nothing proves its parties, keys and grants are the server's).
pub const BUNDLE_FORMAT_V1: &str = "work-passport-bundle/1";
/// `typ` of the exporting server's attestation over a bundle's body.
pub const ATTESTATION_TYP: &str = "wp-bundle-attestation+jws";
/// The server's attestation: `{alg: EdDSA, typ: wp-bundle-attestation+jws, kid}`.
pub const ATTESTATION_JWS: JwsProfile = JwsProfile {
    typ: ATTESTATION_TYP,
    typ_optional: false,
    key: KeyRef::Kid,
};
/// `typ` of the owner's signature over a bundle.
pub const BUNDLE_SIGNATURE_TYP: &str = "wp-bundle+jws";
/// The owner's signature: `{alg: EdDSA, typ: wp-bundle+jws, kid}`, all three required.
pub const BUNDLE_SIGNATURE_JWS: JwsProfile = JwsProfile {
    typ: BUNDLE_SIGNATURE_TYP,
    typ_optional: false,
    key: KeyRef::Kid,
};

/// A passport, exported: `GET /v1/passports/{pid}/export` answers it without
/// `owner_signature`; the owner's client adds it ([`sign`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "Work Passport export bundle (work-passport-bundle/2)")]
pub struct Bundle {
    /// `work-passport-bundle/2` (written now), or `work-passport-bundle/1` (read, never
    /// attested).
    #[schemars(extend("enum" = ["work-passport-bundle/2", "work-passport-bundle/1"]))]
    pub format: String,
    pub body: BundleBody,
    /// The exporting server's compact JWS over [`AttestationClaims`]: that the whole body,
    /// parties, keys, memberships, grants and log included, is what it held. Required in `/2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(crate::api::COMPACT_JWS_PATTERN))]
    pub attestation: Option<String>,
    /// The owner's compact JWS over [`BundleSignatureClaims`]: that they released this body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_signature: Option<String>,
}

/// Everything the server holds about a passport that may leave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BundleBody {
    pub passport_id: String,
    /// The owner's party id at the exporting server.
    pub owner: String,
    /// When the passport was created (at the server it was first created on).
    pub created_at: DateTime<Utc>,
    pub exported_at: DateTime<Utc>,
    /// The exporting server's public URL.
    pub server: String,
    /// Every version of every record, tombstones included, in `seq` order from 1: each the
    /// author's JWS byte for byte, in its envelope.
    pub versions: Vec<VersionEnvelope>,
    /// The owner, every author, every grantee and the organisation of each member among them,
    /// each with every key it ever registered (revoked ones with `revoked_at`).
    pub parties: Vec<Party>,
    /// Every grant the owner made, with the consent text they agreed to.
    pub grants: Vec<Grant>,
    /// The whole access log, oldest first, from seq 1.
    pub access_log: Vec<AccessLogEntry>,
    /// The server's checkpoint (a compact JWS over [`CheckpointClaims`], with `log_seq` and
    /// `log_head`): the history and the log as the server held them at export.
    pub checkpoint: String,
    /// The server's published signing keys (its JWKS) at export.
    pub server_keys: Vec<PublicJwk>,
}

/// What the owner signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BundleSignatureClaims {
    /// `body.passport_id`.
    pub passport: String,
    /// `body.owner`.
    pub owner: String,
    /// [`body_digest`] of `body`: base64url SHA-256 of its canonical JSON.
    pub digest: String,
    /// When the owner signed (seconds since the epoch).
    pub iat: i64,
}

/// What the exporting server attests: that the body whose digest this is was what it held
/// about the passport when it exported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AttestationClaims {
    /// `body.server`: the exporting server's public URL.
    pub server: String,
    /// `body.passport_id`.
    pub passport: String,
    /// `body.owner`.
    pub owner: String,
    /// [`body_digest`] of `body`.
    pub digest: String,
    /// When the server attested (seconds since the epoch).
    pub iat: i64,
}

/// The exporting server's attestation over `body` (as it will be serialised), signed with
/// `key` at `iat`.
pub fn attest(body: &BundleBody, key: &SigningKey, iat: i64) -> String {
    let value = serde_json::to_value(body).expect("a bundle body serialises");
    let claims = AttestationClaims {
        server: body.server.clone(),
        passport: body.passport_id.clone(),
        owner: body.owner.clone(),
        digest: body_digest(&value),
        iat,
    };
    key.sign_json(ATTESTATION_TYP, KeyRef::Kid, &claims)
}

/// The canonical JSON of a value, RFC 8785 (JCS) for the values a bundle holds (which have no
/// fractional numbers): no white space, object members sorted by their names' UTF-16 code
/// units, strings escaped as `serde_json` and ECMAScript do (`\"`, `\\`, `\b \f \n \r \t`,
/// other controls as `\u00xx`, everything else as is).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (name, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(name.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// base64url SHA-256 of the canonical JSON of a bundle's `body`: what the owner signs.
pub fn body_digest(body: &Value) -> String {
    sha256_b64(canonical_json(body).as_bytes())
}

/// The owner's signature over `bundle` (a bundle as the server answered it, `owner_signature`
/// ignored), signed with `key` at `iat`. Set it as the bundle's `owner_signature`.
pub fn sign(bundle: &Value, key: &SigningKey, iat: i64) -> Result<String, String> {
    let body = bundle.get("body").ok_or("the bundle has no body")?;
    let str_of = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(format!("the bundle's body has no {name}"))
    };
    let claims = BundleSignatureClaims {
        passport: str_of("passport_id")?,
        owner: str_of("owner")?,
        digest: body_digest(body),
        iat,
    };
    Ok(key.sign_json(BUNDLE_SIGNATURE_TYP, KeyRef::Kid, &claims))
}

/// What checking a bundle found: what it proves, in plain words, and what failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub passport_id: Option<String>,
    /// The owner's party id at the exporting server.
    pub owner: Option<String>,
    pub server: Option<String>,
    /// The owner's key that signed the bundle (its RFC 7638 thumbprint), when it verified.
    pub signed_by: Option<String>,
    /// The server key that attested the body (its RFC 7638 thumbprint, which is also its
    /// `kid`), when the attestation verified with
    /// one of the bundle's `server_keys`. That proves the server said so only once the key is
    /// compared with the keys the server publishes ([`check_origin`]).
    pub attested_by: Option<String>,
    /// Whether [`check_origin`] found the attestation key among the exporting server's
    /// published keys (fetched from it, or given by someone the verifier trusts).
    pub origin_checked: bool,
    pub versions: usize,
    pub log_entries: usize,
    /// What the bundle proves, one statement per line, in plain words.
    pub proves: Vec<String>,
    /// Every check that failed. A bundle is sound only when this is empty.
    pub failures: Vec<String>,
}

impl Report {
    /// Every check passed.
    pub fn is_sound(&self) -> bool {
        self.failures.is_empty()
    }

    fn fail(&mut self, why: impl Into<String>) {
        self.failures.push(why.into());
    }
}

/// Checks a bundle with no server and says what it proves. See [`check`].
pub fn verify(bundle: &Value) -> Report {
    check(bundle).0
}

/// Checks a bundle: the format; the owner's signature over the body; the server's checkpoint
/// over the history and the log; every version's signature by its author's key valid at the
/// time, and every record's chain; the history hash; the access log's chain. Returns the
/// report and, when the bundle could be read at all, the bundle itself (which the caller must
/// trust only if the report is sound).
pub fn check(bundle: &Value) -> (Report, Option<Bundle>) {
    let mut report = Report::default();
    match bundle.get("format").and_then(Value::as_str) {
        Some(BUNDLE_FORMAT | BUNDLE_FORMAT_V1) => {}
        Some(other) => {
            report.fail(format!(
                "the format is {other:?}, not {BUNDLE_FORMAT:?} or {BUNDLE_FORMAT_V1:?}: not a \
                 bundle this version reads"
            ));
            return (report, None);
        }
        None => {
            report.fail("not a Work Passport bundle: it names no format");
            return (report, None);
        }
    }
    let parsed: Bundle = match serde_path_to_error::deserialize(bundle) {
        Ok(b) => b,
        Err(e) => {
            report.fail(format!(
                "the bundle is malformed at {}: {}",
                e.path(),
                e.inner()
            ));
            return (report, None);
        }
    };
    let body = &parsed.body;
    report.passport_id = Some(body.passport_id.clone());
    report.owner = Some(body.owner.clone());
    report.server = Some(body.server.clone());
    report.versions = body.versions.len();
    report.log_entries = body.access_log.len();
    let parties: HashMap<&str, &Party> = body.parties.iter().map(|p| (p.id.as_str(), p)).collect();
    let owner_name = parties
        .get(body.owner.as_str())
        .map(|p| describe(p, &parties))
        .unwrap_or_else(|| format!("party {}", body.owner));
    report.proves.push(format!(
        "This is passport {} of {owner_name}, exported from {} on {}.",
        body.passport_id,
        body.server,
        day_time(body.exported_at)
    ));

    check_attestation(&mut report, bundle, &parsed);
    check_owner_signature(&mut report, bundle, body, &parties, &owner_name);
    let head = check_versions(&mut report, body, &parties);
    check_log(&mut report, body);
    check_checkpoint(&mut report, body, head.as_ref());
    describe_grants(&mut report, body, &parties, &owner_name);
    (report, Some(parsed))
}

/// The exporting server's attestation over the whole body (BUNDLE.md section 4, check 7).
fn check_attestation(report: &mut Report, bundle: &Value, parsed: &Bundle) {
    let body = &parsed.body;
    if parsed.format == BUNDLE_FORMAT_V1 {
        report.fail(format!(
            "not attested: this is a {BUNDLE_FORMAT_V1} bundle, made before servers attested \
             their exports, so nothing proves that its parties, keys, memberships and grants \
             are what {} held; export the passport again to get an attested bundle",
            body.server
        ));
        return;
    }
    let Some(attestation) = parsed.attestation.as_deref() else {
        report.fail("not attested: the bundle has no attestation by the server that exported it");
        return;
    };
    let Some((key, claims)) = server_signed::<AttestationClaims>(
        report,
        attestation,
        &ATTESTATION_JWS,
        &body.server_keys,
        "attestation",
    ) else {
        return;
    };
    // The kid is only a name: the key is its thumbprint, which the origin check compares.
    let kid = key.thumbprint();
    if key.kid.as_deref() != Some(kid.as_str()) {
        report
            .fail("the server's attestation names its key by something other than its thumbprint");
        return;
    }
    if claims.server != body.server
        || claims.passport != body.passport_id
        || claims.owner != body.owner
    {
        report.fail("the server's attestation is for another server, passport or owner");
        return;
    }
    let digest = bundle.get("body").map(body_digest).unwrap_or_default();
    if claims.digest != digest {
        report.fail(
            "the bundle was changed after the server exported it (the body's digest differs \
             from the one the server attested): a party, key, membership, grant, log entry or \
             version is not what the server held",
        );
        return;
    }
    report.attested_by = Some(kid.clone());
    report.proves.push(format!(
        "The server {} attested (key {kid}, on {}) that everything in the bundle is what it \
         held: the versions, the parties with their keys and memberships, the grants and the \
         access log.",
        body.server,
        DateTime::from_timestamp(claims.iat, 0).map_or_else(|| claims.iat.to_string(), day_time)
    ));
}

/// Whose server keys count: compares the attestation key of a bundle that passed [`check`]
/// with `published`, the keys its server publishes at `/.well-known/jwks.json` (fetched from
/// it, or a copy the verifier trusts; `how` says which, in words). A key the server does not
/// publish fails the bundle: someone else attested it, or the server has changed its keys
/// since (export again).
pub fn check_origin(report: &mut Report, published: &[PublicJwk], how: &str) {
    let Some(kid) = report.attested_by.clone() else {
        return;
    };
    let server = report.server.clone().unwrap_or_default();
    // Compared by thumbprint, the key itself: a `kid` is only what a key is called.
    let known = published.iter().any(|k| k.thumbprint() == kid);
    if known {
        report.origin_checked = true;
        report.proves.push(format!(
            "The attestation key {kid} is one that {server} publishes ({how}): the server said so."
        ));
    } else {
        report.fail(format!(
            "the attestation is signed by key {kid}, which {server} does not publish ({how}): \
             that server did not make this bundle, or has changed its keys since (export again)"
        ));
    }
}

/// As [`check_origin`], with the RFC 7638 thumbprint of the server's key as the verifier was
/// shown it (at export, by the pages or `wp passport export`).
pub fn check_origin_thumbprint(report: &mut Report, thumbprint: &str) {
    let Some(kid) = report.attested_by.clone() else {
        return;
    };
    let server = report.server.clone().unwrap_or_default();
    if kid == thumbprint {
        report.origin_checked = true;
        report.proves.push(format!(
            "The attestation key {kid} is the one you were given for {server}: the server said so."
        ));
    } else {
        report.fail(format!(
            "the attestation is signed by key {kid}, not by {thumbprint}, the key you were given \
             for {server}"
        ));
    }
}

fn check_owner_signature(
    report: &mut Report,
    bundle: &Value,
    body: &BundleBody,
    parties: &HashMap<&str, &Party>,
    owner_name: &str,
) {
    let Some(owner) = parties.get(body.owner.as_str()) else {
        report.fail("the owner is not among the bundle's parties");
        return;
    };
    let Some(signature) = bundle.get("owner_signature").and_then(Value::as_str) else {
        report.fail("the owner has not signed the bundle (no owner_signature)");
        return;
    };
    let jws = match CompactJws::parse_as(signature, &BUNDLE_SIGNATURE_JWS) {
        Ok(j) => j,
        Err(e) => {
            report.fail(format!(
                "the owner's signature is not a bundle signature: {e}"
            ));
            return;
        }
    };
    let kid = jws.header_str("kid").unwrap_or_default();
    let Some(key) = owner.keys.iter().find(|k| k.kid == kid) else {
        report.fail("the owner's signature is made with a key the owner does not hold");
        return;
    };
    if jws.verify(&key.jwk).is_err() {
        report.fail("the owner's signature does not verify");
        return;
    }
    let claims: BundleSignatureClaims = match jws.claims() {
        Ok(c) => c,
        Err(e) => {
            report.fail(format!("the owner's signature: {e}"));
            return;
        }
    };
    if key.revoked_at.is_some() {
        report.fail("the owner's signature is made with a key revoked before the export");
        return;
    }
    if key.created_at > body.exported_at {
        report
            .fail("the owner's signature is made with a key the owner did not hold at the export");
        return;
    }
    if claims.passport != body.passport_id || claims.owner != body.owner {
        report.fail("the owner's signature is for another passport or owner");
        return;
    }
    let digest = bundle.get("body").map(body_digest).unwrap_or_default();
    if claims.digest != digest {
        report.fail("the bundle was changed after its owner signed it (the body's digest differs)");
        return;
    }
    report.signed_by = Some(kid.to_owned());
    report.proves.push(format!(
        "{owner_name} released exactly this bundle: it is signed with their key {kid} on {}.",
        DateTime::from_timestamp(claims.iat, 0).map_or_else(|| claims.iat.to_string(), day_time)
    ));
}

/// Checks every version and every record chain; returns the recomputed history (seq, head)
/// when the versions are whole.
fn check_versions(
    report: &mut Report,
    body: &BundleBody,
    parties: &HashMap<&str, &Party>,
) -> Option<(i64, String)> {
    let pid = body.passport_id.as_str();
    let mut heads: HashMap<&str, &VersionEnvelope> = HashMap::new();
    let mut head = Some((0, history_genesis(pid)));
    let mut sound = 0usize;
    let mut written: BTreeMap<String, usize> = BTreeMap::new();
    for envelope in &body.versions {
        let what = crate::verify::what(envelope);
        match &head {
            Some((seq, h)) if envelope.seq == seq + 1 => {
                head = Some((envelope.seq, history_next(h, &envelope.hash)));
            }
            _ => {
                if head.is_some() {
                    report.fail(format!(
                        "{what}: sequence {} is out of order or leaves a gap: the history is not whole",
                        envelope.seq
                    ));
                }
                head = None;
            }
        }
        let Some(author) = parties.get(envelope.author.as_str()) else {
            report.fail(format!(
                "{what}: its author {} is not in the bundle",
                envelope.author
            ));
            continue;
        };
        let payload = match crate::verify::version(envelope, pid, author) {
            Ok(p) => p,
            Err(why) => {
                report.fail(why);
                continue;
            }
        };
        let previous = heads.get(envelope.record_id.as_str()).map(|h| RecordHead {
            section: h.section,
            version: h.version,
            hash: &h.hash,
            deleted: h.deleted,
        });
        if let Err(why) = chain::check_successor(previous.as_ref(), &payload) {
            report.fail(format!(
                "{what}: does not follow the record's previous version ({why:?})"
            ));
            continue;
        }
        heads.insert(&envelope.record_id, envelope);
        sound += 1;
        let line = format!(
            "{}: {} {} {} record {} (version {}).",
            day_time(envelope.created_at),
            describe(author, parties),
            verb(envelope, &payload, &body.owner),
            envelope.section,
            envelope.record_id,
            envelope.version
        );
        *written.entry(line).or_default() += 1;
    }
    if sound == body.versions.len() && !body.versions.is_empty() {
        report.proves.push(format!(
            "Each of the {sound} versions is signed by its author with a key they held at the \
             time, and every record's versions chain one to the next:"
        ));
        report
            .proves
            .extend(written.into_keys().map(|l| format!("  {l}")));
    }
    head
}

/// What a version did, in words.
fn verb(envelope: &VersionEnvelope, payload: &VersionPayload, owner: &str) -> &'static str {
    let agreed = payload
        .body
        .as_ref()
        .and_then(|b| b.get("status"))
        .and_then(Value::as_str)
        == Some("agreed");
    if envelope.deleted {
        "deleted"
    } else if envelope.section == Section::Adjustments && agreed && envelope.author != owner {
        "agreed"
    } else if envelope.version == 1 {
        "wrote"
    } else {
        "updated"
    }
}

fn check_log(report: &mut Report, body: &BundleBody) {
    let log = &body.access_log;
    if let Err(broken) = verify_log(&body.passport_id, log, None) {
        report.fail(format!(
            "the access log's chain is broken at entry {}: {}",
            broken.seq, broken.reason
        ));
        return;
    }
    if let (Some(first), Some(last)) = (log.first(), log.last()) {
        report.proves.push(format!(
            "The access log's {} entries, from {} to {}, chain one to the next: none was \
             changed, removed or reordered after the server wrote it.",
            log.len(),
            day_time(first.at),
            day_time(last.at)
        ));
    }
}

/// A JWS signed with one of the bundle's `server_keys`: parsed with `profile`, its key found by
/// its `kid`, its signature verified and its claims read; None, with the failure reported, if
/// any of that fails. `what` names it in the failure.
fn server_signed<'k, T: serde::de::DeserializeOwned>(
    report: &mut Report,
    compact: &str,
    profile: &JwsProfile,
    server_keys: &'k [PublicJwk],
    what: &str,
) -> Option<(&'k PublicJwk, T)> {
    let jws = match CompactJws::parse_as(compact, profile) {
        Ok(j) => j,
        Err(e) => {
            report.fail(format!("the server's {what} is not a valid {what}: {e}"));
            return None;
        }
    };
    let kid = jws.header_str("kid").unwrap_or_default();
    let Some(key) = server_keys.iter().find(|k| k.kid.as_deref() == Some(kid)) else {
        report.fail(format!(
            "the server's {what} is signed by a key not among the server's keys"
        ));
        return None;
    };
    if jws.verify(key).is_err() {
        report.fail(format!("the server's {what} signature does not verify"));
        return None;
    }
    match jws.claims() {
        Ok(claims) => Some((key, claims)),
        Err(e) => {
            report.fail(format!("the server's {what}: {e}"));
            None
        }
    }
}

fn check_checkpoint(report: &mut Report, body: &BundleBody, head: Option<&(i64, String)>) {
    let Some((key, claims)) = server_signed::<CheckpointClaims>(
        report,
        &body.checkpoint,
        &CHECKPOINT_JWS,
        &body.server_keys,
        "checkpoint",
    ) else {
        return;
    };
    let kid = key.kid.clone().unwrap_or_default();
    if claims.passport != body.passport_id {
        report.fail("the server's checkpoint is for another passport");
        return;
    }
    match head {
        Some((seq, h)) if *seq == claims.seq && *h == claims.head => {}
        Some(_) => {
            report.fail(format!(
                "the versions do not hash to the server's checkpoint (sequence {}): a version \
                 was changed, added, removed or reordered",
                claims.seq
            ));
            return;
        }
        None => return,
    }
    let log_seq = body.access_log.last().map_or(0, |e| e.seq);
    let log_head = body
        .access_log
        .last()
        .map_or_else(|| log_genesis(&body.passport_id), |e| e.hash.clone());
    if claims.log_seq != Some(log_seq) || claims.log_head.as_deref() != Some(log_head.as_str()) {
        report.fail(
            "the access log does not end where the server's checkpoint says: entries were \
             added or removed",
        );
        return;
    }
    report.proves.push(format!(
        "The server {} signed (key {kid}, on {}) that the passport's history then held {} \
         versions and its access log {} entries, exactly those in this bundle. Compare that key \
         with the server's published keys to know the server said so.",
        body.server,
        DateTime::from_timestamp(claims.iat, 0).map_or_else(|| claims.iat.to_string(), day_time),
        claims.seq,
        log_seq
    ));
}

fn describe_grants(
    report: &mut Report,
    body: &BundleBody,
    parties: &HashMap<&str, &Party>,
    owner_name: &str,
) {
    for grant in &body.grants {
        if grant.passport_id != body.passport_id || grant.grantor != body.owner {
            report.fail(format!(
                "grant {} is not the owner's, on this passport",
                grant.id
            ));
            continue;
        }
        let grantee = parties
            .get(grant.grantee.as_str())
            .map(|p| describe(p, parties))
            .unwrap_or_else(|| format!("party {}", grant.grantee));
        let scopes: Vec<String> = grant
            .scopes
            .iter()
            .map(|s| {
                let actions: Vec<&str> = s.actions.iter().map(|a| a.as_str()).collect();
                format!("{} {}", actions.join("+"), s.section)
            })
            .collect();
        report.proves.push(format!(
            "{}: {owner_name} granted {grantee} {} for \"{}\", until {}{}, having agreed to: \"{}\" \
             (the server's record; a grant is not signed by the owner).",
            day_time(grant.created_at),
            scopes.join(", "),
            grant.purpose,
            day_time(grant.ends_at),
            grant
                .revoked_at
                .map(|r| format!(" (revoked {})", day_time(r)))
                .unwrap_or_default(),
            grant.consent_text
        ));
    }
}

/// A party in words: "Dana Okafor (professional: occupational therapist, HCPC OT12345)",
/// "Priya Shah (HR at Acme Ltd)", "Acme Ltd (employer)".
pub fn describe(party: &Party, parties: &HashMap<&str, &Party>) -> String {
    let name = &party.display_name;
    if let Some(m) = &party.membership {
        let organisation = parties
            .get(m.organisation.as_str())
            .map_or(m.organisation_name.as_str(), |o| o.display_name.as_str());
        return format!("{name} ({} at {organisation})", m.role.title());
    }
    match (&party.registration, party.kind) {
        (Some(r), _) => format!(
            "{name} ({}: {}, {} {})",
            party.kind.as_str(),
            r.profession,
            r.registration_body,
            r.registration_number
        ),
        (None, PartyKind::Employee) => format!("{name} (the employee)"),
        (None, kind) => format!("{name} ({})", kind.as_str()),
    }
}

fn day_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_members_and_has_no_white_space() {
        let value = json!({"b": [1, {"z": null, "a": true}], "a": "x\u{1}\"/é", "B": 2});
        assert_eq!(
            canonical_json(&value),
            r#"{"B":2,"a":"x\u0001\"/é","b":[1,{"a":true,"z":null}]}"#
        );
    }

    #[test]
    fn members_sort_by_utf16_code_units() {
        // U+E000 sorts before U+1F600 in UTF-8 bytes and after it in UTF-16 code units.
        let value = json!({"\u{E000}": 1, "\u{1F600}": 2});
        assert_eq!(canonical_json(&value), "{\"\u{1F600}\":2,\"\u{E000}\":1}");
    }
}
