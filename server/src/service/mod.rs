//! What a request does to a passport once it is authenticated, free of HTTP: the guard that
//! decides and logs access ([`guard`]), and the orchestration of a version write
//! ([`versions`]). Handlers in `http/` parse, call these and shape the answer.

pub mod guard;
pub mod versions;

pub use guard::AuthorizedPassport;
