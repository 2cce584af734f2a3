//! The server's key material: the keys that sign access tokens and checkpoints (published in the
//! JWKS), and the master keys that wrap each passport's data key (AES-256-GCM, ring).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use wp_schemas::files::{self, OWNER_ONLY};
use wp_schemas::jose::{PublicJwk, SigningKey, b64, b64_decode};

use crate::domain::auth::TokenKeys;
use crate::domain::ids::PassportId;
use crate::domain::time::Timestamp;

/// How long a retired signing key stays published: longer than any token it signed lives.
pub const RETIRED_KEY_GRACE_SECS: i64 = 20 * 60;

/// Writes a secret file readable by its owner only, atomically (write then rename).
pub fn write_secret_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    files::replace(path, contents.as_bytes(), OWNER_ONLY).with_context(|| {
        format!(
            "writing {} (the directory must exist and be writable by this user)",
            path.display()
        )
    })
}

/// Writes a new secret file, never replacing one that exists: a hard link is atomic and fails
/// when the name is taken, so two servers starting at once cannot overwrite each other's keys.
fn write_new_secret_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    let tmp = files::write_beside(path, contents.as_bytes(), OWNER_ONLY).with_context(|| {
        format!(
            "writing beside {} (the directory must exist and be writable by this user)",
            path.display()
        )
    })?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    linked.with_context(|| format!("creating the key file {}", path.display()))
}

/// Reads a key file; the error names the file and what to do.
fn read_key_file(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the {what} file {}: restore it from a backup of this installation, or \
             point the server at it with its flag",
            path.display()
        )
    })
}

#[derive(Serialize, Deserialize)]
struct SigningKeyFile {
    /// Newest first; the first is the active key.
    keys: Vec<StoredSigningKey>,
}

#[derive(Serialize, Deserialize)]
struct StoredSigningKey {
    jwk: serde_json::Value,
    created_at: i64,
    #[serde(default)]
    retired_at: Option<i64>,
}

/// A public key the server signed with, and until when tokens signed by it are accepted.
#[derive(Debug, Clone)]
pub struct PublishedKey {
    pub jwk: PublicJwk,
    pub raw: [u8; 32],
    pub retired_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ServerKeys {
    active: SigningKey,
    published: Vec<PublishedKey>,
}

impl ServerKeys {
    /// Creates the key file with one fresh key; never replaces an existing file.
    pub fn create(path: &Path, now: Timestamp) -> anyhow::Result<Self> {
        let file = SigningKeyFile {
            keys: vec![StoredSigningKey {
                jwk: serde_json::from_str(&SigningKey::generate().to_json())?,
                created_at: now.secs(),
                retired_at: None,
            }],
        };
        write_new_secret_file(path, &serde_json::to_string_pretty(&file)?)?;
        Self::load(path)
    }

    /// Loads the key file, creating it with a fresh key when it does not exist (tools and tests;
    /// the server decides with the database whether a new file is right, see `install`).
    pub fn load_or_create(path: &Path, now: Timestamp) -> anyhow::Result<Self> {
        if path.exists() {
            Self::load(path)
        } else {
            Self::create(path, now)
        }
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = read_key_file(path, "signing key")?;
        let file: SigningKeyFile = serde_json::from_str(&text).with_context(|| {
            format!(
                "parsing the signing key file {}: it is not a signing key file written by this \
                 server; restore it from a backup",
                path.display()
            )
        })?;
        let mut keys = file.keys.iter().map(|stored| {
            let key = SigningKey::from_json(&stored.jwk.to_string())
                .map_err(|e| anyhow::anyhow!("a signing key in {}: {e}", path.display()))?;
            Ok::<_, anyhow::Error>((key, stored.retired_at))
        });
        let Some(first) = keys.next() else {
            bail!(
                "the signing key file {} holds no key: restore it from a backup",
                path.display()
            )
        };
        let (active, _) = first?;
        let mut published = vec![published_key(&active, None)?];
        for key in keys {
            let (key, retired_at) = key?;
            published.push(published_key(&key, retired_at)?);
        }
        Ok(ServerKeys { active, published })
    }

    /// The ids of every key in the file, active and retired.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.published.iter().filter_map(|k| k.jwk.kid.as_deref())
    }

