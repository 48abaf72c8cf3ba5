//! Light/dark switch. The choice is kept in `localStorage` and applied as the `dark` class
//! on `<html>` (by `boot.js` before first paint, and here when toggled).

use leptos::prelude::*;

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let dark = RwSignal::new(false);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        dark.set(current_is_dark());
    });
    let toggle = move |_| {
        let next = !dark.get_untracked();
        dark.set(next);
        #[cfg(feature = "hydrate")]
        apply(next);
    };
    view! {
        <button
            type="button"
            id="theme-toggle"
            on:click=toggle
            aria-pressed=move || dark.get().to_string()
            title="Toggle dark mode"
            class="rounded-md border border-slate-200 px-2.5 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 dark:border-slate-700 dark:hover:bg-slate-800"
        >
            <span aria-hidden="true">{move || if dark.get() { "☀" } else { "☾" }}</span>
            <span class="sr-only">"Dark mode"</span>
        </button>
    }
}

#[cfg(feature = "hydrate")]
fn current_is_dark() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .map(|e| e.class_list().contains("dark"))
        .unwrap_or(false)
}

#[cfg(feature = "hydrate")]
fn apply(dark: bool) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Some(el) = window.document().and_then(|d| d.document_element()) {
        let classes = el.class_list();
        let _ = if dark {
            classes.add_1("dark")
        } else {
            classes.remove_1("dark")
        };
    }
    if let Ok(Some(storage)) = window.local_storage() {
        let _ = storage.set_item("orchard-theme", if dark { "dark" } else { "light" });
    }
}
