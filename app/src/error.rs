//! The one error type that crosses the client/server boundary. Each variant
//! maps to a message a person can act on; internal details stay in the server log.

use leptos::server_fn::{codec::JsonEncoding, error::FromServerFnError, error::ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// A problem with one form field, shown next to that field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// Looks up the message for `field` in a list of field errors.
pub fn message_for(errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.clone())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Deliberately the same for an unknown user and a wrong password.
    #[error("The username or password is incorrect.")]
    InvalidCredentials,
    #[error("Too many failed attempts. Please wait a few minutes and try again.")]
    Throttled,
    #[error("Too many accounts were created from your network in the last hour. Please try again later.")]
    RegistrationThrottled,
    #[error("Your session has ended. Please sign in again.")]
    Unauthenticated,
    #[error("Please correct the highlighted fields.")]
    Invalid(Vec<FieldError>),
    #[error(
        "Your profile was changed elsewhere (for example in another tab) since you opened this page. \
         Reload the page to see the latest values, then make your change again."
    )]
    Conflict,
    #[error("That no longer exists. The page has been refreshed.")]
    NotFound,
    #[error("Your registration is awaiting approval. You can sign in once it is approved.")]
    PendingApproval,
    #[error("Your registration request was rejected, and its details have been deleted.")]
    RegistrationRejected,
    /// The request cannot be carried out as asked (a bad value, or an action
    /// the current state does not allow); the text says why.
    #[error("{0}")]
    Refused(String),
    /// The signed-in user may not do this; the text says why.
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the current state: a change made at the same
    /// moment elsewhere, or something that exists already; the text says why.
    #[error("{0}")]
    InConflict(String),
    #[error("Something went wrong on our side. Nothing was changed; please try again.")]
    Internal,
    /// Too many password checks at this moment (a flood of sign-ins).
    #[error("Too many people are signing in at this moment. Nothing was changed; please try again in a few seconds.")]
    Busy,
    /// The request's fields could not be read (only a hand-made request gets
    /// here; the pages never send one).
    #[error("The request could not be read ({0}). Nothing was changed.")]
    Malformed(String),
    /// Network or protocol problems between the browser and the server.
    #[error("Could not reach the server: {0}")]
    Transport(String),
}

impl AppError {
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            AppError::Invalid(errors) => errors,
            _ => &[],
        }
    }

    /// The HTTP status a server function answers with for this error.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::InvalidCredentials | AppError::Unauthenticated => 401,
            AppError::Throttled | AppError::RegistrationThrottled => 429,
            AppError::Invalid(_) => 400,
            AppError::Conflict => 409,
            AppError::NotFound => 404,
            AppError::PendingApproval | AppError::RegistrationRejected => 403,
            AppError::Refused(_) => 400,
            AppError::Forbidden(_) => 403,
            AppError::InConflict(_) => 409,
            AppError::Internal => 500,
            AppError::Busy => 503,
            AppError::Malformed(_) => 400,
            AppError::Transport(_) => 502,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(why) | ServerFnErrorErr::MissingArg(why) => {
                AppError::Malformed(why)
            }
            other => AppError::Transport(other.to_string()),
        }
    }
}
