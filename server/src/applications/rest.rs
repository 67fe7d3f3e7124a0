//! REST: `/api/users/v1/me/applications`, shaped as WSO2's User Application
//! Management API v1: the applications the signed-in user can open.

use super::{find, list, ApplicationsError, Listed, NameFilter};
use crate::api::{ApiError, ApiQuery, SignedIn};
use crate::AppState;
use axum::{
    extract::{Path, State},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub const PATH: &str = "/api/users/v1/me/applications";

/// WSO2's `ApplicationResponse`; only the attributes asked for (all by
/// default). `image` is never sent: Selfserve keeps no logos.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ApplicationDto {
    /// The application's id (its client id when it signs users in through Selfserve).
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where the user opens it.
    #[serde(rename = "accessUrl", skip_serializing_if = "Option::is_none")]
    pub access_url: Option<String>,
}

/// WSO2's `Link`: where the next or previous page is.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Link {
    pub href: String,
    pub rel: String,
}

/// WSO2's `ApplicationListResponse`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApplicationList {
    /// Applications matching the filter, on every page.
    #[serde(rename = "totalResults")]
    pub total_results: usize,
    /// The 1-based index of the first application of this page.
    #[serde(rename = "startIndex")]
    pub start_index: usize,
    pub count: usize,
    pub applications: Vec<ApplicationDto>,
    pub links: Vec<Link>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `name <eq|sw|ew|co> <text>`, without regard to case.
    pub filter: Option<String>,
    /// Applications per page (default 30).
    pub limit: Option<u32>,
    /// Applications to skip.
    pub offset: Option<u32>,
    /// The attributes to send, comma-separated: id, name, description, accessUrl.
    pub attributes: Option<String>,
    /// Not supported: applications come used last first, then by name.
    #[serde(rename = "sortOrder")]
    pub sort_order: Option<String>,
    /// Not supported, as `sortOrder`.
    #[serde(rename = "sortBy")]
    pub sort_by: Option<String>,
}

const DEFAULT_LIMIT: u32 = 30;

/// Which attributes to send.
#[derive(Debug, Clone, Copy)]
struct Attributes {
    name: bool,
    description: bool,
    access_url: bool,
}

impl Attributes {
    const ALL: Attributes = Attributes {
        name: true,
        description: true,
        access_url: true,
    };

    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
            return Ok(Attributes::ALL);
        };
        let mut chosen = Attributes {
            name: false,
            description: false,
            access_url: false,
        };
        for attribute in raw.split(',').map(str::trim) {
            match attribute {
                "id" | "image" => {}
                "name" => chosen.name = true,
                "description" => chosen.description = true,
                "accessUrl" => chosen.access_url = true,
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "\"{other}\" is not an attribute of an application: ask for id, name, description, image or accessUrl."
                    )))
                }
            }
        }
        Ok(chosen)
    }

    fn of(self, app: Listed) -> ApplicationDto {
        ApplicationDto {
            id: app.id,
            name: self.name.then_some(app.name),
            description: self.description.then_some(app.description),
            access_url: self.access_url.then(|| app.access_url.as_str().to_string()),
        }
    }
}

fn filter_error(e: ApplicationsError) -> ApiError {
    match e {
        ApplicationsError::InvalidFilter(why) => ApiError::BadRequest(why),
        other => other.into(),
    }
}

/// The page of the listing at this offset, with the same filter; absolute,
/// as the spec's `uri` format asks.
fn link(base: &str, query: &ListQuery, offset: u32, limit: u32, rel: &str) -> Link {
    let mut href = url::form_urlencoded::Serializer::new(String::new());
    if let Some(filter) = &query.filter {
        href.append_pair("filter", filter);
    }
    if let Some(attributes) = &query.attributes {
        href.append_pair("attributes", attributes);
    }
    href.append_pair("offset", &offset.to_string());
    href.append_pair("limit", &limit.to_string());
    Link {
        href: format!("{base}{PATH}?{}", href.finish()),
        rel: rel.into(),
    }
}

/// The applications the signed-in user can open, used last first.
#[utoipa::path(
    get,
    operation_id = "getApplications",
    path = "/api/users/v1/me/applications",
    tag = "me",
    params(ListQuery),
    responses(
        (status = 200, description = "The applications", body = ApplicationList),
        (status = 400, description = "A filter, attribute, limit or offset that is not valid, or sorting asked for", body = crate::api::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
    )
)]
pub async fn list_applications(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ApplicationList>, ApiError> {
    if query.sort_by.is_some() || query.sort_order.is_some() {
        return Err(ApiError::BadRequest(
            "Sorting is not supported: applications come used last first, then by name.".into(),
        ));
    }
    let attributes = Attributes::parse(query.attributes.as_deref())?;
    let filter = query
        .filter
        .as_deref()
        .map(NameFilter::parse)
        .transpose()
        .map_err(filter_error)?;
    let apps = list(&state.db, &state.config, me.user_id, filter.as_ref()).await?;
    let total = apps.len();
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let offset = query.offset.unwrap_or(0);
    let page: Vec<ApplicationDto> = apps
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|app| attributes.of(app))
        .collect();
    let base = state.config.public_url.trim_end_matches('/');
    let mut links = Vec::new();
    if limit > 0 && (offset as usize).saturating_add(page.len()) < total {
        links.push(link(
            base,
            &query,
            offset.saturating_add(limit),
            limit,
            "next",
        ));
    }
    if offset > 0 {
        links.push(link(
            base,
            &query,
            offset.saturating_sub(limit),
            limit,
            "previous",
        ));
    }
    Ok(Json(ApplicationList {
        total_results: total,
        start_index: offset as usize + 1,
        count: page.len(),
        applications: page,
        links,
    }))
}

/// One application the signed-in user can open.
#[utoipa::path(
    get,
    operation_id = "getApplication",
    path = "/api/users/v1/me/applications/{applicationId}",
    tag = "me",
    params(("applicationId" = String, Path, description = "The application's id")),
    responses(
        (status = 200, description = "The application", body = ApplicationDto),
        (status = 401, description = "Not signed in", body = crate::api::ErrorBody),
        (status = 404, description = "No application the user can open has that id", body = crate::api::ErrorBody),
    )
)]
pub async fn get_application(
    State(state): State<AppState>,
    SignedIn(me): SignedIn,
    Path(id): Path<String>,
) -> Result<Json<ApplicationDto>, ApiError> {
    let app = find(&state.db, &state.config, me.user_id, &id).await?;
    Ok(Json(Attributes::ALL.of(app)))
}
