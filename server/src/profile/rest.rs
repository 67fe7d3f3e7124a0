//! REST: `GET`, `PUT` and `PATCH /scim2/Me`, as WSO2's SCIM 2.0 Me endpoint: the
//! signed-in user's profile as a SCIM User (RFC 7643 §4.1, with the
//! enterprise extension of §4.3), changed by the page's own service, so the
//! same checks, version and approvals apply.
//!
//! Each profile claim has one place in the resource; multi-valued attributes
//! hold the claims as elements of a fixed type (Microsoft Entra's provisioning
//! uses the same: `phoneNumbers[type eq "mobile"].value`).

use super::{load, save, timestamps};
use crate::time::rfc3339;
use crate::AppState;
use app::backend::ssr::CurrentSession;
use app::error::AppError;
use app::profile::{field, ProfileInput, ProfileView};
use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Extension,
};
use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, PatchPath, ValFilter};
use scim_v2::models::others::{OperationTarget, PatchOp, PatchOperation};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub const ME: &str = "/scim2/Me";
pub(super) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(super) const ENTERPRISE_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const MEDIA_TYPE: &str = "application/scim+json";
/// A PATCH is applied to the profile as stored; if someone saves in between,
/// it is applied again to what they saved, this many times at most.
const ATTEMPTS: usize = 3;

/// A SCIM error (RFC 7644 §3.12): the status, as a string, and what is wrong.
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimErrorBody {
    schemas: Vec<&'static str>,
    /// The HTTP status, as a string.
    status: String,
    /// RFC 7644 §3.12's kind of a 400: invalidValue, invalidPath, mutability,
    /// invalidFilter, invalidSyntax, noTarget.
    #[serde(skip_serializing_if = "Option::is_none")]
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }

    fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        ScimError {
            status: StatusCode::BAD_REQUEST,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let body = ScimErrorBody {
            schemas: vec![ERROR_SCHEMA],
            status: self.status.as_u16().to_string(),
            scim_type: self.scim_type,
            detail: self.detail,
        };
        let mut response = scim_json(self.status, &body);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        response
    }
}

impl<E: Into<AppError>> From<E> for ScimError {
    fn from(error: E) -> Self {
        match error.into() {
            // A claim's own message names its field ("Email", "Mobile"); the
            // attribute is named too, as a script knows it.
            AppError::Invalid(fields) => ScimError::bad(
                "invalidValue",
                fields
                    .iter()
                    .map(|f| format!("{}: {}", attribute_of(&f.field), f.message))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            AppError::Internal => ScimError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side. Nothing was changed.",
            ),
            other => ScimError::new(
                StatusCode::from_u16(other.status_code())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                other.to_string(),
            ),
        }
    }
}

pub(super) fn scim_json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    // Serialising our own plain structs cannot fail.
    let text = serde_json::to_string(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, MEDIA_TYPE)], text).into_response()
}

fn signed_in(session: Option<Extension<CurrentSession>>) -> Result<CurrentSession, ScimError> {
    session.map(|Extension(s)| s).ok_or_else(|| {
        ScimError::new(
            StatusCode::UNAUTHORIZED,
            "Sign in first; the session may have ended.",
        )
    })
}

/// Where each claim is in the resource, for messages.
fn attribute_of(claim: &str) -> &'static str {
    match claim {
        "first_name" => "name.givenName",
        "last_name" => "name.familyName",
        "organization" => "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization",
        "department" => "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "url" => "profileUrl",
        "email" => "emails[type eq \"work\"].value",
        "telephone" => "phoneNumbers[type eq \"work\"].value",
        "mobile" => "phoneNumbers[type eq \"mobile\"].value",
        "im" => "ims.value",
        "country" => "addresses[type eq \"work\"].country",
        _ => "(unknown)",
    }
}

// The resource.

/// The signed-in user as a SCIM User. Empty claims are left out.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimUser {
    schemas: Vec<&'static str>,
    /// Stable and random: the same as the `sub` of Selfserve's ID tokens.
    id: String,
    /// Left out only when `attributes` leaves it out.
    #[schema(required = false)]
    user_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<ScimName>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<ScimValue>)]
    emails: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<ScimValue>)]
    phone_numbers: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<ScimValue>)]
    ims: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile_url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<ScimAddress>)]
    addresses: Vec<Value>,
    /// Read-only: the roles the operator gave.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roles: Vec<ScimRole>,
    #[serde(
        rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        skip_serializing_if = "Option::is_none"
    )]
    enterprise: Option<ScimEnterprise>,
    meta: ScimMeta,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimName {
    #[serde(skip_serializing_if = "Option::is_none")]
    given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family_name: Option<String>,
    /// Read-only: the two above, for display.
    formatted: String,
}

// The two element types document the answer; its elements are made by
// `element`, the same JSON that filters are matched against.
/// An element of `emails`, `phoneNumbers` or `ims`.
#[derive(Serialize, ToSchema)]
pub struct ScimValue {
    value: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary: Option<bool>,
}

