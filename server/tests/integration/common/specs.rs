//! Every REST answer the tests receive is checked against the WSO2 API it
//! follows (`server/tests/specs/`, with their sources): the response schema
//! of the matching operation and status, when the spec documents one. New
//! endpoints conform from their first test.

use serde_json::Value;
use std::sync::LazyLock;

/// A spec file, the path prefix our server mounts it at, and its paths.
struct Spec {
    mount: &'static str,
    document: Value,
}

fn load(file: &str, mount: &'static str) -> Spec {
    let path = format!("{}/tests/specs/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let document: Value = serde_yaml::from_str(&text).unwrap();
    Spec { mount, document }
}

static SPECS: LazyLock<Vec<Spec>> = LazyLock::new(|| {
    vec![
        load("wso2-user-sessions-v1.yaml", "/api/users/v1"),
        load("wso2-user-approvals-v1.yaml", "/api/users/v1"),
        load("wso2-user-challenges-v1.yaml", "/api/users/v1"),
        load("wso2-user-authorized-apps-v2.yaml", "/api/users/v2"),
        load("wso2-user-associations-v1.yaml", "/api/users/v1"),
        load("wso2-user-totp-v1.yaml", "/api/users/v1"),
        load("wso2-user-backupcode-v1.yaml", "/api/users/v1"),
        load("wso2-user-mfa-v1.yaml", "/api/users/v1"),
        load("wso2-user-fido2-v1.yaml", "/api/users/v1"),
        load("wso2-user-password-v1.yaml", "/api/users/v1"),
        load("wso2-user-applications-v1.yaml", "/api/users/v1"),
        load("wso2-scim2-endpoints.yaml", "/scim2"),
        load(
            "wso2-consent-mgt-v1.0.yaml",
            "/api/identity/consent-mgt/v1.0",
        ),
    ]
});

/// The SCIM endpoints Selfserve serves, of those WSO2's file describes.
const SERVED_SCIM: [&str; 5] = [
    "/Me",
    "/Schemas",
    "/Schemas/{id}",
    "/ResourceTypes",
    "/ServiceProviderConfig",
];

/// Whether a spec path template (`/me/sessions/{session-id}`) names `path`.
fn matches(template: &str, path: &str) -> bool {
    let want: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let have: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    want.len() == have.len()
        && want
            .iter()
            .zip(&have)
            .all(|(w, h)| (w.starts_with('{') && w.ends_with('}')) || w == h)
}

/// A path template as a JSON pointer segment inside a URI fragment.
fn escape(segment: &str) -> String {
    segment
        .replace('~', "~0")
        .replace('/', "~1")
        .replace('{', "%7B")
        .replace('}', "%7D")
}

/// Where Selfserve knowingly differs from the spec file, and why (README,
/// "REST API"). Each entry: method, spec path template, what is allowed.
enum Deviation {
    /// The spec's schema is one object, but WSO2 answers a list of them (its
    /// own `x-wso2-response` example for `GET /consents` is a list).
    ListOfDocumentedObject,
    /// A value the spec's enum lacks: approval v1 lists READY, RESERVED and
    /// COMPLETED; WSO2's newer engine (and the dashboard) also shows a task
    /// another approver started as BLOCKED.
    ExtraEnumValue(&'static str),
    /// The receipt is the Kantara v1.1 document as issued and signed, whose
    /// `piiCategory` lists claim names; WSO2's receipt schema lists objects.
    /// One document cannot be both; the signed one is served as it is.
    KantaraPiiCategories,
    /// The FIDO2 spec types its answers `string`, while its own example (and
    /// WSO2's server) answers a JSON object.
    ObjectForString,
    /// WSO2's SCIM file types a User's `schemas` as an object and an error's
    /// as a string, and requires an error's `schema` (sic), where RFC 7643 §3
    /// and RFC 7644 §3.12 (and WSO2's server) send a list named `schemas`.
    /// Answers follow the RFCs.
    ScimSchemasList,
    /// WSO2's file types `GET /Schemas` as a bare array, and spells the
    /// characteristics of attributes as its server's Java names (`STRING`,
    /// `READ_WRITE`); RFC 7644 §4 answers a ListResponse and RFC 7643 §7
    /// spells them `string`, `readWrite` (the independent client,
    /// scim2-client, accepts nothing else). Its `uniqueness` lists `NONE`
    /// only, where RFC 7643 §2.2 also has `server` (a `userName`) and
    /// `global`. A list's `Resources` are checked as the array's items, and
    /// an enum value may differ in spelling, or be one of RFC 7643's
    /// uniqueness values, only.
    ScimRfcSpelling,
}

fn deviation(method: &str, template: &str) -> Option<Deviation> {
    match (method, template) {
        (_, "/Me") => Some(Deviation::ScimSchemasList),
        ("get", "/Schemas" | "/Schemas/{id}") => Some(Deviation::ScimRfcSpelling),
        ("get", "/consents") => Some(Deviation::ListOfDocumentedObject),
        ("get", "/me/approval-tasks") => Some(Deviation::ExtraEnumValue("BLOCKED")),
        ("get", "/consents/receipts/{receiptId}") => Some(Deviation::KantaraPiiCategories),
        ("get", "/me/webauthn/start-registration")
        | ("post", "/me/webauthn/finish-registration") => Some(Deviation::ObjectForString),
        _ => None,
    }
}

/// Whether the error is an enum value that the enum holds in other letters:
/// `readWrite` for `READ_WRITE`.
fn same_but_spelling(error: &jsonschema::ValidationError) -> bool {
    let squashed = |v: &str| v.replace('_', "").to_lowercase();
    match (&error.kind, error.instance.as_str()) {
        (jsonschema::error::ValidationErrorKind::Enum { options }, Some(value)) => options
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|option| squashed(option) == squashed(value)),
        _ => false,
    }
}

/// Problems with `body` as the answer `status` to `method path`; empty when it
/// conforms or the specs document no schema for it.
pub fn problems(method: &str, path_and_query: &str, status: u16, body: &str) -> Vec<String> {
    let path = path_and_query.split('?').next().unwrap_or(path_and_query);
    let method = method.to_lowercase();
    for spec in SPECS.iter() {
        let Some(relative) = path.strip_prefix(spec.mount) else {
            continue;
        };
        let Some(paths) = spec.document["paths"].as_object() else {
            continue;
        };
        let Some(template) = paths
            .keys()
            .filter(|t| matches(t, relative))
            // A literal segment beats a parameter: /consents/purposes, not /consents/{id}.
            .min_by_key(|t| t.matches('{').count())
        else {
            continue;
        };
        // WSO2's SCIM file also describes endpoints Selfserve does not serve
        // (/Users, /Groups, /Roles, /Bulk); their paths answer SCIM's 404.
        if spec.mount == "/scim2" && !SERVED_SCIM.contains(&template.as_str()) {
            return Vec::new();
        }
        let mut response = &paths[template][&method]["responses"][status.to_string()];
        let mut at = format!("#/paths/{}/{method}/responses/{status}", escape(template));
        // A response written once under `components` and referred to.
        if let Some(reference) = response["$ref"].as_str() {
            if let Some(shared) = reference
                .strip_prefix('#')
                .and_then(|p| spec.document.pointer(p))
            {
                response = shared;
                at = reference.to_string();
            }
        }
        // OpenAPI 3 nests the schema under a media type; Swagger 2 does not.
        let (pointer, schema) = if response["content"]["application/json"]["schema"].is_object() {
            (
                format!("{at}/content/application~1json/schema"),
                &response["content"]["application/json"]["schema"],
            )
        } else {
            (format!("{at}/schema"), &response["schema"])
        };
        if !schema.is_object() {
            return Vec::new();
        }
        let Ok(instance) = serde_json::from_str::<Value>(body) else {
            return vec![format!("{method} {path} {status}: the body is not JSON")];
        };
        let mut root = spec.document.clone();
        root["$ref"] = Value::String(pointer);
        let validator = jsonschema::draft4::new(&root).unwrap();
        let allowed = match deviation(&method, template) {
            Some(Deviation::ScimSchemasList) => Some(Deviation::ScimSchemasList),
            // SCIM's errors are RFC 7644's on every path.
            _ if status >= 300 && spec.mount == "/scim2" => Some(Deviation::ScimSchemasList),
            found if status < 300 => found,
            _ => None,
        };
        let documents: Vec<Value> = match (&allowed, instance) {
            (Some(Deviation::ListOfDocumentedObject), Value::Array(items)) => items,
            (Some(Deviation::ScimRfcSpelling), Value::Object(mut list))
                if list.contains_key("Resources") =>
            {
                vec![list.remove("Resources").unwrap_or_default()]
            }
            (_, instance) => vec![instance],
        };
        return documents
            .iter()
            .flat_map(|document| validator.iter_errors(document).collect::<Vec<_>>())
            .filter(|e| match &allowed {
                Some(Deviation::ExtraEnumValue(value)) => e.instance.as_str() != Some(*value),
                Some(Deviation::KantaraPiiCategories) => {
                    !(e.instance.is_string()
                        && e.instance_path.to_string().contains("/piiCategory/"))
                }
                Some(Deviation::ObjectForString) => {
                    !(e.instance.is_object() && e.instance_path.to_string().is_empty())
                }
                Some(Deviation::ScimRfcSpelling) => {
                    let rfc_uniqueness = e.instance_path.to_string().ends_with("/uniqueness")
                        && ["server", "global"].contains(&e.instance.as_str().unwrap_or(""));
                    !same_but_spelling(e) && !rfc_uniqueness
                }
                Some(Deviation::ScimSchemasList) => {
                    e.instance_path.to_string() != "/schemas"
                        && !e.to_string().contains("\"schema\" is a required property")
                }
                _ => true,
            })
            .map(|e| format!("{method} {path} {status}: {e} at {}", e.instance_path))
            .collect();
    }
    Vec::new()
}
