//! The frame every page shares (`app::layout`): each page names itself in
//! the browser's tab, history and a screen reader's first announcement
//! (WCAG 2.4.2).

use crate::common::*;
use http::StatusCode;

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
