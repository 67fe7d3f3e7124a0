//! The services consent is given to: Selfserve itself, each application of
//! the configuration file, and each client added through the CLI. A
//! client of the database is a service as much as a configured application:
//! `[[consent.purposes]]` may name it, and receipts and pages show its name.

use super::ConsentError;
use crate::config::clients::AccessUrl;
use crate::config::{Config, SYSTEM_SERVICE};
use crate::db::Db;
use crate::oidc::{self, ClientError, ClientSource};
use std::collections::HashMap;

/// How receipts and pages name a service, and where it opens if the
/// operator said (the Applications section lists those).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceInfo {
    pub name: String,
    pub description: String,
    pub access_url: Option<AccessUrl>,
}

impl ServiceInfo {
    /// Applications lists a service, and users can open it, when it has an
    /// access URL.
    fn is_openable(&self) -> bool {
        self.access_url.is_some()
    }
}

/// Every service known now, by id.
pub struct Services(HashMap<String, ServiceInfo>);

impl Services {
    pub async fn load(db: &Db, config: &Config) -> Result<Self, ConsentError> {
        let mut services = HashMap::new();
        services.insert(
            SYSTEM_SERVICE.to_string(),
            ServiceInfo {
                name: "Selfserve".into(),
                description: "This account service: it keeps your account and profile.".into(),
                access_url: None,
            },
        );
        for app in &config.consent.applications {
            services.insert(
                app.id.clone(),
                ServiceInfo {
                    name: app.name.clone(),
                    description: app.description.clone(),
                    access_url: app.access_url.clone(),
                },
            );
        }
        let clients = oidc::all(db, config).await.map_err(|e| match e {
            ClientError::Db(e) => ConsentError::Db(e),
            other => ConsentError::Invalid(other.to_string()),
        })?;
        for client in clients
            .into_iter()
            .filter(|c| c.source == ClientSource::Database)
        {
            services.insert(
                client.id.to_string(),
                ServiceInfo {
                    name: client.name,
                    description: client.description,
                    access_url: client.access_url,
                },
            );
        }
        Ok(Services(services))
    }

    pub fn knows(&self, service: &str) -> bool {
        self.0.contains_key(service)
    }

    /// The service's name and description; a receipt may outlive its
    /// application, which is then named by its id.
    pub fn info(&self, service: &str) -> ServiceInfo {
        self.0.get(service).cloned().unwrap_or_else(|| ServiceInfo {
            name: service.to_string(),
            description: "An application no longer configured.".into(),
            access_url: None,
        })
    }

    /// How many services users can open (the home page's count of what
    /// `openable` lists).
    pub fn openable_count(&self) -> usize {
        self.0.values().filter(|info| info.is_openable()).count()
    }

    /// Every service users can open, by id.
    pub fn openable(self) -> impl Iterator<Item = (String, ServiceInfo)> {
        self.0.into_iter().filter(|(_, info)| info.is_openable())
    }

    /// Every purpose must belong to a known service. The configuration file
    /// alone cannot tell (a purpose may name a client added through the
    /// CLI), so this runs at start-up, against the database.
    pub fn check_purposes(&self, config: &Config) -> Result<(), String> {
        for purpose in &config.consent.purposes {
            if !self.knows(&purpose.service) {
                return Err(format!(
                    "consent.purposes: purpose {} names the service \"{}\", which is neither \"system\", \
                     an application of the configuration file nor a client added with `selfserve client add`",
                    purpose.id, purpose.service
                ));
            }
        }
        Ok(())
    }
}
