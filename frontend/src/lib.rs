//! The browser entry point: hydrates the page the server rendered, once the code of its
//! route (a chunk of its own) has loaded.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // Kept in release builds too: a panic then names its cause in the console, and leaving
    // the hook out saves nothing measurable (the formatting it uses stays linked anyway).
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}
