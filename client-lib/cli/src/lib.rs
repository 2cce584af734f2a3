//! The `wp` command line: a thin layer over the client library (`wp_client`) for every journey of the product
//! (employees, employers, occupational therapists, admins). State lives in a profile directory.
//!
//! The binary (`src/main.rs`) only calls [`main_with`]; the code lives in the library so that
//! the end-to-end tests can build the same command line as a binary of their own.

/// `print!` to stdout, ending quietly when the reader has gone (`wp ... | head`).
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::emit(format_args!($($arg)*)) };
}

/// `println!` to stdout, ending quietly when the reader has gone.
macro_rules! outln {
    () => { out!("\n") };
    ($($arg:tt)*) => { out!("{}\n", format_args!($($arg)*)) };
}

mod args;
mod commands;
mod output;
mod profile;
mod views;

use std::ffi::OsString;

use clap::Parser;

pub use args::Cli;

use wp_client::ClientError;

/// Success.
pub const EXIT_OK: i32 = 0;
/// Any other error.
pub const EXIT_ERROR: i32 = 1;
/// The command line could not be parsed.
pub const EXIT_USAGE: i32 = 2;
/// The consent the command relied on has ended (revoked, expired, not started).
pub const EXIT_CONSENT_ENDED: i32 = 3;
/// Data from the server failed verification.
pub const EXIT_VERIFICATION: i32 = 4;
/// Someone else wrote first; nothing was overwritten.
pub const EXIT_CONFLICT: i32 = 5;

/// Runs `wp` with `args` (the program name first) and returns its exit code. Output goes to
/// stdout, errors to stderr.
pub async fn main_with<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    match commands::run(cli).await {
        Ok(()) => EXIT_OK,
        Err(err) => report(&err),
    }
}

/// The library error behind `err`, if any.
fn client_error(err: &anyhow::Error) -> Option<&ClientError> {
    err.chain().find_map(|e| e.downcast_ref::<ClientError>())
}

/// Prints `err` for a person and picks the exit code.
fn report(err: &anyhow::Error) -> i32 {
    let (code, hint) = match client_error(err) {
        Some(ClientError::ConsentEnded(_)) => (
            EXIT_CONSENT_ENDED,
            Some(
                "The passport owner revoked this grant, or it expired or has not started yet. \
                 Nothing was read or written. Ask the owner for a new grant, and delete any \
                 copy kept under this one.",
            ),
        ),
        Some(
            ClientError::Verification(_) | ClientError::Rollback { .. } | ClientError::Fork { .. },
        ) => (
            EXIT_VERIFICATION,
            Some(
                "VERIFICATION FAILED: the server (or the bundle) holds data that does not check \
                 out (a bad signature, a broken chain, a section outside the consent, or a \
                 rewritten history). None of it was used as if it were sound. Report this to \
                 the operator (or to whoever gave you the bundle).",
            ),
        ),
        Some(ClientError::Conflict { .. }) => (EXIT_CONFLICT, None),
        Some(ClientError::Http(_)) => (
            EXIT_ERROR,
            Some("Is the server running? Check --server (or WP_SERVER) and the profile's URL."),
        ),
        _ => (EXIT_ERROR, None),
    };
    eprintln!("error: {err:#}");
    if let Some(ClientError::Api { problem } | ClientError::ConsentEnded(problem)) =
        client_error(err)
    {
        for field in &problem.errors {
            eprintln!("  {}: {}", field.field, field.reason);
        }
        if let Some(instance) = &problem.instance {
            eprintln!("  (request {instance})");
        }
    }
    if let Some(hint) = hint {
        eprintln!("  {hint}");
    }
    code
}
