//! Applications: the applications the user can open from My Account, those
//! the operator gave an access URL (in the configuration file, or with
//! `selfserve client add --access-url`), the ones the user used last first.
//! WSO2's My Account lists these as "Applications"; Authorized Apps (the
//! `apps` section) is about what the user's sign-ins gave them instead.

pub mod rest;

use crate::config::clients::AccessUrl;
use crate::config::Config;
use crate::consent::{ConsentError, Services};
use crate::db::DbError;
use crate::oidc::grants;
use crate::time::moment;
use app::applications::ApplicationView;
use app::error::{AppError, FieldError};
use std::cmp::Reverse;

/// Longest search text: a name is never longer in practice, and the page
/// says so rather than searching for a paragraph.
pub const MAX_SEARCH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ApplicationsError {
    /// No listed application has that id.
    #[error("no such application")]
    NotFound,
    #[error("{0}")]
    InvalidFilter(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Services(#[from] ConsentError),
}

impl From<ApplicationsError> for AppError {
    fn from(e: ApplicationsError) -> Self {
        match e {
            ApplicationsError::NotFound => AppError::NotFound,
            ApplicationsError::InvalidFilter(why) => {
                AppError::Invalid(vec![FieldError::new("search", why)])
            }
            ApplicationsError::Db(e) => e.into(),
            ApplicationsError::Services(e) => e.into(),
        }
    }
}

/// How a filter compares an application's name with its text (WSO2's
/// `eq`, `sw`, `ew`, `co`); always without regard to case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    Equals,
    StartsWith,
    EndsWith,
    Contains,
}

/// A filter on applications' names, parsed from WSO2's `name co text` or
/// taken from the page's search box (contains).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameFilter {
    how: Match,
    /// Lower-cased.
    text: String,
}

impl NameFilter {
    /// The page's search box: names containing the text; None when it is blank.
    pub fn search(text: &str) -> Result<Option<Self>, ApplicationsError> {
        let text = text.trim();
        if text.chars().count() > MAX_SEARCH {
            return Err(ApplicationsError::InvalidFilter(format!(
                "Search for at most {MAX_SEARCH} characters."
            )));
        }
        Ok((!text.is_empty()).then(|| NameFilter {
            how: Match::Contains,
            text: text.to_lowercase(),
        }))
    }

    /// `name <eq|sw|ew|co> <text>`, the text optionally in double quotes.
    pub fn parse(filter: &str) -> Result<Self, ApplicationsError> {
        let invalid = || {
            ApplicationsError::InvalidFilter(format!(
                "The filter \"{filter}\" is not one this API understands: write `name <operator> <text>`, \
                 where the operator is eq, sw, ew or co (e.g. `name co mail`)."
            ))
        };
        let mut parts = filter.trim().splitn(3, ' ');
        let (Some(attribute), Some(operator), Some(text)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        if !attribute.eq_ignore_ascii_case("name") {
            return Err(ApplicationsError::InvalidFilter(format!(
                "Applications can be filtered by name only, not by \"{attribute}\"."
            )));
        }
        let how = match operator.to_ascii_lowercase().as_str() {
            "eq" => Match::Equals,
            "sw" => Match::StartsWith,
            "ew" => Match::EndsWith,
            "co" => Match::Contains,
            _ => return Err(invalid()),
        };
        let text = text.trim();
        let text = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(text);
        if text.is_empty() || text.chars().count() > MAX_SEARCH {
            return Err(invalid());
        }
        Ok(NameFilter {
            how,
            text: text.to_lowercase(),
        })
    }

    fn admits(&self, name: &str) -> bool {
        let name = name.to_lowercase();
        match self.how {
            Match::Equals => name == self.text,
            Match::StartsWith => name.starts_with(&self.text),
            Match::EndsWith => name.ends_with(&self.text),
            Match::Contains => name.contains(&self.text),
        }
    }
}

/// An application the user can open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub description: String,
    pub access_url: AccessUrl,
    /// When the user last signed in to it through Selfserve (or its tokens
    /// were last refreshed).
    pub last_used: Option<i64>,
}

impl From<Listed> for ApplicationView {
    fn from(app: Listed) -> Self {
        ApplicationView {
            id: app.id,
            name: app.name,
            description: app.description,
            access_url: app.access_url.as_str().to_string(),
            last_used: app.last_used.map(moment),
        }
    }
}

/// Every application with an access URL, whether it signs users in through
/// Selfserve or not: those of the configuration file and the clients added
/// through the CLI, as the consent pages know them (`Services`).
async fn listed(db: &crate::db::Db, config: &Config) -> Result<Vec<Listed>, ApplicationsError> {
    Ok(Services::load(db, config)
        .await?
        .openable()
        .filter_map(|(id, info)| {
            Some(Listed {
                id,
                access_url: info.access_url?,
                name: info.name,
                description: info.description,
                last_used: None,
            })
        })
        .collect())
}

/// The applications the user can open whose names pass the filter: those
/// used last first, then the others by name.
pub async fn list(
    db: &crate::db::Db,
    config: &Config,
    user_id: i64,
    filter: Option<&NameFilter>,
) -> Result<Vec<Listed>, ApplicationsError> {
    let (apps, last_use) = tokio::try_join!(listed(db, config), async {
        grants::last_use(db, user_id)
            .await
            .map_err(ApplicationsError::from)
    })?;
    let mut apps: Vec<Listed> = apps
        .into_iter()
        .filter(|app| filter.is_none_or(|f| f.admits(&app.name)))
        .map(|mut app| {
            app.last_used = last_use.get(&app.id).copied();
            app
        })
        .collect();
    apps.sort_by_cached_key(|app| {
        (
            Reverse(app.last_used),
            app.name.to_lowercase(),
            app.id.clone(),
        )
    });
    Ok(apps)
}

/// How many applications the user can open (the home page's card): those
/// `list` gives without a filter, counted in services already loaded.
pub fn count_in(services: &Services) -> usize {
    services.openable_count()
}

/// One application the user can open; NotFound for any other id.
pub async fn find(
    db: &crate::db::Db,
    config: &Config,
    user_id: i64,
    id: &str,
) -> Result<Listed, ApplicationsError> {
    list(db, config, user_id, None)
        .await?
        .into_iter()
        .find(|app| app.id == id)
        .ok_or(ApplicationsError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_follow_wso2s_operators_without_regard_to_case() {
        let co = NameFilter::parse("name co MAIL").unwrap();
        assert!(co.admits("Team Mail") && co.admits("mailbox") && !co.admits("Blog"));
        let sw = NameFilter::parse("Name SW \"team \"").unwrap();
        assert!(sw.admits("Team Mail") && !sw.admits("My Team"));
        let ew = NameFilter::parse("name ew blog").unwrap();
        assert!(ew.admits("Team Blog") && !ew.admits("Blogger"));
        let eq = NameFilter::parse("name eq team blog").unwrap();
        assert!(eq.admits("Team Blog") && !eq.admits("Team Blogs"));
        for bad in [
            "",
            "name",
            "name co",
            "name like x",
            "description co x",
            "name co \"\"",
        ] {
            assert!(NameFilter::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(NameFilter::search("  ").unwrap(), None);
        assert!(NameFilter::search(&"x".repeat(MAX_SEARCH + 1)).is_err());
        assert!(NameFilter::search("blog")
            .unwrap()
            .unwrap()
            .admits("Team Blog"));
    }
}
