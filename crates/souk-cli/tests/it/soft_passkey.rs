//! A software authenticator (webauthn-authenticator-rs) playing the browser's part of the
//! passkey ceremonies over Souk's real HTTPS API.

use serde_json::{Value, json};
use souk_identity::passkey::{CreationChallengeResponse, RequestChallengeResponse};
use souk_testkit::TestApp;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::AllowCredentials;

/// A device with passkeys on it.
pub struct Device {
    auth: WebauthnAuthenticator<SoftPasskey>,
    /// The credential it registered, and the account (user handle) it belongs to.
    credential: Option<(Vec<u8>, uuid::Uuid)>,
}

impl Device {
    pub fn new() -> Self {
        Self { auth: WebauthnAuthenticator::new(SoftPasskey::new(true)), credential: None }
    }

    fn origin(app: &TestApp) -> url::Url {
        url::Url::parse(&app.base).unwrap()
    }

    /// Registers a passkey for the signed-in `client`; returns the response status.
    pub async fn register(&mut self, app: &TestApp, client: &reqwest::Client, csrf: &str, name: &str) -> u16 {
        let res = client
            .post(app.url("/api/v1/me/passkeys/start"))
            .header("x-csrf-token", csrf)
            .send()
            .await
            .unwrap();
        if res.status() != 200 {
            return res.status().as_u16();
        }
        let body: Value = res.json().await.unwrap();
        let mut options: CreationChallengeResponse = serde_json::from_value(body["options"].clone()).unwrap();
        let user = uuid::Uuid::from_slice(options.public_key.user.id.as_ref()).unwrap();
        // SoftPasskey keeps keys in memory (resident) but refuses a request insisting on it.
        if let Some(sel) = options.public_key.authenticator_selection.as_mut() {
            sel.require_resident_key = false;
        }
        let credential = self.auth.do_registration(Self::origin(app), options).unwrap();
        let raw_id = credential.raw_id.to_vec();
        let res = client
            .post(app.url("/api/v1/me/passkeys"))
            .header("x-csrf-token", csrf)
            .json(&json!({ "ceremony_id": body["ceremony_id"], "name": name, "credential": credential }))
            .send()
            .await
            .unwrap();
        if res.status() == 201 {
            self.credential = Some((raw_id, user));
        }
        res.status().as_u16()
    }

    /// The account (user handle) this device's passkey belongs to.
    pub fn user(&self) -> uuid::Uuid {
        self.credential.as_ref().expect("a registered passkey").1
    }

    /// Signs `client` in with the passkey (passwordless); returns the response.
    pub async fn sign_in(&mut self, app: &TestApp, client: &reqwest::Client) -> reqwest::Response {
        let user = self.user();
        self.sign_in_claiming(app, client, user).await
    }

    /// Signs in with this device's passkey while claiming to be `user` (the user handle is
    /// unsigned, so a malicious client can put anything there).
    pub async fn sign_in_claiming(
        &mut self,
        app: &TestApp,
        client: &reqwest::Client,
        user: uuid::Uuid,
    ) -> reqwest::Response {
        let (raw_id, _) = self.credential.clone().expect("a registered passkey");
        let body: Value =
            client.post(app.url("/api/v1/auth/passkey/start")).send().await.unwrap().json().await.unwrap();
        let mut options: RequestChallengeResponse = serde_json::from_value(body["options"].clone()).unwrap();
        // A real authenticator finds its credential by RP id and returns the stored user
        // handle; SoftPasskey needs it named, and the handle is supplied (it is unsigned).
        options.public_key.allow_credentials =
            vec![AllowCredentials { type_: "public-key".into(), id: raw_id.into(), transports: None }];
        let mut credential = self.auth.do_authentication(Self::origin(app), options).unwrap();
        credential.response.user_handle = Some(user.as_bytes().to_vec().into());
        client
            .post(app.url("/api/v1/auth/passkey/finish"))
            .json(&json!({ "ceremony_id": body["ceremony_id"], "credential": credential }))
            .send()
            .await
            .unwrap()
    }

    /// Confirms it is the user (step-up) with the passkey on the signed-in `client`.
    pub async fn reauthenticate(&mut self, app: &TestApp, client: &reqwest::Client, csrf: &str) -> u16 {
        let res = client
            .post(app.url("/api/v1/me/reauthenticate/passkey/start"))
            .header("x-csrf-token", csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        let options: RequestChallengeResponse = serde_json::from_value(body["options"].clone()).unwrap();
        assert!(!options.public_key.allow_credentials.is_empty(), "step-up names the account's passkeys");
        let credential = self.auth.do_authentication(Self::origin(app), options).unwrap();
        client
            .post(app.url("/api/v1/me/reauthenticate/passkey/finish"))
            .header("x-csrf-token", csrf)
            .json(&json!({ "ceremony_id": body["ceremony_id"], "credential": credential }))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}
