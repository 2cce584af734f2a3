//! The operator's side: the server binary's commands, what it refuses at start, how it behaves
//! when the database goes away, and backups. Each test runs the real binary or `wp_server::run`.

use std::path::Path;
use std::process::Output;

use wp_client::SigningKey;
use wp_tests::{Backend, backend_tests};

const SERVER: &str = env!("CARGO_BIN_EXE_wp-test-server");

/// Runs the server binary with `args`, at the default log level (nothing filtered out).
fn server_command(args: &[&str]) -> Output {
    std::process::Command::new(SERVER)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("DATABASE_URL")
        .env_remove("WP_DATA_DIR")
        .output()
        .expect("run the server binary")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_public_jwk(dir: &Path, key: &SigningKey) -> String {
    let path = dir.join(format!("admin-{}.jwk", uuid::Uuid::new_v4()));
    std::fs::write(&path, serde_json::to_string(key.public_jwk()).unwrap()).unwrap();
    path.display().to_string()
}

/// `ADMIN=$(work-passport-server add-admin ...)` captures the id and nothing else, with the
/// flags after the subcommand, at the default log level (PostgreSQL logs a migration notice).
async fn add_admin_prints_only_the_id(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (database_url, _guard) = wp_tests::process_database(backend, dir.path()).await;
    let jwk = write_public_jwk(dir.path(), &SigningKey::generate());
    let data_dir_arg = data_dir.display().to_string();
    let args = [
        "add-admin",
        "--jwk-file",
        &jwk,
        "--data-dir",
        &data_dir_arg,
        "--database-url",
        &database_url,
    ];
    for run in 0..2 {
        let output = server_command(&args);
        assert!(output.status.success(), "add-admin: {}", stderr(&output));
        let stdout = String::from_utf8(output.stdout).unwrap();
        let id = stdout
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("one line: {stdout:?}"));
        assert!(
            uuid::Uuid::parse_str(id).is_ok() && !id.contains('\n'),
            "run {run}: stdout is only the party id, got {stdout:?}"
        );
    }
    assert!(data_dir.is_dir(), "--data-dir after the subcommand is used");
}

backend_tests!(add_admin_prints_only_the_id);

#[test]
fn subcommand_help_shows_the_global_flags() {
    for command in ["add-admin", "serve", "rotate-master-key"] {
        let output = server_command(&[command, "--help"]);
        assert!(output.status.success());
        let help = String::from_utf8(output.stdout).unwrap();
        for flag in ["--data-dir", "--database-url", "--master-keys-file"] {
            assert!(
                help.contains(flag),
                "`{command} --help` shows {flag}:\n{help}"
            );
        }
    }
}
