// Shared by the server's and the client library's build scripts (`include!`d by each).
//
// Embeds a directory of sqlx migrations as a `sqlx::migrate::Migrator` expression, written to
// `$OUT_DIR/<name>.rs` for `include!`. It does what `sqlx::migrate!` does (same file names,
// version, description and checksum: `Migration::new` hashes the SQL as sqlx always has), but
// without sqlx's proc-macro crate, which builds sqlx's database drivers a second time for the
// compiler: minutes of every fresh build on two cores. `store::migrations_match_sqlx` (a test)
// checks the result against sqlx's own reading of the directory.

/// Writes `$OUT_DIR/{name}.rs`: a `Migrator` of every `<VERSION>_<DESCRIPTION>.sql` in `dir`.
fn embed_migrations(dir: &str, name: &str) {
    println!("cargo:rerun-if-changed={dir}");
    let dir = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"))
        .join(dir);
    let mut files: Vec<(i64, String, std::path::PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter_map(|path| {
            let file = path.file_name()?.to_str()?.to_owned();
            let (version, rest) = file.split_once('_')?;
            let description = rest.strip_suffix(".sql")?.replace('_', " ");
            let version = version
                .parse()
                .unwrap_or_else(|_| panic!("{file}: a migration's name starts with its version"));
            Some((version, description, path))
        })
        .collect();
    files.sort();
    let mut code = String::from(
        "::sqlx::migrate::Migrator {\n    migrations: ::std::borrow::Cow::Owned(vec![\n",
    );
    for (version, description, path) in &files {
        let sql = std::fs::read_to_string(path).expect("a migration is UTF-8 text");
        code.push_str(&format!(
            "        ::sqlx::migrate::Migration::new({version}, ::std::borrow::Cow::Borrowed({description:?}), \
             ::sqlx::migrate::MigrationType::Simple, ::std::borrow::Cow::Borrowed(include_str!({path:?})), {no_tx}),\n",
            path = path.display().to_string(),
            no_tx = sql.starts_with("-- no-transaction"),
        ));
    }
    code.push_str("    ]),\n    ignore_missing: false,\n    locking: true,\n    no_tx: false,\n}\n");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets it"))
        .join(format!("{name}.rs"));
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
