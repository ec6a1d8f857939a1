//! A client of Souk's public HTTPS API that acts as people do: a buyer signs up (confirming
//! the address through the development mail outbox), signs in, fills a cart, checks out,
//! types a card into the vault endpoint and pays; a seller also turns on TOTP, opens a shop
//! and lists. `souk load checkouts` and the crash test drive a running server with it, so
//! every request goes through TLS, sessions, CSRF, the vault and the ledger as a browser's
//! would. It only works against a server whose mail goes to the development outbox and
//! which it reaches over loopback (`/dev/mail` answers nobody else).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use souk_domain::{Clock as _, SystemClock};
use souk_identity::totp::TotpSecret;

/// The password every driven account uses: long, and in no breach list.
pub const PASSWORD: &str = "driven market walk 7 quiet lanterns";

/// A running Souk, reached at `base` (for example `https://localhost:8443`).
#[derive(Clone)]
pub struct Market {
    base: String,
    tls: Arc<rustls::ClientConfig>,
    /// Where the URL's host is reached, when not through DNS.
    address: Option<std::net::SocketAddr>,
}

impl std::fmt::Debug for Market {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Market").field("base", &self.base).finish_non_exhaustive()
    }
}

/// A signed-in person: a cookie jar (session, device) and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Actor {
    http: reqwest::Client,
    base: String,
    csrf: String,
    pub email: String,
}

/// What a seller needs to be bought from.
#[derive(Debug, Clone)]
pub struct Offer {
    pub shop: String,
    pub variant: String,
    pub price_minor: i64,
}

/// A placed checkout.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub id: String,
    pub total_minor: i64,
}

/// How a payment ended, as the API said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paid {
    pub status: String,
}

/// An answer that was not the one expected: the status and the problem's `type` and detail
/// (never the request body: it may hold a card number).
#[derive(Debug, thiserror::Error)]
#[error("{what}: HTTP {status} {problem}")]
pub struct Refused {
    pub what: &'static str,
    pub status: u16,
    pub problem: String,
}

