// Passkeys in the browser: sign in with one (login page) and add one (security centre).
// Served from /static so the strict CSP (script-src 'self') holds; no inline script.
"use strict";
(function () {
  function b64urlToBytes(s) {
    var pad = s.length % 4 === 0 ? "" : "====".slice(s.length % 4);
    var bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + pad);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bytesToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function creationOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = b64urlToBytes(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: b64urlToBytes(pk.user.id) });
    pk.excludeCredentials = (pk.excludeCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: b64urlToBytes(c.id) });
    });
    return { publicKey: pk };
  }
  function requestOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = b64urlToBytes(pk.challenge);
    pk.allowCredentials = (pk.allowCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: b64urlToBytes(c.id) });
    });
    return { publicKey: pk };
  }
  function credentialJson(c) {
    var r = c.response, out = {
      id: c.id, rawId: bytesToB64url(c.rawId), type: c.type,
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: { clientDataJSON: bytesToB64url(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = bytesToB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = bytesToB64url(r.authenticatorData);
      out.response.signature = bytesToB64url(r.signature);
      out.response.userHandle = r.userHandle ? bytesToB64url(r.userHandle) : null;
    }
    return out;
  }
  function post(url, body, csrf) {
    var headers = { "content-type": "application/json" };
    if (csrf) headers["x-csrf-token"] = csrf;
    return fetch(url, { method: "POST", headers: headers, credentials: "same-origin", body: JSON.stringify(body || {}) })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (json) { return { res: res, json: json }; });
      });
  }
  function say(text) {
    var el = document.getElementById("passkey-status");
    if (el) el.textContent = text;
  }

  var login = document.getElementById("passkey-login");
  if (login) {
    login.addEventListener("click", function () {
      if (!window.PublicKeyCredential) { say("This browser does not support passkeys."); return; }
      post("/api/v1/auth/passkey/start").then(function (r) {
        if (!r.res.ok) throw new Error(r.json.detail || "Could not start.");
        return navigator.credentials.get(requestOptions(r.json.options)).then(function (cred) {
          return post("/api/v1/auth/passkey/finish", { ceremony_id: r.json.ceremony_id, credential: credentialJson(cred) });
        });
      }).then(function (r) {
        if (!r.res.ok) throw new Error(r.json.detail || "The passkey was not accepted.");
        window.location.assign(login.getAttribute("data-next") || "/account/security");
      }).catch(function (e) { say(e && e.message ? e.message : "The passkey was not accepted."); });
    });
  }

  var reauth = document.getElementById("passkey-reauth");
  if (reauth) {
    reauth.addEventListener("click", function () {
      var csrf = reauth.getAttribute("data-csrf");
      post("/api/v1/me/reauthenticate/passkey/start", {}, csrf).then(function (r) {
        if (!r.res.ok) throw new Error(r.json.detail || "Could not start.");
        return navigator.credentials.get(requestOptions(r.json.options)).then(function (cred) {
          return post("/api/v1/me/reauthenticate/passkey/finish",
            { ceremony_id: r.json.ceremony_id, credential: credentialJson(cred) }, csrf);
        });
      }).then(function (r) {
        if (!r.res.ok) throw new Error(r.json.detail || "The passkey was not accepted.");
        window.location.assign(reauth.getAttribute("data-next") || "/account/security");
      }).catch(function (e) { say(e && e.message ? e.message : "The passkey was not accepted."); });
    });
  }

  var add = document.getElementById("passkey-add");
  if (add) {
    add.addEventListener("click", function () {
      var csrf = add.getAttribute("data-csrf");
      var nameInput = document.getElementById("passkey-name");
      var name = nameInput && nameInput.value ? nameInput.value : "Passkey";
      post("/api/v1/me/passkeys/start", {}, csrf).then(function (r) {
        if (r.res.status === 403 && r.json.code === "step_up_required") {
          window.location.assign("/account/reauth?next=/account/security");
          return null;
        }
        if (!r.res.ok) throw new Error(r.json.detail || "Could not start.");
        return navigator.credentials.create(creationOptions(r.json.options)).then(function (cred) {
          return post("/api/v1/me/passkeys", { ceremony_id: r.json.ceremony_id, name: name, credential: credentialJson(cred) }, csrf);
        });
      }).then(function (r) {
        if (!r) return;
        if (!r.res.ok) throw new Error(r.json.detail || "The passkey was not added.");
        window.location.assign("/account/security?done=passkey");
      }).catch(function (e) { say(e && e.message ? e.message : "The passkey was not added."); });
    });
  }
})();
