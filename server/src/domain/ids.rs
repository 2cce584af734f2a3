//! The forms of the ids, claims and text a caller sends, checked before any of it reaches the
//! store: the same input is then accepted or refused alike on SQLite and PostgreSQL (which
//! refuses a NUL byte in text), and an id has one spelling, so it names one thing.

/// Longest `jti` we remember (RFC 7519 leaves it open; a UUID or 32 random bytes fit easily).
pub const MAX_JTI_CHARS: usize = 200;

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
