//! `/jobs/:id`: one job — phase, progress, task counts by phase, throughput, workers'
//! contributions, errors, result, and the actions (verify, download, cancel, retry, delete);
//! for a workflow, its steps (`run_view.rs`).
//! While the job runs the page polls its status besides listening to the event stream,
//! following the server's `RetryPolicy` (`shared/src/poll.rs`): after a failed poll it backs off with
//! jitter and says it is reconnecting; after the maximum retries it stops and offers to try
//! again.

use super::run_view::RunView;
use super::state_badge::StateBadge;
use super::throughput_chart::ThroughputChart;
use crate::accounts::components::use_can;
use crate::accounts::model::Role;
use crate::jobs::api::{
    CancelJob, DeleteJob, RetryJob, VerifyJob, get_job_detail, get_poll_policy,
};
use crate::jobs::model::{JobDetail, JobKind, JobState, TaskCounts};
use crate::ui::error_view::ErrorBox;
use crate::ui::format::duration;
use crate::ui::live::use_live;
use crate::ui::progress::ProgressBar;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

fn counts_row(label: String, c: TaskCounts) -> impl IntoView {
    view! {
        <tr>
            <th scope="row" class="px-3 py-1.5 text-left font-medium">{label}</th>
            <td class="px-3 py-1.5 tabular-nums">{c.waiting}</td>
            <td class="px-3 py-1.5 tabular-nums">{c.ready}</td>
            <td class="px-3 py-1.5 tabular-nums">{c.leased}</td>
            <td class="px-3 py-1.5 tabular-nums">{c.done}</td>
            <td class="px-3 py-1.5 tabular-nums">{c.failed}</td>
            <td class="px-3 py-1.5 tabular-nums">{c.cancelled}</td>
        </tr>
    }
}

const BUTTON: &str = "rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 disabled:opacity-50 dark:border-slate-700 dark:hover:bg-slate-800";