    /// Puts a new active key in front and marks the old ones retired now.
    pub fn rotate(path: &Path, now: Timestamp) -> anyhow::Result<String> {
        let now = now.secs();
        Self::load(path)?;
        let text = read_key_file(path, "signing key")?;
        let mut file: SigningKeyFile = serde_json::from_str(&text)?;
        for key in &mut file.keys {
            key.retired_at.get_or_insert(now);
        }
        // Keys retired long ago can go: no token they signed is still valid.
        file.keys.retain(|k| {
            k.retired_at
                .is_none_or(|r| r + RETIRED_KEY_GRACE_SECS > now)
        });
        let new = SigningKey::generate();
        file.keys.insert(
            0,
            StoredSigningKey {
                jwk: serde_json::from_str(&new.to_json())?,
                created_at: now,
                retired_at: None,
            },
        );
        write_secret_file(path, &serde_json::to_string_pretty(&file)?)?;
        Ok(new.kid().to_owned())
    }

    pub fn for_tests() -> Self {
        let active = SigningKey::generate();
        let published = vec![published_key(&active, None).expect("fresh key")];
        ServerKeys { active, published }
    }

    pub fn active(&self) -> &SigningKey {
        &self.active
    }

    /// The keys whose tokens may still be valid at `now`.
    pub fn published(&self, now: Timestamp) -> impl Iterator<Item = &PublishedKey> {
        let now = now.secs();
        self.published.iter().filter(move |k| {
            k.retired_at
                .is_none_or(|r| r + RETIRED_KEY_GRACE_SECS > now)
        })
    }

    pub fn find(&self, kid: &str, now: Timestamp) -> Option<&PublishedKey> {
        self.published(now)
            .find(|k| k.jwk.kid.as_deref() == Some(kid))
    }
}

impl TokenKeys for ServerKeys {
    fn signing_key(&self) -> &SigningKey {
        self.active()
    }

    fn verifying_key(&self, kid: &str, now: Timestamp) -> Option<[u8; 32]> {
        self.find(kid, now).map(|key| key.raw)
    }
}

fn published_key(key: &SigningKey, retired_at: Option<i64>) -> anyhow::Result<PublishedKey> {
    let jwk = key.public_jwk().clone();
    let raw = jwk.key_bytes().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(PublishedKey {
        jwk,
        raw,
        retired_at,
    })
}

// ---------------------------------------------------------------------------------------------
// Envelope encryption

#[derive(Serialize, Deserialize)]
struct MasterKeyFile {
    active: String,
    keys: BTreeMap<String, String>,
}

/// Master keys by id; the active one wraps new data keys, the others unwrap old ones.
pub struct MasterKeys {
    active: String,
    keys: BTreeMap<String, LessSafeKey>,
    rng: SystemRandom,
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeys")
            .field("active", &self.active)
            .finish()
    }
}

/// A passport's data key, unwrapped, in memory only for the request that needs it.
pub struct DataKey(LessSafeKey);

/// Random 96-bit nonces: a data key encrypts at most a few thousand versions, far below the
/// 2^32 messages at which random GCM nonces start to risk a repeat.
fn seal_with(key: &LessSafeKey, rng: &SystemRandom, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce).expect("system randomness");
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
    out.extend_from_slice(&nonce);
    let mut body = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut body,
    )
    .expect("AES-GCM seal");
    out.extend_from_slice(&body);
    out
}

fn open_with(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN + 16 {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut body = body.to_vec();
    let plain = key.open_in_place(nonce, Aad::from(aad), &mut body).ok()?;
    Some(plain.to_vec())
}

fn aes_key(bytes: &[u8]) -> anyhow::Result<LessSafeKey> {
    let unbound = UnboundKey::new(&AES_256_GCM, bytes)
        .map_err(|_| anyhow::anyhow!("an AES-256 key must be 32 bytes"))?;
    Ok(LessSafeKey::new(unbound))
}

fn random_key_b64(rng: &SystemRandom) -> String {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes).expect("system randomness");
    b64(&bytes)
}

