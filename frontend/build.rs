//! Link settings for the browser client.

fn main() {
    // Each string and constant keeps its own data segment, so splitting the client can move
    // the data only one page uses into that page's chunk instead of the main module.
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=--no-merge-data-segments");
    }
}
