//! The fleet table: every worker (wpipe pipelines and Orchard's own) with health, last
//! heartbeat, current task, processes, success rate and tasks per minute; filter and sort.

use super::badges::health_badge;
use super::sparkline::Sparkline;
use crate::Millis;
use crate::ui::format::ago;
use crate::workers::fleet::FleetWorker;
use crate::workers::model::Health;
use leptos::prelude::*;

/// How the table is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Heartbeat,
    Name,
    Processes,
    SuccessRate,
    Health,
}

impl SortBy {
    pub const ALL: [(SortBy, &'static str, &'static str); 5] = [
        (SortBy::Heartbeat, "heartbeat", "Latest heartbeat"),
        (SortBy::Name, "name", "Name"),
        (SortBy::Processes, "processes", "Most processes"),
        (SortBy::SuccessRate, "success", "Lowest success rate"),
        (SortBy::Health, "health", "Worst health"),
    ];
    pub fn parse(s: &str) -> SortBy {
        Self::ALL
            .iter()
            .find(|(_, k, _)| *k == s)
            .map(|(v, _, _)| *v)
            .unwrap_or(SortBy::Heartbeat)
    }
}

fn health_rank(h: Health) -> u8 {
    match h {
        Health::Dead => 0,
        Health::Late => 1,
        Health::Stopped => 2,
        Health::Healthy => 3,
    }
}

/// The rows to show: those matching `query` (name, kind, version, host, id) and `status`
/// (`""` for any), in the chosen order.
pub fn select(
    mut ws: Vec<FleetWorker>,
    query: &str,
    status: &str,
    sort: SortBy,
) -> Vec<FleetWorker> {
    let q = query.trim().to_lowercase();
    ws.retain(|f| {
        let w = &f.worker;
        (status.is_empty() || w.health.as_str() == status)
            && (q.is_empty()
                || [&w.name, &w.version, &w.hostname, &w.id, w.kind.as_str()]
                    .iter()
                    .any(|s| s.to_lowercase().contains(&q)))
    });
    // Unstable sorts with the name as the last key: as deterministic as a stable sort, and
    // the client links one sort routine fewer.
    match sort {
        SortBy::Heartbeat => ws.sort_unstable_by(|a, b| {
            b.worker
                .last_seen_at
                .cmp(&a.worker.last_seen_at)
                .then_with(|| a.worker.name.cmp(&b.worker.name))
        }),
        SortBy::Name => {
            ws.sort_unstable_by_key(|f| (f.worker.name.to_lowercase(), f.worker.id.clone()))
        }
        SortBy::Processes => ws.sort_unstable_by(|a, b| {
            b.processes
                .cmp(&a.processes)
                .then_with(|| a.worker.name.cmp(&b.worker.name))
        }),
        SortBy::SuccessRate => ws.sort_unstable_by(|a, b| {
            let (x, y) = (a.success_rate(), b.success_rate());
            x.unwrap_or(f64::MAX)
                .total_cmp(&y.unwrap_or(f64::MAX))
                .then_with(|| a.worker.name.cmp(&b.worker.name))
        }),
        SortBy::Health => {
            ws.sort_unstable_by_key(|f| (health_rank(f.worker.health), f.worker.name.clone()))
        }
    }
    ws
}

const TH: &str = "px-3 py-2 font-medium whitespace-nowrap";
const TD: &str = "px-3 py-2 align-top";

