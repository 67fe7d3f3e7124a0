//! My Profile: the user's claims, their validation, and the page that edits them.

use crate::error::{AppError, FieldError};
use isocountry::CountryCode;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

mod page;

pub use page::ProfilePage;

/// The editable claims exactly as a form sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfileInput {
    pub first_name: String,
    pub last_name: String,
    pub organization: String,
    pub country: String,
    pub email: String,
    pub telephone: String,
    pub mobile: String,
    pub im: String,
    pub url: String,
    pub department: String,
}

/// What the profile page shows: the stored claims, the read-only role and the
/// version the edit is based on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileView {
    pub username: String,
    pub claims: ProfileInput,
    pub role: String,
    pub version: i64,
    /// Changes awaiting approval: (claim, requested value).
    #[serde(default)]
    pub pending: Vec<(String, String)>,
}

/// One editable field: its form name, its label and how to check it.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub max_chars: usize,
    pub autocomplete: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Email,
    Phone,
    Url,
    Country,
}

pub const FIELDS: [FieldSpec; 10] = [
    spec(
        "first_name",
        "First Name",
        FieldKind::Text,
        100,
        "given-name",
    ),
    spec(
        "last_name",
        "Last Name",
        FieldKind::Text,
        100,
        "family-name",
    ),
    spec(
        "organization",
        "Organization",
        FieldKind::Text,
        100,
        "organization",
    ),
    spec("country", "Country", FieldKind::Country, 2, "country"),
    spec("email", "Email", FieldKind::Email, 254, "email"),
    spec("telephone", "Telephone", FieldKind::Phone, 32, "tel"),
    spec("mobile", "Mobile", FieldKind::Phone, 32, "tel"),
    spec("im", "IM", FieldKind::Text, 100, "off"),
    spec("url", "URL", FieldKind::Url, 2048, "url"),
    spec("department", "Department", FieldKind::Text, 100, "off"),
];

/// The field a claim name stands for, if any.
pub fn field(name: &str) -> Option<&'static FieldSpec> {
    FIELDS.iter().find(|f| f.name == name)
}

const fn spec(
    name: &'static str,
    label: &'static str,
    kind: FieldKind,
    max_chars: usize,
    autocomplete: &'static str,
) -> FieldSpec {
    FieldSpec {
        name,
        label,
        kind,
        max_chars,
        autocomplete,
    }
}

impl ProfileInput {
    pub fn get(&self, name: &str) -> &str {
        match name {
            "first_name" => &self.first_name,
            "last_name" => &self.last_name,
            "organization" => &self.organization,
            "country" => &self.country,
            "email" => &self.email,
            "telephone" => &self.telephone,
            "mobile" => &self.mobile,
            "im" => &self.im,
            "url" => &self.url,
            "department" => &self.department,
            _ => "",
        }
    }

    /// The labels of the fields left empty, in the form's order.
    pub fn missing(&self) -> Vec<&'static str> {
        FIELDS
            .iter()
            .filter(|f| self.get(f.name).trim().is_empty())
            .map(|f| f.label)
            .collect()
    }

    /// Sets a claim by name; unknown names change nothing.
    pub fn set(&mut self, name: &str, value: &str) {
        if let Some(slot) = self.get_mut(name) {
            *slot = value.to_string();
        }
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "first_name" => &mut self.first_name,
            "last_name" => &mut self.last_name,
            "organization" => &mut self.organization,
            "country" => &mut self.country,
            "email" => &mut self.email,
            "telephone" => &mut self.telephone,
            "mobile" => &mut self.mobile,
            "im" => &mut self.im,
            "url" => &mut self.url,
            "department" => &mut self.department,
            _ => return None,
        })
    }

    /// Checks every field and returns either a profile that holds only valid
    /// values or every problem found, so the form can mark all of them at once.
    pub fn parse(&self) -> Result<ValidProfile, Vec<FieldError>> {
        let mut clean = ProfileInput::default();
        let mut errors = Vec::new();
        for field in FIELDS {
            match parse_field(&field, self.get(field.name)) {
                Ok(value) => {
                    if let Some(slot) = clean.get_mut(field.name) {
                        *slot = value;
                    }
                }
                Err(message) => errors.push(FieldError::new(field.name, message)),
            }
        }
        if errors.is_empty() {
            Ok(ValidProfile(clean))
        } else {
            Err(errors)
        }
    }
}

/// A profile whose every claim has passed [`ProfileInput::parse`]; the only way
/// to build one is through that check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidProfile(ProfileInput);

impl ValidProfile {
    pub fn claims(&self) -> &ProfileInput {
        &self.0
    }

    /// The same profile with `names` set back to their stored values (which
    /// passed this check when they were stored): used to hold those changes
    /// for approval while the rest is saved.
    pub fn keeping(&self, stored: &ProfileInput, names: &[String]) -> ValidProfile {
        let mut kept = self.0.clone();
        for name in names {
            if let Some(slot) = kept.get_mut(name) {
                *slot = stored.get(name).to_string();
            }
        }
        ValidProfile(kept)
    }
}

/// Characters that do not show as themselves: control characters, and the
/// format characters that reorder or hide text (bidi overrides such as
/// U+202E, zero-width joiners and spaces, the byte-order mark), which could
/// make what an approver reads differ from what is stored.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

