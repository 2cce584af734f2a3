//! Key files: an Ed25519 private JWK on disk, readable by its owner only.

use std::path::Path;

use wp_schemas::files;
use wp_schemas::jose::SigningKey;

use crate::error::{ClientError, Result};

/// Generates a key and writes it to `path` (mode 0600), refusing to overwrite a key.
pub fn generate(path: &Path) -> Result<SigningKey> {
    let key = SigningKey::generate();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    files::write_new(path, key.to_json().as_bytes(), files::OWNER_ONLY).map_err(|e| {
        ClientError::Other(format!("cannot create key file {}: {e}", path.display()))
    })?;
    Ok(key)
}

pub fn load(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ClientError::Other(format!("cannot read key file {}: {e}", path.display())))?;
    SigningKey::from_json(&text).map_err(|e| ClientError::Other(format!("{}: {e}", path.display())))
}
