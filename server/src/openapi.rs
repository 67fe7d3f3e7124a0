//! The OpenAPI document of the REST endpoints, generated from the handlers'
//! annotations and served at `/api/openapi.json`. `server/openapi.json` is the
//! committed copy; a test fails when the two differ.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Selfserve REST API",
        description = "The signed-in user's own resources. Authentication: the session cookie; \
                       state-changing requests must come from the same origin (Origin or Sec-Fetch-Site)."
    ),
    paths(
        crate::sessions::rest::list,
        crate::sessions::rest::delete_all,
        crate::sessions::rest::delete_one,
        crate::export::export,
        crate::recovery::rest::challenges,
        crate::recovery::rest::answered,
        crate::recovery::rest::add,
        crate::recovery::rest::replace,
        crate::recovery::rest::remove_all,
        crate::recovery::rest::replace_one,
        crate::recovery::rest::remove_one,
        crate::approvals::rest::list,
        crate::approvals::rest::get,
        crate::approvals::rest::change_state,
        crate::consent::rest::list,
        crate::consent::rest::add,
        crate::consent::rest::get,
        crate::consent::rest::get_signed,
        crate::consent::rest::revoke,
        crate::consent::rest::purposes,
        crate::consent::rest::purpose,
        crate::consent::rest::jwks,
        crate::applications::rest::list_applications,
        crate::applications::rest::get_application,
        crate::apps::rest::list_apps,
        crate::apps::rest::delete_all,
        crate::apps::rest::get_app,
        crate::apps::rest::delete_app,
        crate::associations::rest::get_all,
        crate::associations::rest::add,
        crate::associations::rest::delete_all,
        crate::associations::rest::delete_one,
        crate::associations::rest::federated,
        crate::associations::rest::delete_all_federated,
        crate::associations::rest::delete_federated,
        crate::mfa::rest::get_totp,
        crate::mfa::rest::post_totp,
        crate::mfa::rest::delete_totp,
        crate::mfa::rest::get_secret,
        crate::mfa::rest::get_codes,
        crate::mfa::rest::post_codes,
        crate::mfa::rest::delete_codes,
        crate::mfa::rest::authenticators,
        crate::password::rest::change_password,
        crate::profile::rest::get_me,
        crate::profile::rest::put_me,
        crate::profile::rest::patch_me,
        crate::profile::discovery::service_provider_config,
        crate::profile::discovery::resource_types,
        crate::profile::discovery::resource_type,
        crate::profile::discovery::schemas,
        crate::profile::discovery::schema_by_id,
        crate::mfa::rest::list_passkeys,
        crate::mfa::rest::start_passkey_registration,
        crate::mfa::rest::finish_passkey_registration,
        crate::mfa::rest::delete_passkey,
        crate::events::stream::events,
    ),
    // Enums that parameters name by reference.
    components(schemas(
        crate::approvals::rest::ActionName,
        crate::approvals::rest::TaskStatusName,
        crate::consent::rest::ReceiptStateName,
        crate::consent::rest::GroupType,
    )),
    tags(
        (name = "me", description = "Operations on the signed-in user's own account"),
        (name = "scim", description = "SCIM 2.0 discovery (RFC 7644 §4): what /scim2/Me supports and serves"),
        (name = "consent", description = "The signed-in user's consent receipts (Kantara v1.1), after WSO2 consent-mgt v1.0")
    )
)]
pub struct ApiDoc;

// Serialising a document of strings and maps into JSON cannot fail.
#[allow(clippy::expect_used)]
pub fn document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
}

pub async fn serve() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        document(),
    )
}
