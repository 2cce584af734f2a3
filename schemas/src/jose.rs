//! The small part of JOSE that both sides must agree on byte for byte: Ed25519 public JWKs, their
//! RFC 7638 thumbprints, and verification of compact JWS (RFC 7515) with ring.
//!
//! Verification lives here, not in server or client, so that both check signatures the same way.
//! Signing is done with josekit by whoever holds a private key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::signature::{ED25519, UnparsedPublicKey};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An Ed25519 public key as a JWK (RFC 8037). Only the members that define the key are kept, so
/// a private `d` sent by mistake is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicJwk {
    /// Always `OKP`.
    #[schemars(extend("const" = "OKP"))]
    pub kty: String,
    /// Always `Ed25519`.
    #[schemars(extend("const" = "Ed25519"))]
    pub crv: String,
    /// The 32-byte public key, base64url without padding (43 characters); not one of the
    /// small-order points, and canonical.
    #[schemars(pattern(r"^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"))]
    pub x: String,
    /// Key id; when present it must be the RFC 7638 thumbprint.
    #[schemars(pattern(r"^[A-Za-z0-9_-]{43}$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoseError {
    /// The JWK is not an Ed25519 public key.
    BadKey(&'static str),
    /// The compact JWS is not three base64url parts with JSON header and payload.
    Malformed(&'static str),
    /// The algorithm is not EdDSA.
    Algorithm,
    /// The signature does not verify with the key.
    Signature,
    /// The protected header carries a member this kind of JWS does not allow, or lacks one it
    /// requires.
    Header(String),
    /// The `typ` header is not the one this kind of JWS must carry.
    Type(&'static str),
    /// The payload is not a JSON object with unique member names.
    Payload(&'static str),
}

impl std::error::Error for JoseError {}

impl std::fmt::Display for JoseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JoseError::BadKey(why) => write!(f, "not an Ed25519 public JWK: {why}"),
            JoseError::Malformed(why) => write!(f, "malformed JWS: {why}"),
            JoseError::Algorithm => f.write_str("JWS algorithm must be EdDSA"),
            JoseError::Signature => f.write_str("JWS signature does not verify"),
            JoseError::Header(why) => write!(f, "JWS protected header: {why}"),
            JoseError::Type(typ) => write!(f, "JWS typ must be {typ}"),
            JoseError::Payload(why) => write!(f, "JWS payload: {why}"),
        }
    }
}

impl PublicJwk {
    pub fn from_ed25519(public_key: &[u8]) -> Self {
        let mut jwk = PublicJwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: B64.encode(public_key),
            kid: None,
        };
        jwk.kid = Some(jwk.thumbprint());
        jwk
    }

    /// Checks the key's shape and returns the raw 32 public-key bytes.
    pub fn key_bytes(&self) -> Result<[u8; 32], JoseError> {
        if self.kty != "OKP" {
            return Err(JoseError::BadKey("kty must be OKP"));
        }
        if self.crv != "Ed25519" {
            return Err(JoseError::BadKey("crv must be Ed25519"));
        }
        let raw = B64
            .decode(&self.x)
            .map_err(|_| JoseError::BadKey("x is not base64url"))?;
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| JoseError::BadKey("x must be 32 bytes"))?;
        if let Some(why) = weak_point(&bytes) {
            return Err(JoseError::BadKey(why));
        }
        if let Some(kid) = &self.kid
            && *kid != self.thumbprint()
        {
            return Err(JoseError::BadKey("kid must be the RFC 7638 thumbprint"));
        }
        Ok(bytes)
    }

    /// RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, no spaces.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"{}","kty":"{}","x":"{}"}}"#,
            self.crv, self.kty, self.x
        );
        sha256_b64(canonical.as_bytes())
    }

    /// The same key without a `kid`, with the thumbprint as `kid`.
    pub fn normalized(&self) -> Self {
        let mut jwk = PublicJwk {
            kty: self.kty.clone(),
            crv: self.crv.clone(),
            x: self.x.clone(),
            kid: None,
        };
        jwk.kid = Some(jwk.thumbprint());
        jwk
    }
}

