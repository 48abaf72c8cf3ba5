//! `/workers`, `/workers/:id`, `/workers/:id/processes/:pid`: the fleet, live. Selecting a
//! worker shows its processes, selecting a process its tasks; each selection is a deep link
//! rendered completely on the server. The filter and order live in the query string
//! (`?q=…&status=…&sort=…`), so they survive the drill-down, belong to the link and work
//! without JavaScript. Changes arrive through the event stream.

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
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate, use_params_map, use_query_map};

const INPUT: &str = "rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 dark:border-slate-700 dark:bg-slate-900";

#[component]
fn Fleet(
    view_data: FleetView,
    worker: Option<String>,
    process: Option<String>,
    query: Memo<String>,
    status: Memo<String>,
    sort: Memo<String>,
    suffix: Memo<String>,
) -> impl IntoView {
    let info = worker.as_ref().and_then(|id| {
        view_data
            .workers
            .iter()
            .find(|f| &f.worker.id == id)
            .cloned()
    });
    // A worker the fleet does not have is a 404, and nothing is asked about it.
    if worker.is_some() && info.is_none() {
        return view! { <crate::ui::not_found::NotFoundPage /> }.into_any();
    }
    let now = ticking(view_data.now);
    let health = view_data.health;
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
        <FleetRows rows=Signal::derive(rows) any=any selected=sel now=now suffix=suffix />
        {worker.clone().map(|id| view! {
            <WorkerPanel worker_id=id info=info selected_process=process.clone() now=now suffix=suffix />
        })}
        {process.map(|pid| view! { <ProcessPanel process_id=pid now=now /> })}
    }
    .into_any()
}

#[component]
fn FleetRows(
    rows: Signal<Vec<crate::workers::fleet::FleetWorker>>,
    any: bool,
    selected: Option<String>,
    now: ReadSignal<crate::Millis>,
    suffix: Memo<String>,
) -> impl IntoView {
    move || {
        view! { <FleetTable workers=rows.get() any=any selected=selected.clone() now=now suffix=suffix /> }
    }
}

/// Percent-encodes a query-string value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `?q=…&status=…&sort=…` with the non-default values, or "".
fn query_string(q: &str, status: &str, sort: &str) -> String {
    let parts: Vec<String> = [("q", q.trim()), ("status", status), ("sort", sort)]
        .into_iter()
        .filter(|(k, v)| !(v.is_empty() || (*k == "sort" && *v == "heartbeat")))
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[component]
pub fn WorkersPage() -> impl IntoView {
    let live = use_live();
    let params = use_params_map();
    let worker = move || params.read().get("id");
    let process = move || params.read().get("pid");
    let data = Resource::new(move || live.version.get(), |_| get_fleet());
    let query_map = use_query_map();
    let query = Memo::new(move |_| query_map.read().get("q").unwrap_or_default());
    let status = Memo::new(move |_| query_map.read().get("status").unwrap_or_default());
    let sort = Memo::new(move |_| {
        query_map
            .read()
            .get("sort")
            .unwrap_or_else(|| "heartbeat".into())
    });
    let suffix = Memo::new(move |_| query_string(&query.get(), &status.get(), &sort.get()));
    let location = use_location();
    // Each change replaces the URL's query; the page itself stays (same route).
    let set = move |key: &'static str, value: String| {
        let (mut q, mut st, mut so) = (
            query.get_untracked(),
            status.get_untracked(),
            sort.get_untracked(),
        );
        match key {
            "q" => q = value,
            "status" => st = value,
            _ => so = value,
        }
        let navigate = use_navigate();
        navigate(
            &format!(
                "{}{}",
                location.pathname.get_untracked(),
                query_string(&q, &st, &so)
            ),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    };
    view! {
        <Title text="Workers" />
        <div class="mb-1 flex flex-wrap items-end justify-between gap-3">
            <h1 class="text-2xl font-bold tracking-tight">
                <a href=move || format!("/workers{}", suffix.get()) class="hover:underline">"Workers"</a>
            </h1>
            <form method="get" action=move || location.pathname.get() class="flex flex-wrap items-center gap-2" role="search"
                on:submit=|ev| ev.prevent_default()>
                <label class="sr-only" for="worker-filter">"Filter workers"</label>
                <input id="worker-filter" name="q" type="search" placeholder="Filter by name, kind, version…" class=INPUT
                    value=move || query.get() prop:value=move || query.get() on:input=move |ev| set("q", event_target_value(&ev)) />
                <label class="sr-only" for="worker-status">"Status"</label>
                <select id="worker-status" name="status" class=INPUT prop:value=move || status.get()
                    on:change=move |ev| set("status", event_target_value(&ev))>
                    {[("", "Any status"), ("healthy", "Healthy"), ("late", "Late"), ("dead", "Dead"), ("stopped", "Stopped")]
                        .into_iter()
                        .map(|(v, label)| view! { <option value=v selected=move || status.get() == v>{label}</option> })
                        .collect_view()}
                </select>
                <label class="sr-only" for="worker-sort">"Sort by"</label>
                <select id="worker-sort" name="sort" class=INPUT prop:value=move || sort.get()
                    on:change=move |ev| set("sort", event_target_value(&ev))>
                    {SortBy::ALL.iter().map(|(_, key, label)| {
                        let key = *key;
                        view! { <option value=key selected=move || sort.get() == key>{*label}</option> }
                    }).collect_view()}
                </select>
                <noscript>
                    <button type="submit" class=INPUT>"Apply"</button>
                </noscript>
            </form>
        </div>
        <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
            "Every worker reporting to this Orchard: in-process pools, remote orchard workers and wpipe pipelines. Select one to see its processes, then a process to see its tasks."
        </p>
        <Transition fallback=|| view! { <p class="text-sm text-slate-500 dark:text-slate-400" role="status">"Loading workers…"</p> }>
            {move || data.get().map(|r| match r {
                Ok(v) => view! {
                    <Fleet view_data=v worker=worker() process=process() query=query status=status sort=sort suffix=suffix />
                }.into_any(),
                Err(e) => view! { <ErrorBox error=e /> }.into_any(),
            })}
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    use super::query_string;

    #[test]
    fn query_strings_keep_only_what_differs_from_the_default() {
        assert_eq!(query_string("", "", "heartbeat"), "");
        assert_eq!(query_string(" etl ", "", "heartbeat"), "?q=etl");
        assert_eq!(
            query_string("a b&c", "dead", "name"),
            "?q=a%20b%26c&status=dead&sort=name"
        );
    }
}
