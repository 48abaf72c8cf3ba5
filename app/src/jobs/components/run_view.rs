//! A workflow run on its job page: the graph of its steps (live), the panel of the step
//! chosen (`?step=id`), what changed from the run it was made from, and "Run again with
//! changes": the definition in an editor, checked as it is typed by the same rules the
//! server applies, submitted as a new run that names this one.

use super::run_graph::{RunGraph, layout};
use super::run_step::StepPanel;
use crate::accounts::components::use_can;
use crate::accounts::model::Role;
use crate::jobs::api::{ReplayRun, get_job_detail, get_run_steps};
use crate::ui::error_view::ErrorBox;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde_json::Value;
use shared::jobs::workflow::{DEFAULT_MAX_STEPS, StepDef, WorkflowRequest};

const BUTTON: &str = "rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 disabled:opacity-50 dark:border-slate-700 dark:hover:bg-slate-800";

/// Most steps a run runs at once, as the server allows.
const MAX_WORKERS: u32 = 256;

/// What a definition typed in the editor amounts to: the number of steps, or the problem.
pub fn check_definition(text: &str) -> Result<usize, String> {
    let req: WorkflowRequest =
        serde_json::from_str(text).map_err(|e| format!("not a workflow definition: {e}"))?;
    req.validate(DEFAULT_MAX_STEPS, MAX_WORKERS)
        .map(|c| c.steps.len())
}

/// One line per step that differs between two definitions: added, removed, or with another
/// handler, input or set of steps it comes after.
pub fn definition_diff(old: &WorkflowRequest, new: &WorkflowRequest) -> Vec<String> {
    let find = |w: &WorkflowRequest, id: &str| -> Option<StepDef> {
        w.steps.iter().find(|s| s.id == id).cloned()
    };
    let compact = |v: &Value| {
        let s = v.to_string();
        if s.chars().count() > 120 {
            format!("{}…", s.chars().take(120).collect::<String>())
        } else {
            s
        }
    };
    let mut out = Vec::new();
    for s in &new.steps {
        match find(old, &s.id) {
            None => out.push(format!("{}: added ({})", s.id, s.handler)),
            Some(o) => {
                if o.handler != s.handler {
                    out.push(format!("{}: handler {} → {}", s.id, o.handler, s.handler));
                }
                if o.input != s.input {
                    out.push(format!(
                        "{}: input {} → {}",
                        s.id,
                        compact(&o.input),
                        compact(&s.input)
                    ));
                }
                if o.after != s.after || o.map != s.map {
                    out.push(format!("{}: waits on other steps", s.id));
                }
                if o.retry != s.retry || o.timeout_s != s.timeout_s {
                    out.push(format!("{}: retry or timeout changed", s.id));
                }
            }
        }
    }
    for o in &old.steps {
        if find(new, &o.id).is_none() {
            out.push(format!("{}: removed", o.id));
        }
    }
    if old.workers != new.workers {
        out.push(format!("workers {} → {}", old.workers, new.workers));
    }
    out
}

