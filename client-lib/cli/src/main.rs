//! `wp`, the Work Passport command line (the code is this crate's library).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let code = wp_cli::main_with(std::env::args_os()).await;
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
