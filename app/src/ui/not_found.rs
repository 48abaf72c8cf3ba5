//! The 404 page: a real 404 status on the server render, and a way back.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Not found" />
        <section class="mx-auto max-w-md py-16 text-center">
            <p class="text-sm font-semibold text-emerald-600">"404"</p>
            <h1 class="mt-2 text-3xl font-bold tracking-tight">"Page not found"</h1>
            <p class="mt-3 text-slate-600 dark:text-slate-400">
                "Nothing grows here. The page may have moved, or the link is mistyped."
            </p>
            <a href="/" class="mt-6 inline-block rounded-md bg-emerald-700 px-4 py-2 text-sm font-medium text-white hover:bg-emerald-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-400">
                "Back to the overview"
            </a>
        </section>
    }
}
