//! Outgoing mail: what Souk sends (verification, reset, alerts) and how it leaves. By
//! default each message is written to an outbox folder (the two-command start needs no mail
//! server; `/dev/mail` shows it to loopback clients); with `mail.smtp_url` it goes out over
//! SMTP through lettre. Every message to an account carries its anti-phishing phrase.

use std::path::PathBuf;

use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};

/// One message to send.
#[derive(Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// Plain text; links in it are absolute.
    pub body: String,
}

impl std::fmt::Debug for Mail {
    // SECURITY: bodies hold single-use links and addresses are personal data: never logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail").field("subject", &self.subject).finish_non_exhaustive()
    }
}

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid mail address or message: {0}")]
    Message(String),
    #[error("cannot write to the outbox: {0}")]
    Outbox(#[from] std::io::Error),
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    /// Written as `.eml` files (mode 0600) into this folder.
    Outbox(PathBuf),
    /// Sent over SMTP.
    Smtp { transport: Box<AsyncSmtpTransport<Tokio1Executor>>, from: Mailbox },
    /// Dropped with a log line (tools that send no mail).
    Disabled,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Outbox(dir) => write!(f, "Mailer::Outbox({})", dir.display()),
            Self::Smtp { .. } => f.write_str("Mailer::Smtp"),
            Self::Disabled => f.write_str("Mailer::Disabled"),
        }
    }
}

/// Whether `from` is a usable sender (`Name <addr@host>` or `addr@host`).
#[must_use]
pub fn valid_sender(from: &str) -> bool {
    from.parse::<Mailbox>().is_ok()
}

/// The sender address used for the outbox.
pub const DEFAULT_FROM: &str = "Souk <no-reply@localhost>";

impl Mailer {
    /// An SMTP mailer from a URL: `smtps://user:pass@host:465` (implicit TLS),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or, to loopback only (a local
    /// relay or a test listener), plain `smtp://127.0.0.1:2525`.
    pub fn smtp(url: &SecretString, from: &str) -> Result<Self, MailError> {
        let from: Mailbox =
            from.parse().map_err(|e: lettre::address::AddressError| MailError::Message(e.to_string()))?;
        let raw = url.expose_secret();
        let parsed = url::Url::parse(raw).map_err(|e| MailError::Smtp(format!("mail.smtp_url: {e}")))?;
        let tls = parsed.scheme() == "smtps" || parsed.query().is_some_and(|q| q.contains("tls=required"));
        let loopback = match parsed.host() {
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            // `smtp:` is not a special scheme to the URL parser: addresses arrive as names.
            Some(url::Host::Domain(d)) => {
                d == "localhost"
                    || d.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
            }
            None => false,
        };
        // SECURITY: credentials and mail contents (reset links) must not cross a network in clear.
        if !tls && !loopback {
            return Err(MailError::Smtp(
                "mail.smtp_url must use smtps:// or ?tls=required unless the relay is on loopback".into(),
            ));
        }
        let transport = if tls {
            AsyncSmtpTransport::<Tokio1Executor>::from_url(raw)
                .map_err(|e| MailError::Smtp(e.to_string()))?
                .build()
        } else {
            let host =
                parsed.host_str().unwrap_or("127.0.0.1").trim_matches(|c| c == '[' || c == ']').to_owned();
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                .port(parsed.port().unwrap_or(25))
                .timeout(Some(std::time::Duration::from_secs(10)))
                .build()
        };
        Ok(Self::Smtp { transport: Box::new(transport), from })
    }

    /// Sends one message. Errors are for the caller to log: a lost mail is recoverable (the
    /// user asks again), a crashed request is not.
    pub async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        match self {
            Self::Disabled => {
                tracing::info!(subject = %mail.subject, "mail disabled; message dropped");
                Ok(())
            }
            Self::Outbox(dir) => {
                let from: Mailbox = DEFAULT_FROM
                    .parse()
                    .map_err(|e: lettre::address::AddressError| MailError::Message(e.to_string()))?;
                let bytes = build(mail, from)?.formatted();
                write_outbox(dir, &bytes).await?;
                Ok(())
            }
            Self::Smtp { transport, from } => {
                let message = build(mail, from.clone())?;
                transport.send(message).await.map_err(|e| MailError::Smtp(e.to_string()))?;
                Ok(())
            }
        }
    }
}

fn build(mail: &Mail, from: Mailbox) -> Result<Message, MailError> {
    let to: Mailbox =
        mail.to.parse().map_err(|e: lettre::address::AddressError| MailError::Message(e.to_string()))?;
    // lettre picks the encoding (quoted-printable once a line, like a link, passes 76).
    let body = Body::new(mail.body.clone());
    Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(body))
        .map_err(|e| MailError::Message(e.to_string()))
}

async fn write_outbox(dir: &std::path::Path, bytes: &[u8]) -> Result<(), std::io::Error> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let dir = dir.to_owned();
    let bytes = bytes.to_vec();
    tokio::task::spawn_blocking(move || {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        let name = format!("{}.eml", uuid::Uuid::now_v7());
        let tmp = dir.join(format!(".{name}.tmp"));
        // SECURITY: the outbox holds live single-use links: owner-only, like the data dir.
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(name))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// A message in the outbox, for the development mail page and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub file: String,
    pub to: String,
    pub subject: String,
    pub date: String,
    pub body: String,
}

/// The outbox's messages, newest first (at most `limit`).
pub fn read_outbox(dir: &std::path::Path, limit: usize) -> Result<Vec<OutboxMessage>, std::io::Error> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                !n.starts_with('.')
                    && std::path::Path::new(n).extension().is_some_and(|e| e.eq_ignore_ascii_case("eml"))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    // UUIDv7 names sort by creation time.
    names.sort_unstable_by(|a, b| b.cmp(a));
    names.truncate(limit);
    names.into_iter().map(|name| Ok(parse_eml(&name, &std::fs::read_to_string(dir.join(&name))?))).collect()
}

fn parse_eml(file: &str, text: &str) -> OutboxMessage {
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let header = |name: &str| {
        head.split("\r\n")
            .find_map(|l| {
                l.split_once(": ").filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.to_owned())
            })
            .unwrap_or_default()
    };
    let body = match header("Content-Transfer-Encoding").to_ascii_lowercase().as_str() {
        "quoted-printable" => quoted_printable::decode(body.as_bytes(), quoted_printable::ParseMode::Robust)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| body.to_owned()),
        "base64" => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(body.split_whitespace().collect::<String>())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_else(|| body.to_owned())
        }
        _ => body.to_owned(),
    };
    OutboxMessage {
        file: file.to_owned(),
        to: header("To"),
        subject: header("Subject"),
        date: header("Date"),
        body: body.replace("\r\n", "\n"),
    }
}
