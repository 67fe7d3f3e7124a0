//! Applications: what the user can open, from the configuration file and
//! the CLI, used last first; WSO2's filter, attributes and paging on the
//! REST API (checked against its spec); the page's search.

use crate::apps::{secrets, sign_in_to};
use crate::common::*;
use http::StatusCode;
use server::config::clients::{AccessUrl, ClientId, RedirectUri, Scope};
use server::config::{Application, Config};
use server::oidc::{ClientKind, NewClient};

const LIST: &str = "/api/users/v1/me/applications";

/// Authorized Apps' shop (now with an access URL) and blog (without one),
/// and a wiki that records consents but signs no one in.
fn config() -> Config {
    let mut config = crate::apps::config();
    for app in &mut config.consent.applications {
        if app.id == "shop" {
            app.access_url = Some(AccessUrl::parse("https://shop.example/").unwrap());
        }
    }
    config.consent.applications.push(Application {
        id: "wiki".into(),
        name: "Wiki".into(),
        description: "What the team knows.".into(),
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        public: false,
        scopes: server::config::clients::default_scopes(),
        access_url: Some(AccessUrl::parse("https://wiki.example/#/home").unwrap()),
    });
    config
}

fn ids(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

per_database! {
    async fn the_user_sees_what_they_can_open_used_last_first(app) with config { config() } {
        // A client added through the CLI, with where it opens.
        server::oidc::add(&app.db, &app.config, NewClient {
            id: ClientId::parse("notes").unwrap(),
            name: "Notes".into(),
            description: "Your notes.".into(),
            redirect_uris: vec![RedirectUri::parse("https://notes.example/cb").unwrap()],
            post_logout_redirect_uris: Vec::new(),
            kind: ClientKind::Public,
            scopes: vec![Scope::OpenId],
            access_url: Some(AccessUrl::parse("https://notes.example/start").unwrap()),
        }).await.unwrap();
        let (shop_secret, _) = secrets(&app).await;
        app.add_user("alice", PASSWORD).await;
        app.add_user("bob", PASSWORD).await;
        let alice = app.sign_in("alice", PASSWORD).await;
        let bob = app.sign_in("bob", PASSWORD).await;

        // Nothing used yet: by name. The blog has no access URL, so it is not listed.
        let listed = app.rest("GET", LIST, &alice, None).await;
        listed.assert_status(StatusCode::OK, app.label);
        let json = listed.json();
        assert_eq!(ids(&json["applications"]), ["notes", "shop", "wiki"], "[{}] {json}", app.label);
        assert_eq!((json["totalResults"].as_u64(), json["startIndex"].as_u64(), json["count"].as_u64()),
            (Some(3), Some(1), Some(3)));
        assert_eq!(json["links"], serde_json::json!([]));
        assert_eq!(json["applications"][2], serde_json::json!({
            "id": "wiki", "name": "Wiki", "description": "What the team knows.",
            "accessUrl": "https://wiki.example/#/home",
        }));

        // Signing in to the shop puts it first for alice, not for bob.
        sign_in_to(&app, "shop", &shop_secret, "openid email", &alice).await;
        let json = app.rest("GET", LIST, &alice, None).await.json();
        assert_eq!(ids(&json["applications"]), ["shop", "notes", "wiki"], "[{}]", app.label);
        let json = app.rest("GET", LIST, &bob, None).await.json();
        assert_eq!(ids(&json["applications"]), ["notes", "shop", "wiki"], "[{}]", app.label);

        // Authorized Apps links to where the shop opens.
        let authorized = app.post("/api/authorized_apps", &[], Some(&alice)).await.json();
        assert_eq!(authorized[0]["access_url"], "https://shop.example/", "[{}] {authorized}", app.label);

        // The page's server function: the same order, and when it was used.
        let page = app.post("/api/applications", &[("search", "")], Some(&alice)).await;
        page.assert_status(StatusCode::OK, app.label);
        let views = page.json();
        assert_eq!(ids(&views), ["shop", "notes", "wiki"]);
        assert!(views[0]["last_used"]["ms"].as_i64().unwrap() > 0, "[{}] {views}", app.label);
        assert_eq!(views[1]["last_used"], serde_json::Value::Null);
        assert_eq!(views[0]["access_url"], "https://shop.example/");

        // WSO2's filter: eq, sw, ew, co, without regard to case.
        for (filter, want) in [
            ("name co SHOP", vec!["shop"]),
            ("name sw w", vec!["wiki"]),
            ("name eq notes", vec!["notes"]),
            ("name ew \"shop\"", vec!["shop"]),
            ("name co o", vec!["shop", "notes"]),
            ("name co nothing", vec![]),
        ] {
            let path = format!("{LIST}?{}", encode(&[("filter", filter)]));
            let json = app.rest("GET", &path, &alice, None).await.json();
            assert_eq!(ids(&json["applications"]), want, "[{}] {filter}", app.label);
            assert_eq!(json["totalResults"].as_u64(), Some(want.len() as u64));
        }
        for (query, why) in [
            (encode(&[("filter", "description co x")]), "by name only"),
            (encode(&[("filter", "name like x")]), "eq, sw, ew or co"),
            (encode(&[("attributes", "name,logo")]), "\"logo\" is not an attribute"),
            (encode(&[("sortBy", "name")]), "Sorting is not supported"),
            ("limit=-1".to_string(), "limit"),
        ] {
            let refused = app.rest("GET", &format!("{LIST}?{query}"), &alice, None).await;
            refused.assert_status(StatusCode::BAD_REQUEST, app.label);
            assert!(refused.json()["description"].as_str().unwrap().contains(why), "[{}] {query}: {}", app.label, refused.body);
        }

        // Only the attributes asked for (and the id).
        let json = app.rest("GET", &format!("{LIST}?attributes=name"), &alice, None).await.json();
        assert_eq!(json["applications"][0], serde_json::json!({"id": "shop", "name": "Pet Shop"}));

        // Paging, with links to the pages around it.
        let json = app.rest("GET", &format!("{LIST}?limit=1&offset=1"), &alice, None).await.json();
        assert_eq!(ids(&json["applications"]), ["notes"]);
        assert_eq!((json["totalResults"].as_u64(), json["startIndex"].as_u64(), json["count"].as_u64()),
            (Some(3), Some(2), Some(1)));
        let base = app.config.public_url.trim_end_matches('/');
        assert_eq!(json["links"], serde_json::json!([
            {"href": format!("{base}{LIST}?offset=2&limit=1"), "rel": "next"},
            {"href": format!("{base}{LIST}?offset=0&limit=1"), "rel": "previous"},
        ]));
        // The links keep the filter.
        let json = app.rest("GET", &format!("{LIST}?{}", encode(&[("filter", "name co o"), ("limit", "1")])), &alice, None).await.json();
        assert_eq!(json["links"][0]["href"], format!("{base}{LIST}?filter=name+co+o&offset=1&limit=1"));

        // One application; one without an access URL or with no such id is not found.
        let one = app.rest("GET", &format!("{LIST}/notes"), &alice, None).await;
        one.assert_status(StatusCode::OK, app.label);
        assert_eq!(one.json()["accessUrl"], "https://notes.example/start");
        for id in ["blog", "nowhere"] {
            app.rest("GET", &format!("{LIST}/{id}"), &alice, None).await.assert_status(StatusCode::NOT_FOUND, app.label);
        }

        // The page's search: names containing the text; too long is refused clearly.
        let found = app.post("/api/applications", &[("search", " wik ")], Some(&alice)).await.json();
        assert_eq!(ids(&found), ["wiki"], "[{}]", app.label);
        let long = "x".repeat(101);
        let refused = app.post("/api/applications", &[("search", &long)], Some(&alice)).await;
        refused.assert_status(StatusCode::BAD_REQUEST, app.label);
        assert!(refused.body.contains("Search for at most 100 characters."), "[{}] {}", app.label, refused.body);

        // The home page's card counts them.
        let overview = app.post("/api/account_overview", &[], Some(&alice)).await.json();
        assert_eq!(overview["applications"], 3, "[{}] {overview}", app.label);

        // Signed out: nothing.
        app.get(LIST, None).await.assert_status(StatusCode::UNAUTHORIZED, app.label);
        app.post("/api/applications", &[("search", "")], None).await.assert_status(StatusCode::UNAUTHORIZED, app.label);
    }
}

per_database! {
    async fn removing_an_authorized_app_takes_it_off_the_recently_used(app) with config { config() } {
        let (shop_secret, _) = secrets(&app).await;
        app.add_user("alice", PASSWORD).await;
        let alice = app.sign_in("alice", PASSWORD).await;
        sign_in_to(&app, "shop", &shop_secret, "openid", &alice).await;
        let views = app.post("/api/applications", &[("search", "")], Some(&alice)).await.json();
        assert!(views[0]["last_used"].is_object(), "[{}] {views}", app.label);
        // Removed from Authorized Apps: its grants are gone, and with them
        // the record of its use; it stays listed, by name.
        app.post("/api/remove_authorized_app", &[("id", "shop")], Some(&alice)).await.assert_status(StatusCode::OK, app.label);
        let views = app.post("/api/applications", &[("search", "")], Some(&alice)).await.json();
        assert_eq!(ids(&views), ["shop", "wiki"], "[{}]", app.label);
        assert_eq!(views[0]["last_used"], serde_json::Value::Null, "[{}] {views}", app.label);
    }
}
