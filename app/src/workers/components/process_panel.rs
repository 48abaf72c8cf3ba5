//! One process: its tasks in order with name, version, state, times, duration and details
//! (errors readable, not raw JSON).

use super::badges::{process_badge, step_badge};
use super::clock::utc;
use super::details_view::DetailsView;
use crate::Millis;
use crate::ui::error_view::ErrorBox;
use crate::ui::format::duration;
use crate::ui::live::use_live;
use crate::workers::api::get_process;
use crate::workers::fleet::{ProcessDetail, StepState};
use leptos::prelude::*;

const TH: &str = "px-3 py-2 font-medium whitespace-nowrap";
const TD: &str = "px-3 py-2 align-top whitespace-nowrap";

fn tasks_table(d: ProcessDetail, now: ReadSignal<Millis>) -> impl IntoView {
    let total = d.tasks.len();
    view! {
        <div class="mb-3 flex flex-wrap items-center gap-3 text-sm">
            {process_badge(d.process.status)}
            <span class="tabular-nums">{format!("{} of {} tasks finished", d.process.tasks_finished, d.process.tasks_total)}</span>
            {d.process.details.clone().filter(|_| d.process.status == crate::workers::fleet::ProcessStatus::Error).map(|x| view! {
                <div class="w-full rounded-md border border-red-200 bg-red-50 p-3 dark:border-red-900 dark:bg-red-950"><DetailsView details=x /></div>
            })}
        </div>
        <div tabindex="0" role="region" aria-label="Tasks" class="relative overflow-x-auto rounded-lg focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <table class="min-w-full text-sm" aria-label="Tasks">
                <thead class="bg-slate-50 text-left text-slate-600 dark:bg-slate-800/50 dark:text-slate-300">
                    <tr>
                        <th scope="col" class=TH>"#"</th>
                        <th scope="col" class=TH>"Task"</th>
                        <th scope="col" class=TH>"Version"</th>
                        <th scope="col" class=TH>"State"</th>
                        <th scope="col" class=TH>"Received (UTC)"</th>
                        <th scope="col" class=TH>"Started"</th>
                        <th scope="col" class=TH>"Finished"</th>
                        <th scope="col" class=TH>"Duration"</th>
                        <th scope="col" class=TH>"Details"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {d.tasks.into_iter().map(|t| {
                        let task = t.clone();
                        let live_duration = move || match task.state {
                            StepState::Pending => "—".to_string(),
                            _ => duration(task.runtime_ms(now.get())),
                        };
                        view! {
                            <tr data-testid="task-row" data-state=t.state.as_str()>
                                <td class=format!("{TD} tabular-nums text-slate-500 dark:text-slate-400")>{format!("{}/{total}", t.seq)}</td>
                                <td class=format!("{TD} font-medium")>{t.name.clone()}</td>
                                <td class=TD>{t.version.clone()}</td>
                                <td class=TD>{step_badge(t.state)}</td>
                                <td class=format!("{TD} tabular-nums")>{utc(t.received_at)}</td>
                                <td class=format!("{TD} tabular-nums")>{t.started_at.map(utc).unwrap_or_else(|| "—".into())}</td>
                                <td class=format!("{TD} tabular-nums")>{t.finished_at.map(utc).unwrap_or_else(|| "—".into())}</td>
                                <td class=format!("{TD} tabular-nums") data-testid="task-duration">{live_duration}</td>
                                <td class="min-w-64 max-w-md px-3 py-2 align-top">
                                    {t.details.clone().map(|x| view! { <DetailsView details=x /> })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
pub fn ProcessPanel(process_id: String, now: ReadSignal<Millis>) -> impl IntoView {
    let live = use_live();
    let id = process_id.clone();
    let detail = Resource::new(move || live.version.get(), move |_| get_process(id.clone()));
    view! {
        <section aria-labelledby="process-title" class="mt-8" data-testid="process-panel">
            <h2 id="process-title" class="text-lg font-semibold tracking-tight">
                "Process " <span class="font-mono text-sm">{process_id.clone()}</span>
            </h2>
            <div class="mt-3">
                <Transition fallback=|| view! { <p class="text-sm text-slate-500 dark:text-slate-400" role="status">"Loading tasks…"</p> }>
                    {move || detail.get().map(|r| match r {
                        Ok(d) => tasks_table(d, now).into_any(),
                        Err(crate::error::AppError::NotFound(_)) => {
                            view! { <crate::ui::not_found::NotFoundPage /> }.into_any()
                        }
                        Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                    })}
                </Transition>
            </div>
        </section>
    }
}
