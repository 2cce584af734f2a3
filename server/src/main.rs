#[tokio::main]
async fn main() -> anyhow::Result<()> {
    wp_server::cli::main().await
}
