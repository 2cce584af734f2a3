//! Record versions: the rules a signed version must meet before it joins a record's history.

use serde_json::Value;
use wp_schemas::api::{VERSION_JWS, VERSION_TYP, VersionPayload};
use wp_schemas::chain::{self, NotSuccessor, RecordHead, version_hash};
use wp_schemas::jose::{CompactJws, JoseError};
use wp_schemas::sections::{AdjustmentStatus, Section, SectionBody, parse_body};

use super::access::Denial;
use super::ids::{PartyId, PassportId, RecordId};
use super::party::{CLOCK_SKEW_SECS, RegisteredKey};
use super::time::Timestamp;

/// A version may have been signed at most this long before it is submitted.
pub const MAX_SIGNATURE_AGE_SECS: i64 = 300;

/// The head of a record's history, as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub section: Section,
    pub version: i64,
    pub hash: String,
    pub deleted: bool,
}

/// A version whose signature, author, passport, record, age and body have been checked. Made
/// only by [`accept`]: holding one is proof of those checks, so its fields are read-only.
#[derive(Debug, Clone)]
pub struct AcceptedVersion {
    payload: VersionPayload,
    author: PartyId,
    record: RecordId,
    body: Option<SectionBody>,
    hash: String,
    jws: String,
}

impl AcceptedVersion {
    pub fn payload(&self) -> &VersionPayload {
        &self.payload
    }

    /// The author, whose registered key made the signature.
    pub fn author(&self) -> &PartyId {
        &self.author
    }

    pub fn record(&self) -> &RecordId {
        &self.record
    }

    pub fn section(&self) -> Section {
        self.payload.section
    }

    pub fn version(&self) -> i64 {
        self.payload.version
    }

    pub fn deleted(&self) -> bool {
        self.payload.deleted
    }

    /// The typed body; `None` for a tombstone.
    pub fn body(&self) -> Option<&SectionBody> {
        self.body.as_ref()
    }

    /// The version's hash, the link the next version's `prev` names.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The JWS exactly as its author signed it.
    pub fn jws(&self) -> &str {
        &self.jws
    }
}

/// Why a version is refused. The `Display` text is the stable reason the access log records
/// and the detail a client is told; the problem type is chosen in `http::error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionRefusal {
    /// The JWS is not a compact JWS of the expected shape (the JOSE error's own text).
    #[error("{0}")]
    BadJws(String),
    #[error("the JWS typ must be {VERSION_TYP}")]
    WrongType,
    #[error("{field}: {reason}")]
    InvalidBody { field: String, reason: String },
    #[error("the signing key is not registered")]
    UnregisteredKey,
    #[error("a version must be signed with the caller's own key")]
    NotCallersKey,
    #[error("the version is not signed by its author")]
    NotByAuthor,
    #[error("the author's key is revoked")]
    KeyRevoked,
    #[error("the version signature does not verify")]
    BadSignature,
    #[error("the version names another passport")]
    OtherPassport,
    #[error("the version names another record")]
    OtherRecord,
    #[error("the version was signed too long ago or in the future")]
    OutOfTime,
    #[error("a new record starts at version 1 with no prev")]
    BadStart,
    #[error("a record cannot start deleted")]
    StartsDeleted,
    #[error("a tombstone carries no body")]
    TombstoneWithBody,
    /// The caller's grant does not cover the version's section.
    #[error("{0}")]
    OutsideScope(Denial),
    #[error("only the owner deletes a record; end it with a new version instead")]
    OwnerDeletesOnly,
    /// No such record, or one in a section the caller has no part in: the same answer.
    #[error("no such record")]
    NoSuchRecord,
    #[error("the passport was erased by its owner")]
    Erased,
    #[error("a record stays in its section")]
    ChangedSection,
    #[error("the record was deleted")]
    Deleted,
    #[error("a newer version exists")]
    Newer,
    #[error("versions go up by one")]
    Skipped,
    #[error("prev does not name the current head")]
    WrongPrev,
    #[error("another version was written first")]
    Stale,
    #[error("a passport holds at most {0} records")]
    PassportFull(i64),
    /// Any place-in-history refusal, told to a caller who may not read the record: nothing of
    /// its content, version or state.
    #[error("the version does not succeed the record's current head")]
    NotSuccessor,
    #[error("an agreement is a new adjustment version, not a deletion")]
    AgreementDeletes,
    #[error("an agreement sets status to agreed and names who agreed")]
    AgreementNotAgreed,
    #[error("the current version is not an adjustment that can be agreed")]
    NotAgreeable,
    #[error("an agreement may change only status and agreed_by")]
    AgreementChangesMore,
    /// A member's agreement names someone other than the member who signed it.
    #[error("agreed_by must name the member who signs the agreement: {0}")]
    AgreedByOther(String),
}

