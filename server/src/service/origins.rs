//! Whose server keys count when a bundle is imported (docs/BUNDLE.md section 5): the servers
//! the operator trusts, and their published keys, fetched when a bundle from one arrives.
//!
//! Only the origins the operator named are ever fetched (no address a bundle chooses is
//! contacted: a bundle names its server, and an importing server must not be made to request
//! arbitrary URLs), over HTTPS unless the operator allows HTTP for tests, with no redirects,
//! a short time limit and a size limit.

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::Url;
use serde_json::Value;
use wp_schemas::jose::PublicJwk;
use wp_schemas::paths;

/// Longest time a fetch of an origin's keys may take, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest JWKS document read from an origin.
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// What the operator trusts, and the HTTP client that asks (made at the first import that
/// needs it, not at every start: most servers never fetch).
pub struct Origins {
    trusted: Vec<Url>,
    http: std::sync::OnceLock<reqwest::Client>,
}

/// What an origin's keys are, as far as this server could find out.
pub enum OriginKeys {
    /// Its published keys, fetched just now from a trusted origin.
    Published(Vec<PublicJwk>),
    /// They could not be checked: why, in words.
    Unchecked(String),
}

impl Origins {
    /// The trusted origins from the settings; an `http://` one only if `allow_http`.
    pub fn new(trusted: &[String], allow_http: bool) -> anyhow::Result<Self> {
        let mut urls = Vec::new();
        for text in trusted.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            let url = normalise(text).with_context(|| format!("--trusted-origin {text:?}"))?;
            match url.scheme() {
                "https" => {}
                "http" if allow_http => {}
                "http" => bail!(
                    "--trusted-origin {text:?} is http://: keys fetched over plain HTTP can be \
                     replaced on the way; use https://, or --allow-http-origins for tests"
                ),
                other => bail!("--trusted-origin {text:?}: {other}:// is not http(s)"),
            }
            urls.push(url);
        }
        Ok(Origins {
            trusted: urls,
            http: std::sync::OnceLock::new(),
        })
    }

    fn http(&self) -> anyhow::Result<&reqwest::Client> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .user_agent(concat!("work-passport/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client for origins")?;
        Ok(self.http.get_or_init(|| http))
    }

    /// The published keys of `server` (a bundle's `body.server`), if the operator trusts it
    /// and it answers; otherwise why not.
    pub async fn published_keys(&self, server: &str) -> OriginKeys {
        let Some(url) = normalise(server)
            .ok()
            .filter(|u| self.trusted.iter().any(|t| t == u))
        else {
            return OriginKeys::Unchecked(format!(
                "this server is not set to trust {server} (its operator names the servers it \
                 checks bundles against)"
            ));
        };
        match self.fetch(&url).await {
            Ok(keys) => OriginKeys::Published(keys),
            Err(e) => OriginKeys::Unchecked(format!("{server} could not be reached: {e:#}")),
        }
    }

    async fn fetch(&self, origin: &Url) -> anyhow::Result<Vec<PublicJwk>> {
        let url = format!("{}{}", origin.as_str().trim_end_matches('/'), paths::JWKS);
        let mut response = self.http()?.get(&url).send().await.context("no answer")?;
        if !response.status().is_success() {
            bail!("its keys answered {}", response.status());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.context("reading its keys")? {
            if bytes.len() + chunk.len() > MAX_JWKS_BYTES {
                bail!("its keys are larger than {MAX_JWKS_BYTES} bytes");
            }
            bytes.extend_from_slice(&chunk);
        }
        let jwks: Value = serde_json::from_slice(&bytes).context("its keys are not JSON")?;
        wp_schemas::jose::ed25519_keys_of(&jwks).context("its keys are not a JWKS")
    }
}

/// A server's public URL in one form: parsed, without a trailing slash, so that
/// `https://A.example/` and `https://a.example` are one origin.
fn normalise(text: &str) -> anyhow::Result<Url> {
    let url = Url::parse(text.trim_end_matches('/')).context("not a URL")?;
    if url.cannot_be_a_base() || url.host().is_none() {
        bail!("not a server URL");
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        bail!("a server URL has no query, fragment or user");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_origins_unless_http_is_allowed() {
        assert!(Origins::new(&["https://a.example".into()], false).is_ok());
        assert!(Origins::new(&["http://127.0.0.1:8080".into()], false).is_err());
        assert!(Origins::new(&["http://127.0.0.1:8080".into()], true).is_ok());
        assert!(Origins::new(&["ftp://a.example".into()], true).is_err());
        assert!(Origins::new(&["https://u@a.example".into()], false).is_err());
    }

    #[tokio::test]
    async fn an_origin_not_trusted_is_never_fetched() {
        // Port 9 (discard) on loopback: nothing listens there, so a fetch fails at once.
        let origins = Origins::new(&["http://LOCALHOST:9/".into()], true).unwrap();
        // Not named by the operator: refused without a request.
        let OriginKeys::Unchecked(why) = origins.published_keys("http://127.0.0.1:9").await else {
            panic!("an untrusted origin was fetched");
        };
        assert!(why.contains("not set to trust"), "{why}");
        // The same origin spelled differently is the one trusted (and, unreachable, says so).
        let OriginKeys::Unchecked(why) = origins.published_keys("http://localhost:9").await else {
            panic!("nothing listens on port 9");
        };
        assert!(why.contains("could not be reached"), "{why}");
    }
}