impl Market {
    /// A market at `base` whose certificate chains to the CA in `ca_pem`.
    pub fn new(base: &str, ca_pem: &[u8]) -> anyhow::Result<Self> {
        use rustls_pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem) {
            roots.add(cert.context("the CA file is not PEM")?).context("the CA certificate")?;
        }
        if roots.is_empty() {
            bail!("the CA file holds no certificate");
        }
        let mut tls =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .context("TLS versions")?
                .with_root_certificates(roots)
                .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self { base: base.trim_end_matches('/').to_owned(), tls: Arc::new(tls), address: None })
    }

    /// Reaches the URL's host at `address` instead of asking DNS (`localhost` may resolve
    /// to an address the server does not listen on).
    #[must_use]
    pub fn at(mut self, address: std::net::SocketAddr) -> Self {
        self.address = Some(address);
        self
    }

    /// Whether the server answers its readiness probe.
    pub async fn ready(&self) -> bool {
        let Ok(http) = self.browser() else { return false };
        matches!(http.get(self.url("/readyz")).send().await, Ok(r) if r.status().is_success())
    }

    /// A fresh browser: its own cookie jar, no redirects followed.
    fn browser(&self) -> anyhow::Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder();
        if let (Some(addr), Ok(url)) = (self.address, url::Url::parse(&self.base))
            && let Some(host) = url.host_str()
        {
            builder = builder.resolve(host, addr);
        }
        builder
            .tls_backend_preconfigured((*self.tls).clone())
            .cookie_store(true)
            .https_only(true)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_mins(1))
            .pool_max_idle_per_host(2)
            .build()
            .context("HTTP client")
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Signs up `email`, confirms it through the development outbox and signs in.
    pub async fn member(&self, email: &str, name: &str) -> anyhow::Result<Actor> {
        let http = self.browser()?;
        let res = http
            .post(self.url("/api/v1/auth/signup"))
            .json(&json!({ "email": email, "name": name, "password": PASSWORD }))
            .send()
            .await?;
        expect(res, 202, "sign-up").await?;
        let token = self.confirmation_token(&http, email).await?;
        let res =
            http.post(self.url("/api/v1/auth/verify-email")).json(&json!({ "token": token })).send().await?;
        expect(res, 200, "email confirmation").await?;
        let res = http
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await?;
        let body = expect(res, 200, "sign-in").await?;
        Ok(Actor {
            http,
            base: self.base.clone(),
            csrf: field(&body, "csrf_token")?,
            email: email.to_owned(),
        })
    }

    /// The confirmation link's token mailed to `email`, read from `/dev/mail` (the mail is
    /// written after the sign-up commits, so it may take a moment to appear).
    async fn confirmation_token(&self, http: &reqwest::Client, email: &str) -> anyhow::Result<String> {
        for attempt in 0..50u64 {
            let page = http.get(self.url("/dev/mail")).send().await?;
            if page.status() == 404 {
                bail!("{} has no development mail outbox (or is not on loopback)", self.base);
            }
            let html = page.text().await?;
            if let Some(token) = token_mailed_to(&html, email) {
                return Ok(token);
            }
            tokio::time::sleep(Duration::from_millis(20 * (attempt + 1))).await;
        }
        bail!("no confirmation mail reached {email}")
    }

    /// A seller: a member who turns on TOTP, becomes a seller, opens a shop and lists one
    /// item with `stock` units at `price_minor` euro cents.
    pub async fn seller(
        &self,
        email: &str,
        slug: &str,
        stock: u32,
        price_minor: i64,
    ) -> anyhow::Result<(Actor, Offer)> {
        let mut a = self.member(email, "Driven Seller").await?;
        let res = a.post("/api/v1/me/totp").send().await?;
        let enrol = expect(res, 200, "TOTP enrolment").await?;
        let secret =
            TotpSecret::from_base32(&field(&enrol, "secret")?).context("the TOTP secret is not base32")?;
        let code = secret.code_at(SystemClock.now()).context("TOTP code")?;
        let res = a.post("/api/v1/me/totp/confirm").json(&json!({ "code": code })).send().await?;
        expect(res, 200, "TOTP confirmation").await?;
        let res = a.post("/api/v1/me/seller").send().await?;
        a.csrf = field(&expect(res, 200, "becoming a seller").await?, "csrf_token")?;
        let res = a
            .post("/api/v1/seller/shops")
            .json(&json!({
                "slug": slug, "name": format!("Driven {slug}"), "tagline": "Made for load",
                "description": "A shop the load generator opened.", "location": "Lyon",
                "return_policy": "30 days", "contact": format!("help@{slug}.example"),
                "seller_kind": "business"
            }))
            .send()
            .await?;
        let shop = field(&expect(res, 201, "opening a shop").await?, "id")?;
        let res = a
            .post(&format!("/api/v1/seller/shops/{shop}/listings"))
            .json(&json!({
                "title": format!("{slug} linen towel"), "description": "Woven for the load generator.",
                "category": "home", "status": "active",
                "variants": [{ "sku": format!("{slug}-1"), "name": "Natural", "price_minor": price_minor,
                               "currency": "EUR", "stock": stock }]
            }))
            .send()
            .await?;
        let listing = expect(res, 201, "listing").await?;
        let variant = listing
            .pointer("/variants/0/id")
            .and_then(Value::as_str)
            .context("the listing has no variant id")?
            .to_owned();
        Ok((a, Offer { shop, variant, price_minor }))
    }
}

