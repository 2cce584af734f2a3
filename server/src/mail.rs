//! Email: plain-text notifications sent through an SMTP server (`--smtp-url`), with lettre.
//!
//! The URL is read here, not by lettre, because lettre sends `smtp://` in the clear unless told
//! otherwise; here `smtp://` means STARTTLS required, and plain SMTP takes an explicit
//! `?tls=none`. A [`SendError`] says whether trying again can help, so the caller's outbox
//! knows to retry (4xx, connection, timeout) or give up (5xx, a bad address), and never carries
//! the message's text.

use std::fmt;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::Settings;

/// One message to one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The recipient: `someone@example.org` or `Name <someone@example.org>`.
    pub to: String,
    pub subject: String,
    /// The body, plain UTF-8 text.
    pub text: String,
    /// The `Message-ID`, angle brackets included (`<n-UUID@passport.example.org>`): stable per
    /// notification, so that a copy sent again after a crash is recognisably the same message.
    pub message_id: String,
    /// An `https://` URL that unsubscribes with one POST: `List-Unsubscribe` (RFC 2369) and
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
    pub unsubscribe: Option<String>,
}

/// Why a message was not sent. The reason is short and never holds the message's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Sending it again will fail the same way (a 5xx answer, an address or message that is not
    /// valid): give up on this message.
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// It may go through later (a 4xx answer, no connection, a TLS failure, a timeout): retry.
    #[error("transient failure: {0}")]
    Transient(String),
}

impl SendError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent(_))
    }

    /// The short reason, for logs and the outbox.
    pub fn reason(&self) -> &str {
        match self {
            SendError::Permanent(reason) | SendError::Transient(reason) => reason,
        }
    }
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `smtp://`: STARTTLS, refused if the server does not offer it (the default).
    StartTls,
    /// `smtp://...?tls=opportunistic`: STARTTLS when offered, else in the clear.
    Opportunistic,
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://...?tls=none`: never encrypted.
    None,
}

/// `--smtp-url`, read.
#[derive(Clone, PartialEq, Eq)]
struct SmtpUrl {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<(String, String)>,
}

impl SmtpUrl {
    /// Errors never repeat the URL: it may hold a password.
    fn parse(text: &str) -> Result<Self, String> {
        let url = url::Url::parse(text.trim()).map_err(|e| format!("not a URL ({e})"))?;
        let (scheme_security, default_port) = match url.scheme() {
            "smtp" => (Security::StartTls, 587),
            "smtps" => (Security::Implicit, 465),
            other => {
                return Err(format!(
                    "the scheme is {other:?}: expected smtp:// (STARTTLS) or smtps:// (TLS)"
                ));
            }
        };
        let host = match url.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err("no host".into()),
        };
        if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
            return Err("a path or fragment: expected smtp://[user:password@]host[:port]".into());
        }
        let mut security = scheme_security;
        for (key, value) in url.query_pairs() {
            security = match (key.as_ref(), value.as_ref(), scheme_security) {
                ("tls", "required", Security::StartTls) => Security::StartTls,
                ("tls", "opportunistic", Security::StartTls) => Security::Opportunistic,
                ("tls", "none", Security::StartTls) => Security::None,
                ("tls", _, Security::StartTls) => {
                    return Err(format!(
                        "tls={value:?}: expected tls=required (the default), \
                         tls=opportunistic or tls=none"
                    ));
                }
                ("tls", _, _) => return Err("smtps:// is always TLS: no tls= parameter".into()),
                _ => return Err(format!("unknown parameter {key:?}: only tls= is known")),
            };
        }
        let decode = |part: &str| {
            percent_decode(part).ok_or_else(|| "the user or password is not UTF-8".to_owned())
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(password)) if !user.is_empty() => Some((decode(user)?, decode(password)?)),
            _ => return Err("a user needs a password: smtp://user:password@host".into()),
        };
        Ok(SmtpUrl {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            credentials,
        })
    }

    /// Whether the server is this machine (where plain SMTP crosses no network).
    fn is_loopback(&self) -> bool {
        let host = self.host.to_ascii_lowercase();
        match host.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => host == "localhost" || host.ends_with(".localhost"),
        }
    }
}

