//! A small Chrome DevTools Protocol driver for a real headless Chromium: open a page, wait
//! for it to load, evaluate script, and collect console errors, CSP violations and the
//! document's response headers; a virtual passkey authenticator (the `WebAuthn` domain) for
//! sign-in flows. Enough for end-to-end tests without a Node toolchain.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any single browser step may take before the test fails.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where Chromium is looked for, in order.
const CANDIDATES: &[&str] = &["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

fn chromium_path() -> anyhow::Result<PathBuf> {
    CANDIDATES.iter().map(PathBuf::from).find(|p| p.exists()).ok_or_else(|| {
        anyhow!("Chromium not found (looked in {CANDIDATES:?}); install it with `apt-get install chromium` (scripts/test does)")
    })
}

/// A headless Chromium process and one DevTools connection to it.
pub struct Browser {
    child: Child,
    socket: Socket,
    next_id: u64,
    /// Every event received, with the session it belongs to.
    events: Vec<(Option<String>, Value)>,
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").field("events", &self.events.len()).finish_non_exhaustive()
    }
}

/// A virtual authenticator added to one tab by `Browser::add_virtual_authenticator`.
#[derive(Debug, Clone)]
pub struct VirtualAuthenticator {
    pub id: String,
}

/// One tab, attached in flat mode (commands carry its session id).
#[derive(Debug, Clone)]
pub struct Page {
    pub session: String,
}

impl Browser {
    /// Starts Chromium with a fresh profile. Certificates are not checked by the browser:
    /// TLS itself is verified by the HTTPS client tests against the server's CA.
    pub async fn launch() -> anyhow::Result<Self> {
        Self::launch_with(&["--ignore-certificate-errors".to_owned()]).await
    }

    /// Starts Chromium treating only the certificate whose key hashes to `spki_sha256` as
    /// valid: its pages are a secure context (WebAuthn refuses pages with certificate errors).
    pub async fn launch_trusting(spki_sha256: &str) -> anyhow::Result<Self> {
        Self::launch_with(&[format!("--ignore-certificate-errors-spki-list={spki_sha256}")]).await
    }