impl VersionRefusal {
    fn invalid_body(field: impl Into<String>, reason: impl Into<String>) -> Self {
        VersionRefusal::InvalidBody {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A refusal for a version that lost a race or missed the head: a writer who may read the
    /// record is sent its current head to rebase on.
    pub fn offers_head(&self) -> bool {
        matches!(
            self,
            VersionRefusal::Newer | VersionRefusal::WrongPrev | VersionRefusal::Stale
        )
    }
}

/// Parses a submitted JWS far enough to know its signer and payload. The signature is checked
/// in [`accept`], once the signer's key is known.
pub fn parse(jws: &str) -> Result<(CompactJws<'_>, VersionPayload), VersionRefusal> {
    // The header is exactly `{alg, typ, kid}` (see [`VERSION_JWS`]): a stored version must
    // verify in every JOSE library, not only in ours.
    let parsed = CompactJws::parse_as(jws, &VERSION_JWS).map_err(|e| match e {
        JoseError::Type(_) => VersionRefusal::WrongType,
        JoseError::Payload(why) => VersionRefusal::invalid_body("payload", why),
        e => VersionRefusal::BadJws(e.to_string()),
    })?;
    let payload: VersionPayload = serde_json::from_slice(&parsed.payload)
        .map_err(|e| VersionRefusal::invalid_body("payload", e.to_string()))?;
    Ok((parsed, payload))
}

/// Checks a version signed by `key`: its signature, author, passport, record id, age and body.
/// Where it stands in the record's history is [`check_successor`]'s question, asked apart so
/// that a caller who may not read the record learns nothing of its head from a refusal here.
/// `record_id` is the id in the request path, if any.
pub fn accept(
    jws: &str,
    parsed: &CompactJws<'_>,
    payload: VersionPayload,
    key: &RegisteredKey,
    passport_id: &PassportId,
    record_id: Option<&RecordId>,
    now: Timestamp,
) -> Result<AcceptedVersion, VersionRefusal> {
    if key.party_id != payload.author {
        return Err(VersionRefusal::NotByAuthor);
    }
    if !key.active_at(now) {
        return Err(VersionRefusal::KeyRevoked);
    }
    parsed
        .verify(&key.jwk)
        .map_err(|_| VersionRefusal::BadSignature)?;
    if *passport_id != payload.passport {
        return Err(VersionRefusal::OtherPassport);
    }
    if let Some(rid) = record_id
        && *rid != payload.record
    {
        return Err(VersionRefusal::OtherRecord);
    }
    let Some(record) = RecordId::parse(&payload.record) else {
        return Err(VersionRefusal::invalid_body(
            "record",
            "must be a UUID in canonical form (lower-case, hyphenated)",
        ));
    };
    let iat = Timestamp::from_secs(payload.iat);
    if iat > now + CLOCK_SKEW_SECS || iat < now - MAX_SIGNATURE_AGE_SECS {
        return Err(VersionRefusal::OutOfTime);
    }
    if record_id.is_none() {
        chain::check_successor(None, &payload).map_err(not_successor)?;
        if payload.deleted {
            return Err(VersionRefusal::StartsDeleted);
        }
    }
    let body = match (&payload.body, payload.deleted) {
        (None, true) => None,
        (Some(_), true) => return Err(VersionRefusal::TombstoneWithBody),
        (None, false) => return Err(VersionRefusal::invalid_body("body", "is required")),
        (Some(body), false) => Some(parse_body(payload.section, body).map_err(|e| {
            let field = if e.field == wp_schemas::sections::BodyError::ROOT {
                "body".to_owned()
            } else {
                format!("body.{}", e.field)
            };
            VersionRefusal::invalid_body(field, e.reason)
        })?),
    };
    Ok(AcceptedVersion {
        payload,
        author: key.party_id.clone(),
        record,
        body,
        hash: version_hash(jws),
        jws: jws.to_owned(),
    })
}

/// Checks that a version of an existing record directly succeeds its current `head` (the
/// version chain rule, [`wp_schemas::chain::check_successor`], shared with the client).
pub fn check_successor(version: &AcceptedVersion, head: &Head) -> Result<(), VersionRefusal> {
    let head = RecordHead {
        section: head.section,
        version: head.version,
        hash: &head.hash,
        deleted: head.deleted,
    };
    chain::check_successor(Some(&head), &version.payload).map_err(not_successor)
}

/// The refusal each break of the chain rule is.
fn not_successor(why: NotSuccessor) -> VersionRefusal {
    match why {
        NotSuccessor::NotFirst => VersionRefusal::BadStart,
        NotSuccessor::MovedSection => VersionRefusal::ChangedSection,
        NotSuccessor::AfterTombstone => VersionRefusal::Deleted,
        NotSuccessor::Stale => VersionRefusal::Newer,
        NotSuccessor::Gap => VersionRefusal::Skipped,
        NotSuccessor::WrongPrev => VersionRefusal::WrongPrev,
    }
}

/// An agreement (the `agree` action) may only mark an adjustment agreed: the new body must be
/// the previous one with `status` set to `agreed` and `agreed_by` filled in. Bodies are compared
/// as typed values, never as JSON text: the same date or an omitted versus a `null` member must
/// not make an honest agreement fail.
pub fn check_agreement(
    previous: &Value,
    next: Option<&SectionBody>,
    signer: Option<&str>,
) -> Result<(), VersionRefusal> {
    let Some(SectionBody::Adjustments(next)) = next else {
        return Err(VersionRefusal::AgreementDeletes);
    };
    if next.status != AdjustmentStatus::Agreed || next.agreed_by.is_none() {
        return Err(VersionRefusal::AgreementNotAgreed);
    }
    if let Some(signer) = signer
        && next.agreed_by.as_deref() != Some(signer)
    {
        return Err(VersionRefusal::AgreedByOther(signer.to_owned()));
    }
    let Ok(SectionBody::Adjustments(mut expected)) = parse_body(Section::Adjustments, previous)
    else {
        return Err(VersionRefusal::NotAgreeable);
    };
    expected.status = next.status;
    expected.agreed_by.clone_from(&next.agreed_by);
    if expected != *next {
        return Err(VersionRefusal::AgreementChangesMore);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wp_schemas::sections::example_body;

    fn agreed(mut body: Value) -> SectionBody {
        body["status"] = json!("agreed");
        body["agreed_by"] = json!("Sam Patel, line manager");
        parse_body(Section::Adjustments, &body).unwrap()
    }

    #[test]
    fn agreement_compares_typed_bodies() {
        let mut previous = example_body(Section::Adjustments);
        previous["status"] = json!("requested");
        previous.as_object_mut().unwrap().remove("agreed_by");
        assert!(check_agreement(&previous, Some(&agreed(previous.clone())), None).is_ok());

        // The same body written differently: members in another order, an explicit null.
        let mut reordered = serde_json::Map::new();
        for (k, v) in previous.as_object().unwrap().iter().rev() {
            reordered.insert(k.clone(), v.clone());
        }
        reordered.insert("declined_reason".into(), Value::Null);
        assert!(
            check_agreement(
                &Value::Object(reordered),
                Some(&agreed(previous.clone())),
                None
            )
            .is_ok()
        );

        // Anything else changed is refused.
        let mut moved = previous.clone();
        moved["start_date"] = json!("2025-01-14");
        assert_eq!(
            check_agreement(&previous, Some(&agreed(moved)), None),
            Err(VersionRefusal::AgreementChangesMore)
        );
        let mut dropped = previous.clone();
        dropped.as_object_mut().unwrap().remove("review_date");
        assert_eq!(
            check_agreement(&previous, Some(&agreed(dropped)), None),
            Err(VersionRefusal::AgreementChangesMore)
        );

        // Not agreed, or not an adjustment, or a previous body that is not one.
        assert_eq!(
            check_agreement(&previous, None, None),
            Err(VersionRefusal::AgreementDeletes)
        );
        let mut loose = previous.clone();
        loose["start_date"] = json!("2025-1-13");
        assert_eq!(
            check_agreement(&loose, Some(&agreed(previous.clone())), None),
            Err(VersionRefusal::NotAgreeable)
        );

        // A member's agreement names the member who signs it, and no one else.
        let priya = "Priya Shah (HR, Acme Ltd)";
        let mut by_priya = previous.clone();
        by_priya["agreed_by"] = json!(priya);
        by_priya["status"] = json!("agreed");
        let by_priya = parse_body(Section::Adjustments, &by_priya).unwrap();
        assert!(check_agreement(&previous, Some(&by_priya), Some(priya)).is_ok());
        assert_eq!(
            check_agreement(&previous, Some(&agreed(previous.clone())), Some(priya)),
            Err(VersionRefusal::AgreedByOther(priya.into()))
        );
    }
}
