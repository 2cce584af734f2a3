//! An independent verifier of the committed sample bundle, written from `docs/BUNDLE.md` (and
//! the PROTOCOL.md sections it refers to) alone: it proves the document is enough. Nothing here
//! uses the project's code: signatures are checked with `ed25519-dalek`, hashes with `sha2`,
//! and the canonical JSON and the log hash are written out by hand.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/bundle-v2.json");

fn h(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

fn unb64(text: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD.decode(text).map_err(|e| e.to_string())
}

/// A JSON string as BUNDLE.md §3 and PROTOCOL.md §10 write it.
fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// RFC 8785 for a document without fractional numbers (BUNDLE.md §3).
fn canonical(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.as_i64().expect("integers only").to_string(),
        Value::String(s) => string(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(members) => {
            let mut names: Vec<&String> = members.keys().collect();
            names.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            let parts: Vec<String> = names
                .into_iter()
                .map(|n| format!("{}:{}", string(n), canonical(&members[n])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
    }
}

/// A compact JWS: its header and payload as JSON, after checking the EdDSA signature with `x`.
fn jws(compact: &str, x: &str) -> Result<(Value, Value), String> {
    let parts: Vec<&str> = compact.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err("not three parts".into());
    };
    let key: [u8; 32] = unb64(x)?.try_into().map_err(|_| "key length")?;
    let key = VerifyingKey::from_bytes(&key).map_err(|e| e.to_string())?;
    let signature = Signature::from_slice(&unb64(signature)?).map_err(|e| e.to_string())?;
    key.verify_strict(format!("{header}.{payload}").as_bytes(), &signature)
        .map_err(|_| "bad signature".to_owned())?;
    let json = |part: &str| -> Result<Value, String> {
        serde_json::from_slice(&unb64(part)?).map_err(|e| e.to_string())
    };
    Ok((json(header)?, json(payload)?))
}

fn header_kid(compact: &str) -> Result<String, String> {
    let header: Value = serde_json::from_slice(&unb64(compact.split('.').next().unwrap_or(""))?)
        .map_err(|e| e.to_string())?;
    Ok(header["kid"].as_str().unwrap_or_default().to_owned())
}

/// Every check of BUNDLE.md §4, the first failure as the error.
fn verify(bundle: &Value) -> Result<(), String> {
    if bundle["format"] != "work-passport-bundle/2" {
        return Err("format".into());
    }
    let body = &bundle["body"];
    let pid = body["passport_id"].as_str().ok_or("passport_id")?;
    // Each party's keys, by kid (x, revoked_at as RFC 3339 text).
    let mut keys: HashMap<(&str, &str), (&str, Option<&str>)> = HashMap::new();
    for party in body["parties"].as_array().ok_or("parties")? {
        let id = party["id"].as_str().ok_or("party id")?;
        for key in party["keys"].as_array().ok_or("keys")? {
            keys.insert(
                (id, key["kid"].as_str().ok_or("kid")?),
                (
                    key["jwk"]["x"].as_str().ok_or("x")?,
                    key["revoked_at"].as_str(),
                ),
            );
        }
    }

    // 2: the owner's signature over the canonical body.
    let signature = bundle["owner_signature"]
        .as_str()
        .ok_or("no owner_signature")?;
    let owner = body["owner"].as_str().ok_or("owner")?;
    let kid = header_kid(signature)?;
    let (x, revoked) = keys.get(&(owner, kid.as_str())).ok_or("owner key")?;
    if revoked.is_some() {
        return Err("owner key revoked".into());
    }
    let (header, claims) = jws(signature, x).map_err(|e| format!("owner signature: {e}"))?;
    if header["typ"] != "wp-bundle+jws" || claims["passport"] != pid || claims["owner"] != owner {
        return Err("owner signature claims".into());
    }
    if claims["digest"] != h(canonical(body).as_bytes()).as_str() {
        return Err("owner signature digest".into());
    }

    // 7: the server's attestation over the same digest, by the key named by its thumbprint.
    let attestation = bundle["attestation"].as_str().ok_or("no attestation")?;
    let attested_by = header_kid(attestation)?;
    let server_key = body["server_keys"]
        .as_array()
        .ok_or("server_keys")?
        .iter()
        .find(|k| k["kid"] == attested_by.as_str())
        .ok_or("attestation key")?;
    let x = server_key["x"].as_str().ok_or("x")?;
    let thumbprint = h(format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#).as_bytes());
    if thumbprint != attested_by {
        return Err("attestation kid".into());
    }
    let (header, claims) = jws(attestation, x).map_err(|e| format!("attestation: {e}"))?;
    if header["typ"] != "wp-bundle-attestation+jws"
        || claims["server"] != body["server"]
        || claims["passport"] != pid
        || claims["owner"] != owner
    {
        return Err("attestation claims".into());
    }
    if claims["digest"] != h(canonical(body).as_bytes()).as_str() {
        return Err("attestation digest".into());
    }

    // 3 and 4: every version and every record's chain; the history hash.
    let mut head = h(format!("work-passport/history/{pid}").as_bytes());
    let mut records: HashMap<String, (i64, String)> = HashMap::new();
    for (i, v) in body["versions"]
        .as_array()
        .ok_or("versions")?
        .iter()
        .enumerate()
    {
        let compact = v["jws"].as_str().ok_or("jws")?;
        let hash = h(compact.as_bytes());
        if v["seq"] != i as i64 + 1 || v["hash"] != hash.as_str() {
            return Err(format!("version at {i}: seq or hash"));
        }
        let author = v["author"].as_str().ok_or("author")?;
        let kid = header_kid(compact)?;
        let (x, revoked) = keys.get(&(author, kid.as_str())).ok_or("author key")?;
        if let Some(revoked) = revoked
            && v["created_at"].as_str().unwrap_or_default() > *revoked
        {
            return Err("signed after revocation".into());
        }
        let (header, payload) = jws(compact, x).map_err(|e| format!("version {i}: {e}"))?;
        if header["typ"] != "wp-version+jws" {
            return Err("version typ".into());
        }
        for (p, e) in [
            ("record", "record_id"),
            ("section", "section"),
            ("version", "version"),
            ("author", "author"),
        ] {
            if payload[p] != v[e] {
                return Err(format!("version {i}: {p}"));
            }
        }
        if payload["passport"] != pid
            || payload["deleted"].as_bool().unwrap_or(false) != v["deleted"]
        {
            return Err(format!("version {i}: passport or deleted"));
        }
        let record = v["record_id"].as_str().ok_or("record")?.to_owned();
        let number = v["version"].as_i64().ok_or("version")?;
        match records.get(&record) {
            None if number == 1 && payload.get("prev").is_none() => {}
            Some((n, prev)) if number == n + 1 && payload["prev"] == prev.as_str() => {}
            _ => return Err(format!("version {i}: chain")),
        }
        records.insert(record, (number, hash.clone()));
        head = h(format!("{head}.{hash}").as_bytes());
    }

    // 5: the access log's chain (PROTOCOL.md §10).
    let mut prev = h(format!("work-passport/access-log/{pid}").as_bytes());
    let log = body["access_log"].as_array().ok_or("access_log")?;
    for (i, e) in log.iter().enumerate() {
        let at = chrono::DateTime::parse_from_rfc3339(e["at"].as_str().ok_or("at")?)
            .map_err(|e| e.to_string())?
            .timestamp();
        let opt = |v: &Value| v.as_str().map_or("null".to_owned(), string);
        let sections: Vec<String> = e["sections"]
            .as_array()
            .ok_or("sections")?
            .iter()
            .map(|s| string(s.as_str().unwrap_or_default()))
            .collect();
        let mut text = format!(
            "[{},{},{at},{},{},{},[{}],{},{},{}",
            string(pid),
            e["seq"],
            opt(&e["actor"]),
            opt(&e["grant_id"]),
            opt(&e["action"]),
            sections.join(","),
            opt(&e["outcome"]),
            opt(&e["reason"]),
            string(&prev)
        );
        if let Some(o) = e.get("on_behalf_of") {
            text.push_str(&format!(
                ",[{},{}]",
                opt(&o["organisation"]),
                opt(&o["role"])
            ));
        }
        text.push(']');
        if e["seq"] != i as i64 + 1
            || e["prev_hash"] != prev.as_str()
            || e["hash"] != h(text.as_bytes()).as_str()
        {
            return Err(format!("log entry {}", i + 1));
        }
        prev = h(text.as_bytes());
    }

    // 6: the server's checkpoint over both.
    let checkpoint = body["checkpoint"].as_str().ok_or("checkpoint")?;
    let kid = header_kid(checkpoint)?;
    let server_key = body["server_keys"]
        .as_array()
        .ok_or("server_keys")?
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .ok_or("checkpoint key")?;
    let (header, claims) = jws(checkpoint, server_key["x"].as_str().ok_or("x")?)
        .map_err(|e| format!("checkpoint: {e}"))?;
    let seq = body["versions"].as_array().map_or(0, Vec::len) as i64;
    if header["typ"] != "wp-checkpoint+jws"
        || claims["passport"] != pid
        || claims["seq"] != seq
        || claims["head"] != head.as_str()
        || claims["log_seq"] != log.len() as i64
        || claims["log_head"] != prev.as_str()
    {
        return Err("checkpoint claims".into());
    }
    Ok(())
}

#[test]
fn the_sample_bundle_verifies_by_the_document_alone() {
    let bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(FIXTURE).expect("the sample")).unwrap();
    verify(&bundle).unwrap();

    // And each kind of damage is caught here too.
    let mut damaged = bundle.clone();
    damaged["body"]["grants"][0]["consent_text"] = Value::from("I agree to everything.");
    assert_eq!(verify(&damaged), Err("owner signature digest".into()));
    let mut damaged = bundle.clone();
    damaged["owner_signature"] = bundle["body"]["checkpoint"].clone();
    assert!(verify(&damaged).is_err());
    // An attestation taken from elsewhere (here: the checkpoint, by the same key) is caught.
    let mut damaged = bundle.clone();
    damaged["attestation"] = bundle["body"]["checkpoint"].clone();
    assert!(verify(&damaged).is_err());
    // Check 8, whose key it is: the sample's server published this key (a copy of its JWKS).
    let attested_by = header_kid(bundle["attestation"].as_str().unwrap()).unwrap();
    let published: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/bundle-v2.jwks.json"
        ))
        .expect("the sample server's JWKS"),
    )
    .unwrap();
    assert!(published["keys"].as_array().unwrap().iter().any(|k| {
        let x = k["x"].as_str().unwrap();
        h(format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#).as_bytes()) == attested_by
    }));
}
