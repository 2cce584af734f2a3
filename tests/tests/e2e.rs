//! The end-to-end tests, one module per file, built as one test binary: every file links the
//! whole stack (server, client library, databases), so one binary instead of one per file is most
//! of a fresh build's link time. Run one file's tests with `cargo test -p wp-tests --test e2e
//! attacks::` (a module path filter).
//!
//! libtest starts tests in the order of their names, so the longest (the browser runs, in
//! `browser`, about two and a half minutes each) are named to start early, beside the others,
//! rather than after them.

mod access_requests;
mod api_fuzz;
mod attacks;
mod auth;
mod bench_smoke;
mod browser;
mod bundle_interop;
mod bundles;
mod cli;
mod consent;
mod crash;
mod document;
mod edge;
mod finding;
mod https;
mod interop;
mod limits;
mod mail;
mod metrics;
mod notifications;
mod operations;
mod organisations;
mod pages;
mod records;
mod refusals;
mod sync;
mod upgrade;

/// A file in tests/tests/ that is not a module above would never run (autotests is off).
#[test]
fn every_test_file_is_a_module() {
    let this = include_str!("e2e.rs");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    for entry in std::fs::read_dir(&dir).expect("tests/tests is readable") {
        let name = entry.expect("a directory entry").file_name();
        let name = name.to_string_lossy();
        if let Some(module) = name.strip_suffix(".rs").filter(|m| *m != "e2e") {
            assert!(
                this.contains(&format!("\nmod {module};\n")),
                "tests/{name} is not a module of tests/e2e.rs, so its tests never run"
            );
        }
    }
}
