//! Configuration: flags and environment variables, with defaults that run a complete server from
//! nothing but an empty directory.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "work-passport-server",
    version,
    about = "Work Passport: the employee-owned health and work passport service"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Start a new installation on purpose: an empty database with the key files already in
    /// the data directory (or new ones). `serve` refuses that combination, because it is also
    /// what a deleted database looks like. Does nothing to an installation that is in order.
    Init,
    /// Back up the running installation into a new directory: the database (SQLite: a
    /// consistent copy with VACUUM INTO; PostgreSQL: pg_dump) and the key files. A SQLite
    /// backup directory is a complete data directory: copy it back to restore.
    Backup {
        /// The directory to create for the backup (must not exist, or be empty).
        #[arg(long)]
        to: PathBuf,
    },
    /// Print a one-time link that makes whoever opens it first an admin, with a key made in
    /// their browser (the web pages' way to the first admin; `add-admin` is the key-file way).
    AdminLink {
        /// Hours until the link expires (1 to 72).
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(i64).range(1..=72))]
        hours: i64,
    },
    /// Register an admin party with the public key in a JWK file, and print its id.
    AddAdmin {
        /// A JWK file holding the admin's Ed25519 public key (a private JWK works too; only the
        /// public part is read).
        #[arg(long)]
        jwk_file: PathBuf,
        #[arg(long, default_value = "Administrator")]
        display_name: String,
    },
    /// Make a new token-signing key the active one. The old public key stays in the JWKS until
    /// the tokens it signed have expired.
    RotateSigningKey,
    /// Make a new master key the active one for newly created passports (existing data keys
    /// stay wrapped by the old one, which is kept).
    RotateMasterKey,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(
        long,
        global = true,
        env = "WP_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,

    /// Directory for the embedded database and the server's key material (created if missing).
    #[arg(long, global = true, env = "WP_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// `postgres://...` to run on PostgreSQL; defaults to a SQLite file in the data directory.
    #[arg(long, global = true, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// The URL clients use to reach this server: the token issuer, the audience of assertions,
    /// and the base of DPoP `htu`. Defaults to `http://<listen>` (`https://<listen>` with
    /// `--tls-cert`). The pages work only at an `https://` URL, or at `http://localhost`: browsers
    /// give their cryptography to secure origins only. Behind a reverse proxy that serves HTTPS,
    /// give the address people type, e.g. `https://passport.example.org`.
    #[arg(long, global = true, env = "WP_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Serve HTTPS with this certificate: a PEM file, the server's certificate first, then its
    /// intermediates (e.g. Let's Encrypt's `fullchain.pem`). Needs `--tls-key`. Read again when
    /// the file changes and on SIGHUP, so a renewed certificate needs no restart.
    #[arg(long, global = true, env = "WP_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// The certificate's private key, a PEM file (PKCS#8, PKCS#1 RSA or SEC1 EC; e.g. Let's
    /// Encrypt's `privkey.pem`).
    #[arg(long, global = true, env = "WP_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// How often to check whether the certificate or key file changed, in seconds (e.g. `60` or
    /// `60s`); 0: only on SIGHUP.
    #[arg(long, global = true, env = "WP_TLS_RELOAD_INTERVAL", default_value = "60", value_parser = parse_seconds)]
    pub tls_reload_interval: u64,

    /// `Strict-Transport-Security: max-age` in seconds, sent with every answer given over HTTPS
    /// (served directly, or at an `https://` public URL, or forwarded by a `--trusted-proxy` that
    /// says the client used HTTPS): browsers then refuse plain HTTP for this host for that long.
    /// 0 sends `max-age=0`, which makes browsers forget it.
    #[arg(
        long,
        global = true,
        env = "WP_HSTS_MAX_AGE",
        default_value_t = 31_536_000
    )]
    pub hsts_max_age: u64,

    /// Token-signing keys (a JSON file the server creates on first start). Every instance
    /// behind one load balancer must share it.
    #[arg(long, global = true, env = "WP_SIGNING_KEYS_FILE")]
    pub signing_keys_file: Option<PathBuf>,

    /// Master keys that wrap each passport's data key (a JSON file created on first start).
    #[arg(long, global = true, env = "WP_MASTER_KEYS_FILE")]
    pub master_keys_file: Option<PathBuf>,

    /// The master keys themselves as JSON, instead of a file (for production secrets stores).
    #[arg(long, global = true, env = "WP_MASTER_KEYS", hide_env_values = true)]
    pub master_keys: Option<String>,

    /// Database connections in the pool [default: 4 on SQLite, 16 on PostgreSQL]. SQLite has
    /// one writer and every connection keeps its own page cache: more connections cost memory
    /// and, measured on 2 cores, throughput too.
    #[arg(long, global = true, env = "WP_DB_CONNECTIONS")]
    pub db_connections: Option<u32>,

    /// Largest accepted request body, in bytes.
    #[arg(long, global = true, env = "WP_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Largest export bundle accepted by `POST /v1/passports/import`, in bytes.
    #[arg(long, global = true, env = "WP_MAX_BUNDLE_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_bundle_bytes: usize,

    /// A Work Passport server whose exported bundles this server may import with their origin
    /// checked: on import it fetches that server's `/.well-known/jwks.json` and requires the
    /// bundle's attestation key among them. Repeat the flag, or separate with commas. A bundle
    /// from any other server, or from one that cannot be reached, is imported only with its
    /// owner's acknowledgement that its origin could not be checked (docs/BUNDLE.md section 5).
    #[arg(
        long = "trusted-origin",
        global = true,
        env = "WP_TRUSTED_ORIGINS",
        value_delimiter = ','
    )]
    pub trusted_origins: Vec<String>,

    /// Allow `http://` trusted origins (for tests on one machine); by default only `https://`.
    #[arg(
        long,
        global = true,
        env = "WP_ALLOW_HTTP_ORIGINS",
        default_value_t = false
    )]
    pub allow_http_origins: bool,

    /// Most records one passport may hold.
    #[arg(long, global = true, env = "WP_MAX_RECORDS", default_value_t = 2000)]
    pub max_records_per_passport: i64,

    /// Wait up to this long for an unreachable PostgreSQL at start, retrying with backoff (for
    /// container start-up ordering), e.g. `60` or `60s`. By default an unreachable database
    /// fails the start at once.
    #[arg(long, global = true, env = "WP_WAIT_FOR_DATABASE", default_value = "0", value_parser = parse_seconds)]
    pub wait_for_database: u64,

    /// Answer a request that takes longer than this, in seconds, with 503 `unavailable`.
    #[arg(long, global = true, env = "WP_REQUEST_TIMEOUT", default_value = "30", value_parser = parse_seconds)]
    pub request_timeout: u64,

    /// Requests a minute one client address may make to the routes anyone can call without an
    /// access token (registration, the token endpoint, invitation and admin-link redemption)
    /// and to import; as many may come at once. Must be below `--rate-limit-global`, so that
    /// one address is stopped before it could slow down the others. 0: no limit per address.
    /// IPv6 addresses count by their /64 prefix.
    #[arg(
        long,
        global = true,
        env = "WP_RATE_LIMIT_PER_ADDRESS",
        default_value_t = 120
    )]
    pub rate_limit_per_address: u32,

    /// Requests a minute all client addresses together may make to those routes (as many may
    /// come at once). 0: no overall limit.
    #[arg(
        long,
        global = true,
        env = "WP_RATE_LIMIT_GLOBAL",
        default_value_t = 6000
    )]
    pub rate_limit_global: u32,

    /// A reverse proxy (an address, or a CIDR block such as `10.0.0.0/8`) whose `Forwarded`
    /// or `X-Forwarded-For` header names the client, and `Forwarded: proto=` or
    /// `X-Forwarded-Proto` the scheme it used; repeat the flag, or separate them with commas.
    /// Only from a direct peer that is one of these are those headers read (for the rate limits,
    /// the logs and HSTS); from any other they are ignored.
    #[arg(
        long = "trusted-proxy",
        global = true,
        env = "WP_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpNetwork>,

    /// The SMTP server that sends email notifications; without it, no email is sent.
    /// `smtp://host[:587]` requires STARTTLS, `smtps://host[:465]` is TLS from the start,
    /// `smtp://user:password@host` signs in (percent-encode `@`, `:` and `/` in them), and
    /// plain unencrypted SMTP takes an explicit `?tls=none` (`?tls=opportunistic`: STARTTLS only
    /// when offered); both warn at start unless the server is this machine.
    #[arg(long, global = true, env = "WP_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender of email notifications, e.g. `Work Passport <passport@example.org>`. Required
    /// with `--smtp-url`.
    #[arg(long, global = true, env = "WP_SMTP_FROM")]
    pub smtp_from: Option<String>,

    /// The longest one email may take to send, in seconds, from connecting to the SMTP server's
    /// last answer; then it is tried again later.
    #[arg(long, global = true, env = "WP_SMTP_TIMEOUT", default_value = "30", value_parser = parse_seconds)]
    pub smtp_timeout: u64,

    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "WP_LOG_JSON", default_value_t = false)]
    pub log_json: bool,
}

