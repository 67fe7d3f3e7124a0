//! Passkeys through the router: registering, signing in with one alone,
//! renaming, removing, the last way in, step-up, and no passkeys on an IP
//! address. The authenticator is webauthn-authenticator-rs' software passkey
//! (Playwright uses Chromium's virtual authenticator).

use crate::common::*;
use crate::mfa::{enrol, password_step, second_factor_given_long_ago};
use http::StatusCode;
use url::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_rs_proto::{AllowCredentials, CreationChallengeResponse, RequestChallengeResponse};

/// Where the tests' server is: an authenticator, like a browser, uses
/// passkeys only in a secure context (https, or http on localhost).
const PASSKEY_ORIGIN: &str = "http://localhost";

fn origin() -> Url {
    Url::parse(PASSKEY_ORIGIN).unwrap()
}

/// A device holding passkeys: the software authenticator, and what a
/// discoverable credential would also return (the user handle).
struct Device {
    authenticator: SoftPasskey,
    credentials: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Device {
    fn new() -> Self {
        // `true`: it reports user verification, as a screen lock would.
        Device {
            authenticator: SoftPasskey::new(true),
            credentials: Vec::new(),
        }
    }
}

/// Registers a passkey named `name` from `device`; the reply to finishing.
async fn add_passkey(app: &TestApp, cookie: &str, device: &mut Device, name: &str) -> Reply {
    let begun = app
        .post("/api/begin_passkey_registration", &[], Some(cookie))
        .await;
    begun.assert_status(StatusCode::OK, app.label);
    let begun = begun.json();
    let options: CreationChallengeResponse =
        serde_json::from_str(begun["options"].as_str().unwrap()).unwrap();
    let selection = options.public_key.authenticator_selection.as_ref();
    assert!(
        selection.is_some_and(|s| s.require_resident_key),
        "a discoverable credential is asked for"
    );
    // The software authenticator keeps no discoverable credentials: it is
    // asked for an ordinary one, and `passkey_sign_in` hands back the user
    // handle a discoverable one would return.
    let options = without_resident_key(options);
    let handle = options.public_key.user.id.to_vec();
    let credential = device
        .authenticator
        .do_registration(origin(), options)
        .expect("the authenticator registers");
    device
        .credentials
        .push((credential.raw_id.to_vec(), handle));
    app.post(
        "/api/finish_passkey_registration",
        &[
            ("ceremony", begun["ceremony"].as_str().unwrap()),
            ("name", name),
            ("credential", &serde_json::to_string(&credential).unwrap()),
        ],
        Some(cookie),
    )
    .await
}

/// "Sign in with a passkey" with the device's passkey `index`: the browser
/// lets the user pick it, and the authenticator returns its user handle.
async fn passkey_sign_in(app: &TestApp, device: &mut Device, index: usize) -> Reply {
    let begun = app.post("/api/begin_passkey_sign_in", &[], None).await;
    begun.assert_status(StatusCode::OK, app.label);
    let begun = begun.json();
    let mut options: RequestChallengeResponse =
        serde_json::from_str(begun["options"].as_str().unwrap()).unwrap();
    assert!(
        options.public_key.allow_credentials.is_empty(),
        "any passkey of this site may answer"
    );
    let (id, handle) = device.credentials[index].clone();
    options.public_key.allow_credentials = vec![AllowCredentials {
        type_: "public-key".into(),
        id,
        transports: None,
    }];
    let mut credential = device
        .authenticator
        .do_authentication(origin(), options)
        .expect("the authenticator signs");
    credential.response.user_handle = Some(handle);
    app.post(
        "/api/finish_passkey_sign_in",
        &[
            ("ceremony", begun["ceremony"].as_str().unwrap()),
            ("credential", &serde_json::to_string(&credential).unwrap()),
        ],
        None,
    )
    .await
}

/// The options as the software authenticator can follow them (see
/// `add_passkey`).
fn without_resident_key(mut options: CreationChallengeResponse) -> CreationChallengeResponse {
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.require_resident_key = false;
        selection.resident_key = None;
    }
    options
}

