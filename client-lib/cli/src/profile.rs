//! A profile directory: one party's private key, public key and a small JSON config.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use wp_schemas::api::PartyKind;

use wp_client::{Client, SigningKey, keys};

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";
const KEY_FILE: &str = "key.jwk";
const PUBLIC_FILE: &str = "public.jwk";
const CONFIG_FILE: &str = "config.json";

/// What a profile remembers between commands (never the key itself).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PartyKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passport_id: Option<String>,
}

pub struct Profile {
    pub dir: PathBuf,
    pub config: Config,
    /// `--server` / `WP_SERVER`, which wins over the saved one.
    server_override: Option<String>,
}

impl Profile {
    /// `dir`, or `~/.work-passport/<name>`.
    pub fn open(dir: Option<PathBuf>, name: &str, server: Option<String>) -> Result<Self> {
        let dir = match dir {
            Some(d) => d,
            None => {
                let home = std::env::var_os("HOME")
                    .or_else(|| std::env::var_os("USERPROFILE"))
                    .ok_or_else(|| anyhow!("no home directory: pass --profile-dir"))?;
                PathBuf::from(home).join(".work-passport").join(name)
            }
        };
        let path = dir.join(CONFIG_FILE);
        let config = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid profile config", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config::default(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(Profile {
            dir,
            config,
            server_override: server.filter(|s| !s.is_empty()),
        })
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    pub fn public_path(&self) -> PathBuf {
        self.dir.join(PUBLIC_FILE)
    }

    pub fn server(&self) -> String {
        self.server_override
            .clone()
            .or_else(|| self.config.server.clone())
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned())
    }

    /// Creates the directory, owner-only.
    pub fn create_dir(&self) -> Result<()> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&self.dir)
            .with_context(|| format!("creating profile directory {}", self.dir.display()))
    }

    pub fn key(&self) -> Result<SigningKey> {
        let path = self.key_path();
        if !path.exists() {
            bail!(
                "no key in profile {}: run `wp keygen` first",
                self.dir.display()
            );
        }
        Ok(keys::load(&path)?)
    }

    pub fn party_id(&self) -> Result<&str> {
        self.config.party_id.as_deref().ok_or_else(|| {
            anyhow!(
                "profile {} has no party id yet: run `wp register --name ...` (employees) or \
                 `wp login-as --party-id ...` (enrolled employers, professionals, admins)",
                self.dir.display()
            )
        })
    }

    /// A client signing as this profile's party.
    pub fn client(&self) -> Result<Client> {
        let key = self.key()?;
        Ok(Client::for_party(&self.server(), key, self.party_id()?))
    }

    /// Writes a public JWK file (readable by others: it holds no secret).
    pub fn write_public(&self, key: &SigningKey) -> Result<()> {
        let text = serde_json::to_string_pretty(key.public_jwk())? + "\n";
        write_atomic(&self.public_path(), text.as_bytes(), 0o644)
    }

    pub fn save(&self) -> Result<()> {
        self.create_dir()?;
        let text = serde_json::to_string_pretty(&self.config)? + "\n";
        write_atomic(&self.dir.join(CONFIG_FILE), text.as_bytes(), 0o600)
    }
}

/// Writes `path` through a temporary file and a rename, so it is never half written.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    wp_schemas::files::replace(path, bytes, mode)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
