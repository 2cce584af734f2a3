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
    /// The database did not answer (connection lost, refused, pool exhausted, disk busy):
    /// 503 with Retry-After, so clients retry instead of reporting a bug.
    #[error("the database is unavailable")]
    Unavailable,
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

    /// True when the database was unreachable or overloaded, rather than the request or the
    /// code being wrong: worth answering 503 and retrying.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Unavailable => true,
            Error::Database(e) => database_unavailable(e),
            _ => false,
        }
    }

    /// The field a refusal of invalid input names, if it names one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Client { errors, .. } => errors.first().map(|e| e.field.as_str()),
            _ => None,
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

fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // Each backend's codes apart: a PostgreSQL SQLSTATE can be all digits (22021, a
            // NUL in text, is the caller's fault) and must not be read as a SQLite code.
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                // Connection exceptions (08), shutdown and restart (57P01-57P03), too many
                // connections (53300), and 55000, which is what a new connection meets while
                // the database refuses connections (`ALTER DATABASE ... ALLOW_CONNECTIONS
                // false`, "database ... is not currently accepting connections"). 55000
                // ("object not in prerequisite state") has other causes, but none in the SQL
                // this server runs (no sequences, no materialized views, no replication).
                code.starts_with("08")
                    || matches!(
                        code.as_ref(),
                        "55000" | "57P01" | "57P02" | "57P03" | "53300"
                    )
            } else {
                // SQLite, primary result code: BUSY 5 and LOCKED 6 (another process held the
                // file past the busy timeout), IOERR 10, FULL 13 (a full disk: the operator's
                // to fix, and a retry later succeeds), CANTOPEN 14 (the file or its directory
                // gone or unreadable). Not CORRUPT 11, NOTADB 26 or READONLY 8: those do not
                // pass by themselves, and stay 500 `internal` for the operator.
                code.parse::<i32>()
                    .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 13 | 14))
            }
        }
        _ => false,
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
