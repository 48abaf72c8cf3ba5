//! The browser entry point: hydrates the page the server rendered, once the code of its
//! route (a chunk of its own) has loaded.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}