/// The element of `addresses`.
#[derive(Serialize, ToSchema)]
pub struct ScimAddress {
    /// ISO 3166-1 alpha-2.
    country: String,
    #[serde(rename = "type")]
    kind: &'static str,
    primary: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ScimRole {
    value: String,
    display: String,
}

#[derive(Serialize, ToSchema)]
pub struct ScimEnterprise {
    #[serde(skip_serializing_if = "Option::is_none")]
    organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    department: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimMeta {
    resource_type: &'static str,
    created: String,
    last_modified: String,
    location: String,
    /// The profile's version as an entity tag: send it back in `If-Match`
    /// so that a change made meanwhile is not overwritten.
    version: String,
}

fn present(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

/// The multi-valued attributes: each element is one claim, of a fixed type.
pub(super) struct MultiValued {
    pub(super) name: &'static str,
    /// The element's member holding the claim.
    pub(super) member: &'static str,
    /// Each element's claim and type.
    pub(super) elements: &'static [(&'static str, Option<&'static str>)],
    /// Whether its element is the account's primary one (its one email
    /// address, its one address).
    pub(super) primary: bool,
    /// For `/scim2/Schemas`: the attribute, and its member.
    pub(super) description: &'static str,
    pub(super) member_description: &'static str,
}

pub(super) const MULTI_VALUED: [MultiValued; 4] = [
    MultiValued {
        name: "emails",
        member: "value",
        elements: &[("email", Some("work"))],
        primary: true,
        description: "The account's email address: one, of type work.",
        member_description: "An email address such as name@example.com",
    },
    MultiValued {
        name: "phoneNumbers",
        member: "value",
        elements: &[("telephone", Some("work")), ("mobile", Some("mobile"))],
        primary: false,
        description: "The account's telephone (type work) and mobile (type mobile) numbers.",
        member_description: "An international number starting with +, such as +14155550123",
    },
    MultiValued {
        name: "ims",
        member: "value",
        elements: &[("im", None)],
        primary: false,
        description: "The account's instant messaging address: one.",
        member_description: "The address",
    },
    MultiValued {
        name: "addresses",
        member: "country",
        elements: &[("country", Some("work"))],
        primary: true,
        description: "The account's address: one, of type work, holding its country only.",
        member_description: "An ISO 3166-1 alpha-2 country code, such as GB",
    },
];

/// One element as the resource shows it (and as filters see it).
fn element(attribute: &MultiValued, kind: Option<&str>, value: &str) -> Value {
    let mut element = Map::new();
    if !value.is_empty() {
        element.insert(attribute.member.into(), value.into());
    }
    if let Some(kind) = kind {
        element.insert("type".into(), kind.into());
    }
    if attribute.primary {
        element.insert("primary".into(), true.into());
    }
    Value::Object(element)
}

fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn resource(
    state: &AppState,
    view: &ProfileView,
    subject: String,
    roles: Vec<String>,
    (created, modified): (i64, i64),
) -> ScimUser {
    let c = &view.claims;
    let name = (!c.first_name.is_empty() || !c.last_name.is_empty()).then(|| ScimName {
        given_name: present(&c.first_name),
        family_name: present(&c.last_name),
        formatted: format!("{} {}", c.first_name, c.last_name)
            .trim()
            .to_string(),
    });
    // In MULTI_VALUED's order.
    let [emails, phone_numbers, ims, addresses] = MULTI_VALUED.each_ref().map(|attribute| {
        attribute
            .elements
            .iter()
            .filter(|(claim, _)| !c.get(claim).is_empty())
            .map(|(claim, kind)| element(attribute, *kind, c.get(claim)))
            .collect()
    });
    let enterprise =
        (!c.organization.is_empty() || !c.department.is_empty()).then(|| ScimEnterprise {
            organization: present(&c.organization),
            department: present(&c.department),
        });
    ScimUser {
        schemas: vec![USER_SCHEMA, ENTERPRISE_SCHEMA],
        id: subject,
        user_name: view.username.clone(),
        name,
        emails,
        phone_numbers,
        ims,
        profile_url: present(&c.url),
        addresses,
        roles: roles
            .into_iter()
            .map(|role| ScimRole {
                value: role.clone(),
                display: role,
            })
            .collect(),
        enterprise,
        meta: ScimMeta {
            resource_type: "User",
            created: rfc3339(created),
            last_modified: rfc3339(modified),
            location: format!("{}{ME}", state.config.public_url.trim_end_matches('/')),
            version: etag(view.version),
        },
    }
}

/// `attributes` and `excludedAttributes` (RFC 7644 §3.9).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Selection {
    /// Only these attributes, comma-separated (such as
    /// `name.givenName,emails`); `schemas`, `id` and `meta` always come.
    attributes: Option<String>,
    /// Every attribute but these.
    excluded_attributes: Option<String>,
}

/// Which attributes an answer shows.
pub enum Selected {
    All,
    Only(Vec<Selector>),
    AllBut(Vec<Selector>),
}

/// An attribute as its member in the JSON (the enterprise extension's are
/// members of its object), and one of its sub-attributes.
pub struct Selector {
    member: String,
    sub: Option<String>,
}

/// Always shown: `id` is "returned always" (RFC 7643 §3.1); WSO2's spec
/// requires `meta` in every User it answers.
const ALWAYS: [&str; 3] = ["schemas", "id", "meta"];

impl Selected {
    fn from_query(query: Option<&str>) -> Result<Selected, ScimError> {
        let mut attributes = None;
        let mut excluded = None;
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            // An empty list is no selection (`?attributes=`).
            match name.as_ref() {
                _ if value.trim().is_empty() => {}
                "attributes" => attributes = Some(value.into_owned()),
                "excludedAttributes" => excluded = Some(value.into_owned()),
                _ => {}
            }
        }
        let selectors = |list: &str| -> Result<Vec<Selector>, ScimError> {
            list.split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(Selector::parse)
                .collect()
        };
        match (attributes, excluded) {
            (Some(_), Some(_)) => Err(ScimError::bad(
                "invalidValue",
                "Send attributes or excludedAttributes, not both (RFC 7644 §3.9).",
            )),
            (Some(list), None) => Ok(Selected::Only(selectors(&list)?)),
            (None, Some(list)) => Ok(Selected::AllBut(selectors(&list)?)),
            (None, None) => Ok(Selected::All),
        }
    }