async fn passkeys(app: &TestApp, cookie: &str) -> serde_json::Value {
    let reply = app.post("/api/passkeys", &[], Some(cookie)).await;
    reply.assert_status(StatusCode::OK, app.label);
    reply.json()
}

per_database! {
    async fn a_passkey_signs_in_on_its_own_and_can_be_renamed_and_removed(app) with config { test_config(PASSKEY_ORIGIN) } {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let mut device = Device::new();
        add_passkey(&app, &cookie, &mut device, "  Work laptop ").await.assert_status(StatusCode::OK, app.label);
        let listed = passkeys(&app, &cookie).await;
        assert_eq!(listed["list"][0]["name"], "Work laptop", "{listed}");
        assert!(listed["list"][0]["last_used"].is_null(), "{listed}");
        assert_eq!(listed["only_way_in"], false, "{listed}");
        let id = listed["list"][0]["id"].as_str().unwrap().to_string();

        // Signing in with it: a new session, begun by a passkey.
        let signed_in = passkey_sign_in(&app, &mut device, 0).await;
        signed_in.assert_status(StatusCode::OK, app.label);
        assert_eq!(signed_in.json(), "/", "on to My Account");
        let session = signed_in.session_cookie().expect("a session");
        assert_ne!(session, cookie);
        let sessions = app.get("/api/users/v1/me/sessions", Some(&session)).await.json();
        let newest = sessions["sessions"].as_array().unwrap().iter()
            .find(|s| s["current"] == true).cloned().unwrap_or_else(|| sessions["sessions"][0].clone());
        let session_id = newest["id"].as_str().unwrap().to_string();
        let proof = server::sessions::proof(&app.db, &session_id).await.unwrap().unwrap();
        assert_eq!(proof.amr(), ["hwk", "mfa"], "[{}]", app.label);
        assert_eq!(proof.acr(), "urn:selfserve:acr:mfa");
        assert!(passkeys(&app, &session).await["list"][0]["last_used"].is_object());

        // A bad name changes nothing; another user's passkey is not found.
        let bad = app.post("/api/rename_passkey", &[("id", &id), ("name", " ")], Some(&cookie)).await;
        bad.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(bad.body.contains("Give the passkey a name"), "{}", bad.body);
        let long = "x".repeat(65);
        let bad = app.post("/api/rename_passkey", &[("id", &id), ("name", &long)], Some(&cookie)).await;
        bad.assert_status(StatusCode::BAD_REQUEST, app.label);
        app.add_user("mallory", PASSWORD).await;
        let mallory = app.sign_in("mallory", PASSWORD).await;
        for (path, form) in [
            ("/api/rename_passkey", vec![("id", id.as_str()), ("name", "mine now")]),
            ("/api/remove_passkey", vec![("id", id.as_str())]),
        ] {
            app.post(path, &form, Some(&mallory)).await.assert_status(StatusCode::NOT_FOUND, app.label);
        }
        assert_eq!(passkeys(&app, &cookie).await["list"][0]["name"], "Work laptop");

        app.post("/api/rename_passkey", &[("id", &id), ("name", "Old laptop")], Some(&cookie))
            .await
            .assert_status(StatusCode::OK, app.label);
        assert_eq!(passkeys(&app, &cookie).await["list"][0]["name"], "Old laptop");

        // The export names it, without its public key.
        let export = app.get("/api/identity/user/v1.0/me", Some(&cookie)).await;
        export.assert_status(StatusCode::OK, app.label);
        let factors = export.json()["security"]["secondFactors"].clone();
        assert_eq!(factors[0]["type"], "passkey", "{factors}");
        assert_eq!(factors[0]["name"], "Old laptop", "{factors}");
        assert!(!export.body.contains("cred_id") && !export.body.contains(&id), "{}", export.body);

        app.post("/api/remove_passkey", &[("id", &id)], Some(&cookie))
            .await
            .assert_status(StatusCode::OK, app.label);
        assert_eq!(passkeys(&app, &cookie).await["list"].as_array().unwrap().len(), 0);
        let refused = passkey_sign_in(&app, &mut device, 0).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "[{}] {}", app.label, refused.body);
        assert!(refused.session_cookie().is_none());
        assert!(refused.body.contains("was not accepted"), "{}", refused.body);
    }
}