/// base64url(SHA-256(bytes)), the form hashes take everywhere on the wire.
/// The acceptable Ed25519 keys of a JWKS document (`{"keys": [...]}`), by their key bytes: a
/// `kid` is only a name, and members a key may carry beside them (`use`, `alg`) do not matter;
/// keys of other kinds, or not acceptable, are passed over. None if it is not a JWKS.
pub fn ed25519_keys_of(jwks: &Value) -> Option<Vec<PublicJwk>> {
    let keys = jwks.get("keys")?.as_array()?;
    Some(
        keys.iter()
            .filter_map(|k| {
                let jwk = PublicJwk {
                    kty: k["kty"].as_str()?.to_owned(),
                    crv: k["crv"].as_str()?.to_owned(),
                    x: k["x"].as_str()?.to_owned(),
                    kid: None,
                };
                jwk.key_bytes().ok()?;
                Some(jwk)
            })
            .collect(),
    )
}

pub fn sha256_b64(bytes: &[u8]) -> String {
    B64.encode(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    B64.decode(text).ok()
}

/// Why a 32-byte Ed25519 point encoding is unacceptable as a public key or as a signature's `R`,
/// if it is: not canonical (y >= p; RFC 8032 section 5.1.3 says decoding fails) or one of the
/// eight points of small order. A small-order public key verifies a signature made without any
/// private key (R = identity, S = 0), so anyone could sign as its holder; libsodium and
/// ed25519-dalek's `verify_strict` refuse both, ring and OpenSSL do not.
pub fn weak_point(encoding: &[u8; 32]) -> Option<&'static str> {
    // y with the sign bit of x cleared, little-endian.
    let mut y = *encoding;
    y[31] &= 0x7f;
    // p = 2^255 - 19 = ed ff .. ff 7f; y >= p only when all the high bytes are at their maximum.
    if y[31] == 0x7f && y[1..31].iter().all(|&b| b == 0xff) && y[0] >= 0xed {
        return Some("x is not a canonical point encoding");
    }
    // The y of the eight small-order points (two points share each y, told apart by the sign
    // bit, which is also how x = 0 gets its non-canonical "negative zero" form).
    const SMALL_ORDER_Y: [[u8; 32]; 5] = [
        // y = 0: order 4.
        [0; 32],
        // y = 1: the identity (and its negative-zero encoding).
        [
            1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0,
        ],
        // y = p - 1: order 2.
        [
            0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0x7f,
        ],
        // The two y of the four points of order 8.
        [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef,
            0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88,
            0x6d, 0x53, 0xfc, 0x05,
        ],
        [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10,
            0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77,
            0x92, 0xac, 0x03, 0x7a,
        ],
    ];
    if SMALL_ORDER_Y.contains(&y) {
        return Some("x is a point of small order");
    }
    None
}

/// Parses JSON, refusing an object with two members of the same name. RFC 7515 section 5.2
/// (and RFC 8259 section 4) leave duplicates to the parser: serde_json keeps the last, others
/// the first or refuse, so a JWS with duplicates means different things to different verifiers.
fn unique_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};

    struct Unique;
    impl<'de> DeserializeSeed<'de> for Unique {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Unique {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Unique)?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            // Names compare after unescaping: "a" and "\u0061" are the same member.
            while let Some(name) = map.next_key::<String>()? {
                if !seen.insert(name) {
                    return Err(A::Error::custom("duplicate member"));
                }
                map.next_value_seed(Unique)?;
            }
            Ok(())
        }
    }

    let mut checker = serde_json::Deserializer::from_slice(bytes);
    Unique.deserialize(&mut checker).ok()?;
    checker.end().ok()?;
    serde_json::from_slice(bytes).ok()
}