    fn apply(&self, user: &ScimUser) -> Value {
        let Ok(Value::Object(mut all)) = serde_json::to_value(user) else {
            return Value::Null;
        };
        match self {
            Selected::All => Value::Object(all),
            Selected::Only(selectors) => {
                let mut kept = Map::new();
                for name in ALWAYS {
                    if let Some(value) = all.get(name) {
                        kept.insert(name.into(), value.clone());
                    }
                }
                for selector in selectors {
                    let Some((member, value)) = all.iter().find(|(k, _)| is(k, &selector.member))
                    else {
                        continue;
                    };
                    let value = match &selector.sub {
                        None => value.clone(),
                        Some(sub) => {
                            let picked = only(value, sub);
                            match (kept.remove(member), picked) {
                                (Some(Value::Object(mut earlier)), Value::Object(more)) => {
                                    earlier.extend(more);
                                    Value::Object(earlier)
                                }
                                (_, picked) => picked,
                            }
                        }
                    };
                    kept.insert(member.clone(), value);
                }
                Value::Object(kept)
            }
            Selected::AllBut(selectors) => {
                for selector in selectors {
                    if ALWAYS.iter().any(|a| is(a, &selector.member)) {
                        continue;
                    }
                    let Some(member) = all.keys().find(|k| is(k, &selector.member)).cloned() else {
                        continue;
                    };
                    match &selector.sub {
                        None => {
                            all.remove(&member);
                        }
                        Some(sub) => {
                            if let Some(value) = all.get_mut(&member) {
                                without(value, sub);
                            }
                        }
                    }
                }
                Value::Object(all)
            }
        }
    }
}

impl Selector {
    fn parse(name: &str) -> Result<Selector, ScimError> {
        let path = match format!("{name} pr").parse::<Filter>() {
            Ok(Filter::Attr(AttrExp::Present(path))) => path,
            _ => {
                return Err(ScimError::bad(
                    "invalidValue",
                    format!("{name:?} is not an attribute name (RFC 7644 §3.10)."),
                ))
            }
        };
        Ok(match path.uri.as_deref() {
            Some(uri) if is(uri, ENTERPRISE_SCHEMA) => Selector {
                member: ENTERPRISE_SCHEMA.into(),
                sub: Some(path.name),
            },
            _ => Selector {
                member: path.name,
                sub: path.sub_attr,
            },
        })
    }
}

/// Only the member `sub` of an object, or of each object in a list.
fn only(value: &Value, sub: &str) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .filter(|(k, _)| is(k, sub))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|item| only(item, sub)).collect()),
        other => other.clone(),
    }
}

/// Removes the member `sub` of an object, or of each object in a list.
fn without(value: &mut Value, sub: &str) {
    match value {
        Value::Object(members) => members.retain(|k, _| !is(k, sub)),
        Value::Array(items) => items.iter_mut().for_each(|item| without(item, sub)),
        _ => {}
    }
}

