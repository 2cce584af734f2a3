//! Record versions: the rules a signed version must meet before it joins a record's history.

use serde_json::Value;
use wp_schemas::api::{VERSION_JWS, VERSION_TYP, VersionPayload};
use wp_schemas::chain::{self, NotSuccessor, RecordHead, version_hash};
use wp_schemas::jose::{CompactJws, JoseError};
use wp_schemas::problem::ProblemType;
use wp_schemas::sections::{AdjustmentStatus, Section, SectionBody, parse_body};

use super::party::{CLOCK_SKEW_SECS, RegisteredKey};
use crate::error::{Error, Result};

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

/// A version whose signature, payload and place in the history have been checked.
#[derive(Debug, Clone)]
pub struct AcceptedVersion {
    pub payload: VersionPayload,
    pub body: Option<SectionBody>,
    pub hash: String,
    pub jws: String,
}

fn invalid(why: impl Into<String>) -> Error {
    Error::client(ProblemType::InvalidVersion, why)
}

/// Parses a submitted JWS far enough to know its signer and payload. The signature is checked
/// in [`accept`], once the signer's key is known.
pub fn parse(jws: &str) -> Result<(CompactJws<'_>, VersionPayload)> {
    // The header is exactly `{alg, typ, kid}` (see [`VERSION_JWS`]): a stored version must
    // verify in every JOSE library, not only in ours.
    let parsed = CompactJws::parse_as(jws, &VERSION_JWS).map_err(|e| match e {
        JoseError::Type(_) => invalid(format!("the JWS typ must be {VERSION_TYP}")),
        JoseError::Payload(why) => Error::invalid_field("payload", why),
        e => Error::client(ProblemType::InvalidSignature, e.to_string()),
    })?;
    let payload: VersionPayload = serde_json::from_slice(&parsed.payload)
        .map_err(|e| Error::invalid_field("payload", e.to_string()))?;
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
    passport_id: &str,
    record_id: Option<&str>,
    now: i64,
) -> Result<AcceptedVersion> {
    if payload.author != key.party_id {
        return Err(Error::client(
            ProblemType::InvalidSignature,
            "the version is not signed by its author",
        ));
    }
    if !key.active_at(now) {
        return Err(Error::client(
            ProblemType::InvalidSignature,
            "the author's key is revoked",
        ));
    }
    parsed.verify(&key.jwk).map_err(|_| {
        Error::client(
            ProblemType::InvalidSignature,
            "the version signature does not verify",
        )
    })?;
    if payload.passport != passport_id {
        return Err(invalid("the version names another passport"));
    }
    if let Some(rid) = record_id
        && payload.record != rid
    {
        return Err(invalid("the version names another record"));
    }
    if !super::ids::is_uuid(&payload.record) {
        return Err(Error::invalid_field(
            "record",
            "must be a UUID in canonical form (lower-case, hyphenated)",
        ));
    }
    if payload.iat > now + CLOCK_SKEW_SECS || payload.iat < now - MAX_SIGNATURE_AGE_SECS {
        return Err(invalid(
            "the version was signed too long ago or in the future",
        ));
    }
    if record_id.is_none() {
        chain::check_successor(None, &payload).map_err(not_successor)?;
        if payload.deleted {
            return Err(invalid("a record cannot start deleted"));
        }
    }
    let body = match (&payload.body, payload.deleted) {
        (None, true) => None,
        (Some(_), true) => return Err(invalid("a tombstone carries no body")),
        (None, false) => return Err(Error::invalid_field("body", "is required")),
        (Some(body), false) => Some(parse_body(payload.section, body).map_err(|e| {
            let field = if e.field == wp_schemas::sections::BodyError::ROOT {
                "body".to_owned()
            } else {
                format!("body.{}", e.field)
            };
            Error::invalid_field(field, e.reason)
        })?),
    };
    Ok(AcceptedVersion {
        payload,
        body,
        hash: version_hash(jws),
        jws: jws.to_owned(),
    })
}