fn parse_field(field: &FieldSpec, raw: &str) -> Result<String, String> {
    // Text is kept as typed (it is escaped when shown); only surrounding spaces go.
    let value = raw.trim();
    if value.chars().count() > field.max_chars {
        return Err(format!(
            "{} can be at most {} characters long.",
            field.label, field.max_chars
        ));
    }
    if value.chars().any(is_hidden) {
        return Err(format!(
            "{} cannot contain invisible or text-direction characters.",
            field.label
        ));
    }
    if value.is_empty() {
        return Ok(String::new());
    }
    match field.kind {
        FieldKind::Text => Ok(value.to_string()),
        FieldKind::Email => parse_email(value),
        FieldKind::Phone => parse_phone(value, field.label),
        FieldKind::Url => parse_url(value),
        // Codes are capitals (ISO 3166-1); scripts may send "gb".
        FieldKind::Country => CountryCode::for_alpha2(&value.to_ascii_uppercase())
            .map(|c| c.alpha2().to_string())
            .map_err(|_| "Choose a country from the list.".to_string()),
    }
}

fn parse_email(value: &str) -> Result<String, String> {
    let invalid = || "Enter an email address such as name@example.com.".to_string();
    let parsed: email_address::EmailAddress = value.parse().map_err(|_| invalid())?;
    if !parsed.domain().contains('.') {
        return Err(invalid());
    }
    Ok(parsed.to_string())
}

/// The server's check: a real numbering-plan validation, stored in E.164.
#[cfg(feature = "ssr")]
fn parse_phone(value: &str, label: &str) -> Result<String, String> {
    let message = || {
        format!(
            "{label} must be a valid international number starting with +, such as +14155550123."
        )
    };
    if !value.starts_with('+') {
        return Err(message());
    }
    let number = phonenumber::parse(None, value).map_err(|_| message())?;
    if !number.is_valid() {
        return Err(message());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// The browser's pre-check: the shape of an international number. The server
/// repeats the full check.
#[cfg(not(feature = "ssr"))]
fn parse_phone(value: &str, label: &str) -> Result<String, String> {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let allowed = value
        .chars()
        .skip(1)
        .all(|c| c.is_ascii_digit() || " ()-.".contains(c));
    if value.starts_with('+') && allowed && (8..=15).contains(&digits) {
        Ok(value.to_string())
    } else {
        Err(format!(
            "{label} must be a valid international number starting with +, such as +14155550123."
        ))
    }
}

const URL_MESSAGE: &str = "Enter a web address starting with http:// or https://.";

#[cfg(feature = "ssr")]
fn parse_url(value: &str) -> Result<String, String> {
    let url = url::Url::parse(value).map_err(|_| URL_MESSAGE.to_string())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(URL_MESSAGE.to_string());
    }
    Ok(value.to_string())
}

#[cfg(not(feature = "ssr"))]
fn parse_url(value: &str) -> Result<String, String> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains(char::is_whitespace) => {
            Ok(value.to_string())
        }
        _ => Err(URL_MESSAGE.to_string()),
    }
}

/// Countries for the drop-down, sorted by name.
pub fn countries() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<_> = CountryCode::iter()
        .map(|c| (c.alpha2(), c.name()))
        .collect();
    all.sort_by(|a, b| a.1.cmp(b.1));
    all
}

#[server(endpoint = "get_profile")]
pub async fn get_profile() -> Result<ProfileView, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    respond(backend()?.profile(&session).await)
}

#[server(endpoint = "update_profile")]
pub async fn update_profile(input: ProfileInput, version: i64) -> Result<ProfileView, AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    let valid = input.parse().map_err(AppError::Invalid);
    let result = match valid {
        Ok(valid) => backend()?.update_profile(&session, valid, version).await,
        Err(e) => Err(e),
    };
    respond(result)
}

/// Whether users may delete their own account here (the operator's
/// `accounts.self_deletion`).
#[server(endpoint = "account_deletion_offered")]
pub async fn account_deletion_offered() -> Result<bool, AppError> {
    use crate::backend::ssr::*;
    current_session()?;
    Ok(backend()?.account_deletion_offered())
}

/// What a user is told where the operator keeps account deletion to
/// themselves.
pub const DELETION_BY_ADMINISTRATOR: &str =
    "Your administrator manages the accounts here, so yours cannot be \
     deleted from My Account. Ask your administrator to delete it.";

/// Deletes the signed-in user's account, once they confirm it is them.
#[server(endpoint = "delete_account")]
pub async fn delete_account(#[server(default)] password: String) -> Result<(), AppError> {
    use crate::backend::ssr::*;
    let session = current_session()?;
    if password.is_empty() {
        return Err(fail(AppError::Invalid(vec![FieldError::new(
            "password",
            "Enter your current password.",
        )])));
    }
    let client = client_info()?;
    let cookie = respond(
        backend()?
            .delete_account(&session, &password, &client)
            .await,
    )?;
    set_cookie(cookie);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_input() -> ProfileInput {
        ProfileInput {
            first_name: " Ada ".into(),
            country: "LK".into(),
            email: "ada@example.com".into(),
            telephone: "+94112345678".into(),
            // The example the form shows must itself be valid.
            mobile: "+14155550123".into(),
            url: "https://example.com/ada".into(),
            ..Default::default()
        }
    }

    #[test]
    fn trims_and_accepts_valid_values() {
        let valid = valid_input().parse().expect("valid");
        assert_eq!(valid.claims().first_name, "Ada");
        assert_eq!(valid.claims().country, "LK");
    }

    #[test]
    fn reports_every_invalid_field() {
        let input = ProfileInput {
            email: "not-an-email".into(),
            url: "javascript:alert(1)".into(),
            country: "XX".into(),
            mobile: "12345".into(),
            first_name: "x".repeat(101),
            ..Default::default()
        };
        let errors = input.parse().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["first_name", "country", "email", "mobile", "url"]);
    }

    #[test]
    fn markup_is_kept_as_typed() {
        let input = ProfileInput {
            department: "<script>alert(1)</script>".into(),
            ..Default::default()
        };
        assert_eq!(
            input.parse().unwrap().claims().department,
            "<script>alert(1)</script>"
        );
    }
}