async fn answer(
    state: &AppState,
    me: &CurrentSession,
    view: &ProfileView,
    status: StatusCode,
    selection: &Selected,
) -> Result<Response, ScimError> {
    let subject = crate::oidc::id_token::subject(&state.db, me.user_id).await?;
    let roles = crate::users::roles_of(&state.db, me.user_id).await?;
    let times = timestamps(&state.db, me.user_id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let user = resource(state, view, subject, roles, times);
    Ok(with_etag(
        scim_json(status, &selection.apply(&user)),
        view.version,
    ))
}

/// The signed-in user's profile as a SCIM 2.0 User. `ETag` carries its
/// version; with that ETag in `If-None-Match`, an unchanged profile answers
/// 304 and no body (RFC 7644 §3.14).
#[utoipa::path(
    get,
    path = "/scim2/Me",
    tag = "me",
    params(Selection),
    responses(
        (status = 200, description = "The profile", body = ScimUser, content_type = "application/scim+json"),
        (status = 304, description = "Not changed since the version in `If-None-Match`"),
        (status = 400, description = "`attributes` and `excludedAttributes` together", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "Not signed in", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
pub async fn get_me(
    State(state): State<AppState>,
    session: Option<Extension<CurrentSession>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let me = signed_in(session)?;
    let selection = Selected::from_query(query.as_deref())?;
    let view = load(&state.db, me.user_id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    if unchanged_since(&headers, view.version) {
        return Ok(with_etag(
            StatusCode::NOT_MODIFIED.into_response(),
            view.version,
        ));
    }
    answer(&state, &me, &view, StatusCode::OK, &selection).await
}

/// A SCIM PATCH request (RFC 7644 §3.5.2), for the documentation.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ScimPatchRequest {
    /// `["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`
    schemas: Vec<String>,
    #[schema(rename = "Operations")]
    operations: Vec<ScimPatchOperation>,
}

/// One change: `add`, `replace` or `remove`, at `path` (such as
/// `name.givenName`, `phoneNumbers[type eq "mobile"].value`,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`),
/// or, without `path`, the attributes of `value`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ScimPatchOperation {
    op: String,
    path: Option<String>,
    value: Option<serde_json::Value>,
}

/// What PUT and PATCH answer.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum ChangeAnswers {
    #[response(
        status = 200,
        description = "Done: the profile now",
        content_type = "application/scim+json"
    )]
    Done(ScimUser),
    #[response(
        status = 202,
        description = "Some changes wait for approval: the profile now",
        content_type = "application/scim+json"
    )]
    Waiting(ScimUser),
    #[response(
        status = 400,
        description = "What is wrong (`scimType` says which kind); nothing was changed",
        content_type = "application/scim+json"
    )]
    Invalid(ScimErrorBody),
    #[response(
        status = 401,
        description = "Not signed in",
        content_type = "application/scim+json"
    )]
    SignedOut(ScimErrorBody),
    #[response(
        status = 412,
        description = "The profile changed since the version in `If-Match`; nothing was changed",
        content_type = "application/scim+json"
    )]
    Stale(ScimErrorBody),
    #[response(
        status = 415,
        description = "The body is not sent as `application/scim+json` (or `application/json`)",
        content_type = "application/scim+json"
    )]
    NotJson(ScimErrorBody),
}

/// Changes the signed-in user's profile, as the profile page does: every
/// claim is checked, and claims the operator engaged to an approval workflow
/// wait for it (then the answer is 202 and shows the values still in force).
/// Send the `ETag` of a read in `If-Match` to refuse the change if the profile
/// changed since; without it, the operations are applied to the profile as
/// it is.
#[utoipa::path(
    patch,
    path = "/scim2/Me",
    tag = "me",
    params(Selection),
    request_body(content = ScimPatchRequest, content_type = "application/scim+json"),
    responses(ChangeAnswers)
)]
pub async fn patch_me(
    State(state): State<AppState>,
    session: Option<Extension<CurrentSession>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let me = signed_in(session)?;
    let selection = Selected::from_query(query.as_deref())?;
    let request = parse_patch(&headers, &body)?;
    change(&state, &me, &headers, &selection, |stored| {
        let mut claims = stored.clone();
        for operation in &request.operations {
            apply(&mut claims, operation)?;
        }
        Ok(claims)
    })
    .await
}

/// Replaces the signed-in user's profile with the resource sent: writable
/// attributes left out are cleared; read-only ones (`id`, `meta`, `roles`)
/// are ignored, and `userName`, if sent, must be the account's. Otherwise as
/// PATCH.
#[utoipa::path(
    put,
    path = "/scim2/Me",
    tag = "me",
    params(Selection),
    request_body(content = ScimUser, content_type = "application/scim+json"),
    responses(ChangeAnswers)
)]
pub async fn put_me(
    State(state): State<AppState>,
    session: Option<Extension<CurrentSession>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let me = signed_in(session)?;
    let selection = Selected::from_query(query.as_deref())?;
    let mut resource: Map<String, Value> = serde_json::from_slice(json_body(&headers, &body)?)
        .map_err(|e| {
            ScimError::bad(
                "invalidSyntax",
                format!("The body is not a SCIM User: {e}."),
            )
        })?;
    let schemas = resource.get("schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| {
        s.iter()
            .any(|s| s.as_str().is_some_and(|s| is(s, USER_SCHEMA)))
    }) {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("schemas must list \"{USER_SCHEMA}\"."),
        ));
    }
    if let Some(name) = resource.get("userName") {
        if name.as_str() != Some(me.username.as_str()) {
            return Err(read_only("userName", "it is the account's name"));
        }
    }
    // Read-only attributes in a replacement are ignored (RFC 7644 §3.5.1).
    resource.retain(|name, _| !(READ_ONLY.iter().any(|r| is(name, r)) || is(name, "userName")));
    let replacement = PatchOperation::Replace(OperationTarget::WithoutPath { value: resource });
    change(&state, &me, &headers, &selection, |_| {
        let mut claims = ProfileInput::default();
        apply(&mut claims, &replacement)?;
        Ok(claims)
    })
    .await
}

