//! `/workers`: the fleet, live — health from the true heartbeat age, current load and work done.

use crate::ui::error_view::ErrorBox;
use crate::ui::format::ago;
use crate::ui::live::use_live;
use crate::workers::api::list_workers;
use crate::workers::model::{Health, Worker};
use leptos::prelude::*;
use leptos_meta::Title;

fn health_badge(h: Health) -> impl IntoView {
    let class = match h {
        Health::Healthy => {
            "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300"
        }
        Health::Late => "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300",
        Health::Dead => "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300",
        Health::Stopped => "bg-slate-200 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
    };
    view! { <span class=format!("rounded-full px-2 py-0.5 text-xs font-medium {class}")>{h.as_str()}</span> }
}

fn table(workers: Vec<Worker>) -> impl IntoView {
    if workers.is_empty() {
        return view! {
            <div class="rounded-lg border border-dashed border-slate-300 p-10 text-center dark:border-slate-700">
                <p class="font-medium">"No workers yet."</p>
                <p class="mt-2 text-sm text-slate-600 dark:text-slate-400">
                    "Start Orchard with --workers N, or run "
                    <code class="rounded bg-slate-100 px-1 dark:bg-slate-800">"orchard worker --server URL"</code>
                    " on any machine."
                </p>
            </div>
        }
        .into_any();
    }
    let now = crate::now_millis();
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <table class="min-w-full text-sm">
                <thead class="bg-slate-50 text-left text-slate-600 dark:bg-slate-800/50 dark:text-slate-300">
                    <tr>
                        <th scope="col" class="px-4 py-2 font-medium">"Worker"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Kind"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Health"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Running"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Tasks done"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Last heartbeat"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {workers.into_iter().map(|w| view! {
                        <tr data-testid="worker-row">
                            <td class="px-4 py-2">
                                <div class="font-medium">{w.name}</div>
                                <div class="text-xs text-slate-500">{w.hostname} " · " {w.version}</div>
                            </td>
                            <td class="px-4 py-2">{w.kind.as_str()}</td>
                            <td class="px-4 py-2">{health_badge(w.health)}</td>
                            <td class="px-4 py-2 tabular-nums">{w.active} " / " {w.concurrency}</td>
                            <td class="px-4 py-2 tabular-nums">{w.tasks_done}</td>
                            <td class="px-4 py-2 text-slate-600 dark:text-slate-400">{ago(w.last_seen_at, now)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
pub fn WorkersPage() -> impl IntoView {
    let live = use_live();
    let data = Resource::new(move || live.version.get(), |_| list_workers());
    view! {
        <Title text="Workers" />
        <h1 class="mb-1 text-2xl font-bold tracking-tight">"Workers"</h1>
        <p class="mb-6 text-sm text-slate-600 dark:text-slate-400">
            "Every worker leasing tasks from this Orchard: in-process and remote."
        </p>
        <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || data.get().map(|r| match r {
                Ok(ws) => table(ws).into_any(),
                Err(e) => view! { <ErrorBox error=e /> }.into_any(),
            })}
        </Transition>
    }
}
