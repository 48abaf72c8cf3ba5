//! `/`: what is happening across Orchard, at a glance.

use super::api::get_overview;
use super::model::Overview;
use crate::ui::error_view::ErrorBox;
use crate::ui::live::use_live;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
fn Stat(
    label: &'static str,
    value: i64,
    href: &'static str,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <a
            href=href
            data-testid=testid
            class="block rounded-lg border border-slate-200 bg-white p-4 shadow-sm hover:border-emerald-400 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 dark:border-slate-800 dark:bg-slate-900"
        >
            <div class="text-sm text-slate-500 dark:text-slate-400">{label}</div>
            <div class="mt-1 text-3xl font-semibold tabular-nums">{value}</div>
        </a>
    }
}

fn stats(o: Overview) -> impl IntoView {
    view! {
        <div class="grid grid-cols-2 gap-4 md:grid-cols-4">
            <Stat label="Jobs running" value=o.jobs_running href="/jobs" testid="jobs-running" />
            <Stat label="Jobs queued" value=o.jobs_queued href="/jobs" testid="jobs-queued" />
            <Stat label="Tasks waiting for a worker" value=o.tasks_ready href="/jobs" testid="tasks-ready" />
            <Stat label="Tasks running" value=o.tasks_leased href="/jobs" testid="tasks-leased" />
            <Stat label="Jobs succeeded" value=o.jobs_succeeded href="/jobs" testid="jobs-succeeded" />
            <Stat label="Jobs failed" value=o.jobs_failed href="/jobs" testid="jobs-failed" />
            <Stat label="Workers healthy" value=o.workers_healthy href="/workers" testid="workers-healthy" />
            <Stat label="Workers registered" value=o.workers_total href="/workers" testid="workers-total" />
        </div>
        <p class="mt-4 text-xs text-slate-500 dark:text-slate-400">"Database: " {o.database}</p>
    }
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let live = use_live();
    let data = Resource::new(move || live.version.get(), |_| get_overview());
    view! {
        <Title text="Overview" />
        <div class="mb-6 flex flex-wrap items-end justify-between gap-4">
            <div>
                <h1 class="text-2xl font-bold tracking-tight">"Overview"</h1>
                <p class="text-sm text-slate-600 dark:text-slate-400">
                    "Jobs, queue and fleet, updated live."
                </p>
            </div>
            <a href="/jobs" class="rounded-md bg-emerald-600 px-4 py-2 text-sm font-medium text-white hover:bg-emerald-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-400">
                "New job"
            </a>
        </div>
        <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || data.get().map(|r| match r {
                Ok(o) => stats(o).into_any(),
                Err(e) => view! { <ErrorBox error=e /> }.into_any(),
            })}
        </Transition>
    }
}
