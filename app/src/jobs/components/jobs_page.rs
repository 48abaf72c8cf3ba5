//! `/jobs`: start a job, and every job with its state and progress, live, filtered by kind,
//! state and handler (kept in the URL: `?kind=workflow&state=failed&handler=resize`, a plain
//! GET form that works without JavaScript).

use super::create_form::CreateJobForm;
use super::job_row::JobRow;
use crate::accounts::components::use_can;
use crate::accounts::model::Role;
use crate::jobs::api::{CreateFileAverageJob, list_jobs};
use crate::ui::error_view::ErrorBox;
use crate::ui::live::use_live;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use shared::jobs::model::{JobKind, JobState};

const FIELD: &str = "rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900";
const FILTER_BUTTON: &str = "rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 dark:border-slate-700 dark:hover:bg-slate-800";

#[component]
pub fn JobsPage() -> impl IntoView {
    let live = use_live();
    let create = ServerAction::<CreateFileAverageJob>::new();
    let can_edit = use_can(Role::Editor);
    let query = use_query_map();
    let word = move |k: &'static str| query.with(|q| q.get(k).unwrap_or_default());
    let jobs = Resource::new(
        move || {
            (
                live.version.get(),
                create.version().get(),
                word("kind"),
                word("state"),
                word("handler"),
            )
        },
        |(_, _, kind, state, handler)| list_jobs(kind, state, handler),
    );
    let filtered = move || {
        !(word("kind").is_empty() && word("state").is_empty() && word("handler").is_empty())
    };
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
        <form method="get" action="/jobs" aria-label="Filter jobs" class="mb-3 flex flex-wrap items-end gap-3 text-sm">
            <label class="flex flex-col gap-1">
                <span class="text-xs text-slate-600 dark:text-slate-400">"Kind"</span>
                <select name="kind" class=FIELD>
                    <option value="" selected=move || word("kind").is_empty()>"Any kind"</option>
                    {JobKind::ALL.into_iter().map(|k| view! {
                        <option value=k.as_str() selected=move || word("kind") == k.as_str()>{k.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="flex flex-col gap-1">
                <span class="text-xs text-slate-600 dark:text-slate-400">"State"</span>
                <select name="state" class=FIELD>
                    <option value="" selected=move || word("state").is_empty()>"Any state"</option>
                    {JobState::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=move || word("state") == s.as_str()>{s.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="flex flex-col gap-1">
                <span class="text-xs text-slate-600 dark:text-slate-400">"Handler"</span>
                <input name="handler" type="search" placeholder="e.g. resize" class=FIELD prop:value=move || word("handler") />
            </label>
            <button type="submit" class=FILTER_BUTTON>"Filter"</button>
            {move || filtered().then(|| view! { <a href="/jobs" class="py-1.5 text-emerald-700 hover:underline dark:text-emerald-400">"Clear"</a> })}
        </form>
        <Transition fallback=|| view! { <p class="text-sm text-slate-500 dark:text-slate-400">"Loading…"</p> }>
            {move || jobs.get().map(|r| match r {
                Ok(list) if list.is_empty() => view! {
                    <div class="rounded-lg border border-dashed border-slate-300 p-10 text-center text-sm text-slate-600 dark:border-slate-700 dark:text-slate-400">
                        {if filtered() { "No jobs match this filter." } else { "No jobs yet. Start one above." }}
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
