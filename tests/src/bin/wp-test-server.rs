//! The server binary, built inside the tests package so that end-to-end tests can spawn it as a
//! process (`CARGO_BIN_EXE_wp-test-server`): the same code as `work-passport-server`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    wp_server::cli::main().await
}