/// What one kind of JWS may carry in its protected header. Every member outside the allow-list
/// is refused, so that nothing the server accepts means something else to another verifier:
/// `b64: false` without `crit` (RFC 7797 section 6) changes what was signed, `jku`/`x5u` ask the
/// verifier to fetch a key, `crit` names extensions we do not implement (RFC 7515 section
/// 4.1.11), `zip` and others are not ours to interpret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwsProfile {
    /// The value `typ` must have (RFC 7515 section 4.1.9).
    pub typ: &'static str,
    /// Whether `typ` may be left out (only where the RFC of that kind does not require it).
    pub typ_optional: bool,
    /// How the key is named: `kid` (the RFC 7638 thumbprint of a registered key) or `jwk` (the
    /// public key itself, RFC 9449 section 4.2). Exactly one of the two, always.
    pub key: KeyRef,
}

/// Members of a public key embedded as `jwk` in a header: the key and, optionally, its
/// thumbprint as `kid`. Never `d`, and nothing (`use`, `key_ops`, `alg`) that could make
/// another verifier refuse the key for signatures.
pub const HEADER_JWK_MEMBERS: [&str; 4] = ["kty", "crv", "x", "kid"];

impl JwsProfile {
    /// The protected header parameters this kind may carry: `alg`, `typ`, and `kid` or `jwk`.
    pub fn allowed(&self) -> [&'static str; 3] {
        [
            "alg",
            "typ",
            match self.key {
                KeyRef::Kid => "kid",
                KeyRef::Jwk => "jwk",
            },
        ]
    }