/// An address block: an address and how many leading bits of it count (`10.0.0.0/8`,
/// `::1/128`; a bare address is the block of that address alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, what a dual-stack socket reports) as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl std::str::FromStr for IpNetwork {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad =
            || format!("expected an IP address or a CIDR block such as 10.0.0.0/8, got {text:?}");
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let addr = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(IpNetwork { addr, prefix })
    }
}

/// Whether `url` is `http://` at a host other than this machine's loopback (`localhost`,
/// `*.localhost`, 127.0.0.0/8, `::1`): where browsers do not count the pages' origin as secure.
pub fn plain_http_off_loopback(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => {
            let name = name.to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    url.scheme() == "http" && !loopback
}

/// Seconds, as `60` or `60s`.
fn parse_seconds(text: &str) -> Result<u64, String> {
    text.strip_suffix('s')
        .unwrap_or(text)
        .parse()
        .map_err(|_| format!("expected seconds, e.g. 60 or 60s, got {text:?}"))
}

impl Settings {
    /// Defaults for a server whose state lives in `data_dir` (used by tests and embedders).
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Settings {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            data_dir: data_dir.into(),
            database_url: None,
            public_url: None,
            tls_cert: None,
            tls_key: None,
            tls_reload_interval: 60,
            hsts_max_age: 31_536_000,
            signing_keys_file: None,
            master_keys_file: None,
            master_keys: None,
            db_connections: None,
            max_body_bytes: 64 * 1024,
            max_bundle_bytes: 32 * 1024 * 1024,
            request_timeout: 30,
            max_records_per_passport: 2000,
            trusted_origins: Vec::new(),
            allow_http_origins: false,
            wait_for_database: 0,
            rate_limit_per_address: 120,
            rate_limit_global: 6000,
            trusted_proxies: Vec::new(),
            smtp_url: None,
            smtp_from: None,
            smtp_timeout: 30,
            log_json: false,
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("passport.db").display()))
    }

    pub fn db_connections(&self) -> u32 {
        let sqlite = self.database_url().starts_with("sqlite:");
        self.db_connections.unwrap_or(if sqlite { 4 } else { 16 })
    }

    /// The SQLite database file, or None on PostgreSQL (or an in-memory SQLite).
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        use std::str::FromStr;
        let url = self.database_url();
        if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
            return None;
        }
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url).ok()?;
        Some(options.get_filename().to_path_buf())
    }

    /// The public base URL: `public_url`, or `http://` (`https://` with `--tls-cert`) and the
    /// address the server listens on.
    pub fn issuer(&self, listening_on: SocketAddr) -> String {
        let scheme = if self.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{listening_on}"))
            .trim_end_matches('/')
            .to_owned()
    }

    pub fn signing_keys_path(&self) -> PathBuf {
        self.signing_keys_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("signing-keys.json"))
    }

    pub fn master_keys_path(&self) -> PathBuf {
        self.master_keys_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master-keys.json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_fine_on_this_machine_only() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.9.9.9",
            "http://localhost:8080",
            "http://passport.localhost",
            "http://[::1]:8080",
            "https://passport.example.org",
            "https://10.0.0.5:8443",
        ] {
            assert!(!plain_http_off_loopback(ok), "{ok}");
        }
        for warned in [
            "http://0.0.0.0:8080",
            "http://10.0.0.5:8080",
            "http://passport.example.org",
            "http://[2001:db8::1]",
        ] {
            assert!(plain_http_off_loopback(warned), "{warned}");
        }
    }
}
