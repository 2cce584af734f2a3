//! The `wp` command line, built inside the tests package so that end-to-end tests can run it as
//! a process (`CARGO_BIN_EXE_wp-test-cli`): the same code as the `wp` binary of wp-cli.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let code = wp_cli::main_with(std::env::args_os()).await;
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
