//! The frame every page shares (`app::layout`): each page names itself in
//! the browser's tab, history and a screen reader's first announcement
//! (WCAG 2.4.2).

use crate::common::*;
use axum::body::Body;
use http::{header, Request, StatusCode};

fn title_of(body: &str) -> &str {
    let start = body.find("<title>").expect("a <title>") + "<title>".len();
    let end = body[start..].find("</title>").expect("</title>") + start;
    &body[start..end]
}

#[tokio::test]
async fn every_page_names_itself_in_its_title() {
    let app = TestApp::sqlite(test_config(ORIGIN)).await;
    app.add_user("alice", PASSWORD).await;
    let cookie = app.sign_in("alice", PASSWORD).await;
    let signed_in = [
        ("/", "My Account · Selfserve"),
        ("/profile", "My Profile · Selfserve"),
        ("/password", "Change Password · Selfserve"),
        ("/sessions", "My Login Sessions · Selfserve"),
        ("/recovery", "Account Recovery · Selfserve"),
        ("/mfa", "Multi-factor authentication · Selfserve"),
        ("/approvals", "Pending Approvals · Selfserve"),
        ("/consent", "Consent Management · Selfserve"),
        ("/apps", "Authorized Apps · Selfserve"),
        ("/associations", "Associated Accounts · Selfserve"),
        ("/privacy", "Privacy notice · Selfserve"),
        ("/no-such-page", "Page not found · Selfserve"),
    ];
    let signed_out = [
        ("/signin", "Sign in · Selfserve"),
        ("/register", "Create an account · Selfserve"),
        ("/recover", "Reset your password · Selfserve"),
    ];
    let pages = signed_in
        .iter()
        .map(|page| (page, Some(cookie.as_str())))
        .chain(signed_out.iter().map(|page| (page, None)));
    for ((path, title), cookie) in pages {
        let page = app.get(path, cookie).await;
        assert!(
            page.status == StatusCode::OK || page.status == StatusCode::NOT_FOUND,
            "{path}: {}",
            page.status
        );
        assert_eq!(title_of(&page.body), *title, "{path}");
        assert_eq!(page.body.matches("<title>").count(), 1, "{path}: one title");
    }
}

#[tokio::test]
async fn a_consent_s_page_names_its_application() {
    let app = TestApp::sqlite(crate::consent::config()).await;
    app.add_user("alice", PASSWORD).await;
    let cookie = app.sign_in("alice", PASSWORD).await;
    crate::consent::shop_consent(&app, &cookie, &[crate::consent::EMAIL]).await;
    let page = app.get("/consent/shop", Some(&cookie)).await;
    page.assert_status(StatusCode::OK, app.label);
    assert_eq!(title_of(&page.body), "Consent for Pet Shop · Selfserve");
    // Without a consent, the page keeps its general name.
    let none = app.get("/consent/nothing-here", Some(&cookie)).await;
    assert_eq!(title_of(&none.body), "Consent details · Selfserve");
}

/// The account menu (`app::layout::TopBar`) as the server renders it: the
/// signed-in user, the theme their cookie names, and "Switch to" for each
/// associated account; a theme chosen without the client (a plain form post)
/// is remembered and rendered.
#[tokio::test]
async fn the_account_menu_names_the_user_their_theme_and_their_associated_accounts() {
    let app = TestApp::sqlite(test_config(ORIGIN)).await;
    app.add_user("alice", PASSWORD).await;
    app.add_user("bob", PASSWORD).await;
    let alice = app.sign_in("alice", PASSWORD).await;
    let checked = |body: &str, theme: &str| {
        let button = format!(r#"value="{theme}" role="menuitemradio" aria-checked="true""#);
        body.contains(&button)
    };

    let page = app.get("/sessions", Some(&alice)).await;
    page.assert_status(StatusCode::OK, app.label);
    assert!(page.body.contains("Signed in as <strong>alice</strong>"));
    assert!(
        checked(&page.body, "system"),
        "no cookie: the system's theme"
    );
    assert!(!page.body.contains("Switch to"));

    // The form as a browser without the client posts it.
    let chose = Request::post("/api/set_theme")
        .header(header::ORIGIN, ORIGIN)
        .header(header::REFERER, format!("{ORIGIN}/sessions"))
        .header(header::ACCEPT, "text/html")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::USER_AGENT, "integration-test")
        .header(header::COOKIE, &alice)
        .body(Body::from("theme=dark"))
        .unwrap();
    let chose = app.send(chose).await;
    assert_eq!(chose.status, StatusCode::FOUND, "{}", chose.body);
    let theme = chose
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("theme="))
        .expect("the theme's cookie");
    let theme = theme.split(';').next().unwrap().to_string();
    let page = app
        .get("/password", Some(&format!("{alice}; {theme}")))
        .await;
    assert!(page.body.contains(r#"data-theme="dark""#));
    assert!(checked(&page.body, "dark"));
    assert!(!checked(&page.body, "system"));

    // With an associated account, the menu offers to switch to it.
    crate::associations::associate(&app, &alice, "bob", PASSWORD)
        .await
        .assert_status(StatusCode::CREATED, app.label);
    let page = app.get("/profile", Some(&alice)).await;
    assert!(page.body.contains("Signed in as <strong>alice</strong>"));
    assert!(page.body.contains("Switch to <!>bob") || page.body.contains("Switch to bob"));
}
