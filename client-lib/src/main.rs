//! `wp`, the Work Passport command line (the code is `wp_client::cli`).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let code = wp_client::cli::main_with(std::env::args_os()).await;
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
