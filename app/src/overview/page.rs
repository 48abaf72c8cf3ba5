//! `/`: what is happening across Orchard, at a glance.

use super::api::get_overview;
use super::model::{ACTIVITY_BUCKET_MS, ACTIVITY_SPAN_MS, Overview};
use crate::jobs::components::job_row::JobRow;
use crate::jobs::components::throughput_chart::ThroughputChart;
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

/// The newest jobs, and the tasks every job completed over the last hour.
fn activity(o: &Overview) -> impl IntoView {
    let card = "min-w-0 rounded-lg border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900";
    let jobs = if o.recent_jobs.is_empty() {
        view! { <p class="px-4 pb-4 text-sm text-slate-500 dark:text-slate-400">"No jobs yet."</p> }
            .into_any()
    } else {
        view! {
            <ul class="divide-y divide-slate-100 dark:divide-slate-800">
                {o.recent_jobs.iter().cloned().map(|job| view! { <JobRow job=job /> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <div class="mt-6 grid gap-6 lg:grid-cols-2">
            <section class=card data-testid="recent-jobs">
                <div class="flex items-baseline justify-between px-4 pb-2 pt-4">
                    <h2 class="font-semibold">"Recent jobs"</h2>
                    <a href="/jobs" class="text-sm text-emerald-700 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 dark:text-emerald-400">"All jobs →"</a>
                </div>
                {jobs}
            </section>
            <section class=format!("{card} p-4") data-testid="activity">
                <h2 class="mb-2 font-semibold">"Tasks completed, last hour"</h2>
                <ThroughputChart
                    points=o.activity.clone()
                    bucket_ms=ACTIVITY_BUCKET_MS
                    start=o.activity_since
                    span_ms=ACTIVITY_SPAN_MS
                    from_label="1 h ago"
                    to_label="now"
                    empty="No tasks finished in the last hour."
                />
            </section>
        </div>
    }
}

fn stats(o: Overview) -> impl IntoView {
    let recent = activity(&o);
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
        {recent}
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
            <a href="/jobs" class="rounded-md bg-emerald-700 px-4 py-2 text-sm font-medium text-white hover:bg-emerald-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-400">
                "New job"
            </a>
        </div>
        <Transition fallback=|| view! { <p class="text-sm text-slate-500 dark:text-slate-400">"Loading…"</p> }>
            {move || data.get().map(|r| match r {
                Ok(o) => stats(o).into_any(),
                Err(e) => view! { <ErrorBox error=e /> }.into_any(),
            })}
        </Transition>
    }
}