per_database! {
    async fn a_ceremony_is_used_once_and_only_by_its_own_user(app) with config { test_config(PASSKEY_ORIGIN) } {
        app.add_user("ada", PASSWORD).await;
        app.add_user("bob", PASSWORD).await;
        let ada = app.sign_in("ada", PASSWORD).await;
        let bob = app.sign_in("bob", PASSWORD).await;
        let begun = app.post("/api/begin_passkey_registration", &[], Some(&ada)).await.json();
        let options: CreationChallengeResponse =
            serde_json::from_str(begun["options"].as_str().unwrap()).unwrap();
        let mut device = Device::new();
        let credential = serde_json::to_string(
            &device
                .authenticator
                .do_registration(origin(), without_resident_key(options))
                .unwrap(),
        )
        .unwrap();
        let form = [
            ("ceremony", begun["ceremony"].as_str().unwrap()),
            ("name", "Key"),
            ("credential", credential.as_str()),
        ];
        // Another user cannot finish it, and that does not use it up.
        let stolen = app.post("/api/finish_passkey_registration", &form, Some(&bob)).await;
        assert_eq!(stolen.status, StatusCode::BAD_REQUEST, "[{}] {}", app.label, stolen.body);
        assert!(stolen.body.contains("has ended"), "{}", stolen.body);
        app.post("/api/finish_passkey_registration", &form, Some(&ada))
            .await
            .assert_status(StatusCode::OK, app.label);
        let again = app.post("/api/finish_passkey_registration", &form, Some(&ada)).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "[{}] {}", app.label, again.body);
        assert_eq!(passkeys(&app, &ada).await["list"].as_array().unwrap().len(), 1);
        assert_eq!(passkeys(&app, &bob).await["list"].as_array().unwrap().len(), 0);
    }
}

per_database! {
    async fn the_last_passkey_of_an_account_without_a_password_stays(app) with config { test_config(PASSKEY_ORIGIN) } {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let mut device = Device::new();
        add_passkey(&app, &cookie, &mut device, "Phone").await.assert_status(StatusCode::OK, app.label);
        add_passkey(&app, &cookie, &mut device, "Security key").await.assert_status(StatusCode::OK, app.label);
        // An account without a password (as one made through a provider).
        sqlx::query("UPDATE users SET password_hash = '' WHERE username = 'ada'")
            .execute(&app.db.pool)
            .await
            .unwrap();
        let listed = passkeys(&app, &cookie).await;
        assert_eq!(listed["only_way_in"], true, "{listed}");
        let first = listed["list"][0]["id"].as_str().unwrap().to_string();
        let second = listed["list"][1]["id"].as_str().unwrap().to_string();
        app.post("/api/remove_passkey", &[("id", &first)], Some(&cookie))
            .await
            .assert_status(StatusCode::OK, app.label);
        let refused = app.post("/api/remove_passkey", &[("id", &second)], Some(&cookie)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "[{}] {}", app.label, refused.body);
        assert!(refused.body.contains("only way into your account"), "{}", refused.body);
        assert_eq!(passkeys(&app, &cookie).await["list"].as_array().unwrap().len(), 1);
        // It still signs in.
        passkey_sign_in(&app, &mut device, 1).await.assert_status(StatusCode::OK, app.label);
    }
}

