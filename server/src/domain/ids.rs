//! The forms of the ids, claims and text a caller sends, checked before any of it reaches the
//! store: the same input is then accepted or refused alike on SQLite and PostgreSQL (which
//! refuses a NUL byte in text), and an id has one spelling, so it names one thing.
//!
//! Each kind of id is its own type ([`PartyId`], [`PassportId`], [`RecordId`], [`GrantId`],
//! [`Kid`]), built only by parsing the canonical form: a passport id cannot be passed where a
//! party id is meant, and code holding an id never re-checks its form. The store decodes its
//! rows into these types (`store/types.rs`), so a stored id is checked on the way in and out.

use std::fmt;

/// Longest `jti` we remember (RFC 7519 leaves it open; a UUID or 32 random bytes fit easily).
pub const MAX_JTI_CHARS: usize = 200;

/// Text that is not an id of the kind wanted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not {0}")]
pub struct NotAnId(pub &'static str);

/// Declares an id type over `String` whose only constructors check `$valid`.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $valid:path, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// What this id is, for refusals: "a party id (a lower-case UUID)".
            pub const WHAT: &'static str = $what;

            /// The id, if `text` is one in canonical form; any other spelling is not.
            pub fn parse(text: &str) -> Option<Self> {
                $valid(text).then(|| $name(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = NotAnId;
            fn try_from(text: String) -> Result<Self, NotAnId> {
                if $valid(&text) { Ok($name(text)) } else { Err(NotAnId($what)) }
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        /// Deserializes from the canonical form only (in a path: 404; in a body: 422).
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $name::try_from(String::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Declares UUID id types, which are also made new at random.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        id_type!($(#[$doc])* $name, is_uuid, $what);

        impl $name {
            /// A new random (v4) id.
            pub fn random() -> Self {
                $name(uuid::Uuid::new_v4().to_string())
            }

            /// A fixed id for tests: the `n`th of its kind.
            #[cfg(test)]
            pub fn nth(n: u32) -> Self {
                $name(format!("00000000-0000-4000-8000-{n:012x}"))
            }
        }
    };
}

uuid_id!(
    /// An employee, employer, professional or admin.
    PartyId,
    "a party id (a lower-case UUID)"
);
uuid_id!(
    /// A passport.
    PassportId,
    "a passport id (a lower-case UUID)"
);
uuid_id!(
    /// A record of a passport: the thing a history of versions is about.
    RecordId,
    "a record id (a lower-case UUID)"
);
uuid_id!(
    /// A consent grant.
    GrantId,
    "a grant id (a lower-case UUID)"
);
uuid_id!(
    /// An organisation's request for access to an employee's passport.
    AccessRequestId,
    "an access request id (a lower-case UUID)"
);
uuid_id!(
    /// An invitation to join an organisation.
    InvitationId,
    "an invitation id (a lower-case UUID)"
);
uuid_id!(
    /// A notification to one person.
    NotificationId,
    "a notification id (a lower-case UUID)"
);
id_type!(
    /// A public key, named by its RFC 7638 thumbprint.
    Kid,
    is_thumbprint,
    "a key id (an RFC 7638 thumbprint)"
);

/// A UUID in its canonical form (RFC 9562 section 4): lower-case hex, hyphenated 8-4-4-4-12.
/// Upper case, braces, `urn:uuid:` or no hyphens are other spellings of the same UUID, which
/// the store would treat as another id: refused rather than normalised, so ids compare as text.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
        })
}

/// An RFC 7638 SHA-256 thumbprint as we name keys: 43 base64url characters, no padding.
pub fn is_thumbprint(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A `jti`: 1 to [`MAX_JTI_CHARS`] visible ASCII characters (no space, no control character).
pub fn is_jti(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_JTI_CHARS && s.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_have_one_form() {
        let id = uuid::Uuid::new_v4().to_string();
        assert!(is_uuid(&id));
        assert!(is_uuid("00000000-0000-0000-0000-000000000000"));
        for other in [
            id.to_uppercase(),
            id.replace('-', ""),
            format!("{{{id}}}"),
            format!("urn:uuid:{id}"),
            format!("{}\u{0}", &id[..35]),
            "0000000g-0000-0000-0000-000000000000".into(),
            "00000000-0000-0000-0000+000000000000".into(),
            String::new(),
        ] {
            assert!(!is_uuid(&other), "{other:?}");
        }
    }

    #[test]
    fn typed_ids_are_built_only_from_their_canonical_form() {
        let text = uuid::Uuid::new_v4().to_string();
        let id = PassportId::parse(&text).unwrap();
        assert_eq!(id.as_str(), text);
        assert_eq!(PassportId::try_from(text.clone()), Ok(id.clone()));
        assert_eq!(serde_json::to_value(&id).unwrap(), serde_json::json!(text));
        let back: PassportId = serde_json::from_value(serde_json::json!(text)).unwrap();
        assert_eq!(back, id);
        assert_eq!(PassportId::parse(&text.to_uppercase()), None);
        assert_eq!(
            PartyId::try_from(format!("urn:uuid:{text}")),
            Err(NotAnId(PartyId::WHAT))
        );
        let refused = serde_json::from_value::<GrantId>(serde_json::json!(text.replace('-', "")));
        assert!(refused.unwrap_err().to_string().contains(GrantId::WHAT));
        assert!(RecordId::parse(RecordId::random().as_str()).is_some());
        let kid = wp_schemas::jose::SigningKey::generate().kid().to_owned();
        assert_eq!(Kid::parse(&kid).unwrap(), kid.as_str());
        assert_eq!(Kid::parse(&text), None, "a UUID is not a thumbprint");
    }

    #[test]
    fn thumbprints_and_jtis() {
        let kid = wp_schemas::jose::SigningKey::generate().kid().to_owned();
        assert!(is_thumbprint(&kid));
        assert!(!is_thumbprint(&format!("{}\u{0}", &kid[..42])));
        assert!(!is_thumbprint(&kid[..42]));
        assert!(is_jti("a"));
        assert!(is_jti(&uuid::Uuid::new_v4().to_string()));
        assert!(is_jti(&"x".repeat(MAX_JTI_CHARS)));
        for bad in [
            "",
            "a b",
            "nul\u{0}",
            "tab\t",
            "é",
            &"x".repeat(MAX_JTI_CHARS + 1),
        ] {
            assert!(!is_jti(bad), "{bad:?}");
        }
    }
}
