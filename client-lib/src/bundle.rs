//! Export bundles (docs/BUNDLE.md): a whole passport in one JSON document, signed by the server
//! (its checkpoint) and by its owner, that anyone can check with no server ([`verify`]) and
//! that the owner can move to another server ([`crate::Client::import_passport`]).
//!
//! The checks are `wp_schemas::bundle`'s, the same ones the importing server runs; a version
//! is checked with the rule every reader uses (`wp_schemas::verify::version`, which
//! [`crate::verify`] applies to what a server sends).

use serde_json::Value;
pub use wp_schemas::bundle::{BUNDLE_FORMAT, Bundle, BundleBody, Report, body_digest};

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
        let fhir: Value = self.get("/export?format=fhir").await?;
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
        let mut bundle: Value = self.get("/export").await?;
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
        let report = verify(&bundle);
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
    pub async fn import_passport(&self, bundle: &Value) -> Result<wp_schemas::api::PassportInfo> {
        self.call(
            reqwest::Method::POST,
            "/v1/passports/import",
            None,
            Some(bundle),
        )
        .await
    }
}