/// Saves `edit` of the stored claims through the page's service. Without
/// `If-Match`, a save made meanwhile by someone else is edited again.
async fn change(
    state: &AppState,
    me: &CurrentSession,
    headers: &HeaderMap,
    selection: &Selected,
    edit: impl Fn(&ProfileInput) -> Result<ProfileInput, ScimError>,
) -> Result<Response, ScimError> {
    let expected = if_match(headers)?;
    for _ in 0..ATTEMPTS {
        let before = load(&state.db, me.user_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if expected.is_some_and(|v| v != before.version) {
            return Err(stale());
        }
        let valid = edit(&before.claims)?.parse().map_err(AppError::Invalid)?;
        let requested = valid.claims().clone();
        match save(&state.db, &state.config, me, valid, before.version).await {
            Ok(after) => {
                let held = app::profile::FIELDS
                    .iter()
                    .any(|f| after.claims.get(f.name) != requested.get(f.name));
                let status = if held {
                    StatusCode::ACCEPTED
                } else {
                    StatusCode::OK
                };
                return answer(state, me, &after, status, selection).await;
            }
            Err(AppError::Conflict) if expected.is_some() => return Err(stale()),
            Err(AppError::Conflict) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(ScimError::new(
        StatusCode::CONFLICT,
        "The profile kept changing while this change was applied. Nothing was changed; try again.",
    ))
}

fn stale() -> ScimError {
    ScimError::new(
        StatusCode::PRECONDITION_FAILED,
        "The profile changed since the version in If-Match. Nothing was changed: read it again, then make the change.",
    )
}

/// Whether `If-None-Match` names the current version (or is `*`): the weak
/// comparison of RFC 9110 §13.1.2, which ignores `W/`. An unreadable one
/// matches nothing, so the profile is sent.
fn unchanged_since(headers: &HeaderMap, version: i64) -> bool {
    let Some(value) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag_version(tag) == Some(version))
}

/// The version an entity tag names: `W/"7"` or `"7"` is 7.
fn tag_version(tag: &str) -> Option<i64> {
    tag.trim_start_matches("W/").trim_matches('"').parse().ok()
}

/// The answer with the profile's version as its `ETag`.
fn with_etag(mut response: Response, version: i64) -> Response {
    if let Ok(tag) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// The version in `If-Match` (`W/"7"` or `"7"`), if one is given.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ScimError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    tag_version(text).map(Some).ok_or_else(|| {
        ScimError::bad(
            "invalidValue",
            format!("If-Match must be the ETag of a read, such as W/\"3\", not {text:?}."),
        )
    })
}

/// The body, once its media type says it is JSON.
fn json_body<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<&'a [u8], ScimError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if !matches!(
        media_type.as_deref(),
        Some("application/scim+json" | "application/json")
    ) {
        return Err(ScimError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the change as JSON, with Content-Type: application/scim+json.",
        ));
    }
    Ok(body)
}

fn parse_patch(headers: &HeaderMap, body: &[u8]) -> Result<PatchOp, ScimError> {
    let body = json_body(headers, body)?;
    let request: PatchOp = serde_json::from_slice(body).map_err(|e| {
        ScimError::bad(
            "invalidSyntax",
            format!("The body is not a SCIM PatchOp request: {e}."),
        )
    })?;
    if !request
        .schemas
        .iter()
        .any(|s| s.eq_ignore_ascii_case(PATCH_SCHEMA))
    {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("schemas must be [\"{PATCH_SCHEMA}\"]."),
        ));
    }
    if request.operations.is_empty() {
        return Err(ScimError::bad(
            "invalidSyntax",
            "Operations is empty: there is nothing to change.",
        ));
    }
    Ok(request)
}

// Applying one operation to the claims.

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Add,
    Replace,
    Remove,
}

fn apply(claims: &mut ProfileInput, operation: &PatchOperation) -> Result<(), ScimError> {
    let (op, target) = match operation {
        PatchOperation::Add(target) => (Op::Add, target),
        PatchOperation::Replace(target) => (Op::Replace, target),
        PatchOperation::Remove { path, .. } => return apply_at(claims, Op::Remove, path, None),
    };
    match target {
        OperationTarget::WithPath { path, value } => {
            let value = value.as_ref().ok_or_else(|| {
                ScimError::bad(
                    "invalidSyntax",
                    format!("The operation at {path} has no value."),
                )
            })?;
            apply_at(claims, op, path, Some(value))
        }
        // The value is a partial resource: each member is an attribute.
        OperationTarget::WithoutPath { value } => {
            for (name, member) in value {
                if name.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
                    if member.is_null() {
                        claims.set("organization", "");
                        claims.set("department", "");
                        continue;
                    }
                    let Value::Object(members) = member else {
                        return Err(ScimError::bad(
                            "invalidValue",
                            format!("{ENTERPRISE_SCHEMA} must be an object."),
                        ));
                    };
                    for (name, member) in members {
                        let path = AttrPath {
                            uri: Some(ENTERPRISE_SCHEMA.into()),
                            name: name.clone(),
                            sub_attr: None,
                        };
                        apply_attribute(claims, op, &path, Some(member))?;
                    }
                    continue;
                }
                let path: PatchPath = name.parse().map_err(|_| {
                    ScimError::bad("invalidPath", format!("{name:?} is not an attribute name."))
                })?;
                apply_at(claims, op, &path, Some(member))?;
            }
            Ok(())
        }
    }
}

fn apply_at(
    claims: &mut ProfileInput,
    op: Op,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    match path {
        PatchPath::Attr(path) => apply_attribute(claims, op, path, value),
        PatchPath::Value(path) => {
            let attribute = multi_valued(&path.attr)?;
            apply_filtered(
                claims,
                op,
                attribute,
                &path.filter,
                path.sub_attr.as_deref(),
                value,
            )
        }
    }
}

fn is(name: &str, expected: &str) -> bool {
    name.eq_ignore_ascii_case(expected)
}

const READ_ONLY: [&str; 7] = [
    "id",
    "userName",
    "roles",
    "meta",
    "schemas",
    "groups",
    "externalId",
];