    fn check(&self, header: &serde_json::Map<String, Value>) -> Result<(), JoseError> {
        let allowed = self.allowed();
        if let Some(name) = header.keys().find(|n| !allowed.contains(&n.as_str())) {
            return Err(JoseError::Header(format!(
                "`{name}` is not allowed here; only {} are",
                allowed.join(", ")
            )));
        }
        match header.get("typ") {
            None if self.typ_optional => {}
            Some(Value::String(typ)) if typ == self.typ => {}
            _ => return Err(JoseError::Type(self.typ)),
        }
        match self.key {
            KeyRef::Kid => {
                let kid = header
                    .get("kid")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !is_thumbprint(kid) {
                    return Err(JoseError::Header(
                        "kid must be the key's RFC 7638 thumbprint".into(),
                    ));
                }
            }
            KeyRef::Jwk => {
                let Some(Value::Object(jwk)) = header.get("jwk") else {
                    return Err(JoseError::Header("jwk must be the public key".into()));
                };
                if let Some(name) = jwk
                    .keys()
                    .find(|n| !HEADER_JWK_MEMBERS.contains(&n.as_str()))
                {
                    return Err(JoseError::Header(format!(
                        "`{name}` is not allowed in jwk; only {} are",
                        HEADER_JWK_MEMBERS.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The shape of an RFC 7638 SHA-256 thumbprint: 43 base64url characters.
fn is_thumbprint(kid: &str) -> bool {
    kid.len() == 43 && B64.decode(kid).is_ok_and(|raw| raw.len() == 32)
}

/// A compact JWS split into its parts, header and payload parsed, signature not yet checked.
#[derive(Debug, Clone)]
pub struct CompactJws<'a> {
    pub header: serde_json::Map<String, Value>,
    pub payload: Vec<u8>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

impl<'a> CompactJws<'a> {
    /// Parses a JWS received from someone else: [`Self::parse`], then the protected header must
    /// fit `profile`.
    pub fn parse_as(compact: &'a str, profile: &JwsProfile) -> Result<Self, JoseError> {
        let jws = Self::parse(compact)?;
        profile.check(&jws.header)?;
        Ok(jws)
    }

    /// Parses under the rules every kind shares: three parts in canonical base64url (no
    /// padding, no stray bits: RFC 7515 section 2 and RFC 4648 section 3.5), a header and a
    /// payload that are JSON objects without duplicate members, `alg` EdDSA (RFC 8037), no
    /// `crit`. Anything received must also fit its kind's [`JwsProfile`]: use
    /// [`Self::parse_as`].
    pub fn parse(compact: &'a str) -> Result<Self, JoseError> {
        let mut parts = compact.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JoseError::Malformed("expected three dot-separated parts"));
        };
        let header_bytes = B64
            .decode(h)
            .map_err(|_| JoseError::Malformed("header is not base64url"))?;
        let header: serde_json::Map<String, Value> = unique_json(&header_bytes).ok_or(
            JoseError::Malformed("header is not a JSON object with unique member names"),
        )?;
        let payload = B64
            .decode(p)
            .map_err(|_| JoseError::Malformed("payload is not base64url"))?;
        let signature = B64
            .decode(s)
            .map_err(|_| JoseError::Malformed("signature is not base64url"))?;
        if header.get("alg").and_then(Value::as_str) != Some("EdDSA") {
            return Err(JoseError::Algorithm);
        }
        // RFC 7515 section 4.1.11: a `crit` we do not understand must be rejected; we understand none.
        if header.contains_key("crit") {
            return Err(JoseError::Malformed(
                "crit header parameters are not supported",
            ));
        }
        if unique_json::<serde_json::Map<String, Value>>(&payload).is_none() {
            return Err(JoseError::Payload(
                "not a JSON object with unique member names",
            ));
        }
        Ok(CompactJws {
            header,
            payload,
            signing_input: &compact[..h.len() + 1 + p.len()],
            signature,
        })
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    pub fn verify(&self, jwk: &PublicJwk) -> Result<(), JoseError> {
        self.verify_raw(&jwk.key_bytes()?)
    }

    pub fn verify_raw(&self, public_key: &[u8]) -> Result<(), JoseError> {
        // Belt and braces: a small-order or non-canonical key is refused even if it was stored.
        let key: &[u8; 32] = public_key
            .try_into()
            .map_err(|_| JoseError::BadKey("x must be 32 bytes"))?;
        if let Some(why) = weak_point(key) {
            return Err(JoseError::BadKey(why));
        }
        // A small-order R verifies in ring but not in libsodium or ed25519-dalek's strict mode;
        // an honest signer never makes one (R = rB has prime order).
        if let Some(r) = self.signature.first_chunk::<32>()
            && weak_point(r).is_some()
        {
            return Err(JoseError::Signature);
        }
        UnparsedPublicKey::new(&ED25519, public_key)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JoseError::Signature)
    }

    /// The payload as a typed value.
    pub fn claims<T: serde::de::DeserializeOwned>(&self) -> Result<T, JoseError> {
        serde_json::from_slice(&self.payload)
            .map_err(|_| JoseError::Malformed("payload does not match the expected claims"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair};
    use serde_json::json;

    fn sign(kp: &Ed25519KeyPair, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", B64.encode(header), B64.encode(payload));
        let sig = kp.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(sig.as_ref()))
    }

    fn keypair() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    #[test]
    fn rfc8037_thumbprint() {
        // RFC 8037 appendix A.3.
        let jwk = PublicJwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into(),
            kid: None,
        };
        assert_eq!(
            jwk.thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn verifies_and_rejects() {
        let kp = keypair();
        let jwk = PublicJwk::from_ed25519(kp.public_key().as_ref());
        let jws = sign(&kp, r#"{"alg":"EdDSA"}"#, r#"{"a":1}"#);
        CompactJws::parse(&jws).unwrap().verify(&jwk).unwrap();

        let other = PublicJwk::from_ed25519(keypair().public_key().as_ref());
        assert_eq!(
            CompactJws::parse(&jws).unwrap().verify(&other),
            Err(JoseError::Signature)
        );

        let tampered = jws.replacen(&B64.encode(r#"{"a":1}"#), &B64.encode(r#"{"a":2}"#), 1);
        assert_eq!(
            CompactJws::parse(&tampered).unwrap().verify(&jwk),
            Err(JoseError::Signature)
        );

        let none_alg = sign(&kp, r#"{"alg":"none"}"#, "{}");
        assert!(matches!(
            CompactJws::parse(&none_alg),
            Err(JoseError::Algorithm)
        ));
        assert!(CompactJws::parse("a.b").is_err());
    }

    const PROFILE: JwsProfile = JwsProfile {
        typ: "wp-test+jws",
        typ_optional: false,
        key: KeyRef::Kid,
    };

    fn header_of(kp: &Ed25519KeyPair, extra: &str) -> String {
        let jwk = PublicJwk::from_ed25519(kp.public_key().as_ref());
        format!(
            r#"{{"alg":"EdDSA","typ":"wp-test+jws","kid":"{}"{extra}}}"#,
            jwk.kid.unwrap()
        )
    }

    #[test]
    fn header_allow_list() {
        let kp = keypair();
        let parse =
            |header: &str| CompactJws::parse_as(&sign(&kp, header, "{}"), &PROFILE).map(|_| ());
        assert_eq!(parse(&header_of(&kp, "")), Ok(()));
        // RFC 7797: `b64: false` without `crit` is what PyJWT and jwcrypto refused.
        for extra in [
            r#","b64":false"#,
            r#","b64":true"#,
            r#","jku":"https://evil.example/jwks""#,
            r#","x5u":"https://evil.example/cert""#,
            r#","zip":"DEF""#,
            r#","cty":"JWT""#,
            r#","jwk":{}"#,
            r#","nonce":"n""#,
        ] {
            assert!(
                matches!(parse(&header_of(&kp, extra)), Err(JoseError::Header(_))),
                "{extra}"
            );
        }
        assert!(matches!(
            parse(&header_of(&kp, r#","crit":["b64"],"b64":false"#)),
            Err(JoseError::Malformed(_))
        ));
        // typ: required here, exact, a string.
        let kid = PublicJwk::from_ed25519(kp.public_key().as_ref())
            .kid
            .unwrap();
        for header in [
            format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"EdDSA","typ":["wp-test+jws"],"kid":"{kid}"}}"#),
        ] {
            assert_eq!(
                parse(&header),
                Err(JoseError::Type("wp-test+jws")),
                "{header}"
            );
        }
        // kid: present, and shaped like a thumbprint.
        for header in [
            r#"{"alg":"EdDSA","typ":"wp-test+jws"}"#.to_owned(),
            r#"{"alg":"EdDSA","typ":"wp-test+jws","kid":"k1"}"#.to_owned(),
            r#"{"alg":"EdDSA","typ":"wp-test+jws","kid":7}"#.to_owned(),
            format!(r#"{{"alg":"EdDSA","typ":"wp-test+jws","kid":"{kid}\u0000"}}"#),
        ] {
            assert!(
                matches!(parse(&header), Err(JoseError::Header(_))),
                "{header}"
            );
        }
        // An optional typ may be absent.
        let optional = JwsProfile {
            typ_optional: true,
            ..PROFILE
        };
        let jws = sign(&kp, &format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#), "{}");
        assert!(CompactJws::parse_as(&jws, &optional).is_ok());
    }

    #[test]
    fn embedded_jwk_allow_list() {
        let kp = keypair();
        let dpop = JwsProfile {
            typ: "dpop+jwt",
            typ_optional: false,
            key: KeyRef::Jwk,
        };
        let jwk = PublicJwk::from_ed25519(kp.public_key().as_ref());
        let with_jwk = |jwk: Value| {
            let header = json!({"alg": "EdDSA", "typ": "dpop+jwt", "jwk": jwk}).to_string();
            CompactJws::parse_as(&sign(&kp, &header, "{}"), &dpop).map(|_| ())
        };
        assert_eq!(with_jwk(serde_json::to_value(&jwk).unwrap()), Ok(()));
        let mut bare = serde_json::to_value(&jwk).unwrap();
        bare.as_object_mut().unwrap().remove("kid");
        assert_eq!(with_jwk(bare.clone()), Ok(()));
        for (member, value) in [
            ("d", json!("AAAA")),
            ("use", json!("enc")),
            ("key_ops", json!(["verify"])),
            ("alg", json!("EdDSA")),
        ] {
            let mut extra = bare.clone();
            extra[member] = value;
            assert!(
                matches!(with_jwk(extra), Err(JoseError::Header(_))),
                "{member}"
            );
        }
        assert!(matches!(with_jwk(json!("key")), Err(JoseError::Header(_))));
        // A kid next to the jwk is not for DPoP.
        let header =
            json!({"alg": "EdDSA", "typ": "dpop+jwt", "jwk": bare, "kid": jwk.kid}).to_string();
        assert!(matches!(
            CompactJws::parse_as(&sign(&kp, &header, "{}"), &dpop),
            Err(JoseError::Header(_))
        ));
    }

    #[test]
    fn duplicate_members_are_refused() {
        let kp = keypair();
        let kid = PublicJwk::from_ed25519(kp.public_key().as_ref())
            .kid
            .unwrap();
        for header in [
            format!(r#"{{"alg":"none","alg":"EdDSA","typ":"wp-test+jws","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"EdDSA","typ":"wp-test+jws","kid":"{kid}","kid":"{kid}"}}"#),
            // The same name once escaped.
            format!(r#"{{"alg":"EdDSA","typ":"wp-test+jws","kid":"{kid}","\u006bid":"{kid}"}}"#),
        ] {
            assert!(
                matches!(
                    CompactJws::parse(&sign(&kp, &header, "{}")),
                    Err(JoseError::Malformed(_))
                ),
                "{header}"
            );
        }
        let header = header_of(&kp, "");
        for payload in [
            r#"{"a":1,"a":2}"#,
            r#"{"body":{"status":"requested","status":"agreed"}}"#,
            r#"{"list":[{"x":1,"x":1}]}"#,
            r#"[1]"#,
            r#"{"a":1} {}"#,
            "not json",
        ] {
            assert!(
                matches!(
                    CompactJws::parse(&sign(&kp, &header, payload)),
                    Err(JoseError::Payload(_))
                ),
                "{payload}"
            );
        }
        assert!(CompactJws::parse(&sign(&kp, &header, r#"{"a":{"b":1},"c":{"b":2}}"#)).is_ok());
    }

    #[test]
    fn base64url_must_be_canonical() {
        let kp = keypair();
        let jws = sign(&kp, &header_of(&kp, ""), r#"{"a":1}"#);
        let parts: Vec<&str> = jws.split('.').collect();
        // The payload `{"a":1}` is 7 bytes: 10 characters, the last carrying 2 unused bits.
        let last = parts[1].chars().last().unwrap();
        let index = B64_ALPHABET.find(last).unwrap();
        let stray = B64_ALPHABET.as_bytes()[index | 1] as char;
        let tweaked = format!("{}{stray}", &parts[1][..parts[1].len() - 1]);
        for bad in [
            format!("{}.{}.{}", parts[0], tweaked, parts[2]),
            format!("{}.{}=.{}", parts[0], parts[1], parts[2]),
            format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
            format!("{}.{}.{}==", parts[0], parts[1], parts[2]),
            format!("{} .{}.{}", parts[0], parts[1], parts[2]),
            jws.replace('-', "+").replace('_', "/"),
        ] {
            if bad != jws {
                assert!(CompactJws::parse(&bad).is_err(), "{bad}");
            }
        }
    }

    const B64_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn encodings(hex: &str) -> [u8; 32] {
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        bytes.try_into().unwrap()
    }

    /// The eight small-order points, canonically encoded (computed independently, as k*T for a
    /// point T of order 8).
    const SMALL_ORDER: [&str; 8] = [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    ];

    #[test]
    fn weak_keys_are_refused() {
        for hex in SMALL_ORDER {
            let point = encodings(hex);
            assert_eq!(
                weak_point(&point),
                Some("x is a point of small order"),
                "{hex}"
            );
            // With the sign bit flipped (non-canonical for x = 0, the other point otherwise).
            let mut flipped = point;
            flipped[31] ^= 0x80;
            assert!(weak_point(&flipped).is_some(), "{hex} flipped");
            let jwk = PublicJwk::from_ed25519(&point);
            assert!(
                matches!(jwk.key_bytes(), Err(JoseError::BadKey(_))),
                "{hex}"
            );
        }
        // y >= p: p itself (= 0), p + 1 (= 1), up to 2^255 - 1, either sign.
        let mut y = [0xff; 32];
        y[31] = 0x7f;
        for low in 0xed..=0xff {
            y[0] = low;
            for sign in [0, 0x80] {
                let mut encoding = y;
                encoding[31] |= sign;
                assert_eq!(
                    weak_point(&encoding),
                    Some("x is not a canonical point encoding"),
                    "{encoding:02x?}"
                );
            }
        }
        // Real keys, and the largest canonical y, pass.
        y[0] = 0xeb;
        assert_eq!(weak_point(&y), None);
        for _ in 0..32 {
            let kp = keypair();
            assert_eq!(
                weak_point(kp.public_key().as_ref().try_into().unwrap()),
                None
            );
        }
        // RFC 8037 appendix A.2.
        let rfc = PublicJwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into(),
            kid: None,
        };
        assert!(rfc.key_bytes().is_ok());
    }

    #[test]
    fn a_signature_without_a_private_key_does_not_verify() {
        // With A the identity, R = identity and S = 0 satisfy [S]B = R + [k]A for any message:
        // ring accepts it, so the key must be refused before ring sees it.
        let identity = encodings(SMALL_ORDER[0]);
        let header = r#"{"alg":"EdDSA","typ":"JWT"}"#;
        let mut forged_sig = identity.to_vec();
        forged_sig.extend([0u8; 32]);
        let forged = format!(
            "{}.{}.{}",
            B64.encode(header),
            B64.encode(r#"{"sub":"victim"}"#),
            B64.encode(&forged_sig)
        );
        let jws = CompactJws::parse(&forged).unwrap();
        assert!(matches!(
            jws.verify_raw(&identity),
            Err(JoseError::BadKey(_))
        ));
        let jwk = PublicJwk::from_ed25519(&identity);
        assert!(matches!(jws.verify(&jwk), Err(JoseError::BadKey(_))));
        // ring alone would have accepted it: the check above is what stops the forgery.
        assert!(
            UnparsedPublicKey::new(&ED25519, identity)
                .verify(forged.rsplit_once('.').unwrap().0.as_bytes(), &forged_sig)
                .is_ok()
        );
    }

    #[test]
    fn signing_names_the_key_once() {
        let key = SigningKey::generate();
        let header = |jws: &str| CompactJws::parse(jws).unwrap().header;
        let dpop = header(&key.sign("dpop+jwt", KeyRef::Jwk, b"{}"));
        let mut names: Vec<&str> = dpop.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["alg", "jwk", "typ"]);
        let version = header(&key.sign("wp-test+jws", KeyRef::Kid, b"{}"));
        let mut names: Vec<&str> = version.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["alg", "kid", "typ"]);
        assert_eq!(version["kid"], key.kid());
        // A key loaded from its file (which holds its kid) signs the same way.
        let loaded = SigningKey::from_json(&key.to_json()).unwrap();
        assert!(!header(&loaded.sign("dpop+jwt", KeyRef::Jwk, b"{}")).contains_key("kid"));
        let raw = key.sign_raw(br#"{"alg":"EdDSA","x":1,"x":2}"#, b"{}");
        assert!(CompactJws::parse(&raw).is_err());
    }
}

/// How a signed object names its key: by `kid` (a registered key) or by embedding the public `jwk`
/// (a DPoP proof, which must be verifiable on its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRef {
    Kid,
    Jwk,
}

/// An Ed25519 private key that signs compact JWS with josekit.
pub struct SigningKey {
    private: josekit::jwk::Jwk,
    public: PublicJwk,
    signer: josekit::jws::alg::eddsa::EddsaJwsSigner,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private part.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid())
            .finish()
    }
}

impl Clone for SigningKey {
    fn clone(&self) -> Self {
        Self::from_private_jwk(self.private.clone()).expect("a key that loaded once loads again")
    }
}

impl SigningKey {
    pub fn generate() -> Self {
        use josekit::jwk::KeyPair as _;
        let pair = josekit::jws::EdDSA
            .generate_key_pair(josekit::jwk::Ed25519)
            .expect("Ed25519 key generation");
        Self::from_private_jwk(pair.to_jwk_key_pair()).expect("a generated key loads")
    }

    /// Loads a private JWK (with `d` and `x`) from its JSON text.
    pub fn from_json(json: &str) -> Result<Self, JoseError> {
        let jwk = josekit::jwk::Jwk::from_bytes(json.as_bytes())
            .map_err(|_| JoseError::BadKey("not a JWK"))?;
        Self::from_private_jwk(jwk)
    }

    fn from_private_jwk(mut jwk: josekit::jwk::Jwk) -> Result<Self, JoseError> {
        let x = jwk
            .parameter("x")
            .and_then(Value::as_str)
            .ok_or(JoseError::BadKey("missing x"))?
            .to_owned();
        let public = PublicJwk {
            kty: "OKP".into(),
            crv: jwk.curve().unwrap_or_default().to_owned(),
            x,
            kid: None,
        }
        .normalized();
        public.key_bytes()?;
        jwk.set_key_id(public.thumbprint());
        let mut signer = josekit::jws::EdDSA
            .signer_from_jwk(&jwk)
            .map_err(|_| JoseError::BadKey("not an Ed25519 private key"))?;
        // josekit would add the signer's kid to every header; [`Self::sign`] names the key itself,
        // so that a DPoP proof carries `jwk` alone.
        signer.remove_key_id();
        Ok(SigningKey {
            private: jwk,
            public,
            signer,
        })
    }

    /// The private JWK as JSON: what goes into a key file readable by its owner only.
    pub fn to_json(&self) -> String {
        self.private.to_string()
    }

    pub fn public_jwk(&self) -> &PublicJwk {
        &self.public
    }

    /// The RFC 7638 thumbprint, used as `kid`.
    pub fn kid(&self) -> &str {
        self.public.kid.as_deref().unwrap_or_default()
    }

    /// Signs `claims` as a compact JWS with header `{alg: EdDSA, typ, kid | jwk}`.
    pub fn sign_json<T: Serialize>(&self, typ: &str, key_ref: KeyRef, claims: &T) -> String {
        let payload = serde_json::to_vec(claims).expect("claims serialize");
        self.sign(typ, key_ref, &payload)
    }

    pub fn sign(&self, typ: &str, key_ref: KeyRef, payload: &[u8]) -> String {
        let mut header = josekit::jws::JwsHeader::new();
        header.set_token_type(typ);
        match key_ref {
            KeyRef::Kid => header.set_key_id(self.kid()),
            KeyRef::Jwk => {
                let map = serde_json::to_value(&self.public)
                    .ok()
                    .and_then(|v| v.as_object().cloned())
                    .unwrap_or_default();
                header.set_jwk(josekit::jwk::Jwk::from_map(map).expect("public JWK"));
            }
        }
        josekit::jws::serialize_compact(payload, &header, &self.signer).expect("EdDSA signing")
    }

    /// Signs exactly these header and payload bytes. For tests and interoperability checks,
    /// where the header itself is the point; [`Self::sign`] makes the headers we send.
    pub fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        use josekit::jws::JwsSigner as _;
        let input = format!("{}.{}", B64.encode(header), B64.encode(payload));
        let signature = self.signer.sign(input.as_bytes()).expect("EdDSA signing");
        format!("{input}.{}", B64.encode(signature))
    }
}
