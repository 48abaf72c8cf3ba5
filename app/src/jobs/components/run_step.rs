//! The panel of one step of a workflow run: its state, attempts, times, input as defined,
//! output, error, and the end of its log, which follows the step while it runs; for a map,
//! its runs, each a link to its own panel; a button runs a failed step again.

use super::run_graph::{children, encode_step, state_class, step_href};
use crate::accounts::components::use_can;
use crate::accounts::model::Role;
use crate::jobs::api::{RetryStep, get_step_log};
use crate::ui::error_view::ErrorBox;
use crate::ui::format::duration;
use leptos::prelude::*;
use shared::jobs::workflow::{CheckedStep, StepState, StepView};

const BUTTON: &str = "rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 disabled:opacity-50 dark:border-slate-700 dark:hover:bg-slate-800";

/// How often the log of a running step is fetched again.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const LOG_EVERY_MS: u64 = 1_000;

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn fact(label: &'static str, value: String) -> impl IntoView {
    view! {
        <div>
            <dt class="text-xs text-slate-500 dark:text-slate-400">{label}</dt>
            <dd class="font-medium tabular-nums">{value}</dd>
        </div>
    }
}

/// What a step was given, as its definition says (a map's run: one element of a list).
fn input_text(step: &str, def: Option<&CheckedStep>) -> String {
    match (def, step.find('[')) {
        (Some(d), Some(i)) => format!(
            "element {} of the output of {}",
            &step[i + 1..step.len() - 1],
            d.map_over.as_deref().unwrap_or("?")
        ),
        (Some(d), None) => pretty(&d.def.input),
        (None, _) => String::new(),
    }
}

