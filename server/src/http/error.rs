//! The error response: RFC 9457 problem+json with a stable `type`. Internal errors are logged
//! with their full chain and answered with a generic 500 that leaks nothing.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use wp_schemas::problem::{Problem, ProblemType};

use crate::error::Error;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// How long a client should wait before retrying when the database is unavailable.
const RETRY_AFTER_SECS: &str = "1";

pub fn problem_response(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = problem.kind();
    let mut response = (status, axum::Json(problem)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    // RFC 9449 section 7.1 and RFC 6750 section 3: a 401 names the scheme the client must use.
    if status == StatusCode::UNAUTHORIZED {
        let error = match kind {
            Some(ProblemType::InvalidDpopProof | ProblemType::ReplayedDpopProof) => {
                "invalid_dpop_proof"
            }
            Some(ProblemType::InvalidAssertion | ProblemType::ReplayedAssertion) => {
                "invalid_client"
            }
            _ => "invalid_token",
        };
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&format!("DPoP error=\"{error}\", algs=\"EdDSA\""))
                .expect("ascii header"),
        );
    }
    response
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Client {
                kind,
                detail,
                errors,
                current_head,
            } => {
                tracing::info!(problem = kind.slug(), "request refused");
                let mut problem = Problem::new(kind, detail);
                problem.errors = errors;
                problem.current_head = current_head.map(|h| *h);
                problem_response(problem)
            }
            other if other.is_unavailable() => {
                tracing::warn!(error = ?other, "database unavailable");
                let mut response = problem_response(Problem::new(
                    ProblemType::DatabaseUnavailable,
                    "the database is unavailable; retry after the seconds in Retry-After",
                ));
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECS),
                );
                response
            }
            other => {
                // The chain may name SQL or files; it goes to the log only.
                tracing::error!(error = ?other, "internal error");
                problem_response(Problem::new(
                    ProblemType::Internal,
                    "an internal error occurred; it has been logged",
                ))
            }
        }
    }
}
