//! The one error type of the server. Client errors carry their problem type; everything else is
//! an internal error whose details go to the log and never to the client.

use wp_schemas::api::VersionEnvelope;
use wp_schemas::problem::{FieldError, ProblemType};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{kind:?}: {detail}")]
    Client {
        kind: ProblemType,
        detail: String,
        errors: Vec<FieldError>,
        current_head: Option<Box<VersionEnvelope>>,
    },
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration error")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn client(kind: ProblemType, detail: impl Into<String>) -> Self {
        Error::Client {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
            current_head: None,
        }
    }

    pub fn invalid_field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let (field, reason) = (field.into(), reason.into());
        Error::Client {
            kind: ProblemType::InvalidBody,
            detail: format!("{field}: {reason}"),
            errors: vec![FieldError { field, reason }],
            current_head: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::client(ProblemType::BadRequest, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::client(ProblemType::Forbidden, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::client(ProblemType::NotFound, detail)
    }

    /// What the access log records of a refusal: the client-facing detail, never a Rust value's
    /// `Debug` text; an internal error is recorded only as such.
    pub fn log_reason(&self) -> &str {
        match self {
            Error::Client { detail, .. } => detail,
            _ => "internal error",
        }
    }

    /// The same client error carrying the record's current head (a 409 the writer can rebase on).
    pub fn with_current_head(self, head: VersionEnvelope) -> Self {
        match self {
            Error::Client {
                kind,
                detail,
                errors,
                ..
            } => Error::Client {
                kind,
                detail,
                errors,
                current_head: Some(Box::new(head)),
            },
            other => other,
        }
    }

    /// The problem type a client sees, or None for an internal error.
    pub fn kind(&self) -> Option<ProblemType> {
        match self {
            Error::Client { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// Turns a database constraint violation into a client error at the call site
/// (after realworld-axum-sqlx's `on_constraint`).
pub trait ResultExt<T> {
    fn on_unique_violation(self, f: impl FnOnce() -> Error) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn on_unique_violation(self, f: impl FnOnce() -> Error) -> Result<T> {
        self.map_err(|e| match e.into() {
            Error::Database(sqlx::Error::Database(db)) if db.is_unique_violation() => f(),
            other => other,
        })
    }
}