impl Actor {
    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.base)).header("x-csrf-token", &self.csrf)
    }

    /// Puts `quantity` of the offer in the cart.
    pub async fn add_to_cart(&self, offer: &Offer, quantity: u32) -> anyhow::Result<()> {
        let res = self
            .http
            .put(format!("{}/api/v1/cart/lines/{}", self.base, offer.variant))
            .header("x-csrf-token", &self.csrf)
            .json(&json!({ "quantity": quantity }))
            .send()
            .await?;
        expect(res, 200, "cart").await.map(|_| ())
    }

    /// Checks the cart out with standard shipping from `shop`, under `key`.
    pub async fn checkout(&self, shop: &str, key: &str) -> anyhow::Result<Checkout> {
        let mut shipping = serde_json::Map::new();
        shipping.insert(shop.to_owned(), json!("standard"));
        let body = json!({
            "shipping_address": { "name": "Amina Kaddour", "line1": "3 rue des Fleurs",
                                  "postal_code": "69001", "city": "Lyon", "country": "FR" },
            "shipping": shipping
        });
        let res = self.post("/api/v1/checkout").header("idempotency-key", key).json(&body).send().await?;
        let v = expect(res, 201, "checkout").await?;
        let total_minor =
            v.pointer("/total/amount_minor").and_then(Value::as_i64).context("the checkout has no total")?;
        Ok(Checkout { id: field(&v, "id")?, total_minor })
    }

    /// Types a card into the vault endpoint as the card form does; returns the token.
    pub async fn tokenize(&self, number: &str) -> anyhow::Result<String> {
        // American Express prints a four-digit code on the front.
        let cvc = if number.starts_with("34") || number.starts_with("37") { "1234" } else { "123" };
        let res = self
            .post("/vault/v1/cards")
            .header("origin", &self.base)
            .json(&json!({ "number": number, "exp_month": 12, "exp_year": 2099, "cvc": cvc }))
            .send()
            .await?;
        field(&expect(res, 200, "card vault").await?, "token")
    }

    /// Pays `checkout` with a card token under `key`.
    pub async fn pay(&self, checkout: &str, token: &str, key: &str) -> anyhow::Result<Paid> {
        let res = self
            .post(&format!("/api/v1/checkouts/{checkout}/payment"))
            .header("idempotency-key", key)
            .json(&json!({ "card_token": token }))
            .send()
            .await?;
        Ok(Paid { status: field(&expect(res, 200, "payment").await?, "status")? })
    }
}

/// The body of an answer with `status`, or why not.
async fn expect(res: reqwest::Response, status: u16, what: &'static str) -> anyhow::Result<Value> {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    if got != status {
        let problem = serde_json::from_str::<Value>(&text).ok().map_or_else(
            || "(no problem document)".to_owned(),
            |v| {
                let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                format!("{} {}", text("code"), text("detail"))
            },
        );
        return Err(Refused { what, status: got, problem }.into());
    }
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).with_context(|| format!("{what}: the answer is not JSON"))
}

fn field(v: &Value, name: &str) -> anyhow::Result<String> {
    v.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("the answer has no {name}"))
}

/// The token of the newest "Confirm your email" mail to `email` on the outbox page.
fn token_mailed_to(html: &str, email: &str) -> Option<String> {
    html.split("<article").skip(1).find_map(|article| {
        if !article.contains("Confirm your email") || !article.contains(&format!("To {email} ")) {
            return None;
        }
        let start = article.find("token=")? + "token=".len();
        let token: String = article[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        (!token.is_empty()).then_some(token)
    })
}

#[cfg(test)]
mod tests {
    use super::token_mailed_to;

    #[test]
    fn the_confirmation_token_is_read_from_the_right_mail() {
        let page = r#"<article class="panel"><h2>Confirm your email</h2><p class="muted small">To b@example.com · now</p>
<div class="mail-body">Open https://localhost/verify-email?token=bbb_2 now</div></article>
<article class="panel"><h2>Confirm your email</h2><p class="muted small">To a@example.com · now</p>
<div class="mail-body">Open https://localhost/verify-email?token=aA-1_z&amp;x=1</div></article>"#;
        assert_eq!(token_mailed_to(page, "a@example.com").as_deref(), Some("aA-1_z"));
        assert_eq!(token_mailed_to(page, "b@example.com").as_deref(), Some("bbb_2"));
        assert_eq!(token_mailed_to(page, "c@example.com"), None);
        // A prefix of another address is not that address.
        assert_eq!(token_mailed_to(page, "a@example.co"), None);
    }
}
