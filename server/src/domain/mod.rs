//! Domain rules, free of HTTP and SQL: who may do what, what makes a credential, a version or a
//! grant acceptable. Everything here takes the time as an argument so it can be tested exactly.

pub mod access;
pub mod access_request;
pub mod audit;
pub mod auth;
pub mod calendar;
pub mod grant;
pub mod ids;
pub mod import;
pub mod organisation;
pub mod party;
pub mod time;
pub mod version;
