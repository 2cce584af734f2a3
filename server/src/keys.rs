//! The server's key material: the keys that sign access tokens and checkpoints (published in the
//! JWKS), and the master keys that wrap each passport's data key (AES-256-GCM, ring).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use wp_schemas::jose::{PublicJwk, SigningKey, b64, b64_decode};

/// How long a retired signing key stays published: longer than any token it signed lives.
pub const RETIRED_KEY_GRACE_SECS: i64 = 20 * 60;

/// Writes a secret file readable by its owner only, atomically (write then rename).
pub fn write_secret_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
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
    /// Loads the key file, creating it with a fresh key when it does not exist.
    pub fn load_or_create(path: &Path, now: i64) -> anyhow::Result<Self> {
        if !path.exists() {
            let file = SigningKeyFile {
                keys: vec![StoredSigningKey {
                    jwk: serde_json::from_str(&SigningKey::generate().to_json())?,
                    created_at: now,
                    retired_at: None,
                }],
            };
            write_secret_file(path, &serde_json::to_string_pretty(&file)?)?;
        }
        Self::load(path)
    }

    fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading signing keys {}", path.display()))?;
        let file: SigningKeyFile = serde_json::from_str(&text).context("parsing signing keys")?;
        let mut keys = file.keys.iter().map(|stored| {
            let key = SigningKey::from_json(&stored.jwk.to_string())
                .map_err(|e| anyhow::anyhow!("signing key: {e}"))?;
            Ok::<_, anyhow::Error>((key, stored.retired_at))
        });
        let Some(first) = keys.next() else {
            bail!("{} holds no signing key", path.display())
        };
        let (active, _) = first?;
        let mut published = vec![published_key(&active, None)?];
        for key in keys {
            let (key, retired_at) = key?;
            published.push(published_key(&key, retired_at)?);
        }
        Ok(ServerKeys { active, published })
    }

    /// Puts a new active key in front and marks the old ones retired now.
    pub fn rotate(path: &Path, now: i64) -> anyhow::Result<String> {
        let text = std::fs::read_to_string(path)?;
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
    pub fn published(&self, now: i64) -> impl Iterator<Item = &PublishedKey> {
        self.published.iter().filter(move |k| {
            k.retired_at
                .is_none_or(|r| r + RETIRED_KEY_GRACE_SECS > now)
        })
    }

    pub fn find(&self, kid: &str, now: i64) -> Option<&PublishedKey> {
        self.published(now)
            .find(|k| k.jwk.kid.as_deref() == Some(kid))
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

impl MasterKeys {
    /// From inline JSON if given, else from the file, creating the file when it does not exist.
    pub fn load(inline: Option<&str>, path: &Path) -> anyhow::Result<Self> {
        let text = match inline {
            Some(text) => text.to_owned(),
            None => {
                if !path.exists() {
                    let rng = SystemRandom::new();
                    let file = MasterKeyFile {
                        active: "mk1".into(),
                        keys: BTreeMap::from([("mk1".into(), random_key_b64(&rng))]),
                    };
                    write_secret_file(path, &serde_json::to_string_pretty(&file)?)?;
                }
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading master keys {}", path.display()))?
            }
        };
        let file: MasterKeyFile = serde_json::from_str(&text).context("parsing master keys")?;
        let mut keys = BTreeMap::new();
        for (kid, key) in &file.keys {
            let bytes = b64_decode(key).context("master key is not base64url")?;
            keys.insert(kid.clone(), aes_key(&bytes)?);
        }
        if !keys.contains_key(&file.active) {
            bail!(
                "the active master key {} is not in the key set",
                file.active
            );
        }
        Ok(MasterKeys {
            active: file.active,
            keys,
            rng: SystemRandom::new(),
        })
    }

    pub fn rotate(path: &Path) -> anyhow::Result<String> {
        let text = std::fs::read_to_string(path)?;
        let mut file: MasterKeyFile = serde_json::from_str(&text)?;
        let kid = format!("mk{}", file.keys.len() + 1);
        file.keys
            .insert(kid.clone(), random_key_b64(&SystemRandom::new()));
        file.active = kid.clone();
        write_secret_file(path, &serde_json::to_string_pretty(&file)?)?;
        Ok(kid)
    }

    /// A fresh data key for a new passport: (master key id, wrapped key).
    pub fn new_data_key(&self, passport_id: &str) -> (String, Vec<u8>) {
        let mut raw = [0u8; 32];
        self.rng.fill(&mut raw).expect("system randomness");
        let wrapped = seal_with(
            &self.keys[&self.active],
            &self.rng,
            passport_id.as_bytes(),
            &raw,
        );
        (self.active.clone(), wrapped)
    }

    pub fn unwrap(
        &self,
        master_kid: &str,
        passport_id: &str,
        wrapped: &[u8],
    ) -> anyhow::Result<DataKey> {
        let master = self
            .keys
            .get(master_kid)
            .with_context(|| format!("master key {master_kid} is not configured"))?;
        let raw = open_with(master, passport_id.as_bytes(), wrapped)
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
        let master = MasterKeys::load(None, &dir.join("mk.json")).unwrap();
        let (kid, wrapped) = master.new_data_key("p1");
        let key = master.unwrap(&kid, "p1", &wrapped).unwrap();
        assert!(
            master.unwrap(&kid, "p2", &wrapped).is_err(),
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
}