/// A new master key id, unique per installation: two key files never share an id, so a key
/// file from elsewhere is recognised as foreign instead of silently failing to unwrap.
fn new_master_kid() -> String {
    format!("mk-{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
}

impl MasterKeys {
    /// From inline JSON if given, else from the file, which must exist: whether a new file is
    /// right depends on the database (see `install`).
    pub fn load(inline: Option<&str>, path: &Path) -> anyhow::Result<Self> {
        let (text, source) = match inline {
            Some(text) => (text.to_owned(), "WP_MASTER_KEYS (--master-keys)".to_owned()),
            None => (
                read_key_file(path, "master key")?,
                format!("the master key file {}", path.display()),
            ),
        };
        let file: MasterKeyFile = serde_json::from_str(&text).with_context(|| {
            format!(
                "parsing {source}: expected {{\"active\": ID, \"keys\": {{ID: base64url key}}}}; \
                 restore it from a backup"
            )
        })?;
        let mut keys = BTreeMap::new();
        for (kid, key) in &file.keys {
            let bytes = b64_decode(key)
                .with_context(|| format!("master key {kid} in {source} is not base64url"))?;
            let key = aes_key(&bytes).with_context(|| format!("master key {kid} in {source}"))?;
            keys.insert(kid.clone(), key);
        }
        if !keys.contains_key(&file.active) {
            bail!(
                "the active master key {} is not in the key set of {source}",
                file.active
            );
        }
        Ok(MasterKeys {
            active: file.active,
            keys,
            rng: SystemRandom::new(),
        })
    }

    /// Creates the key file with one new master key; never replaces an existing file.
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let kid = new_master_kid();
        let file = MasterKeyFile {
            active: kid.clone(),
            keys: BTreeMap::from([(kid, random_key_b64(&SystemRandom::new()))]),
        };
        write_new_secret_file(path, &serde_json::to_string_pretty(&file)?)?;
        Self::load(None, path)
    }

    /// Loads the file, creating it when it does not exist (tools and tests).
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if path.exists() {
            Self::load(None, path)
        } else {
            Self::create(path)
        }
    }

    pub fn rotate(path: &Path) -> anyhow::Result<String> {
        Self::load(None, path)?;
        let text = read_key_file(path, "master key")?;
        let mut file: MasterKeyFile = serde_json::from_str(&text)?;
        let kid = new_master_kid();
        file.keys
            .insert(kid.clone(), random_key_b64(&SystemRandom::new()));
        file.active = kid.clone();
        write_secret_file(path, &serde_json::to_string_pretty(&file)?)?;
        Ok(kid)
    }

    /// The id of the key that wraps new data keys.
    pub fn active_kid(&self) -> &str {
        &self.active
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// A fresh data key for a new passport: (master key id, wrapped key).
    pub fn new_data_key(&self, passport_id: &PassportId) -> (String, Vec<u8>) {
        let mut raw = [0u8; 32];
        self.rng.fill(&mut raw).expect("system randomness");
        let wrapped = seal_with(
            &self.keys[&self.active],
            &self.rng,
            passport_id.as_str().as_bytes(),
            &raw,
        );
        (self.active.clone(), wrapped)
    }

    pub fn unwrap(
        &self,
        master_kid: &str,
        passport_id: &PassportId,
        wrapped: &[u8],
    ) -> anyhow::Result<DataKey> {
        let master = self
            .keys
            .get(master_kid)
            .with_context(|| format!("master key {master_kid} is not configured"))?;
        let raw = open_with(master, passport_id.as_str().as_bytes(), wrapped)
            .context("data key does not unwrap")?;
        Ok(DataKey(aes_key(&raw)?))
    }

    pub fn rng(&self) -> &SystemRandom {
        &self.rng
    }
}

impl DataKey {
    /// `aad` binds the ciphertext to where it is stored, so it cannot be moved to another record.
    pub fn seal(&self, rng: &SystemRandom, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        seal_with(&self.0, rng, aad, plaintext)
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        open_with(&self.0, aad, sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_key_round_trip_and_binding() {
        let dir = std::env::temp_dir().join(format!("wp-mk-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let master = MasterKeys::create(&dir.join("mk.json")).unwrap();
        let (p1, p2) = (PassportId::nth(1), PassportId::nth(2));
        let (kid, wrapped) = master.new_data_key(&p1);
        let key = master.unwrap(&kid, &p1, &wrapped).unwrap();
        assert!(
            master.unwrap(&kid, &p2, &wrapped).is_err(),
            "wrapped key is bound to its passport"
        );
        let sealed = key.seal(master.rng(), b"p1/r1/1", b"secret");
        assert_eq!(key.open(b"p1/r1/1", &sealed).unwrap(), b"secret");
        assert!(
            key.open(b"p1/r1/2", &sealed).is_none(),
            "ciphertext is bound to its place"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn master_key_ids_are_unique_and_files_never_replaced() {
        let dir = std::env::temp_dir().join(format!("wp-mk-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.json"), dir.join("b.json"));
        let first = MasterKeys::create(&a).unwrap().active_kid().to_owned();
        let second = MasterKeys::create(&b).unwrap().active_kid().to_owned();
        assert_ne!(
            first, second,
            "two installations never share a master key id"
        );
        let rotated = MasterKeys::rotate(&a).unwrap();
        assert!(rotated != first && rotated != second);
        assert!(
            MasterKeys::create(&a).is_err(),
            "an existing key file is kept"
        );
        let reloaded = MasterKeys::load(None, &a).unwrap();
        assert!(reloaded.contains(&first) && reloaded.active_kid() == rotated);
        assert!(
            ServerKeys::create(&a, Timestamp::EPOCH).is_err(),
            "an existing key file is kept"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
