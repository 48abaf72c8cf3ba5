//! `/workers`, `/workers/:id`, `/workers/:id/processes/:pid`: the fleet, live. Selecting a
//! worker shows its processes, selecting a process its tasks; each selection is a deep link
//! rendered completely on the server. Changes arrive through the event stream.

use super::clock::ticking;
use super::fleet_table::{FleetTable, SortBy, select};
use super::process_panel::ProcessPanel;
use super::worker_panel::WorkerPanel;
use crate::ui::error_view::ErrorBox;
use crate::ui::format::duration;
use crate::ui::live::use_live;
use crate::workers::api::{FleetView, get_fleet};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

const INPUT: &str = "rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 dark:border-slate-700 dark:bg-slate-900";

#[component]
fn Fleet(
    view_data: FleetView,
    worker: Option<String>,
    process: Option<String>,
    query: RwSignal<String>,
    status: RwSignal<String>,
    sort: RwSignal<String>,
) -> impl IntoView {
    let now = ticking(view_data.now);
    let health = view_data.health;
    let info = worker.as_ref().and_then(|id| {
        view_data
            .workers
            .iter()
            .find(|f| &f.worker.id == id)
            .cloned()
    });
    let all = view_data.workers.clone();
    let any = !all.is_empty();
    let counts = ["healthy", "late", "dead", "stopped"].map(|h| {
        (
            h,
            all.iter().filter(|f| f.worker.health.as_str() == h).count(),
        )
    });
    let sel = worker.clone();
    let rows = move || {
        select(
            all.clone(),
            &query.get(),
            &status.get(),
            SortBy::parse(&sort.get()),
        )
    };
    view! {
        <p class="mb-4 text-sm text-slate-600 dark:text-slate-400" data-testid="fleet-summary">
            {counts.iter().map(|(h, n)| format!("{n} {h}")).collect::<Vec<_>>().join(" · ")}
            <span class="ml-2 text-xs">
                {format!("(late after {} without a heartbeat, dead after {})",
                    duration(health.late_after_ms), duration(health.dead_after_ms))}
            </span>
        </p>
        <FleetRows rows=Signal::derive(rows) any=any selected=sel now=now />
        {worker.clone().map(|id| view! {
            <WorkerPanel worker_id=id info=info selected_process=process.clone() now=now />
        })}
        {process.map(|pid| view! { <ProcessPanel process_id=pid now=now /> })}
    }
}

#[component]
fn FleetRows(
    rows: Signal<Vec<crate::workers::fleet::FleetWorker>>,
    any: bool,
    selected: Option<String>,
    now: ReadSignal<crate::Millis>,
) -> impl IntoView {
    move || {
        view! { <FleetTable workers=rows.get() any=any selected=selected.clone() now=now /> }
    }
}

#[component]
pub fn WorkersPage() -> impl IntoView {
    let live = use_live();
    let params = use_params_map();
    let worker = move || params.read().get("id");
    let process = move || params.read().get("pid");
    let data = Resource::new(move || live.version.get(), |_| get_fleet());
    let query = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let sort = RwSignal::new("heartbeat".to_string());
    view! {
        <Title text="Workers" />
        <div class="mb-1 flex flex-wrap items-end justify-between gap-3">
            <h1 class="text-2xl font-bold tracking-tight">
                <a href="/workers" class="hover:underline">"Workers"</a>
            </h1>
            <form class="flex flex-wrap items-center gap-2" role="search" on:submit=|ev| ev.prevent_default()>
                <label class="sr-only" for="worker-filter">"Filter workers"</label>
                <input id="worker-filter" type="search" placeholder="Filter by name, kind, version…" class=INPUT
                    prop:value=move || query.get() on:input=move |ev| query.set(event_target_value(&ev)) />
                <label class="sr-only" for="worker-status">"Status"</label>
                <select id="worker-status" class=INPUT on:change=move |ev| status.set(event_target_value(&ev))>
                    <option value="">"Any status"</option>
                    <option value="healthy">"Healthy"</option>
                    <option value="late">"Late"</option>
                    <option value="dead">"Dead"</option>
                    <option value="stopped">"Stopped"</option>
                </select>
                <label class="sr-only" for="worker-sort">"Sort by"</label>
                <select id="worker-sort" class=INPUT on:change=move |ev| sort.set(event_target_value(&ev))>
                    {SortBy::ALL.iter().map(|(_, key, label)| view! { <option value=*key>{*label}</option> }).collect_view()}
                </select>
            </form>
        </div>
        <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
            "Every worker reporting to this Orchard: in-process pools, remote orchard workers and wpipe pipelines. Select one to see its processes, then a process to see its tasks."
        </p>
        <Transition fallback=|| view! { <p class="text-sm text-slate-500" role="status">"Loading workers…"</p> }>
            {move || data.get().map(|r| match r {
                Ok(v) => view! {
                    <Fleet view_data=v worker=worker() process=process() query=query status=status sort=sort />
                }.into_any(),
                Err(e) => view! { <ErrorBox error=e /> }.into_any(),
            })}
        </Transition>
    }
}