#[component]
fn ReplayedFrom(from: String, def: WorkflowRequest) -> impl IntoView {
    let source = Resource::new(move || from.clone(), get_job_detail);
    view! {
        <Transition fallback=|| ()>
            {move || source.get().and_then(|r| r.ok()).map(|d| {
                let old: Option<WorkflowRequest> = serde_json::from_value(d.job.params.clone()).ok();
                let lines = old.map(|o| definition_diff(&o, &def)).unwrap_or_default();
                view! {
                    <section class="mt-4 rounded-lg border border-slate-200 bg-white p-4 text-sm dark:border-slate-800 dark:bg-slate-900" data-testid="replay-diff">
                        <h2 class="font-semibold">
                            "Run again from " <a class="font-mono text-emerald-700 underline dark:text-emerald-400" href=format!("/jobs/{}", d.job.id)>{d.job.id.clone()}</a>
                        </h2>
                        {if lines.is_empty() {
                            view! { <p class="mt-1 text-slate-600 dark:text-slate-400">"Same definition."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="mt-1 list-disc space-y-0.5 pl-5 font-mono text-xs">
                                    {lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                }
            })}
        </Transition>
    }
}

#[component]
fn ReplayEditor(job: String, definition: String) -> impl IntoView {
    let text = RwSignal::new(definition);
    let verdict = Memo::new(move |_| text.with(|t| check_definition(t)));
    let replay = ServerAction::<ReplayRun>::new();
    Effect::new(move |_| {
        if let Some(Ok(j)) = replay.value().get() {
            let navigate = leptos_router::hooks::use_navigate();
            navigate(&format!("/jobs/{}", j.id), Default::default());
        }
    });
    let submit_job = job.clone();
    view! {
        <details class="mt-6 rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900" data-testid="replay">
            <summary class="cursor-pointer font-semibold">"Run again with changes"</summary>
            <label for="replay-definition" class="mt-3 block text-sm text-slate-600 dark:text-slate-400">
                "The definition of this run; edit it and start a new run that names this one."
            </label>
            <textarea
                id="replay-definition"
                class="mt-1 h-72 w-full rounded-md border border-slate-300 bg-white p-2 font-mono text-xs dark:border-slate-700 dark:bg-slate-950"
                spellcheck="false"
                aria-describedby="replay-verdict"
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
            ></textarea>
            <p id="replay-verdict" role="status" data-testid="replay-verdict"
                class=move || if verdict.get().is_ok() { "mt-1 text-sm text-emerald-800 dark:text-emerald-300" } else { "mt-1 text-sm text-red-800 dark:text-red-300" }>
                {move || match verdict.get() {
                    Ok(n) => format!("✓ {n} steps, valid"),
                    Err(e) => format!("✗ {e}"),
                }}
            </p>
            <button type="button" class=format!("{BUTTON} mt-2")
                disabled=move || verdict.get().is_err() || replay.pending().get()
                on:click=move |_| { replay.dispatch(ReplayRun { id: submit_job.clone(), definition: text.get_untracked() }); }>
                {move || if replay.pending().get() { "Starting…" } else { "Start the new run" }}
            </button>
            {move || replay.value().get().and_then(|r| r.err()).map(|e| view! { <div class="mt-3"><ErrorBox error=e /></div> })}
        </details>
    }
}

/// The run's part of its job page. `version` changes whenever the job's state or task counts
/// do, and the steps are read again then.
#[component]
pub fn RunView(
    job: String,
    params: Value,
    replayed_from: Option<String>,
    #[prop(into)] version: Signal<String>,
) -> impl IntoView {
    let def: Option<WorkflowRequest> = serde_json::from_value(params.clone()).ok();
    let checked = def
        .as_ref()
        .and_then(|d| d.validate(usize::MAX, u32::MAX).ok());
    let Some(checked) = checked else {
        return view! { <p class="mt-6 text-sm text-slate-600">"This run's definition cannot be read."</p> }.into_any();
    };
    let can_edit = use_can(Role::Editor);
    let query = use_query_map();
    let selected = Memo::new(move |_| query.with(|q| q.get("step")));
    let sj = job.clone();
    let steps_res = Resource::new(
        move || (sj.clone(), version.get()),
        |(id, _)| get_run_steps(id),
    );
    let steps = RwSignal::new(Vec::new());
    Effect::new(move |_| {
        if let Some(Ok(s)) = steps_res.get() {
            steps.set(s);
        }
    });
    let l = layout(&checked);
    let definition = serde_json::to_string_pretty(&params).unwrap_or_default();
    let (gj, pj, ej) = (job.clone(), job.clone(), job.clone());
    let defs = checked.steps.clone();
    view! {
        {replayed_from.zip(def.clone()).map(|(from, def)| view! { <ReplayedFrom from def /> })}
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
            <h2 class="mb-3 font-semibold">"Steps"</h2>
            <RunGraph job=gj layout=l steps=steps selected=selected />
            {move || steps_res.get().and_then(|r| r.err()).map(|e| view! { <ErrorBox error=e /> })}
            <p class="mt-2 text-xs text-slate-600 dark:text-slate-400">"Choose a step to see its input, output and log."</p>
        </section>
        {move || selected.get().map(|step| {
            let base = step.split('[').next().unwrap_or_default().to_string();
            let def = defs.iter().find(|d| d.def.id == base).cloned();
            view! { <div class="mt-4"><StepPanel job=pj.clone() step=step def=def steps=steps /></div> }
        })}
        <div class=move || if can_edit.get() { "" } else { "hidden" }>
            <ReplayEditor job=ej definition=definition />
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_editor_says_what_is_wrong() {
        assert_eq!(
            check_definition(r#"{"steps":[{"id":"a","handler":"h"}]}"#),
            Ok(1)
        );
        let e =
            check_definition(r#"{"steps":[{"id":"a","handler":"h","after":["b"]}]}"#).unwrap_err();
        assert!(e.contains("\"b\", which is not a step"), "{e}");
        assert!(
            check_definition("{")
                .unwrap_err()
                .starts_with("not a workflow")
        );
    }

    #[test]
    fn a_diff_names_each_changed_step() {
        let w = |v: Value| -> WorkflowRequest { serde_json::from_value(v).unwrap() };
        let old = w(json!({"steps": [
            {"id": "a", "handler": "add", "input": {"x": 1}},
            {"id": "b", "handler": "echo"},
        ]}));
        let new = w(json!({"steps": [
            {"id": "a", "handler": "add", "input": {"x": 2}},
            {"id": "c", "handler": "echo"},
        ]}));
        assert_eq!(
            definition_diff(&old, &new),
            [
                "a: input {\"x\":1} → {\"x\":2}",
                "c: added (echo)",
                "b: removed"
            ]
        );
    }
}