#[component]
pub fn FleetTable(
    workers: Vec<FleetWorker>,
    /// Whether the fleet has any worker at all (before filtering).
    any: bool,
    selected: Option<String>,
    now: ReadSignal<Millis>,
    /// The page's query string (filter and order), kept on the links.
    suffix: Memo<String>,
) -> impl IntoView {
    if workers.is_empty() {
        return view! {
            <div class="rounded-lg border border-dashed border-slate-300 p-10 text-center dark:border-slate-700">
                <p class="font-medium">{if any { "No workers match the filter." } else { "No workers yet." }}</p>
                <p class="mt-2 text-sm text-slate-600 dark:text-slate-400">
                    "Start Orchard with --workers N, run "
                    <code class="rounded bg-slate-100 px-1 dark:bg-slate-800">"orchard worker --server URL"</code>
                    ", or point a wpipe pipeline's api_config at this server."
                </p>
            </div>
        }
        .into_any();
    }
    view! {
        <div tabindex="0" role="region" aria-label="Workers" class="relative overflow-x-auto rounded-lg focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <table class="min-w-full text-sm" aria-label="Workers">
                <thead class="bg-slate-50 text-left text-slate-600 dark:bg-slate-800/50 dark:text-slate-300">
                    <tr>
                        <th scope="col" class=TH>"Worker"</th>
                        <th scope="col" class=TH>"Kind"</th>
                        <th scope="col" class=TH>"Status"</th>
                        <th scope="col" class=TH>"Last heartbeat"</th>
                        <th scope="col" class=TH>"Current task"</th>
                        <th scope="col" class=TH>"Processes"</th>
                        <th scope="col" class=TH>"Success"</th>
                        <th scope="col" class=TH>"Tasks/min (30 min)"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {workers.into_iter().map(|f| {
                        let w = f.worker.clone();
                        let is_selected = selected.as_deref() == Some(w.id.as_str());
                        let seen = w.last_seen_at;
                        let rate = f.success_rate().map(|r| format!("{r:.0}%")).unwrap_or_else(|| "—".into());
                        view! {
                            <tr data-testid="worker-row" data-worker-id=w.id.clone()
                                class=if is_selected { "bg-emerald-50 dark:bg-emerald-950/40" } else { "hover:bg-slate-50 dark:hover:bg-slate-800/40" }>
                                <td class=TD>
                                    <a href={
                                        let id = w.id.clone();
                                        move || format!("/workers/{id}{}", suffix.get())
                                    } aria-current=is_selected.then_some("true")
                                       class="font-medium text-emerald-700 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 dark:text-emerald-300">
                                        {w.name.clone()}
                                    </a>
                                    <div class="text-xs text-slate-500 dark:text-slate-400">
                                        {(!w.version.is_empty()).then(|| format!("v{}", w.version.trim_start_matches('v')))}
                                        {(!w.hostname.is_empty()).then(|| format!(" · {}", w.hostname))}
                                    </div>
                                    {(!w.handlers.is_empty()).then(|| view! {
                                        <ul class="mt-1 flex flex-wrap gap-1" aria-label="Handlers offered" data-testid="worker-handlers">
                                            {w.handlers.iter().map(|h| view! {
                                                <li class="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs text-slate-700 dark:bg-slate-800 dark:text-slate-200">{h.clone()}</li>
                                            }).collect_view()}
                                        </ul>
                                    })}
                                </td>
                                <td class=TD>{w.kind.as_str()}</td>
                                <td class=TD>{health_badge(w.health)}</td>
                                <td class=format!("{TD} whitespace-nowrap tabular-nums text-slate-600 dark:text-slate-400") data-testid="last-heartbeat">
                                    {move || ago(seen, now.get())}
                                </td>
                                <td class=format!("{TD} max-w-48 truncate") data-testid="current-task">{f.current_task.clone().unwrap_or_else(|| "—".into())}</td>
                                <td class=format!("{TD} whitespace-nowrap tabular-nums") data-testid="processes">
                                    {f.processes}
                                    {(f.running > 0).then(|| view! { <span class="ml-1 text-xs text-sky-700 dark:text-sky-300">{format!("({} running)", f.running)}</span> })}
                                </td>
                                <td class=format!("{TD} tabular-nums") title=format!("{} succeeded, {} failed", f.succeeded, f.failed)>{rate}</td>
                                <td class=TD><Sparkline points=f.tasks_per_min.clone() /></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workers::model::{Worker, WorkerKind};

    fn fw(
        name: &str,
        kind: WorkerKind,
        health: Health,
        seen: i64,
        ok: i64,
        bad: i64,
    ) -> FleetWorker {
        FleetWorker {
            worker: Worker {
                id: format!("id-{name}"),
                name: name.into(),
                kind,
                hostname: String::new(),
                version: "1".into(),
                concurrency: 1,
                registered_at: 0,
                last_seen_at: seen,
                stopped_at: None,
                health,
                active: 0,
                tasks_done: 0,
                handlers: Vec::new(),
            },
            processes: ok + bad,
            running: 0,
            succeeded: ok,
            failed: bad,
            avg_process_ms: None,
            current_task: None,
            tasks_per_min: vec![],
        }
    }

    fn names(ws: &[FleetWorker]) -> Vec<&str> {
        ws.iter().map(|f| f.worker.name.as_str()).collect()
    }

    #[test]
    fn filters_and_sorts() {
        let ws = vec![
            fw("etl", WorkerKind::Wpipe, Health::Healthy, 30, 9, 1),
            fw("alpha", WorkerKind::Remote, Health::Dead, 10, 1, 1),
            fw(
                "in-process@h",
                WorkerKind::Inprocess,
                Health::Late,
                20,
                0,
                0,
            ),
        ];
        assert_eq!(
            names(&select(ws.clone(), "", "", SortBy::Heartbeat)),
            ["etl", "in-process@h", "alpha"]
        );
        assert_eq!(
            names(&select(ws.clone(), "", "", SortBy::Name)),
            ["alpha", "etl", "in-process@h"]
        );
        assert_eq!(
            names(&select(ws.clone(), "WPIPE", "", SortBy::Name)),
            ["etl"]
        );
        assert_eq!(
            names(&select(ws.clone(), "", "dead", SortBy::Name)),
            ["alpha"]
        );
        assert_eq!(
            names(&select(ws.clone(), "", "", SortBy::Health)),
            ["alpha", "in-process@h", "etl"]
        );
        // Lowest success rate first; workers without ended processes last.
        assert_eq!(
            names(&select(ws, "", "", SortBy::SuccessRate)),
            ["alpha", "etl", "in-process@h"]
        );
    }
}
