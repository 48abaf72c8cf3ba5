//! A labelled progress bar.

use leptos::prelude::*;

#[component]
pub fn ProgressBar(
    #[prop(into)] fraction: Signal<f64>,
    #[prop(into)] label: String,
) -> impl IntoView {
    view! {
        <div
            role="progressbar"
            aria-label=label
            aria-valuemin="0"
            aria-valuemax="100"
            aria-valuenow=move || format!("{:.0}", fraction.get() * 100.0)
            class="h-2 w-full overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800"
        >
            <div
                class="h-full rounded-full bg-emerald-500 transition-[width] duration-300"
                style=move || format!("width: {:.1}%", fraction.get() * 100.0)
            ></div>
        </div>
    }
}
