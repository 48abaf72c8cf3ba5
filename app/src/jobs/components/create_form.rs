//! The form that starts a file-average job (seed 003's W, F, C). Works without JavaScript
//! (a plain POST) and, hydrated, without leaving the page.

use crate::jobs::api::CreateFileAverageJob;
use crate::ui::error_view::ErrorBox;
use leptos::form::ActionForm;
use leptos::prelude::*;

fn field(
    name: &'static str,
    label: &'static str,
    value: &'static str,
    max: &'static str,
    hint: &'static str,
) -> impl IntoView {
    view! {
        <label class="block text-sm">
            <span class="font-medium">{label}</span>
            <input
                type="number"
                name=name
                value=value
                min="1"
                max=max
                required
                class="mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-1.5 tabular-nums shadow-sm focus:border-emerald-500 focus:outline-none focus:ring-2 focus:ring-emerald-500/30 dark:border-slate-700 dark:bg-slate-950"
            />
            <span class="mt-1 block text-xs text-slate-500 dark:text-slate-400">{hint}</span>
        </label>
    }
}

#[component]
pub fn CreateJobForm(action: ServerAction<CreateFileAverageJob>) -> impl IntoView {
    let pending = action.pending();
    view! {
        <ActionForm action=action attr:class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900" attr:aria-label="New file-average job">
            <h2 class="text-lg font-semibold">"New file-average job"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "Generates F files of C random numbers, sums them in groups, reduces the partial sums five at a time and stores the average."
            </p>
            <div class="grid grid-cols-2 gap-4 md:grid-cols-5">
                {field("workers", "Workers (W)", "4", "256", "tasks of this job at once")}
                {field("files", "Files (F)", "50", "100000", "files to generate")}
                {field("entries", "Entries (C)", "1000", "1000000", "numbers per file")}
                {field("group_size", "Group size", "5", "1000", "files per map task")}
                <label class="block text-sm">
                    <span class="font-medium">"Seed"</span>
                    <input
                        type="text"
                        inputmode="numeric"
                        name="seed"
                        placeholder="random"
                        class="mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-1.5 tabular-nums shadow-sm focus:border-emerald-500 focus:outline-none focus:ring-2 focus:ring-emerald-500/30 dark:border-slate-700 dark:bg-slate-950"
                    />
                    <span class="mt-1 block text-xs text-slate-500 dark:text-slate-400">"same seed, same files"</span>
                </label>
            </div>
            <div class="mt-4 flex items-center gap-3">
                <button
                    type="submit"
                    disabled=move || pending.get()
                    class="rounded-md bg-emerald-700 px-4 py-2 text-sm font-medium text-white hover:bg-emerald-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-400 disabled:opacity-60"
                >
                    {move || if pending.get() { "Starting…" } else { "Start job" }}
                </button>
                {move || action.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorBox error=e /> })}
            </div>
        </ActionForm>
    }
}