const ATTRIBUTES: &str = "name.givenName, name.familyName, emails, phoneNumbers (work, mobile), \
                          ims, profileUrl, addresses (country) and the enterprise extension's \
                          organization and department";

fn apply_attribute(
    claims: &mut ProfileInput,
    op: Op,
    path: &AttrPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let enterprise = match path.uri.as_deref() {
        None => false,
        Some(uri) if is(uri, USER_SCHEMA) => false,
        Some(uri) if is(uri, ENTERPRISE_SCHEMA) => true,
        Some(uri) => {
            return Err(ScimError::bad(
                "invalidPath",
                format!("This service has no attributes of the schema {uri}."),
            ))
        }
    };
    let name = path.name.as_str();
    let sub = path.sub_attr.as_deref();
    if enterprise {
        let claim = match name {
            n if is(n, "organization") => "organization",
            n if is(n, "department") => "department",
            _ => {
                return Err(ScimError::bad(
                    "invalidPath",
                    format!("Of the enterprise extension, only organization and department are kept here, not {name}."),
                ))
            }
        };
        return set(claims, claim, op, value, &path.to_string());
    }
    if is(name, "name") {
        return match (sub, op) {
            (Some(s), _) if is(s, "givenName") => {
                set(claims, "first_name", op, value, "name.givenName")
            }
            (Some(s), _) if is(s, "familyName") => {
                set(claims, "last_name", op, value, "name.familyName")
            }
            (Some(s), _) if is(s, "formatted") => Err(read_only(
                "name.formatted",
                "it is made of givenName and familyName",
            )),
            (Some(s), _) => Err(ScimError::bad(
                "invalidPath",
                format!("name has givenName and familyName here, not {s}."),
            )),
            // null is "unassigned" (RFC 7643 §2.5), as a removal.
            (None, _) if value.is_none_or(Value::is_null) => {
                claims.set("first_name", "");
                claims.set("last_name", "");
                Ok(())
            }
            (None, _) => {
                let Some(Value::Object(members)) = value else {
                    return Err(ScimError::bad(
                        "invalidValue",
                        "name must be an object such as {\"givenName\": \"Ada\"}.",
                    ));
                };
                for (member, v) in members {
                    let sub = AttrPath::with_sub_attr("name", member.clone());
                    apply_attribute(claims, op, &sub, Some(v))?;
                }
                Ok(())
            }
        };
    }
    if is(name, "profileUrl") && sub.is_none() {
        return set(claims, "url", op, value, "profileUrl");
    }
    if let Some(attribute) = MULTI_VALUED.iter().find(|a| is(name, a.name)) {
        return apply_multi_valued(claims, op, attribute, sub, value);
    }
    if is(name, "password") {
        return Err(read_only(
            "password",
            "change it with POST /api/users/v1/me/change-password, which asks for the current one",
        ));
    }
    if let Some(read_only_name) = READ_ONLY.iter().find(|n| is(name, n)) {
        return Err(read_only(read_only_name, "it is read-only"));
    }
    Err(ScimError::bad(
        "invalidPath",
        format!("This account has no attribute {path}. It has {ATTRIBUTES}."),
    ))
}

fn read_only(name: &str, why: &str) -> ScimError {
    ScimError::bad(
        "mutability",
        format!("{name} cannot be changed here: {why}."),
    )
}

fn multi_valued(path: &AttrPath) -> Result<&'static MultiValued, ScimError> {
    let core = path.uri.as_deref().is_none_or(|uri| is(uri, USER_SCHEMA));
    MULTI_VALUED
        .iter()
        .find(|a| core && path.sub_attr.is_none() && is(&path.name, a.name))
        .ok_or_else(|| {
            ScimError::bad(
                "invalidPath",
                format!("A filter applies to emails, phoneNumbers, ims or addresses here, not to {path}."),
            )
        })
}

/// The whole attribute (`emails`) or one member of every element
/// (`emails.value`).
fn apply_multi_valued(
    claims: &mut ProfileInput,
    op: Op,
    attribute: &MultiValued,
    sub: Option<&str>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if let Some(sub) = sub {
        if !is(sub, attribute.member) {
            return Err(member_error(attribute, sub));
        }
        return match attribute.elements {
            [(claim, _)] => set(claims, claim, op, value, &format!("{}.{sub}", attribute.name)),
            _ if op == Op::Remove => {
                for (claim, _) in attribute.elements {
                    claims.set(claim, "");
                }
                Ok(())
            }
            _ => Err(ScimError::bad(
                "invalidPath",
                format!("{0} holds more than one element: say which, as in {0}[type eq \"mobile\"].{1}.", attribute.name, attribute.member),
            )),
        };
    }
    if op != Op::Add {
        // replace and remove take the attribute as a whole.
        for (claim, _) in attribute.elements {
            claims.set(claim, "");
        }
    }
    let Some(value) = value else {
        return Ok(());
    };
    let given: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    for item in given {
        let Value::Object(members) = item else {
            return Err(ScimError::bad(
                "invalidValue",
                format!(
                    "Each of {} must be an object such as {{\"{}\": \"…\"}}.",
                    attribute.name, attribute.member
                ),
            ));
        };
        let kind = members.get("type").and_then(Value::as_str);
        let target = match (kind, attribute.elements) {
            (_, [(claim, None)]) => *claim,
            (Some(kind), elements) => elements
                .iter()
                .find(|(_, k)| k.is_some_and(|k| is(k, kind)))
                .map(|(claim, _)| *claim)
                .ok_or_else(|| {
                    ScimError::bad(
                        "invalidValue",
                        format!(
                            "{} of type {kind:?} are not kept here; the types are {}.",
                            attribute.name,
                            types(attribute)
                        ),
                    )
                })?,
            (None, [(claim, _)]) => *claim,
            (None, _) => {
                return Err(ScimError::bad(
                    "invalidValue",
                    format!(
                        "Each of {} needs its type: {}.",
                        attribute.name,
                        types(attribute)
                    ),
                ))
            }
        };
        set_element(claims, attribute, target, op, members)?;
    }
    Ok(())
}

