//! What a request does once it is parsed, free of HTTP: who is asking ([`caller`]), the guard
//! that decides and logs access to a passport ([`guard`]), tokens ([`tokens`]), parties and
//! their keys ([`parties`]), and the orchestration of a version write ([`versions`]). Handlers
//! in `http/` parse, call these and shape the answer.

pub mod access_requests;
pub mod bundles;
pub mod caller;
pub mod guard;
pub mod heads;
pub mod limits;
pub mod organisations;
pub mod origins;
pub mod parties;
pub mod state;
pub mod tokens;
pub mod versions;

pub use caller::{Caller, PendingCaller};
pub use guard::AuthorizedPassport;
pub use state::{AppState, Inner, TokenCache};
