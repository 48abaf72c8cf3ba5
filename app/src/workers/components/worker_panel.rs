//! One worker: who it is, its health, a remove button once it is dead or stopped, and its
//! processes (status, started, ended, duration, progress), each a link to its tasks.

use super::badges::{health_badge, process_badge};
use super::clock::utc;
use crate::Millis;
use crate::ui::error_view::ErrorBox;
use crate::ui::format::duration;
use crate::ui::live::use_live;
use crate::workers::api::{RemoveWorker, get_worker_processes};
use crate::workers::fleet::{FleetWorker, ProcessStatus, ProcessSummary};
use crate::workers::model::Health;
use leptos::prelude::*;

const TH: &str = "px-3 py-2 font-medium whitespace-nowrap";
const TD: &str = "px-3 py-2 whitespace-nowrap";

fn processes_table(
    worker_id: String,
    ps: Vec<ProcessSummary>,
    selected: Option<String>,
    now: ReadSignal<Millis>,
    suffix: Memo<String>,
) -> impl IntoView {
    if ps.is_empty() {
        return view! { <p class="text-sm text-slate-500 dark:text-slate-400">"No processes yet."</p> }.into_any();
    }
    view! {
        <div tabindex="0" role="region" aria-label="Processes" class="relative overflow-x-auto rounded-lg focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <table class="min-w-full text-sm" aria-label="Processes">
                <thead class="bg-slate-50 text-left text-slate-600 dark:bg-slate-800/50 dark:text-slate-300">
                    <tr>
                        <th scope="col" class=TH>"Process"</th>
                        <th scope="col" class=TH>"Status"</th>
                        <th scope="col" class=TH>"Started (UTC)"</th>
                        <th scope="col" class=TH>"Ended"</th>
                        <th scope="col" class=TH>"Duration"</th>
                        <th scope="col" class=TH>"Progress"</th>
                        <th scope="col" class=TH>"Last step"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {ps.into_iter().map(|p| {
                        let is_selected = selected.as_deref() == Some(p.id.as_str());
                        let href = {
                            let base = format!("/workers/{worker_id}/processes/{}", p.id);
                            move || format!("{base}{}", suffix.get())
                        };
                        let (start, end, running) = (p.started_at, p.ended_at, p.status == ProcessStatus::Running);
                        view! {
                            <tr data-testid="process-row" data-process-id=p.id.clone()
                                class=if is_selected { "bg-emerald-50 dark:bg-emerald-950/40" } else { "hover:bg-slate-50 dark:hover:bg-slate-800/40" }>
                                <td class=TD>
                                    <a href=href aria-current=is_selected.then_some("true")
                                       class="font-mono text-xs text-emerald-700 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 dark:text-emerald-300">
                                        {p.id.clone()}
                                    </a>
                                </td>
                                <td class=TD>{process_badge(p.status)}</td>
                                <td class=format!("{TD} tabular-nums")>{utc(p.started_at)}</td>
                                <td class=format!("{TD} tabular-nums")>{p.ended_at.map(utc).unwrap_or_else(|| "—".into())}</td>
                                <td class=format!("{TD} tabular-nums")>
                                    {move || duration(end.unwrap_or_else(|| if running { now.get() } else { start }) - start)}
                                </td>
                                <td class=format!("{TD} tabular-nums") data-testid="process-progress">
                                    {p.progress()}
                                    {(p.tasks_failed > 0).then(|| view! { <span class="ml-1 text-xs text-red-700 dark:text-red-300">{format!("({} failed)", p.tasks_failed)}</span> })}
                                </td>
                                <td class=TD>{p.step.clone().unwrap_or_default()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
pub fn WorkerPanel(
    worker_id: String,
    info: Option<FleetWorker>,
    selected_process: Option<String>,
    now: ReadSignal<Millis>,
    /// The page's query string (filter and order), kept on the links.
    suffix: Memo<String>,
) -> impl IntoView {
    let live = use_live();
    let id = worker_id.clone();
    let processes = Resource::new(
        move || live.version.get(),
        move |_| get_worker_processes(id.clone()),
    );
    let remove = ServerAction::<RemoveWorker>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = remove.value().get() {
            let navigate = leptos_router::hooks::use_navigate();
            navigate("/workers", Default::default());
        }
    });
    let removable = info
        .as_ref()
        .is_some_and(|f| matches!(f.worker.health, Health::Dead | Health::Stopped));
    let id_r = worker_id.clone();
    let wid = worker_id.clone();
    view! {
        <section aria-labelledby="worker-title" class="mt-8" data-testid="worker-panel">
            <div class="flex flex-wrap items-center gap-3">
                <h2 id="worker-title" class="text-xl font-semibold tracking-tight">
                    {info.as_ref().map(|f| f.worker.name.clone()).unwrap_or_else(|| worker_id.clone())}
                </h2>
                {info.as_ref().map(|f| health_badge(f.worker.health))}
                {info.as_ref().map(|f| view! { <span class="text-sm text-slate-500 dark:text-slate-400">{f.worker.kind.as_str()}</span> })}
                {removable.then(|| view! {
                    <button type="button" data-testid="remove-worker"
                        class="ml-auto rounded-md border border-red-300 px-3 py-1.5 text-sm font-medium text-red-700 hover:bg-red-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500 disabled:opacity-50 dark:border-red-800 dark:text-red-300 dark:hover:bg-red-950"
                        disabled=move || remove.pending().get()
                        on:click=move |_| { remove.dispatch(RemoveWorker { id: id_r.clone() }); }>
                        {move || if remove.pending().get() { "Removing…" } else { "Remove worker" }}
                    </button>
                })}
            </div>
            <p class="mt-1 font-mono text-xs text-slate-500 dark:text-slate-400">{worker_id.clone()}</p>
            {move || remove.value().get().and_then(|r| r.err()).map(|e| view! { <div class="mt-2"><ErrorBox error=e /></div> })}
            <h3 class="mb-2 mt-4 text-sm font-semibold uppercase tracking-wide text-slate-500 dark:text-slate-400">"Processes"</h3>
            <Transition fallback=|| view! { <p class="text-sm text-slate-500 dark:text-slate-400" role="status">"Loading processes…"</p> }>
                {move || {
                    let (wid, sel) = (wid.clone(), selected_process.clone());
                    processes.get().map(move |r| match r {
                        Ok(ps) => processes_table(wid, ps, sel, now, suffix).into_any(),
                        Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                    })
                }}
            </Transition>
        </section>
    }
}