fn types(attribute: &MultiValued) -> String {
    attribute
        .elements
        .iter()
        .filter_map(|(_, k)| *k)
        .collect::<Vec<_>>()
        .join(" or ")
}

fn member_error(attribute: &MultiValued, member: &str) -> ScimError {
    if is(member, "type") || is(member, "primary") {
        read_only(
            &format!("{}.{member}", attribute.name),
            "each element's type is fixed",
        )
    } else {
        ScimError::bad(
            "invalidPath",
            format!(
                "Elements of {} keep only {} here, not {member}.",
                attribute.name, attribute.member
            ),
        )
    }
}

/// Sets one element from an object value, whose other members must agree with
/// what the element is.
fn set_element(
    claims: &mut ProfileInput,
    attribute: &MultiValued,
    claim: &str,
    op: Op,
    members: &Map<String, Value>,
) -> Result<(), ScimError> {
    for name in members.keys() {
        let known = is(name, attribute.member)
            || is(name, "type")
            || is(name, "primary")
            || is(name, "display");
        if !known {
            return Err(member_error(attribute, name));
        }
    }
    let value = members
        .iter()
        .find(|(name, _)| is(name, attribute.member))
        .map(|(_, v)| v)
        .unwrap_or(&Value::Null);
    set(
        claims,
        claim,
        op,
        Some(value),
        &format!("{}.{}", attribute.name, attribute.member),
    )
}

