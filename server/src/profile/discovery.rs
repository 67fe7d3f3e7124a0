//! REST: SCIM 2.0's discovery endpoints (RFC 7644 §4) for `/scim2/Me`: what
//! the service supports (`/ServiceProviderConfig`), its one resource type
//! (`/ResourceTypes`) and the attributes it serves (`/Schemas`), so that a
//! SCIM client can learn them instead of being told. They describe the
//! service, not a user: no session is needed.
//!
//! The schemas are made from the same definitions that `rest.rs` reads and
//! writes the resource with (`MULTI_VALUED`), so they cannot drift apart.

use super::rest::{
    scim_json, MultiValued, ScimError, ENTERPRISE_SCHEMA, MULTI_VALUED, USER_SCHEMA,
};
use crate::AppState;
use app::profile::{field, FieldKind};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde::Serialize;
use serde_json::{json, Value};

pub const SERVICE_PROVIDER_CONFIG: &str = "/scim2/ServiceProviderConfig";
pub const RESOURCE_TYPES: &str = "/scim2/ResourceTypes";
pub const SCHEMAS: &str = "/scim2/Schemas";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// One attribute of a schema (RFC 7643 §7), every characteristic spelled out.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Attribute {
    name: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    multi_valued: bool,
    description: String,
    required: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    canonical_values: Vec<&'static str>,
    case_exact: bool,
    mutability: &'static str,
    returned: &'static str,
    uniqueness: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reference_types: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sub_attributes: Vec<Attribute>,
}

impl Attribute {
    /// A single-valued, optional, writable string: RFC 7643 §2.2's defaults.
    fn string(name: &'static str, description: impl Into<String>) -> Self {
        Attribute {
            name,
            kind: "string",
            multi_valued: false,
            description: description.into(),
            required: false,
            canonical_values: Vec::new(),
            case_exact: false,
            mutability: "readWrite",
            returned: "default",
            uniqueness: "none",
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }

    fn complex(name: &'static str, description: &str, subs: Vec<Attribute>) -> Self {
        Attribute {
            kind: "complex",
            sub_attributes: subs,
            ..Attribute::string(name, description)
        }
    }

    fn mutability(self, mutability: &'static str) -> Self {
        Attribute { mutability, ..self }
    }
}

/// A free-text claim's description with its length limit, as the profile
/// checks it, so the two cannot disagree.
fn described(description: &str, claim: &str) -> String {
    match field(claim) {
        Some(spec) if spec.kind == FieldKind::Text => {
            format!("{description}, at most {} characters.", spec.max_chars)
        }
        _ => format!("{description}."),
    }
}

/// A multi-valued attribute as `rest.rs` serves it: elements of fixed types.
fn multi_valued(attribute: &MultiValued) -> Attribute {
    let kinds: Vec<&'static str> = attribute.elements.iter().filter_map(|e| e.1).collect();
    let mut subs = vec![Attribute::string(
        attribute.member,
        described(attribute.member_description, attribute.elements[0].0),
    )];
    if !kinds.is_empty() {
        subs.push(Attribute {
            canonical_values: kinds,
            ..Attribute::string("type", "Which of the elements this is.")
        });
    }
    if attribute.primary {
        subs.push(Attribute {
            kind: "boolean",
            ..Attribute::string("primary", "Always true: the account has one.")
                .mutability("readOnly")
        });
    }
    Attribute {
        multi_valued: true,
        ..Attribute::complex(attribute.name, attribute.description, subs)
    }
}

fn user_attributes() -> Vec<Attribute> {
    let [emails, phone_numbers, ims, addresses] = MULTI_VALUED.each_ref().map(multi_valued);
    vec![
        Attribute {
            required: true,
            uniqueness: "server",
            ..Attribute::string(
                "userName",
                "The name the user signs in with, chosen when the account was made.",
            )
            .mutability("immutable")
        },
        Attribute::complex(
            "name",
            "The user's name.",
            vec![
                Attribute::string("givenName", described("First name", "first_name")),
                Attribute::string("familyName", described("Last name", "last_name")),
                Attribute::string("formatted", "The first and last name, for display.")
                    .mutability("readOnly"),
            ],
        ),
        emails,
        phone_numbers,
        ims,
        Attribute {
            kind: "reference",
            reference_types: vec!["external"],
            ..Attribute::string("profileUrl", "A web page of the user's, http or https.")
        },
        addresses,
        Attribute {
            multi_valued: true,
            ..Attribute::complex(
                "roles",
                "The roles the operator gave the account; the user cannot change them.",
                vec![
                    Attribute::string("value", "The role.").mutability("readOnly"),
                    Attribute::string("display", "The role, for display.").mutability("readOnly"),
                ],
            )
            .mutability("readOnly")
        },
    ]
}

fn enterprise_attributes() -> Vec<Attribute> {
    vec![
        Attribute::string(
            "organization",
            described("The user's organization", "organization"),
        ),
        Attribute::string(
            "department",
            described("The user's department", "department"),
        ),
    ]
}

fn meta(state: &AppState, resource_type: &str, path: &str) -> Value {
    json!({
        "resourceType": resource_type,
        "location": format!("{}{path}", state.config.public_url.trim_end_matches('/')),
    })
}

fn schema(state: &AppState, id: &str) -> Option<Value> {
    let (name, description, attributes) = match id {
        USER_SCHEMA => ("User", "The signed-in user's profile.", user_attributes()),
        ENTERPRISE_SCHEMA => (
            "EnterpriseUser",
            "Where the user works.",
            enterprise_attributes(),
        ),
        _ => return None,
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": meta(state, "Schema", &format!("{SCHEMAS}/{id}")),
    }))
}

