//! Wire types shared by the Work Passport server and its clients: request and response bodies,
//! the typed section bodies, the signed payloads, the hash chains, and the problem types.
//! The JSON Schema files (`schemas/json/`) are generated from these types, and so are the
//! OpenAPI document's (`schemas/openapi.json`) schemas; its operations come from the server's
//! route table (see [`openapi`]), and its paths from [`paths`], which the client builds its
//! URLs with too.

pub mod api;
pub mod bundle;
pub mod chain;
pub mod fhir;
pub mod files;
pub mod integer;
pub mod jose;
pub mod openapi;
pub mod paths;
pub mod problem;
pub mod rfc3339;
pub mod sections;
pub mod text;
pub mod verify;