/// `emails[type eq "work"]`, `phoneNumbers[type eq "mobile"].value`: the
/// elements the filter selects, including empty ones of the type it names.
fn apply_filtered(
    claims: &mut ProfileInput,
    op: Op,
    attribute: &MultiValued,
    filter: &ValFilter,
    sub: Option<&str>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let mut selected = Vec::new();
    for (claim, kind) in attribute.elements {
        let element = element(attribute, *kind, claims.get(claim));
        if matches(filter, &element)? {
            selected.push(*claim);
        }
    }
    if selected.is_empty() {
        return Err(ScimError::bad(
            "noTarget",
            format!(
                "No element of {} matches [{filter}]. Its elements are of type {}.",
                attribute.name,
                types(attribute)
            ),
        ));
    }
    for claim in selected {
        match (sub, op, value) {
            (Some(sub), _, _) if !is(sub, attribute.member) => {
                return Err(member_error(attribute, sub))
            }
            (_, Op::Remove, _) => claims.set(claim, ""),
            (Some(sub), _, value) => set(
                claims,
                claim,
                op,
                value,
                &format!("{}.{sub}", attribute.name),
            )?,
            (None, _, Some(Value::Object(members))) => {
                set_element(claims, attribute, claim, op, members)?
            }
            (None, _, _) => {
                return Err(ScimError::bad(
                    "invalidValue",
                    format!(
                        "The value for {}[{filter}] must be an object such as {{\"{}\": \"…\"}}.",
                        attribute.name, attribute.member
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// Whether an element matches a filter (RFC 7644 §3.4.2.2). Strings compare
/// without regard to case, as these attributes are not case-exact.
fn matches(filter: &ValFilter, element: &Value) -> Result<bool, ScimError> {
    Ok(match filter {
        ValFilter::Not(inner) => !matches(inner, element)?,
        ValFilter::And(all) => {
            for f in all.as_slice() {
                if !matches(f, element)? {
                    return Ok(false);
                }
            }
            true
        }
        ValFilter::Or(any) => {
            for f in any.as_slice() {
                if matches(f, element)? {
                    return Ok(true);
                }
            }
            false
        }
        ValFilter::Attr(AttrExp::Present(path)) => member(element, path).is_some(),
        ValFilter::Attr(AttrExp::Comparison(path, op, expected)) => {
            let actual = member(element, path);
            match (op, expected, actual) {
                (CompareOp::Eq, CompValue::Null, actual) => actual.is_none(),
                (CompareOp::Ne, CompValue::Null, actual) => actual.is_some(),
                (CompareOp::Eq, CompValue::True, actual) => actual == Some(&Value::Bool(true)),
                (CompareOp::Eq, CompValue::False, actual) => {
                    actual.is_none_or(|v| v == &Value::Bool(false))
                }
                (
                    op @ (CompareOp::Eq
                    | CompareOp::Ne
                    | CompareOp::Co
                    | CompareOp::Sw
                    | CompareOp::Ew),
                    CompValue::Str(expected),
                    actual,
                ) => {
                    let actual = actual.and_then(Value::as_str).map(str::to_lowercase);
                    let expected = expected.to_lowercase();
                    match (op, actual) {
                        (CompareOp::Ne, actual) => actual.as_deref() != Some(expected.as_str()),
                        (_, None) => false,
                        (CompareOp::Co, Some(a)) => a.contains(&expected),
                        (CompareOp::Sw, Some(a)) => a.starts_with(&expected),
                        (CompareOp::Ew, Some(a)) => a.ends_with(&expected),
                        (_, Some(a)) => a == expected,
                    }
                }
                _ => return Err(unsupported(filter)),
            }
        }
    })
}

fn unsupported(filter: &ValFilter) -> ScimError {
    ScimError::bad(
        "invalidFilter",
        format!("[{filter}] compares in a way these attributes do not support: use eq, ne, co, sw, ew or pr, with and, or, not."),
    )
}

fn member<'a>(element: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    element
        .as_object()?
        .iter()
        .find(|(name, _)| path.sub_attr.is_none() && is(name, &path.name))
        .map(|(_, v)| v)
}

/// Sets (or, for remove, clears) one claim from a string value.
fn set(
    claims: &mut ProfileInput,
    claim: &str,
    op: Op,
    value: Option<&Value>,
    attribute: &str,
) -> Result<(), ScimError> {
    let text = match (op, value) {
        (Op::Remove, _) | (_, None | Some(Value::Null)) => "",
        (_, Some(Value::String(text))) => text.as_str(),
        (_, Some(_)) => {
            let label = field(claim).map_or(claim, |f| f.label);
            return Err(ScimError::bad(
                "invalidValue",
                format!("{attribute} ({label}) must be a string."),
            ));
        }
    };
    claims.set(claim, text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(body: Value) -> Result<ProfileInput, ScimError> {
        let request: PatchOp = serde_json::from_value(body).unwrap();
        let mut claims = ProfileInput {
            first_name: "Ada".into(),
            telephone: "+14155550123".into(),
            email: "ada@example.com".into(),
            ..Default::default()
        };
        for operation in &request.operations {
            apply(&mut claims, operation)?;
        }
        Ok(claims)
    }

    fn ops(operations: Value) -> Value {
        serde_json::json!({ "schemas": [PATCH_SCHEMA], "Operations": operations })
    }

    #[test]
    fn paths_filters_and_partial_resources_reach_their_claims() {
        let claims = patch(ops(serde_json::json!([
            {"op": "replace", "path": "name.familyName", "value": "Lovelace"},
            {"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+447700900123"},
            {"op": "remove", "path": "phoneNumbers[type eq \"work\"]"},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Analytical Engines"},
            {"op": "replace", "value": {"profileUrl": "https://example.com/ada", "addresses": [{"type": "work", "country": "GB"}]}},
            {"op": "replace", "path": "emails[primary eq true].value", "value": "ada@example.org"},
        ])))
        .unwrap();
        assert_eq!(claims.first_name, "Ada");
        assert_eq!(claims.last_name, "Lovelace");
        assert_eq!(claims.mobile, "+447700900123");
        assert_eq!(claims.telephone, "");
        assert_eq!(claims.department, "Analytical Engines");
        assert_eq!(claims.url, "https://example.com/ada");
        assert_eq!(claims.country, "GB");
        assert_eq!(claims.email, "ada@example.org");
    }

    #[test]
    fn null_unassigns_complex_attributes() {
        let claims = patch(ops(serde_json::json!([
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Engines"},
            {"op": "replace", "value": {
                "name": null,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": null,
            }},
        ])))
        .unwrap();
        assert_eq!(
            (claims.first_name.as_str(), claims.department.as_str()),
            ("", "")
        );
    }

    #[test]
    fn replacing_a_multi_valued_attribute_replaces_all_of_it() {
        let claims = patch(ops(serde_json::json!([
            {"op": "replace", "path": "phoneNumbers", "value": [{"type": "mobile", "value": "+447700900123"}]},
        ])))
        .unwrap();
        assert_eq!(claims.telephone, "");
        assert_eq!(claims.mobile, "+447700900123");
    }

    #[test]
    fn each_kind_of_mistake_is_named() {
        let kind = |operations: Value| patch(ops(operations)).unwrap_err().scim_type;
        assert_eq!(
            kind(serde_json::json!([{"op": "replace", "path": "userName", "value": "eve"}])),
            Some("mutability")
        );
        assert_eq!(
            kind(serde_json::json!([{"op": "replace", "path": "nickName", "value": "x"}])),
            Some("invalidPath")
        );
        assert_eq!(
            kind(
                serde_json::json!([{"op": "replace", "path": "phoneNumbers[type eq \"fax\"].value", "value": "+1"}])
            ),
            Some("noTarget")
        );
        assert_eq!(
            kind(
                serde_json::json!([{"op": "replace", "path": "phoneNumbers[value gt \"1\"]", "value": {}}])
            ),
            Some("invalidFilter")
        );
        assert_eq!(
            kind(serde_json::json!([{"op": "replace", "path": "name.givenName", "value": 7}])),
            Some("invalidValue")
        );
        assert_eq!(
            kind(
                serde_json::json!([{"op": "add", "path": "phoneNumbers", "value": [{"value": "+1"}]}])
            ),
            Some("invalidValue")
        );
    }
}
