//! What the pieces of a request cost on this machine, measured in the same run (PRODUCT.md 4b),
//! one call after another on the idle server's database with the server's own code: they
//! explain the load figures; they are not load figures.

use std::future::Future;
use std::time::Instant;

use serde::Serialize;
use wp_schemas::api::{CHECKPOINT_TYP, CheckpointClaims};
use wp_schemas::jose::{CompactJws, KeyRef};
use wp_server::Store;
use wp_server::domain::auth;
use wp_server::keys::MasterKeys;
use wp_server::vault;

#[derive(Debug, Clone, Serialize)]
pub struct UnitCost {
    pub what: &'static str,
    pub mean_us: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnitCosts {
    pub iterations: usize,
    pub costs: Vec<UnitCost>,
}

/// A passport, a party's key and token to measure with.
pub struct Sample<'a> {
    pub issuer: &'a str,
    pub data_dir: &'a std::path::Path,
    pub passport: &'a str,
    pub key: &'a wp_client::SigningKey,
    pub token: &'a str,
}

async fn time<T, F: Future<Output = anyhow::Result<T>>>(
    n: usize,
    mut f: impl FnMut(usize) -> F,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    for i in 0..n {
        f(i).await?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64)
}

fn e(err: wp_server::error::Error) -> anyhow::Error {
    anyhow::anyhow!("{err}")
}

pub async fn measure(store: &Store, s: &Sample<'_>, n: usize) -> anyhow::Result<UnitCosts> {
    let now = wp_server::clock::now();
    let master = MasterKeys::load(None, &s.data_dir.join("master-keys.json"))?;
    let htu = format!("{}/v1/passports/{}", s.issuer, s.passport);
    let proof = wp_client::proofs::dpop(s.key, "GET", &htu, Some(s.token));
    let public = s.key.public_jwk().key_bytes()?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut costs = Vec::new();

    let us = time(n, |_| async {
        CompactJws::parse(&proof)?.verify_raw(&public)?;
        Ok(())
    })
    .await?;
    costs.push(UnitCost {
        what: "one Ed25519 verification (ring), with the compact JWS parse",
        mean_us: us,
    });
    let us = time(n, |_| async {
        auth::verify_dpop(&proof, "GET", &htu, Some(s.token), now)?;
        Ok(())
    })
    .await?;
    costs.push(UnitCost {
        what: "a DPoP proof checked (auth::verify_dpop: JSON, Ed25519, thumbprint, ath)",
        mean_us: us,
    });
    let us = time(n, |_| async {
        Ok(s.key.sign_json(
            CHECKPOINT_TYP,
            KeyRef::Kid,
            &CheckpointClaims {
                passport: s.passport.to_owned(),
                seq: 1,
                head: "x".repeat(43),
                iat: now.secs(),
                log_seq: None,
                log_head: None,
            },
        ))
    })
    .await?;
    costs.push(UnitCost {
        what: "one Ed25519 signature (josekit), as a sync's checkpoint",
        mean_us: us,
    });
    let passport: wp_tests::PassportId = wp_tests::id(s.passport);
    let rows = store.live_heads(&passport).await.map_err(e)?;
    let row = rows
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("an empty passport"))?;
    let key = vault::data_key(store, &master, &passport)
        .await
        .map_err(e)?
        .ok_or_else(|| anyhow::anyhow!("no data key"))?;
    let us = time(n, |_| {
        let row = row.clone();
        let (key, passport) = (&key, &passport);
        async move { vault::open(key, passport, row).map_err(e) }
    })
    .await?;
    costs.push(UnitCost {
        what: "one version decrypted (AES-256-GCM)",
        mean_us: us,
    });
    let us = time(n, |_| async { store.passport(&passport).await.map_err(e) }).await?;
    costs.push(UnitCost {
        what: "one SELECT by primary key (store.passport)",
        mean_us: us,
    });
    let us = time(n, |_| async {
        store.live_heads(&passport).await.map_err(e)
    })
    .await?;
    costs.push(UnitCost {
        what: "the live heads of a typical passport (store.live_heads, all sections)",
        mean_us: us,
    });
    let us = time(n, |i| {
        let jti = format!("bench:{run}:{i}");
        async move { store.use_jti(&jti, now + 130).await.map_err(e) }
    })
    .await?;
    costs.push(UnitCost {
        what: "one durable commit: an autocommit INSERT (store.use_jti)",
        mean_us: us,
    });
    Ok(UnitCosts {
        iterations: n,
        costs,
    })
}
