//! Export bundles (docs/BUNDLE.md): a whole passport in one JSON document, signed by the server
//! (its checkpoint) and by its owner, that anyone can check with no server ([`verify`]) and
//! that the owner can move to another server ([`crate::Client::import_passport`]).
//!
//! The checks are `wp_schemas::bundle`'s, the same ones the importing server runs; a version
//! is checked with the rule every reader uses (`wp_schemas::verify::version`, which
//! [`crate::verify`] applies to what a server sends).

use std::time::Duration;

use serde_json::Value;
pub use wp_schemas::bundle::{
    BUNDLE_FORMAT, BUNDLE_FORMAT_V1, Bundle, BundleBody, Report, body_digest, check_origin,
    check_origin_thumbprint,
};
use wp_schemas::jose::PublicJwk;
use wp_schemas::paths;

use crate::error::{ClientError, Result};
use crate::passport::PassportClient;
use crate::{Client, SigningKey, proofs};

/// Checks a bundle with no server: every version's signature by its author's key valid at the
/// time, every record's chain, the history against the server's checkpoint, the access log's
/// chain and end, and the owner's signature over the whole body. The report says in plain words
/// what the bundle proves, and what failed.
pub fn verify(bundle: &Value) -> Report {
    wp_schemas::bundle::verify(bundle)
}

/// The keys a server publishes (`/.well-known/jwks.json` under its public URL `server`), to
/// compare a bundle's attestation key with ([`check_origin`]). No redirects are followed (the
/// keys must come from that server), and the document may not exceed 64 KiB.
pub async fn fetch_server_keys(server: &str) -> Result<Vec<PublicJwk>> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?;
    fetch_keys_with(&http, server).await
}

async fn fetch_keys_with(http: &reqwest::Client, server: &str) -> Result<Vec<PublicJwk>> {
    const MAX_BYTES: usize = 64 * 1024;
    let url = format!("{}{}", server.trim_end_matches('/'), paths::JWKS);
    let mut response = http.get(&url).send().await?;
    if !response.status().is_success() {
        return Err(ClientError::Protocol(format!(
            "{url} answered {}",
            response.status()
        )));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_BYTES {
            return Err(ClientError::Protocol(format!(
                "{url} is larger than {MAX_BYTES} bytes"
            )));
        }
    }
    server_keys_of(
        &serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Protocol(format!("{url} is not JSON: {e}")))?,
    )
}

/// The Ed25519 keys of a JWKS document (`{"keys": [...]}`), by their key bytes.
pub fn server_keys_of(jwks: &Value) -> Result<Vec<PublicJwk>> {
    wp_schemas::jose::ed25519_keys_of(jwks)
        .ok_or_else(|| ClientError::Protocol("not a JWKS: it has no keys".into()))
}

/// Adds the owner's signature (with `key`, now) to a bundle as the server answered it.
pub fn cosign(bundle: &mut Value, key: &SigningKey) -> Result<()> {
    let signature = wp_schemas::bundle::sign(bundle, key, proofs::now())
        .map_err(|e| ClientError::Protocol(format!("the export is not a bundle: {e}")))?;
    match bundle.as_object_mut() {
        Some(object) => {
            object.insert("owner_signature".into(), Value::String(signature));
            Ok(())
        }
        None => Err(ClientError::Protocol(
            "the export is not a JSON object".into(),
        )),
    }
}

/// The FHIR R4 view of a bundle (docs/FHIR.md), made here with no server; only from a bundle
/// that verifies, so every Provenance in it carries a signature that checked.
pub fn fhir(bundle: &Value) -> Result<Value> {
    let report = verify(bundle);
    if !report.is_sound() {
        return Err(ClientError::Verification(format!(
            "the bundle does not verify: {}",
            report.failures.join("; ")
        )));
    }
    let bundle: Bundle = serde_json::from_value(bundle.clone())
        .map_err(|e| ClientError::Protocol(format!("the bundle cannot be read: {e}")))?;
    wp_schemas::fhir::from_bundle(&bundle).map_err(ClientError::Protocol)
}

impl PassportClient<'_> {
    /// The FHIR R4 view of the whole passport (docs/FHIR.md), as the server makes it from the
    /// export: for health systems. It is not signed as a whole; each Provenance carries its
    /// version's original JWS. The owner only; logged as an export.
    pub async fn export_fhir(&self) -> Result<Value> {
        let fhir: Value = self
            .get(&format!("{}?format=fhir", paths::passport_export(&self.id)))
            .await?;
        let names_this_passport = fhir["resourceType"] == "Bundle"
            && fhir["identifier"]["value"].as_str() == Some(self.id.as_str());
        if !names_this_passport {
            return Err(ClientError::Verification(
                "the server's FHIR export is not a Bundle of this passport".into(),
            ));
        }
        Ok(fhir)
    }

    /// The whole passport as the server exports it, checked and signed by its owner (this
    /// client's key): ready to keep, to give to anyone who should check it, or to import into
    /// another server. Refused (nothing is signed) if anything the server sent does not verify.
    pub async fn export(&self) -> Result<Value> {
        let mut bundle: Value = self.get(&paths::passport_export(&self.id)).await?;
        let body = bundle.get("body");
        let said = |name: &str| body.and_then(|b| b.get(name)).and_then(Value::as_str);
        if said("passport_id") != Some(self.id.as_str())
            || said("owner") != Some(self.client().party_id()?)
        {
            return Err(ClientError::Verification(
                "the server exported another passport, or another owner's".into(),
            ));
        }
        cosign(&mut bundle, self.client().key())?;
        let mut report = verify(&bundle);
        // The attestation must be by a key this server publishes: the one the owner is shown.
        let published = fetch_keys_with(self.client().http(), self.client().base_url()).await?;
        check_origin(
            &mut report,
            &published,
            "fetched from it when the passport was exported",
        );
        if !report.is_sound() {
            return Err(ClientError::Verification(format!(
                "the export does not verify: {}",
                report.failures.join("; ")
            )));
        }
        Ok(bundle)
    }
}

impl Client {
    /// As an employee registered here with the key that signed `bundle` as its owner: continues
    /// the passport on this server. Answers the passport (same id, this party as owner).
    ///
    /// This server checks the bundle's attestation against the keys its exporting server
    /// publishes when it trusts that server; otherwise it refuses (`origin-unverified`) unless
    /// `acknowledge_unverified_origin`: the owner knows where the file came from, and the log
    /// will say its origin could not be checked.
    pub async fn import_passport(
        &self,
        bundle: &Value,
        acknowledge_unverified_origin: bool,
    ) -> Result<wp_schemas::api::PassportInfo> {
        let path = if acknowledge_unverified_origin {
            format!(
                "{}?acknowledge_unverified_origin=true",
                paths::PASSPORT_IMPORT
            )
        } else {
            paths::PASSPORT_IMPORT.to_owned()
        };
        self.call(reqwest::Method::POST, &path, None, Some(bundle))
            .await
    }
}
