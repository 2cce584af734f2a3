//! Embeds the replica's migrations (see the server's `build/embed_migrations.rs`).

include!("../server/build/embed_migrations.rs");

fn main() {
    embed_migrations("migrations", "replica_migrations");
}