fn user_resource_type(state: &AppState) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        // Each user reaches only their own account, at /Me (RFC 7644
        // §3.11); there is no /Users to list or create accounts.
        "endpoint": "/Me",
        "description": "The signed-in user's own account.",
        "schema": USER_SCHEMA,
        "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": false}],
        "meta": meta(state, "ResourceType", &format!("{RESOURCE_TYPES}/User")),
    })
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}

fn not_found(what: &str, id: &str, known: &str) -> ScimError {
    ScimError::new(
        StatusCode::NOT_FOUND,
        format!("There is no {what} {id:?}; there is {known}."),
    )
}

/// What the service supports: PATCH and ETags; no filtering, sorting, bulk
/// or password change (that is `POST /api/users/v1/me/change-password`).
#[utoipa::path(
    get,
    path = "/scim2/ServiceProviderConfig",
    tag = "scim",
    responses(
        (status = 200, description = "The service's capabilities (RFC 7643 §5)", body = Object, content_type = "application/scim+json"),
    )
)]
pub async fn service_provider_config(State(state): State<AppState>) -> Response {
    let password = format!(
        "{}/api/users/v1/me/change-password",
        state.config.public_url.trim_end_matches('/')
    );
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": false, "maxResults": 0},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "cookie",
                "name": "Session cookie",
                "description": format!(
                    "The session of a browser signed in to Selfserve. A request that \
                     changes something must come from Selfserve's own pages (its Origin \
                     or Sec-Fetch-Site says so). The password is changed at {password}."
                ),
                "specUri": "https://www.rfc-editor.org/rfc/rfc6265",
                "primary": true,
            }],
            "meta": meta(&state, "ServiceProviderConfig", SERVICE_PROVIDER_CONFIG),
        }),
    )
}

/// The one resource type: User, at `/Me`, with the enterprise extension.
#[utoipa::path(
    get,
    path = "/scim2/ResourceTypes",
    tag = "scim",
    responses(
        (status = 200, description = "A ListResponse of resource types (RFC 7643 §6)", body = Object, content_type = "application/scim+json"),
    )
)]
pub async fn resource_types(State(state): State<AppState>) -> Response {
    scim_json(StatusCode::OK, &list(vec![user_resource_type(&state)]))
}

#[utoipa::path(
    get,
    path = "/scim2/ResourceTypes/{id}",
    tag = "scim",
    params(("id" = String, Path, description = "`User`")),
    responses(
        (status = 200, description = "The resource type", body = Object, content_type = "application/scim+json"),
        (status = 404, description = "No such resource type", body = super::rest::ScimErrorBody, content_type = "application/scim+json"),
    )
)]
pub async fn resource_type(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    if id != "User" {
        return Err(not_found("resource type", &id, "only \"User\""));
    }
    Ok(scim_json(StatusCode::OK, &user_resource_type(&state)))
}

/// The attributes `/scim2/Me` serves, with what may be changed.
#[utoipa::path(
    get,
    path = "/scim2/Schemas",
    tag = "scim",
    responses(
        (status = 200, description = "A ListResponse of schemas (RFC 7643 §7)", body = Object, content_type = "application/scim+json"),
    )
)]
pub async fn schemas(State(state): State<AppState>) -> Response {
    let all = [USER_SCHEMA, ENTERPRISE_SCHEMA]
        .iter()
        .filter_map(|id| schema(&state, id))
        .collect();
    scim_json(StatusCode::OK, &list(all))
}

#[utoipa::path(
    get,
    path = "/scim2/Schemas/{id}",
    tag = "scim",
    params(("id" = String, Path, description = "The schema's URI, such as `urn:ietf:params:scim:schemas:core:2.0:User`")),
    responses(
        (status = 200, description = "The schema", body = Object, content_type = "application/scim+json"),
        (status = 404, description = "No such schema", body = super::rest::ScimErrorBody, content_type = "application/scim+json"),
    )
)]
pub async fn schema_by_id(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let known = format!("{USER_SCHEMA} and {ENTERPRISE_SCHEMA}");
    let found = schema(&state, &id).ok_or_else(|| not_found("schema", &id, &known))?;
    Ok(scim_json(StatusCode::OK, &found))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(attributes: &[Attribute]) -> Vec<&str> {
        attributes.iter().map(|a| a.name).collect()
    }

    #[test]
    fn the_schema_lists_every_multi_valued_attribute_with_its_types() {
        let user = user_attributes();
        for attribute in &MULTI_VALUED {
            let described = user.iter().find(|a| a.name == attribute.name).unwrap();
            assert!(described.multi_valued, "{}", attribute.name);
            assert!(names(&described.sub_attributes).contains(&attribute.member));
        }
        let phones = user.iter().find(|a| a.name == "phoneNumbers").unwrap();
        let kind = phones
            .sub_attributes
            .iter()
            .find(|a| a.name == "type")
            .unwrap();
        assert_eq!(kind.canonical_values, ["work", "mobile"]);
        let ims = user.iter().find(|a| a.name == "ims").unwrap();
        assert_eq!(names(&ims.sub_attributes), ["value"], "ims have no type");
        // Limits come from the profile's own field definitions.
        let limit = field("im").unwrap().max_chars;
        assert_eq!(
            ims.sub_attributes[0].description,
            format!("The address, at most {limit} characters.")
        );
    }
}
