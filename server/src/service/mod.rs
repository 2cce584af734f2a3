//! What a request does once it is parsed, free of HTTP: one function per use case, which a
//! handler in `http/` calls and whose answer it shapes. Who is asking ([`caller`]), the guard
//! that decides and logs access to a passport ([`guard`]), passports and their records
//! ([`passports`]), consent grants ([`grants`]), version writes ([`versions`]), tokens
//! ([`tokens`]), parties and their keys ([`parties`]), organisations, access requests and
//! bundles, and the installation the operator's commands open ([`install`]).
//!
//! The store (SQL) and the vault (data keys) are this layer's own: nothing outside `service/`
//! reaches them, so no handler can read a passport past the guard or its log entry. The test
//! and benchmark crate, which sets up and inspects databases directly, reaches them through the
//! `testing` feature, which only it enables (`cargo build -p wp-server` builds without it).

pub mod access_requests;
pub mod bundles;
pub mod caller;
pub mod grants;
pub mod guard;
pub mod heads;
pub mod install;
pub mod limits;
pub mod notifications;
pub mod organisations;
pub mod origins;
pub mod parties;
pub mod passports;
pub mod state;
pub mod tokens;
pub mod versions;

// The files stay in `src/store/` (one aggregate each); the module is the service's.
#[cfg(not(feature = "testing"))]
#[path = "../store/mod.rs"]
mod store;
#[cfg(feature = "testing")]
#[doc(hidden)]
#[path = "../store/mod.rs"]
pub mod store;

#[cfg(not(feature = "testing"))]
mod vault;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod vault;

pub use caller::{Caller, PendingCaller};
pub use guard::{AuthorizedPassport, AuthorizedRead, Logged, Receipt};
pub use state::{AppState, Inner, TokenCache};
