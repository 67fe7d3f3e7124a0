//! Selfserve as an OpenID Connect provider: its clients, from the
//! configuration file and from the database, found and authenticated alike.

use crate::common::*;
use server::config::clients::{ClientId, RedirectUri, Scope};
use server::config::{Application, Config};
use server::oidc::{self, ClientError, ClientKind, ClientSource, NewClient};

fn config_with_shop() -> Config {
    let mut config = test_config(ORIGIN);
    config.consent.applications.push(Application {
        id: "shop".into(),
        name: "Pet Shop".into(),
        description: "Sells pet food.".into(),
        redirect_uris: vec![RedirectUri::parse("https://shop.example/callback").unwrap()],
        post_logout_redirect_uris: Vec::new(),
        public: false,
        scopes: vec![Scope::OpenId, Scope::Email],
    });
    config
}

fn new_client(id: &str, kind: ClientKind) -> NewClient {
    NewClient {
        id: ClientId::parse(id).unwrap(),
        name: format!("{id} app"),
        description: String::new(),
        redirect_uris: vec![RedirectUri::parse(&format!("https://{id}.example/cb")).unwrap()],
        post_logout_redirect_uris: Vec::new(),
        kind,
        scopes: vec![Scope::OpenId],
    }
}

per_database! {
    async fn secrets_authenticate_until_rotated_and_only_confidential_clients(app) with config { config_with_shop() } {
        let (db, config) = (&app.db, &app.config);
        let secret = oidc::add(db, config, new_client("billing", ClientKind::Confidential))
            .await
            .unwrap()
            .expect("a confidential client gets a secret");
        let found = oidc::authenticate(db, config, "billing", secret.expose()).await.unwrap();
        assert_eq!(found.map(|c| c.source), Some(ClientSource::Database), "[{}]", app.label);
        assert!(oidc::authenticate(db, config, "billing", "wrong").await.unwrap().is_none());
        assert!(oidc::authenticate(db, config, "nobody", secret.expose()).await.unwrap().is_none());

        let rotated = oidc::rotate_secret(db, config, "billing").await.unwrap();
        assert!(oidc::authenticate(db, config, "billing", secret.expose()).await.unwrap().is_none(),
            "[{}] the old secret stops working at once", app.label);
        assert!(oidc::authenticate(db, config, "billing", rotated.expose()).await.unwrap().is_some());

        // A public client has no secret and never authenticates with one.
        assert!(oidc::add(db, config, new_client("spa", ClientKind::Public)).await.unwrap().is_none());
        assert!(matches!(oidc::rotate_secret(db, config, "spa").await, Err(ClientError::Public(_))));
        assert!(oidc::authenticate(db, config, "spa", "").await.unwrap().is_none());

        // The configured client: found with its settings; no secret until set.
        let shop = oidc::find(db, config, "shop").await.unwrap().unwrap();
        assert_eq!((shop.source, shop.kind), (ClientSource::Configuration, ClientKind::Confidential));
        assert_eq!(shop.scopes, vec![Scope::OpenId, Scope::Email]);
        assert!(oidc::authenticate(db, config, "shop", "").await.unwrap().is_none());
        let shop_secret = oidc::rotate_secret(db, config, "shop").await.unwrap();
        assert!(oidc::authenticate(db, config, "shop", shop_secret.expose()).await.unwrap().is_some());

        let ids: Vec<String> = oidc::all(db, config).await.unwrap().iter().map(|c| c.id.to_string()).collect();
        assert_eq!(ids, ["shop", "billing", "spa"], "[{}]", app.label);

        // Removing a client removes its secret: a new client of the same id
        // does not inherit it.
        oidc::remove(db, config, "billing").await.unwrap();
        assert!(oidc::find(db, config, "billing").await.unwrap().is_none());
        assert!(oidc::authenticate(db, config, "billing", rotated.expose()).await.unwrap().is_none());
        let again = oidc::add(db, config, new_client("billing", ClientKind::Confidential)).await.unwrap().unwrap();
        assert!(oidc::authenticate(db, config, "billing", rotated.expose()).await.unwrap().is_none());
        assert!(oidc::authenticate(db, config, "billing", again.expose()).await.unwrap().is_some());
    }
}

per_database! {
    async fn refusals_change_nothing(app) with config { config_with_shop() } {
        let (db, config) = (&app.db, &app.config);
        oidc::add(db, config, new_client("billing", ClientKind::Confidential)).await.unwrap();
        assert!(matches!(
            oidc::add(db, config, new_client("billing", ClientKind::Public)).await,
            Err(ClientError::Exists(_))
        ));
        assert!(matches!(
            oidc::add(db, config, new_client("shop", ClientKind::Public)).await,
            Err(ClientError::Exists(_))
        ), "[{}] a configured application's id is taken", app.label);
        let mut no_openid = new_client("web", ClientKind::Public);
        no_openid.scopes = vec![Scope::Email];
        assert!(matches!(oidc::add(db, config, no_openid).await, Err(ClientError::Invalid(_))));
        let mut no_redirect = new_client("web", ClientKind::Public);
        no_redirect.redirect_uris.clear();
        assert!(matches!(oidc::add(db, config, no_redirect).await, Err(ClientError::Invalid(_))));
        assert!(matches!(oidc::remove(db, config, "shop").await, Err(ClientError::Configured(_))));

        let billing = oidc::find(db, config, "billing").await.unwrap().unwrap();
        assert_eq!(billing.kind, ClientKind::Confidential, "[{}] unchanged", app.label);
        assert!(oidc::find(db, config, "web").await.unwrap().is_none());
        assert!(oidc::find(db, config, "shop").await.unwrap().is_some());
    }
}