per_database! {
    async fn adding_or_removing_a_passkey_needs_a_recent_second_factor(app) with config { test_config(PASSKEY_ORIGIN) } {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let mut device = Device::new();
        add_passkey(&app, &cookie, &mut device, "Phone").await.assert_status(StatusCode::OK, app.label);
        let id = passkeys(&app, &cookie).await["list"][0]["id"].as_str().unwrap().to_string();
        enrol(&app, &cookie).await;
        second_factor_given_long_ago(&app).await;
        let begin = app.post("/api/begin_passkey_registration", &[], Some(&cookie)).await;
        begin.assert_status(StatusCode::FORBIDDEN, app.label);
        assert!(begin.body.contains("Confirm it is you first"), "{}", begin.body);
        app.post("/api/remove_passkey", &[("id", &id)], Some(&cookie))
            .await
            .assert_status(StatusCode::FORBIDDEN, app.label);
        assert_eq!(passkeys(&app, &cookie).await["list"].as_array().unwrap().len(), 1);
    }
}

per_database! {
    async fn passkeys_are_not_offered_on_an_ip_address(app) with config {
        test_config("http://127.0.0.1:3000")
    } {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let listed = app.post("/api/passkeys", &[], Some(&cookie)).await;
        listed.assert_status(StatusCode::OK, app.label);
        assert!(listed.json().is_null(), "{}", listed.body);
        assert_eq!(app.post("/api/passkey_sign_in_offered", &[], None).await.json(), false);
        app.post("/api/begin_passkey_sign_in", &[], None)
            .await
            .assert_status(StatusCode::FORBIDDEN, app.label);
        app.rest("GET", "/api/users/v1/me/webauthn", &cookie, None)
            .await
            .assert_status(StatusCode::FORBIDDEN, app.label);
    }
}

per_database! {
    async fn the_rest_api_registers_lists_and_removes_passkeys_as_wso2_s_fido2_api_does(app) with config { test_config(PASSKEY_ORIGIN) } {
        app.add_user("ada", PASSWORD).await;
        let cookie = app.sign_in("ada", PASSWORD).await;
        let listed = app.rest("GET", "/api/users/v1/me/webauthn", &cookie, None).await;
        listed.assert_status(StatusCode::OK, app.label);
        assert_eq!(listed.json(), serde_json::json!([]));

        let started = app
            .rest("GET", "/api/users/v1/me/webauthn/start-registration?appId=localhost", &cookie, None)
            .await;
        started.assert_status(StatusCode::CREATED, app.label);
        let started = started.json();
        assert_eq!(started["username"], "ada");
        assert_eq!(started["publicKeyCredentialCreationOptions"]["rp"]["id"], "localhost", "{started}");
        let options: CreationChallengeResponse = serde_json::from_value(serde_json::json!({
            "publicKey": started["publicKeyCredentialCreationOptions"]
        }))
        .unwrap();
        let mut device = Device::new();
        let credential = device
            .authenticator
            .do_registration(origin(), without_resident_key(options))
            .unwrap();
        let finished = app
            .rest(
                "POST",
                "/api/users/v1/me/webauthn/finish-registration",
                &cookie,
                Some(serde_json::json!({
                    "requestId": started["requestId"],
                    "credential": credential,
                    "displayName": "YubiKey",
                })),
            )
            .await;
        finished.assert_status(StatusCode::CREATED, app.label);
        let added = finished.json();
        assert_eq!(added["displayName"], "YubiKey", "{added}");
        assert!(added["lastUsedTime"].is_null());
        let id = added["credentialId"].as_str().unwrap().to_string();
        let listed = app.rest("GET", "/api/users/v1/me/webauthn", &cookie, None).await.json();
        assert_eq!(listed[0]["credentialId"], id.as_str(), "{listed}");
        let enabled = app.rest("GET", "/api/users/v1/me/mfa/authenticators", &cookie, None).await.json();
        assert_eq!(enabled["enabledAuthenticators"], "Passkey", "{enabled}");

        // A name that is not valid is refused, and nothing is made.
        let started = app.rest("GET", "/api/users/v1/me/webauthn/start-registration", &cookie, None).await.json();
        let bad = app
            .rest(
                "POST",
                "/api/users/v1/me/webauthn/finish-registration",
                &cookie,
                Some(serde_json::json!({"requestId": started["requestId"], "credential": {}, "displayName": "\u{7}"})),
            )
            .await;
        bad.assert_status(StatusCode::BAD_REQUEST, app.label);
        // The credential must be the browser's.
        let bad = app
            .rest(
                "POST",
                "/api/users/v1/me/webauthn/finish-registration",
                &cookie,
                Some(serde_json::json!({"requestId": started["requestId"], "credential": {"id": "x"}})),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "[{}] {}", app.label, bad.body);

        app.rest("DELETE", "/api/users/v1/me/webauthn/not-a-passkey", &cookie, None)
            .await
            .assert_status(StatusCode::NOT_FOUND, app.label);
        app.rest("DELETE", &format!("/api/users/v1/me/webauthn/{id}"), &cookie, None)
            .await
            .assert_status(StatusCode::OK, app.label);
        assert_eq!(app.rest("GET", "/api/users/v1/me/webauthn", &cookie, None).await.json(), serde_json::json!([]));
    }
}

