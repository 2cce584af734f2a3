//! Typed errors: what a caller of the library can act on.

use wp_schemas::api::VersionEnvelope;
use wp_schemas::problem::{Problem, ProblemType};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The consent this call relied on has ended, was revoked, or has not started.
    #[error("consent has ended: {}", .0.detail.as_deref().unwrap_or("the grant is not active"))]
    ConsentEnded(Box<Problem>),
    /// Someone else wrote first; here is the record's current head to rebase on.
    #[error("conflict: the record is now at version {}", .current_head.version)]
    Conflict {
        current_head: Box<VersionEnvelope>,
        problem: Box<Problem>,
    },
    /// The server refused the request.
    #[error("{} ({}): {}", .problem.title, .problem.status, .problem.detail.as_deref().unwrap_or(""))]
    Api { problem: Box<Problem> },
    /// Data from the server failed verification: a bad signature, a broken chain, a section
    /// outside the caller's scopes. Such data is never returned.
    #[error("verification failed: {0}")]
    Verification(String),
    /// The server served a checkpoint older than one already seen.
    #[error("rollback detected: the server is at sequence {served}, but {seen} was seen before")]
    Rollback { seen: i64, served: i64 },
    /// The server's history differs from the one already seen at the same sequence.
    #[error("forked history detected at sequence {seq}")]
    Fork { seq: i64 },
    #[error("the server answered something unexpected: {0}")]
    Protocol(String),
    #[error("HTTP error")]
    Http(#[from] reqwest::Error),
    #[error("local replica error")]
    Replica(#[from] sqlx::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

impl ClientError {
    /// The problem type, for a refusal by the server.
    pub fn problem_type(&self) -> Option<ProblemType> {
        match self {
            ClientError::ConsentEnded(p)
            | ClientError::Api { problem: p }
            | ClientError::Conflict { problem: p, .. } => p.kind(),
            _ => None,
        }
    }

    /// Whether this refusal means the caller may no longer see the passport, so a copy kept of
    /// it must go: consent ended (revoked, expired, not started), the passport was erased
    /// (410), or, for a grantee (`as_grantee`), the server forbids the grant (403).
    pub fn consent_ended(&self, as_grantee: bool) -> bool {
        match self.problem_type() {
            Some(ProblemType::ConsentInactive | ProblemType::Gone) => true,
            Some(ProblemType::Forbidden) => as_grantee,
            _ => matches!(self, ClientError::ConsentEnded(_)),
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::ConsentEnded(p)
            | ClientError::Api { problem: p }
            | ClientError::Conflict { problem: p, .. } => Some(p.status),
            _ => None,
        }
    }

    pub(crate) fn from_problem(problem: Problem) -> Self {
        match problem.kind() {
            Some(ProblemType::ConsentInactive) => ClientError::ConsentEnded(Box::new(problem)),
            Some(ProblemType::VersionConflict) if problem.current_head.is_some() => {
                ClientError::Conflict {
                    current_head: Box::new(problem.current_head.clone().expect("checked")),
                    problem: Box::new(problem),
                }
            }
            _ => ClientError::Api {
                problem: Box::new(problem),
            },
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(kind: ProblemType) -> ClientError {
        ClientError::from_problem(Problem::new(kind, "refused"))
    }

    #[test]
    fn consent_ends_when_revoked_expired_or_erased() {
        for kind in [ProblemType::ConsentInactive, ProblemType::Gone] {
            assert!(refusal(kind).consent_ended(true), "{kind:?}");
            assert!(refusal(kind).consent_ended(false), "{kind:?}");
        }
        assert!(matches!(
            refusal(ProblemType::ConsentInactive),
            ClientError::ConsentEnded(_)
        ));
    }

    #[test]
    fn a_403_ends_consent_for_a_grantee_only() {
        assert!(refusal(ProblemType::Forbidden).consent_ended(true));
        assert!(!refusal(ProblemType::Forbidden).consent_ended(false));
    }

    #[test]
    fn other_failures_leave_consent_alone() {
        let others = ProblemType::ALL.into_iter().filter(|k| {
            !matches!(
                k,
                ProblemType::ConsentInactive | ProblemType::Gone | ProblemType::Forbidden
            )
        });
        for kind in others {
            assert!(!refusal(kind).consent_ended(true), "{kind:?}");
        }
        assert!(!ClientError::Verification("bad signature".into()).consent_ended(true));
        assert!(!ClientError::Rollback { seen: 2, served: 1 }.consent_ended(true));
    }
}
