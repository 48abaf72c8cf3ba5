//! Rebuilds the crate when a migration changes: the store embeds `migrations/` at compile time.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
