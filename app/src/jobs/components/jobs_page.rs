//! `/jobs`: start a job, and every job with its state and progress, live.

use super::create_form::CreateJobForm;
use super::job_row::JobRow;
use crate::accounts::components::use_can;
use crate::accounts::model::Role;
use crate::jobs::api::{CreateFileAverageJob, list_jobs};
use crate::ui::error_view::ErrorBox;
use crate::ui::live::use_live;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn JobsPage() -> impl IntoView {
    let live = use_live();
    let create = ServerAction::<CreateFileAverageJob>::new();
    let can_edit = use_can(Role::Editor);
    let jobs = Resource::new(
        move || (live.version.get(), create.version().get()),
        |_| list_jobs(),
    );
    view! {
        <Title text="Jobs" />
        <h1 class="mb-1 text-2xl font-bold tracking-tight">"Jobs"</h1>
        <p class="mb-6 text-sm text-slate-600 dark:text-slate-400">
            "Distributed jobs on the durable queue, leased by in-process and remote workers."
        </p>
        // Viewers get no form they could not submit (the server refuses it anyway).
        <Transition fallback=|| ()>
            {move || can_edit.get().then(|| view! { <CreateJobForm action=create /> })}
        </Transition>
        <h2 class="mb-2 mt-8 text-lg font-semibold">"Recent jobs"</h2>
        <Transition fallback=|| view! { <p class="text-sm text-slate-500 dark:text-slate-400">"Loading…"</p> }>
            {move || jobs.get().map(|r| match r {
                Ok(list) if list.is_empty() => view! {
                    <div class="rounded-lg border border-dashed border-slate-300 p-10 text-center text-sm text-slate-600 dark:border-slate-700 dark:text-slate-400">
                        "No jobs yet. Start one above."
                    </div>
                }.into_any(),
                Ok(list) => view! {
                    <ul class="divide-y divide-slate-100 overflow-hidden rounded-lg border border-slate-200 bg-white dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900">
                        {list.into_iter().map(|job| view! { <JobRow job /> }).collect_view()}
                    </ul>
                }.into_any(),
                Err(e) => view! { <ErrorBox error=e /> }.into_any(),
            })}
        </Transition>
    }
}