#[component]
pub fn StepPanel(
    job: String,
    step: String,
    def: Option<CheckedStep>,
    #[prop(into)] steps: Signal<Vec<StepView>>,
) -> impl IntoView {
    let can_edit = use_can(Role::Editor);
    let retry = ServerAction::<RetryStep>::new();
    let here = step.clone();
    let view_of = Memo::new(move |_| steps.with(|s| s.iter().find(|v| v.id == here).cloned()));
    let running =
        Memo::new(move |_| view_of.with(|v| v.as_ref().is_some_and(|v| !v.state.is_finished())));
    // The attempt whose log is shown (None: the latest), and a tick that refetches it.
    let attempt = RwSignal::new(None::<i64>);
    let tick = RwSignal::new(0u64);
    let (lj, ls) = (job.clone(), step.clone());
    let log = Resource::new(
        move || {
            (
                attempt.get(),
                tick.get(),
                view_of.with(|v| v.as_ref().map(|v| (v.state, v.attempts))),
            )
        },
        move |(a, _, _)| get_step_log(lj.clone(), ls.clone(), a),
    );
    Effect::new(move |_| {
        if log.get().is_some() && running.get_untracked() {
            #[cfg(feature = "hydrate")]
            set_timeout(
                move || {
                    tick.try_update(|t| *t += 1);
                },
                std::time::Duration::from_millis(LOG_EVERY_MS),
            );
        }
    });
    let input = input_text(&step, def.as_ref());
    let map_over = def
        .as_ref()
        .and_then(|d| d.map_over.clone())
        .filter(|_| !step.contains('['));
    let (rj, rs) = (job.clone(), step.clone());
    let (kj, ks) = (job.clone(), step.clone());
    let download = format!("/api/v1/jobs/{job}/steps/{}/log", encode_step(&step));
    view! {
        <section class="min-w-0 rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900" data-testid="step-panel" aria-labelledby="step-title">
            {move || view_of.get().map(|v| {
                let took = v.started_at.map(|s| v.finished_at.unwrap_or_else(crate::now_millis) - s);
                view! {
                    <div class="flex flex-wrap items-center gap-2">
                        <h2 id="step-title" class="font-mono text-lg font-semibold">{v.id.clone()}</h2>
                        <span class=format!("rounded-full border px-2 py-0.5 text-xs font-medium {}", state_class(v.state)) data-testid="step-state">{v.state.as_str()}</span>
                        <span class="text-sm text-slate-600 dark:text-slate-400">"handler " <code>{v.handler.clone()}</code></span>
                    </div>
                    {v.waiting_reason.clone().map(|w| view! {
                        <p role="status" class="mt-2 rounded-md border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200">"Waiting: " {w}</p>
                    })}
                    <dl class="mt-3 grid grid-cols-2 gap-3 text-sm sm:grid-cols-4">
                        {fact("attempts", v.attempts.to_string())}
                        {fact(if v.finished_at.is_some() { "took" } else { "running for" }, took.map(duration).unwrap_or_else(|| "—".into()))}
                    </dl>
                    {v.error.clone().filter(|_| v.state != StepState::Succeeded).map(|e| view! {
                        <div role="alert" class="mt-3 rounded-md border border-red-200 bg-red-50 p-2 text-sm text-red-900 dark:border-red-900 dark:bg-red-950 dark:text-red-200">
                            <pre class="whitespace-pre-wrap font-mono text-xs">{e}</pre>
                        </div>
                    })}
                    {matches!(v.state, StepState::Failed | StepState::Cancelled).then(|| {
                        let (rj, rs) = (rj.clone(), rs.clone());
                        view! {
                            <div class=move || if can_edit.get() { "mt-3" } else { "hidden" }>
                                <button type="button" class=BUTTON
                                    on:click=move |_| { retry.dispatch(RetryStep { id: rj.clone(), step: rs.clone() }); }
                                    disabled=move || retry.pending().get()>
                                    "Retry this step and what depends on it"
                                </button>
                            </div>
                        }
                    })}
                    {v.output.clone().map(|o| view! {
                        <h3 class="mt-4 text-sm font-semibold">"Output"</h3>
                        <pre class="mt-1 max-h-64 overflow-auto rounded bg-slate-50 p-2 font-mono text-xs dark:bg-slate-950" data-testid="step-output">{pretty(&o)}</pre>
                    })}
                }
            })}
            {move || retry.value().get().and_then(|r| r.err()).map(|e| view! { <div class="mt-3"><ErrorBox error=e /></div> })}
            {(!input.is_empty()).then(|| view! {
                <h3 class="mt-4 text-sm font-semibold">"Input (as defined)"</h3>
                <pre class="mt-1 max-h-48 overflow-auto rounded bg-slate-50 p-2 font-mono text-xs dark:bg-slate-950">{input}</pre>
            })}
            {map_over.map(|src| {
                let kj = kj.clone();
                let ks = ks.clone();
                view! {
                    <h3 class="mt-4 text-sm font-semibold">"Runs (one per element of " {src} "’s output)"</h3>
                    <ul class="mt-1 flex max-h-48 flex-wrap gap-1 overflow-auto text-xs">
                        {move || steps.with(|s| children(&ks, s).take(500).map(|c| view! {
                            <li><a href=step_href(&kj, &c.id) data-noscroll=true class=format!("inline-block rounded border px-1.5 py-0.5 font-mono {}", state_class(c.state))>{c.id.clone()}</a></li>
                        }).collect_view())}
                    </ul>
                }
            })}
            <div class="mt-4 flex flex-wrap items-center gap-2">
                <h3 class="text-sm font-semibold">"Log"</h3>
                {move || log.get().and_then(|r| r.ok()).filter(|t| t.attempts > 1).map(|t| view! {
                    <label class="text-xs text-slate-600 dark:text-slate-400">
                        "attempt "
                        <select class="rounded border border-slate-300 bg-white px-1 py-0.5 text-xs dark:border-slate-700 dark:bg-slate-900"
                            on:change=move |ev| attempt.set(event_target_value(&ev).parse().ok())>
                            {(1..=t.attempts).rev().map(|a| view! { <option value=a.to_string() selected=a == t.attempt>{a}</option> }).collect_view()}
                        </select>
                    </label>
                })}
                <a class="text-xs text-emerald-700 underline dark:text-emerald-400" href=download download>"Download"</a>
                {move || running.get().then(|| view! { <span class="text-xs text-sky-700 dark:text-sky-300" role="status">"following…"</span> })}
            </div>
            <pre class="mt-1 max-h-80 overflow-auto rounded bg-slate-950 p-2 font-mono text-xs text-slate-100" data-testid="step-log" tabindex="0" aria-label="Step log">
                {move || log.get().map(|r| match r {
                    Ok(t) if t.attempt == 0 => "The step has not started.".to_string(),
                    Ok(t) if t.text.is_empty() && t.cut == 0 => "(no log lines)".to_string(),
                    Ok(t) if t.cut > 0 => format!("[… {} bytes before …]\n{}", t.cut, t.text),
                    Ok(t) => t.text,
                    Err(e) => e.to_string(),
                })}
            </pre>
        </section>
    }
}
