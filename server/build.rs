//! Embeds the SQLite and PostgreSQL migrations (see `build/embed_migrations.rs`).

include!("build/embed_migrations.rs");

fn main() {
    embed_migrations("../migrations/sqlite", "sqlite_migrations");
    embed_migrations("../migrations/postgres", "postgres_migrations");
}