/// Checks that a version of an existing record directly succeeds its current `head` (the
/// version chain rule, [`wp_schemas::chain::check_successor`], shared with the client).
pub fn check_successor(payload: &VersionPayload, head: &Head) -> Result<()> {
    let head = RecordHead {
        section: head.section,
        version: head.version,
        hash: &head.hash,
        deleted: head.deleted,
    };
    chain::check_successor(Some(&head), payload).map_err(not_successor)
}

/// The problem each break of the chain rule is answered with.
fn not_successor(why: NotSuccessor) -> Error {
    match why {
        NotSuccessor::NotFirst => invalid("a new record starts at version 1 with no prev"),
        NotSuccessor::MovedSection => invalid("a record stays in its section"),
        NotSuccessor::AfterTombstone => {
            Error::client(ProblemType::Conflict, "the record was deleted")
        }
        NotSuccessor::Stale => {
            Error::client(ProblemType::VersionConflict, "a newer version exists")
        }
        NotSuccessor::Gap => invalid("versions go up by one"),
        NotSuccessor::WrongPrev => Error::client(
            ProblemType::VersionConflict,
            "prev does not name the current head",
        ),
    }
}

/// An agreement (the `agree` action) may only mark an adjustment agreed: the new body must be
/// the previous one with `status` set to `agreed` and `agreed_by` filled in. Bodies are compared
/// as typed values, never as JSON text: the same date or an omitted versus a `null` member must
/// not make an honest agreement fail.
pub fn check_agreement(previous: &Value, next: &Option<SectionBody>) -> Result<()> {
    let Some(SectionBody::Adjustments(next)) = next else {
        return Err(Error::forbidden(
            "an agreement is a new adjustment version, not a deletion",
        ));
    };
    if next.status != AdjustmentStatus::Agreed || next.agreed_by.is_none() {
        return Err(Error::forbidden(
            "an agreement sets status to agreed and names who agreed",
        ));
    }
    let Ok(SectionBody::Adjustments(mut expected)) = parse_body(Section::Adjustments, previous)
    else {
        return Err(Error::forbidden(
            "the current version is not an adjustment that can be agreed",
        ));
    };
    expected.status = next.status;
    expected.agreed_by.clone_from(&next.agreed_by);
    if expected != *next {
        return Err(Error::forbidden(
            "an agreement may change only status and agreed_by",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wp_schemas::sections::example_body;

    fn agreed(mut body: Value) -> Option<SectionBody> {
        body["status"] = json!("agreed");
        body["agreed_by"] = json!("Sam Patel, line manager");
        Some(parse_body(Section::Adjustments, &body).unwrap())
    }

    #[test]
    fn agreement_compares_typed_bodies() {
        let mut previous = example_body(Section::Adjustments);
        previous["status"] = json!("requested");
        previous.as_object_mut().unwrap().remove("agreed_by");
        assert!(check_agreement(&previous, &agreed(previous.clone())).is_ok());

        // The same body written differently: members in another order, an explicit null.
        let mut reordered = serde_json::Map::new();
        for (k, v) in previous.as_object().unwrap().iter().rev() {
            reordered.insert(k.clone(), v.clone());
        }
        reordered.insert("declined_reason".into(), Value::Null);
        assert!(check_agreement(&Value::Object(reordered), &agreed(previous.clone())).is_ok());

        // Anything else changed is refused.
        let mut moved = previous.clone();
        moved["start_date"] = json!("2025-01-14");
        let refused = check_agreement(&previous, &agreed(moved)).unwrap_err();
        assert_eq!(refused.kind(), Some(ProblemType::Forbidden));
        let mut dropped = previous.clone();
        dropped.as_object_mut().unwrap().remove("review_date");
        assert!(check_agreement(&previous, &agreed(dropped)).is_err());

        // Not agreed, or not an adjustment, or a previous body that is not one.
        assert!(check_agreement(&previous, &None).is_err());
        let mut loose = previous.clone();
        loose["start_date"] = json!("2025-1-13");
        assert!(check_agreement(&loose, &agreed(previous.clone())).is_err());
    }
}