/// The second step with a passkey, the sign-in named by `challenge`; the
/// device signs with its passkey `index`, whatever the server allowed.
/// Gives the device's `index`th passkey to a ceremony begun at `begin` and
/// finished at `finish`, as the browser named by `cookie`; the reply to finishing.
async fn give_passkey(
    app: &TestApp,
    (begin, finish): (&str, &str),
    cookie: &str,
    device: &mut Device,
    index: usize,
) -> Reply {
    let begun = app.post(begin, &[], Some(cookie)).await;
    begun.assert_status(StatusCode::OK, app.label);
    let begun = begun.json();
    let mut options: RequestChallengeResponse =
        serde_json::from_str(begun["options"].as_str().unwrap()).unwrap();
    let (id, _) = device.credentials[index].clone();
    options.public_key.allow_credentials = vec![AllowCredentials {
        type_: "public-key".into(),
        id,
        transports: None,
    }];
    let credential = device
        .authenticator
        .do_authentication(origin(), options)
        .expect("the authenticator signs");
    app.post(
        finish,
        &[
            ("ceremony", begun["ceremony"].as_str().unwrap()),
            ("credential", &serde_json::to_string(&credential).unwrap()),
        ],
        Some(cookie),
    )
    .await
}

const SECOND_STEP: (&str, &str) = (
    "/api/begin_passkey_second_step",
    "/api/finish_passkey_second_step",
);
const STEP_UP: (&str, &str) = ("/api/begin_passkey_step_up", "/api/finish_passkey_step_up");

async fn passkey_second_step(
    app: &TestApp,
    challenge: &str,
    device: &mut Device,
    index: usize,
) -> Reply {
    give_passkey(app, SECOND_STEP, challenge, device, index).await
}

/// Ada with an authenticator app and a passkey, and Bob with a passkey, both
/// on one device (passkeys 0 and 1); Ada's session.
async fn ada_with_app_and_passkey_beside_bob(app: &TestApp) -> (String, Device) {
    app.add_user("ada", PASSWORD).await;
    app.add_user("bob", PASSWORD).await;
    let ada = app.sign_in("ada", PASSWORD).await;
    let bob = app.sign_in("bob", PASSWORD).await;
    let mut device = Device::new();
    add_passkey(app, &ada, &mut device, "Phone")
        .await
        .assert_status(StatusCode::OK, app.label);
    add_passkey(app, &bob, &mut device, "Bob's key")
        .await
        .assert_status(StatusCode::OK, app.label);
    enrol(app, &ada).await;
    (ada, device)
}