    async fn launch_with(trust: &[String]) -> anyhow::Result<Self> {
        let profile = tempfile::tempdir()?;
        let mut child = Command::new(chromium_path()?)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--host-resolver-rules=MAP localhost 127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .args(trust)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start Chromium")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let ws_url = tokio::time::timeout(STEP_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    return Ok(url.trim().to_owned());
                }
            }
            bail!("Chromium exited before opening its DevTools port")
        })
        .await
        .context("Chromium did not start in time")??;
        // Keep draining stderr so Chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (socket, _) = tokio_tungstenite::connect_async(&ws_url).await.context("DevTools connection")?;
        Ok(Self { child, socket, next_id: 0, events: Vec::new(), _profile: profile })
    }

    /// Sends a command and waits for its answer, keeping the events that arrive meanwhile.
    pub async fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.socket.send(Message::text(msg.to_string())).await?;
        tokio::time::timeout(STEP_TIMEOUT, async {
            loop {
                let reply = self.next_message().await?;
                if reply.get("id").and_then(Value::as_u64) == Some(id) {
                    if let Some(err) = reply.get("error") {
                        bail!("{method} failed: {err}");
                    }
                    return Ok(reply.get("result").cloned().unwrap_or(Value::Null));
                }
            }
        })
        .await
        .with_context(|| format!("{method} timed out"))?
    }

    async fn next_message(&mut self) -> anyhow::Result<Value> {
        loop {
            let frame = self.socket.next().await.context("DevTools connection closed")??;
            if let Message::Text(text) = frame {
                let v: Value = serde_json::from_str(&text)?;
                if v.get("method").is_some() {
                    let session = v.get("sessionId").and_then(Value::as_str).map(str::to_owned);
                    self.events.push((session, v.clone()));
                }
                return Ok(v);
            }
        }
    }

    /// Opens a new tab with logging, network and page events enabled.
    pub async fn new_page(&mut self) -> anyhow::Result<Page> {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" })).await?;
        let target_id = target["targetId"].as_str().context("targetId")?.to_owned();
        let attached = self
            .call(None, "Target.attachToTarget", json!({ "targetId": target_id, "flatten": true }))
            .await?;
        let session = attached["sessionId"].as_str().context("sessionId")?.to_owned();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable", "Network.enable"] {
            self.call(Some(&session), domain, json!({})).await?;
        }
        Ok(Page { session })
    }

    /// Navigates and waits for the load event.
    pub async fn goto(&mut self, page: &Page, url: &str) -> anyhow::Result<()> {
        let seen = self.events.len();
        let nav = self.call(Some(&page.session), "Page.navigate", json!({ "url": url })).await?;
        if let Some(err) = nav.get("errorText").and_then(Value::as_str) {
            bail!("navigation to {url} failed: {err}");
        }
        tokio::time::timeout(STEP_TIMEOUT, async {
            let mut checked = seen;
            loop {
                let loaded = self.events[checked..].iter().any(|(s, e)| {
                    s.as_deref() == Some(page.session.as_str()) && e["method"] == "Page.loadEventFired"
                });
                if loaded {
                    return Ok::<_, anyhow::Error>(());
                }
                checked = self.events.len();
                self.next_message().await?;
            }
        })
        .await
        .with_context(|| format!("{url} did not finish loading"))??;
        // Let late console messages (CSP reports, deferred errors) arrive.
        let _ = self.call(Some(&page.session), "Runtime.evaluate", json!({ "expression": "1" })).await?;
        Ok(())
    }

    /// Evaluates a script expression in the page and returns its value.
    pub async fn eval(&mut self, page: &Page, expression: &str) -> anyhow::Result<Value> {
        let r = self
            .call(
                Some(&page.session),
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await?;
        if let Some(ex) = r.get("exceptionDetails") {
            bail!("script threw: {ex}");
        }
        Ok(r["result"]["value"].clone())
    }

    /// Console errors, uncaught exceptions and browser log errors (CSP violations among
    /// them) seen on `page` so far.
    #[must_use]
    pub fn errors(&self, page: &Page) -> Vec<String> {
        self.events
            .iter()
            .filter(|(s, _)| s.as_deref() == Some(page.session.as_str()))
            .filter_map(|(_, e)| match e["method"].as_str()? {
                "Runtime.consoleAPICalled" if e["params"]["type"] == "error" => {
                    Some(e["params"]["args"].to_string())
                }
                "Runtime.exceptionThrown" => Some(e["params"]["exceptionDetails"].to_string()),
                "Log.entryAdded" if e["params"]["entry"]["level"] == "error" => {
                    Some(e["params"]["entry"]["text"].as_str().unwrap_or_default().to_owned())
                }
                _ => None,
            })
            .collect()
    }

    /// The response headers (lower-cased names) of the last document loaded from `url`.
    #[must_use]
    pub fn document_headers(&self, page: &Page, url: &str) -> Option<HashMap<String, String>> {
        self.events
            .iter()
            .rev()
            .filter(|(s, _)| s.as_deref() == Some(page.session.as_str()))
            .find(|(_, e)| {
                e["method"] == "Network.responseReceived"
                    && e["params"]["type"] == "Document"
                    && e["params"]["response"]["url"] == url
            })
            .and_then(|(_, e)| e["params"]["response"]["headers"].as_object().cloned())
            .map(|h| {
                h.into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
    }

    /// Enables the `WebAuthn` domain on `page` and adds a virtual authenticator that behaves
    /// like a platform passkey provider: CTAP2 over the internal transport, with discoverable
    /// (resident) credentials and user verification that always succeeds, and presence
    /// simulated so `navigator.credentials.create`/`get` complete without a prompt. Pages
    /// must be on a secure origin (https, or http on localhost) for WebAuthn to run.
    pub async fn add_virtual_authenticator(&mut self, page: &Page) -> anyhow::Result<VirtualAuthenticator> {
        // `enableUI: false` keeps Chromium from waiting on a dialog no one can click.
        self.call(Some(&page.session), "WebAuthn.enable", json!({ "enableUI": false })).await?;
        let added = self
            .call(
                Some(&page.session),
                "WebAuthn.addVirtualAuthenticator",
                json!({ "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "automaticPresenceSimulation": true,
                } }),
            )
            .await?;
        let id = added["authenticatorId"].as_str().context("authenticatorId")?.to_owned();
        Ok(VirtualAuthenticator { id })
    }

    /// The credentials the virtual authenticator holds, as CDP reports them (`credentialId`,
    /// `isResidentCredential`, `rpId`, `userHandle`, `signCount`, all base64 where binary).
    pub async fn webauthn_credentials(
        &mut self,
        page: &Page,
        authenticator: &VirtualAuthenticator,
    ) -> anyhow::Result<Vec<Value>> {
        let got = self
            .call(
                Some(&page.session),
                "WebAuthn.getCredentials",
                json!({ "authenticatorId": authenticator.id }),
            )
            .await?;
        Ok(got["credentials"].as_array().cloned().unwrap_or_default())
    }

    /// Makes the virtual authenticator's user verification succeed or fail from now on, to
    /// test that the server refuses an unverified user.
    pub async fn set_user_verified(
        &mut self,
        page: &Page,
        authenticator: &VirtualAuthenticator,
        verified: bool,
    ) -> anyhow::Result<()> {
        self.call(
            Some(&page.session),
            "WebAuthn.setUserVerified",
            json!({ "authenticatorId": authenticator.id, "isUserVerified": verified }),
        )
        .await?;
        Ok(())
    }

    /// Closes the browser.
    pub async fn close(mut self) {
        let _ = self.call(None, "Browser.close", json!({})).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}
