//! The Work Passport client library: how employees, employers' HR systems and occupational
//! therapists' tools use passports. It signs every request (private_key_jwt assertions, DPoP
//! proofs), signs record versions with the caller's key, and verifies every version it returns.

pub mod bundle;
pub mod client;
pub mod consent;
pub mod error;
pub mod keys;
pub mod notifications;
pub mod passport;
pub mod proofs;
pub mod replica;
pub mod verify;

pub use client::Client;
pub use error::{ClientError, Result};
pub use passport::{PassportClient, VerifiedPassport};
pub use replica::{LocalRecord, Replica, SyncReport, SyncState};
pub use verify::VerifiedVersion;
pub use wp_schemas::jose::SigningKey;