per_database! {
    async fn a_passkey_is_a_second_factor_after_the_password(app) with config { test_config(PASSKEY_ORIGIN) } {
        let (_, mut device) = ada_with_app_and_passkey_beside_bob(&app).await;

        // After the password, the passkey is offered beside the codes.
        let challenge = password_step(&app, "ada").await;
        let prompt = app.post("/api/second_factor_prompt", &[], Some(&challenge)).await.json();
        assert_eq!(prompt["methods"], serde_json::json!(["Otp", "RecoveryCode", "Passkey"]), "{prompt}");

        // Another account's passkey does not answer for this one.
        let refused = passkey_second_step(&app, &challenge, &mut device, 1).await;
        refused.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(refused.session_cookie().is_none());

        let done = passkey_second_step(&app, &challenge, &mut device, 0).await;
        done.assert_status(StatusCode::OK, app.label);
        assert_eq!(done.json(), "/");
        let session = done.session_cookie().expect("a session");
        let sessions = app.get("/api/users/v1/me/sessions", Some(&session)).await.json();
        // Newest first.
        let id = sessions["sessions"][0]["id"].as_str().unwrap();
        let proof = server::sessions::proof(&app.db, id).await.unwrap().unwrap();
        assert_eq!(proof.amr(), ["pwd", "hwk", "mfa"], "[{}]", app.label);

        // The challenge is used up; the next sign-in offers the passkey first.
        let again = app.post("/api/begin_passkey_second_step", &[], Some(&challenge)).await;
        again.assert_status(StatusCode::BAD_REQUEST, app.label);
        let challenge = password_step(&app, "ada").await;
        let prompt = app.post("/api/second_factor_prompt", &[], Some(&challenge)).await.json();
        assert_eq!(prompt["methods"][0], "Passkey", "{prompt}");

        // A password change's new session keeps the factor, and its kind.
        let new = "a brand new passphrase for ada";
        let changed = app
            .post("/api/change_password", &[("current", PASSWORD), ("new_password", new), ("confirm", new)], Some(&session))
            .await;
        let renewed = changed.session_cookie().unwrap_or_else(|| panic!("[{}] {} {}", app.label, changed.status, changed.body));
        let sessions = app.get("/api/users/v1/me/sessions", Some(&renewed)).await.json();
        let id = sessions["sessions"][0]["id"].as_str().unwrap();
        let proof = server::sessions::proof(&app.db, id).await.unwrap().unwrap();
        assert_eq!(proof.amr(), ["pwd", "hwk", "mfa"], "[{}]", app.label);
    }
}

per_database! {
    async fn a_passkey_confirms_it_is_you_before_a_change(app) with config { test_config(PASSKEY_ORIGIN) } {
        let (ada, mut device) = ada_with_app_and_passkey_beside_bob(&app).await;
        second_factor_given_long_ago(&app).await;
        let needed = || async { app.post("/api/second_factor_needed", &[], Some(&ada)).await.json() };
        assert_eq!(needed().await, true, "[{}]", app.label);

        // Another account's passkey does not answer for Ada.
        let refused = give_passkey(&app, STEP_UP, &ada, &mut device, 1).await;
        refused.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert_eq!(needed().await, true, "[{}]", app.label);

        let done = give_passkey(&app, STEP_UP, &ada, &mut device, 0).await;
        done.assert_status(StatusCode::OK, app.label);
        assert_eq!(needed().await, false, "[{}]", app.label);
        // The session still says it was begun with the app's code: a step-up
        // does not change how it was signed in.
        let sessions = app.get("/api/users/v1/me/sessions", Some(&ada)).await.json();
        let id = sessions["sessions"][0]["id"].as_str().unwrap();
        let proof = server::sessions::proof(&app.db, id).await.unwrap().unwrap();
        assert_eq!(proof.amr(), ["pwd", "otp", "mfa"], "[{}]", app.label);
        app.post("/api/begin_passkey_registration", &[], Some(&ada))
            .await
            .assert_status(StatusCode::OK, app.label);
        // Without a session, there is no one to confirm.
        app.post("/api/begin_passkey_step_up", &[], None)
            .await
            .assert_status(StatusCode::UNAUTHORIZED, app.label);
    }
}