/// `%XX` escapes decoded (a user or password in a URL).
fn percent_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

/// Sends [`Email`]s through the configured SMTP server, one connection per message.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The longest one message may take, from connecting to the server's last answer.
    timeout: Duration,
    server: String,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No credentials: the server, the sender and the limit only.
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Mailer {
    /// The mailer the settings describe, or None when no `--smtp-url` is given (email is off).
    /// Refuses a URL, sender or timeout that is not valid, naming the flag. Connects to nothing:
    /// a server that is down is a transient failure of the first [`Mailer::send`].
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<Mailer>> {
        let Some(text) = settings
            .smtp_url
            .as_deref()
            .filter(|t| !t.trim().is_empty())
        else {
            return Ok(None);
        };
        let url = SmtpUrl::parse(text).map_err(|e| anyhow!("--smtp-url (WP_SMTP_URL): {e}"))?;
        let from = match settings.smtp_from.as_deref().map(str::trim) {
            None | Some("") => bail!(
                "--smtp-from (WP_SMTP_FROM) is required with --smtp-url: the sender's address, \
                 e.g. \"Work Passport <passport@example.org>\""
            ),
            Some(from) => from.parse::<Mailbox>().map_err(|_| {
                anyhow!(
                    "--smtp-from (WP_SMTP_FROM): {from:?} is not an email address, e.g. \
                     \"Work Passport <passport@example.org>\" or \"passport@example.org\""
                )
            })?,
        };
        if settings.smtp_timeout == 0 {
            bail!("--smtp-timeout (WP_SMTP_TIMEOUT): at least 1 second");
        }
        let timeout = Duration::from_secs(settings.smtp_timeout);

        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&url.host)
            .port(url.port)
            .timeout(Some(timeout));
        let tls = || {
            TlsParameters::new(url.host.clone())
                .context("--smtp-url (WP_SMTP_URL): setting up TLS for its host")
        };
        builder = match url.security {
            Security::StartTls => builder.tls(Tls::Required(tls()?)),
            Security::Opportunistic => builder.tls(Tls::Opportunistic(tls()?)),
            Security::Implicit => builder.tls(Tls::Wrapper(tls()?)),
            Security::None => builder.tls(Tls::None),
        };
        if let Some((user, password)) = &url.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        if matches!(url.security, Security::None | Security::Opportunistic) && !url.is_loopback() {
            tracing::warn!(
                host = %url.host,
                "--smtp-url: email to an SMTP server on another machine may cross the network \
                 unencrypted (tls={}), with its password if it has one: use smtp:// \
                 (STARTTLS required) or smtps://",
                if url.security == Security::None { "none" } else { "opportunistic" },
            );
        }
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
            timeout,
            server: format!("{}:{}", url.host, url.port),
        }))
    }

    /// Sends one message. Retrying after a [`SendError::Transient`] may deliver it twice (the
    /// server may have taken it before the connection dropped); its `Message-ID` tells them apart.
    pub async fn send(&self, email: &Email) -> Result<(), SendError> {
        let message = self.message(email)?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err(SendError::Transient(format!(
                "no answer within {} s",
                self.timeout.as_secs()
            ))),
        }
    }

    fn message(&self, email: &Email) -> Result<Message, SendError> {
        let to = email.to.trim().parse::<Mailbox>().map_err(|_| {
            SendError::Permanent("the recipient is not a valid email address".into())
        })?;
        if !valid_message_id(&email.message_id) {
            return Err(SendError::Permanent(
                "the Message-ID is not of the form <left@right>".into(),
            ));
        }
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(email.message_id.clone()))
            .header(ContentType::TEXT_PLAIN)
            // RFC 3834: sent by a machine, so autoresponders (out of office) do not answer it.
            .raw_header(header("Auto-Submitted", "auto-generated".into()));
        if let Some(unsubscribe) = &email.unsubscribe {
            let url = url::Url::parse(unsubscribe)
                .ok()
                // RFC 8058 asks for HTTPS; plain http only at this machine (a server tried
                // out at http://127.0.0.1, as the pages allow too).
                .filter(|url| {
                    url.scheme() == "https"
                        || (url.scheme() == "http"
                            && !crate::config::plain_http_off_loopback(url.as_str()))
                })
                .ok_or_else(|| {
                    SendError::Permanent("the unsubscribe link is not an https:// URL".into())
                })?;
            // A parsed URL's text has no spaces, controls or angle brackets left to break out of
            // `<...>`: the url crate percent-encodes them.
            builder = builder
                .raw_header(header("List-Unsubscribe", format!("<{url}>")))
                .raw_header(header(
                    "List-Unsubscribe-Post",
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        builder
            .body(email.text.clone())
            .map_err(|e| SendError::Permanent(format!("the message could not be built: {e}")))
    }
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// `<left@right>` in printable ASCII, with nothing that could end the header or the brackets.
fn valid_message_id(id: &str) -> bool {
    let Some(inner) = id.strip_prefix('<').and_then(|rest| rest.strip_suffix('>')) else {
        return false;
    };
    let printable = inner
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>'));
    matches!(inner.split_once('@'), Some((left, right)) if !left.is_empty() && !right.is_empty())
        && printable
}

/// Whether trying again can help, and why, in a few words: the SMTP reply code (and its
/// enhanced status, e.g. `5.1.1`) rather than the server's text, which often quotes the address.
fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    use std::error::Error as _;
    if let Some(code) = error.status() {
        let enhanced = error
            .source()
            .map(|source| source.to_string())
            .and_then(|text| {
                let word = text.split_whitespace().next()?.to_owned();
                let parts: Vec<&str> = word.split('.').collect();
                let numeric = parts.len() == 3
                    && parts
                        .iter()
                        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
                numeric.then_some(word)
            });
        let reason = match enhanced {
            Some(enhanced) => format!("the SMTP server answered {code} {enhanced}"),
            None => format!("the SMTP server answered {code}"),
        };
        // 530, 534, 535, 538: our sign-in refused. The settings are wrong, not the message: it
        // can go once the operator fixes them.
        let sign_in = matches!(u16::from(code), 530 | 534 | 535 | 538);
        return if error.is_permanent() && !sign_in {
            SendError::Permanent(reason)
        } else {
            SendError::Transient(reason)
        };
    }
    if error.is_timeout() {
        return SendError::Transient("timed out".into());
    }
    // Connection, network and TLS failures, answers that could not be read, and lettre's
    // "client" errors, which are mostly the server and the settings disagreeing (STARTTLS
    // required but not offered, no common sign-in mechanism): all may pass later.
    SendError::Transient(short(error))
}

/// lettre's own words and their causes (no message content is in them), cut to 200 bytes.
fn short(error: &lettre::transport::smtp::Error) -> String {
    let mut text = error.to_string();
    if text.len() > 200 {
        let mut cut = 200;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: Option<&str>, from: Option<&str>) -> Settings {
        let mut settings = Settings::for_data_dir("/nonexistent");
        settings.smtp_url = url.map(str::to_owned);
        settings.smtp_from = from.map(str::to_owned);
        settings
    }

    fn error(url: &str, from: Option<&str>) -> String {
        Mailer::from_settings(&settings(Some(url), from))
            .expect_err(url)
            .to_string()
    }

    #[test]
    fn urls_mean_starttls_unless_told_otherwise() {
        let parse = |text: &str| SmtpUrl::parse(text).unwrap();
        let url = parse("smtp://mail.example.org");
        assert_eq!((url.port, url.security), (587, Security::StartTls));
        assert_eq!(url.credentials, None);
        let url = parse("smtp://mail.example.org:2525?tls=required");
        assert_eq!((url.port, url.security), (2525, Security::StartTls));
        let url = parse("smtps://mail.example.org");
        assert_eq!((url.port, url.security), (465, Security::Implicit));
        assert_eq!(
            parse("smtp://mail.example.org?tls=opportunistic").security,
            Security::Opportunistic
        );
        let url = parse("smtp://127.0.0.1:2525?tls=none");
        assert_eq!((url.port, url.security), (2525, Security::None));
        assert!(url.is_loopback());
        let url = parse("smtp://us%40er:p%3Ass%2Fw@[::1]:25/");
        assert_eq!(url.host, "::1");
        assert!(url.is_loopback());
        assert_eq!(
            url.credentials,
            Some(("us@er".to_owned(), "p:ss/w".to_owned()))
        );
        assert!(!parse("smtp://mail.example.org?tls=none").is_loopback());
        assert!(parse("smtp://mail.localhost?tls=none").is_loopback());
    }

    #[test]
    fn bad_settings_name_the_flag_and_never_the_password() {
        for (url, expected) in [
            ("http://mail.example.org", "scheme"),
            ("smtp://mail.example.org?tls=nope", "tls="),
            ("smtp://mail.example.org?tsl=none", "unknown parameter"),
            ("smtps://mail.example.org?tls=none", "always TLS"),
            ("smtp://user@mail.example.org", "password"),
            ("smtp://mail.example.org/relay", "path"),
            ("mail.example.org:587", "URL"),
        ] {
            let message = error(url, Some("passport@example.org"));
            assert!(
                message.starts_with("--smtp-url (WP_SMTP_URL): "),
                "{message}"
            );
            assert!(message.contains(expected), "{url}: {message}");
        }
        let message = error(
            "smtp://user:s3cret@mail.example.org?tls=bad",
            Some("a@b.org"),
        );
        assert!(!message.contains("s3cret"), "{message}");
        let message = error("smtp://mail.example.org", None);
        assert!(message.contains("--smtp-from"), "{message}");
        let message = error("smtp://mail.example.org", Some("Work Passport"));
        assert!(message.contains("--smtp-from"), "{message}");
    }

    #[test]
    fn no_url_is_no_mail() {
        assert!(
            Mailer::from_settings(&settings(None, None))
                .unwrap()
                .is_none()
        );
        assert!(
            Mailer::from_settings(&settings(Some(" "), Some("a@b.org")))
                .unwrap()
                .is_none()
        );
        let mailer = Mailer::from_settings(&settings(
            Some("smtp://user:s3cret@mail.example.org"),
            Some("Work Passport <passport@example.org>"),
        ))
        .unwrap()
        .expect("a mailer");
        let shown = format!("{mailer:?}");
        assert!(shown.contains("mail.example.org:587"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let mut zero = settings(Some("smtp://mail.example.org"), Some("a@b.org"));
        zero.smtp_timeout = 0;
        assert!(Mailer::from_settings(&zero).is_err());
    }

    #[test]
    fn messages_are_refused_before_sending_when_they_cannot_be_right() {
        let mailer = Mailer::from_settings(&settings(
            Some("smtp://127.0.0.1:1?tls=none"),
            Some("passport@example.org"),
        ))
        .unwrap()
        .unwrap();
        let good = Email {
            to: "alex@example.org".into(),
            subject: "Réunion – 3 March".into(),
            text: "Hello".into(),
            message_id: "<n-1@passport.example.org>".into(),
            unsubscribe: Some("https://passport.example.org/unsubscribe/t1".into()),
        };
        assert!(mailer.message(&good).is_ok());
        for bad in [
            Email {
                to: "not an address".into(),
                ..good.clone()
            },
            Email {
                message_id: "n-1@passport.example.org".into(),
                ..good.clone()
            },
            Email {
                message_id: "<n 1@passport.example.org>".into(),
                ..good.clone()
            },
            Email {
                unsubscribe: Some("http://passport.example.org/u".into()),
                ..good.clone()
            },
        ] {
            let error = mailer.message(&bad).expect_err("refused");
            assert!(error.is_permanent(), "{error}");
            assert!(!error.reason().contains("Hello"), "{error}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%zz%4"), Some("a b%zz%4".into()));
        assert_eq!(percent_decode("%C3%A9"), Some("é".into()));
        assert_eq!(percent_decode("%FF"), None);
    }
}