#[component]
fn Detail(d: JobDetail) -> impl IntoView {
    // Viewers see no buttons they could not use (the server refuses them anyway).
    let can_edit = use_can(Role::Editor);
    let edit_class = move || {
        if can_edit.get() { "contents" } else { "hidden" }
    };
    let job = d.job.clone();
    let id = job.id.clone();
    let cancel = ServerAction::<CancelJob>::new();
    let retry = ServerAction::<RetryJob>::new();
    let delete = ServerAction::<DeleteJob>::new();
    let verify = ServerAction::<VerifyJob>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            let navigate = leptos_router::hooks::use_navigate();
            navigate("/jobs", Default::default());
        }
    });
    let action_error = move || {
        cancel
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| retry.value().get().and_then(|r| r.err()))
            .or_else(|| delete.value().get().and_then(|r| r.err()))
            .or_else(|| verify.value().get().and_then(|r| r.err()))
    };
    let running = !job.state.is_finished();
    let elapsed = job
        .started_at
        .map(|s| job.finished_at.unwrap_or_else(crate::now_millis) - s);
    // Only a file-average job has an average to show; other kinds show their own result
    // (files, counts) elsewhere on the page.
    let result = job
        .result
        .clone()
        .filter(|r| job.kind == JobKind::FileAverage && r.get("average").is_some());
    let (id_c, id_r, id_d, id_v) = (id.clone(), id.clone(), id.clone(), id.clone());
    view! {
        <div class="flex flex-wrap items-center gap-3">
            <h1 class="text-2xl font-bold tracking-tight">{job.kind.label()}</h1>
            <StateBadge state=job.state />
            <span class="text-sm text-slate-500 dark:text-slate-400" data-testid="job-phase">"phase: " {job.phase.clone()}</span>
        </div>
        <p class="mt-1 font-mono text-xs text-slate-500 dark:text-slate-400">{id.clone()}</p>
        <div class="mt-4 flex items-center gap-3">
            <ProgressBar fraction=job.progress.fraction() label="Job progress" />
            <span class="shrink-0 text-right text-sm tabular-nums" data-testid="job-progress">
                {job.progress.done} " / " {job.progress.total} " tasks"
            </span>
        </div>
        <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">
            {elapsed.map(|e| format!("{} {}", if running { "running for" } else { "took" }, duration(e)))}
        </p>
        {job.error.clone().map(|e| view! {
            <div role="alert" class="mt-4 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800 dark:border-red-900 dark:bg-red-950 dark:text-red-200">
                <span class="font-medium">"Failed: "</span>{e}
            </div>
        })}
        {result.map(|r| view! {
            <div class="mt-4 rounded-lg border border-emerald-200 bg-emerald-50 p-4 dark:border-emerald-900 dark:bg-emerald-950">
                <div class="text-sm text-emerald-800 dark:text-emerald-300">"Average"</div>
                <div class="text-3xl font-semibold tabular-nums" data-testid="job-average">{r.get("average").map(|a| a.to_string()).unwrap_or_default()}</div>
                <div class="mt-1 text-xs text-emerald-800 dark:text-emerald-300">
                    "sum " {r.get("sum").map(|a| a.to_string()).unwrap_or_default()}
                    " · count " {r.get("count").map(|a| a.to_string()).unwrap_or_default()}
                </div>
            </div>
        })}
        <div class="mt-4 flex flex-wrap gap-2">
            {(job.state == JobState::Succeeded && job.kind == JobKind::FileAverage).then(|| view! {
                <span class=edit_class>
                    <button type="button" class=BUTTON on:click=move |_| { verify.dispatch(VerifyJob { id: id_v.clone() }); } disabled=move || verify.pending().get()>
                        {move || if verify.pending().get() { "Verifying…" } else { "Verify (one pass)" }}
                    </button>
                </span>
                <a class=BUTTON href=format!("/api/v1/jobs/{id}/result") download>"Download result"</a>
            })}
            <span class=edit_class>
            {running.then(|| view! {
                <button type="button" class=BUTTON on:click=move |_| { cancel.dispatch(CancelJob { id: id_c.clone() }); }>"Cancel"</button>
            })}
            {matches!(job.state, JobState::Failed | JobState::Cancelled).then(|| view! {
                <button type="button" class=BUTTON on:click=move |_| { retry.dispatch(RetryJob { id: id_r.clone() }); }>"Retry failed tasks"</button>
            })}
            <button
                type="button"
                class=format!("{BUTTON} text-red-700 dark:text-red-300")
                on:click=move |_| {
                    #[cfg(feature = "hydrate")]
                    {
                        let ok = web_sys::window()
                            .and_then(|w| w.confirm_with_message("Delete this job, its tasks and its files?").ok())
                            .unwrap_or(false);
                        if !ok { return; }
                    }
                    delete.dispatch(DeleteJob { id: id_d.clone() });
                }
            >"Delete"</button>
            </span>
        </div>
        {move || verify.value().get().and_then(|r| r.ok()).map(|v| view! {
            <p data-testid="verify-result" class=if v.matches { "mt-3 text-sm text-emerald-700 dark:text-emerald-300" } else { "mt-3 text-sm text-red-700 dark:text-red-300" }>
                {if v.matches { "✓ Matches: " } else { "✗ Does not match: " }}
                {format!("one pass over {} files gives average {} (sum {}, count {})", v.files_read, v.average, v.sum, v.count)}
            </p>
        })}
        {move || action_error().map(|e| view! { <div class="mt-3"><ErrorBox error=e /></div> })}

        <div class="mt-8 grid gap-6 lg:grid-cols-2">
            <section class="min-w-0 rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
                <h2 class="mb-2 font-semibold">"Tasks by phase"</h2>
                <div class="relative overflow-x-auto focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500" tabindex="0" role="region" aria-label="Task counts by phase">
                <table class="min-w-full text-sm" data-testid="task-counts">
                    <thead class="text-left text-xs text-slate-500 dark:text-slate-400">
                        <tr>
                            <th class="px-3 py-1"></th><th class="px-3 py-1">"waiting"</th><th class="px-3 py-1">"ready"</th>
                            <th class="px-3 py-1">"running"</th><th class="px-3 py-1">"done"</th><th class="px-3 py-1">"failed"</th><th class="px-3 py-1">"cancelled"</th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                        {d.phases.clone().into_iter().map(|p| counts_row(p.phase, p.counts)).collect_view()}
                        {counts_row("all".into(), d.counts.clone())}
                    </tbody>
                </table>
                </div>
            </section>
            <section class="min-w-0 rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
                <h2 class="mb-2 font-semibold">"Throughput"</h2>
                {
                    let start = d.job.started_at.unwrap_or(d.job.created_at);
                    let last_end = d.throughput.last().map(|p| p.at + d.throughput_bucket_ms).unwrap_or(start);
                    let span = d.job.finished_at.unwrap_or(last_end) - start;
                    view! { <ThroughputChart points=d.throughput.clone() bucket_ms=d.throughput_bucket_ms start=start span_ms=span /> }
                }
            </section>
            <section class="min-w-0 rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
                <h2 class="mb-2 font-semibold">"Workers"</h2>
                {if d.contributions.is_empty() {
                    view! { <p class="text-sm text-slate-500 dark:text-slate-400">"No tasks done yet."</p> }.into_any()
                } else {
                    let most = d.contributions.iter().map(|c| c.tasks_done).max().unwrap_or(1).max(1) as f64;
                    view! {
                        <ul class="space-y-2 text-sm">
                            {d.contributions.iter().map(|c| view! {
                                <li>
                                    <div class="flex justify-between"><span>{c.worker_name.clone()}</span><span class="tabular-nums">{c.tasks_done}</span></div>
                                    <div class="h-1.5 rounded bg-slate-200 dark:bg-slate-800"><div class="h-full rounded bg-sky-500" style=format!("width: {:.1}%", c.tasks_done as f64 / most * 100.0)></div></div>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
            <section class="min-w-0 rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
                <h2 class="mb-2 font-semibold">"Errors"</h2>
                {if d.errors.is_empty() {
                    view! { <p class="text-sm text-slate-500 dark:text-slate-400">"None."</p> }.into_any()
                } else {
                    view! {
                        <ul class="space-y-1 text-sm">
                            {d.errors.iter().map(|e| view! {
                                <li><span class="font-medium">{e.phase.clone()}</span>" (attempt " {e.attempt} "): " {e.error.clone()}</li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
        </div>
    }
}

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let live = use_live();
    let tick = RwSignal::new(0u64);
    let failures = RwSignal::new(0u32);
    let policy = OnceResource::new(get_poll_policy());
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let detail = Resource::new(
        move || (id(), live.version.get(), tick.get()),
        |(id, _, _)| get_job_detail(id),
    );
    // Retry polling while the job runs (see module docs).
    Effect::new(move |_| {
        let (finished, failed) = match &detail.get() {
            Some(Ok(d)) => (d.job.state.is_finished(), false),
            // A job that does not exist will not start to: nothing to poll for.
            Some(Err(crate::error::AppError::NotFound(_))) => (true, false),
            Some(Err(_)) => (false, true),
            None => return,
        };
        let policy = policy.get().and_then(Result::ok).unwrap_or_default();
        let n = if failed {
            failures.get_untracked() + 1
        } else {
            0
        };
        failures.set(n);
        if !finished && policy.should_retry(n) {
            #[cfg(feature = "hydrate")]
            set_timeout(
                move || {
                    // The page may have been left meanwhile.
                    tick.try_update(|t| *t += 1);
                },
                std::time::Duration::from_millis(policy.delay_ms(n, js_sys::Math::random())),
            );
        }
    });
    // A workflow's graph and step panel, made once per run and fed the job's changes.
    let run = Memo::new(move |_| {
        detail
            .get()
            .and_then(Result::ok)
            .filter(|d| d.job.kind == JobKind::Workflow)
            .map(|d| (d.job.id, d.job.params, d.job.replayed_from))
    });
    let version = Memo::new(move |_| {
        detail
            .get()
            .and_then(Result::ok)
            .map(|d| {
                let c = &d.counts;
                format!(
                    "{}/{}/{}/{}/{}/{}/{}",
                    d.job.state.as_str(),
                    d.job.progress.total,
                    c.waiting,
                    c.ready,
                    c.leased,
                    c.done,
                    c.failed
                )
            })
            .unwrap_or_default()
    });
    let gave_up = move || {
        let policy = policy.get().and_then(Result::ok).unwrap_or_default();
        !policy.should_retry(failures.get())
    };
    view! {
        <Title text="Job" />
        <a href="/jobs" class="text-sm text-emerald-700 hover:underline dark:text-emerald-400">"← All jobs"</a>
        {move || gave_up().then(|| view! {
            <div role="alert" class="mt-3 flex flex-wrap items-center gap-3 rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-900 dark:bg-amber-950 dark:text-amber-200">
                <span>"Lost contact with the server; stopped retrying."</span>
                <button type="button" class=BUTTON on:click=move |_| { failures.set(0); tick.update(|t| *t += 1); }>"Try again"</button>
            </div>
        })}
        <div class="mt-3">
            <Transition fallback=|| view! { <p class="text-sm text-slate-500 dark:text-slate-400">"Loading…"</p> }>
                {move || detail.get().map(|r| match r {
                    Ok(d) => view! { <Detail d /> }.into_any(),
                    Err(crate::error::AppError::NotFound(_)) => {
                        view! { <crate::ui::not_found::NotFoundPage /> }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                })}
            </Transition>
            <Transition fallback=|| ()>
                {move || run.get().map(|(job, params, replayed_from)| view! {
                    <RunView job params replayed_from version />
                })}
            </Transition>
        </div>
    }
}
