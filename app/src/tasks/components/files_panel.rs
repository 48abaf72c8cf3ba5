//! Import, export and generate: each starts a job, followed here with a progress bar (by
//! polling with the retry policy, saying "reconnecting" while the server is away) and a
//! cancel button; finished files are listed for download.

use super::client::{BUTTON, INPUT, PRIMARY, use_tree_ui};
use crate::jobs::api::{cancel_job, get_job_detail, get_poll_policy};
use crate::jobs::model::{JobKind, JobState};
use crate::tasks::api::{create_export_job, create_generate_job, list_tree_files};
use crate::tasks::model::{GenerateParams, TreeFormat};
use crate::ui::format::bytes;
use crate::ui::live::use_live;
use crate::ui::progress::ProgressBar;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// One started job, followed until it ends.
#[component]
fn JobFollower(id: String) -> impl IntoView {
    let ui = use_tree_ui();
    let tick = RwSignal::new(0u64);
    let failures = RwSignal::new(0u32);
    let policy = OnceResource::new(get_poll_policy());
    let job_id = id.clone();
    let detail = Resource::new(
        move || (job_id.clone(), tick.get()),
        |(id, _)| get_job_detail(id),
    );
    Effect::new(move |_| {
        let (finished, failed) = match &detail.get() {
            Some(Ok(d)) => (d.job.state.is_finished(), false),
            Some(Err(_)) => (false, true),
            None => return,
        };
        if finished {
            ui.local.update(|v| *v += 1);
        }
        let policy = policy.get().and_then(Result::ok).unwrap_or_default();
        let n = if failed {
            failures.get_untracked() + 1
        } else {
            0
        };
        failures.set(n);
        if !finished && policy.should_retry(n) {
            // While all is well, poll quickly; after failures, back off.
            let wait = if n == 0 {
                400
            } else {
                policy.delay_ms(n, rand_unit())
            };
            #[cfg(feature = "hydrate")]
            set_timeout(
                move || {
                    // The page may have been left meanwhile.
                    tick.try_update(|t| *t += 1);
                },
                std::time::Duration::from_millis(wait),
            );
            #[cfg(not(feature = "hydrate"))]
            let _ = wait;
        }
    });
    let cancel_id = id.clone();
    view! {
        <li class="rounded-md border border-slate-200 p-3 dark:border-slate-800" data-job=id.clone()>
            {move || detail.get().map(|r| match r {
                Ok(d) => {
                    let job = d.job;
                    let running = !job.state.is_finished();
                    let fraction = job.progress.fraction();
                    let result = job.result.clone().unwrap_or_default();
                    let file = result.get("file").and_then(|v| v.as_str()).map(str::to_string);
                    let tasks = result.get("tasks").and_then(|v| v.as_i64());
                    let cid = cancel_id.clone();
                    view! {
                        <div class="flex flex-wrap items-center gap-2 text-sm">
                            <span class="font-medium">{job.kind.label()}</span>
                            <span data-state=job.state.as_str() class="text-slate-500 dark:text-slate-400">{job.state.as_str()}</span>
                            <a href=format!("/jobs/{}", job.id) class="text-xs text-emerald-700 hover:underline dark:text-emerald-400">"details"</a>
                            {running.then(|| view! {
                                <button type="button" class=format!("{BUTTON} ml-auto")
                                    on:click=move |_| { let id = cid.clone(); spawn_local(async move { let _ = cancel_job(id).await; }); }>"Cancel"</button>
                            })}
                        </div>
                        {running.then(|| view! {
                            <div class="mt-2"><ProgressBar fraction=Signal::derive(move || fraction) label="Job progress" /></div>
                            <p class="mt-1 text-xs tabular-nums text-slate-500 dark:text-slate-400">{format!("{:.0}%", fraction * 100.0)}</p>
                        })}
                        {(job.state == JobState::Succeeded).then(|| view! {
                            <p class="mt-1 text-sm text-emerald-700 dark:text-emerald-400">
                                {match (job.kind, tasks) {
                                    (JobKind::TreeImport, Some(n)) => format!("Imported {n} tasks."),
                                    (_, Some(n)) => format!("Wrote {n} tasks."),
                                    _ => "Done.".to_string(),
                                }}
                                {file.map(|f| view! { " " <a class="font-medium underline" download="" href=format!("/api/v1/files/{f}")>"Download"</a> })}
                            </p>
                        })}
                        {job.error.map(|e| view! { <p role="alert" class="mt-1 break-words text-sm text-red-700 dark:text-red-400">{e}</p> })}
                    }.into_any()
                }
                Err(_) if failures.get() > 0 => view! { <p class="text-sm text-amber-700 dark:text-amber-300">"Reconnecting…"</p> }.into_any(),
                Err(e) => view! { <p role="alert" class="text-sm text-red-700">{e.to_string()}</p> }.into_any(),
            })}
        </li>
    }
}

fn rand_unit() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Math::random()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.5
    }
}

/// Sends the chosen file to the import endpoint; answers the job id or the server's reason.
#[cfg(feature = "hydrate")]
async fn upload(
    file: web_sys::File,
    parent: Option<String>,
    new_ids: bool,
) -> Result<String, String> {
    let format = format_of_name(&file.name());
    let mut url = format!(
        "/api/v1/tasks/import?new_ids={new_ids}&format={}",
        format.as_str()
    );
    if let Some(p) = parent {
        url.push_str(&format!("&parent={p}"));
    }
    let req = gloo_net::http::Request::post(&url)
        .header("content-type", format.content_type())
        .body(wasm_bindgen::JsValue::from(file))
        .map_err(|e| e.to_string())?;
    let resp = req
        .send()
        .await
        .map_err(|e| format!("cannot reach the server: {e}"))?;
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    match body.get("job_id").and_then(|v| v.as_str()) {
        Some(id) if resp.status() == 202 => Ok(id.to_string()),
        _ => Err(body
            .get("error")
            .and_then(|v| v.as_str())
            .unwrap_or("the import was refused")
            .to_string()),
    }
}

/// A tree file's format, by its name: `.opml` or `.xml` is OPML, `.md`, `.markdown` or
/// `.txt` a Markdown list, anything else JSON.
#[cfg(feature = "hydrate")]
fn format_of_name(name: &str) -> TreeFormat {
    let lower = name.to_ascii_lowercase();
    match lower.rsplit_once('.').map(|(_, ext)| ext) {
        Some("opml" | "xml") => TreeFormat::Opml,
        Some("md" | "markdown" | "txt") => TreeFormat::Markdown,
        _ => TreeFormat::Json,
    }
}

#[component]
pub fn FilesPanel(parent: Option<String>) -> impl IntoView {
    let ui = use_tree_ui();
    let live = use_live();
    let jobs = RwSignal::new(Vec::<String>::new());
    let new_ids = RwSignal::new(false);
    let file_input = NodeRef::<leptos::html::Input>::new();
    let busy = RwSignal::new(false);
    let started = move |r: Result<String, String>| match r {
        Ok(id) => jobs.update(|j| j.insert(0, id)),
        Err(e) => ui.fail(e),
    };
    let parent_import = parent.clone();
    let on_import = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let Some(file) = file_input
                .get()
                .and_then(|i| i.files())
                .and_then(|f| f.get(0))
            else {
                return ui.fail("Choose a tree file first.");
            };
            let parent = parent_import.clone();
            busy.set(true);
            spawn_local(async move {
                started(upload(file, parent, new_ids.get_untracked()).await);
                busy.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&parent_import, file_input);
    };
    let parent_export = parent.clone();
    let export_format = RwSignal::new(TreeFormat::Json);
    let on_export = move |_| {
        let root = parent_export.clone();
        let format = export_format.get_untracked();
        spawn_local(async move {
            started(
                create_export_job(root, format)
                    .await
                    .map(|j| j.id)
                    .map_err(|e| e.to_string()),
            );
        });
    };
    // Max depth, max children, name length, roots, max tasks, seed: as typed.
    let genp = RwSignal::new(["5", "6", "10", "3", "1000", ""].map(String::from));
    let gen_import = RwSignal::new(true);
    let on_generate = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let [d, c, n, r, m, s] = genp.get_untracked();
        let num = |v: &str, what: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("{what} must be a whole number"))
        };
        let params = (|| -> Result<GenerateParams, String> {
            Ok(GenerateParams {
                max_depth: num(&d, "Max depth")? as u32,
                max_children: num(&c, "Max children")? as u32,
                name_length: num(&n, "Name length")? as u32,
                roots: num(&r, "Roots")? as u32,
                max_tasks: num(&m, "Max tasks")?,
                seed: if s.trim().is_empty() {
                    None
                } else {
                    Some(num(&s, "Seed")?)
                },
                import: gen_import.get_untracked(),
            })
        })();
        match params {
            Ok(p) => spawn_local(async move {
                started(
                    create_generate_job(p)
                        .await
                        .map(|j| j.id)
                        .map_err(|e| e.to_string()),
                );
            }),
            Err(e) => ui.fail(e),
        }
    };
    let files = Resource::new(move || live.version.get(), |_| list_tree_files());
    let export_root = parent.clone();
    let export_href = move || {
        let f = export_format.get().as_str();
        match &export_root {
            Some(p) => format!("/api/v1/tasks/export?root={p}&format={f}"),
            None => format!("/api/v1/tasks/export?format={f}"),
        }
    };
    let field = move |label: &'static str, i: usize| {
        view! {
            <label class="flex flex-col gap-1 text-xs font-medium text-slate-600 dark:text-slate-400">
                {label}
                <input type="text" inputmode="numeric" class=INPUT prop:value=move || genp.with(|g| g[i].clone())
                    on:input=move |ev| { let v = event_target_value(&ev); genp.update(|g| g[i] = v); } />
            </label>
        }
    };
    view! {
        <Transition fallback=|| ()>
        <div class="grid gap-4 lg:grid-cols-3">
            {move || ui.can_edit.get().then(|| view! {
                <section class="rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
                    <h3 class="font-semibold">"Import"</h3>
                    <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">"A tree file, into this level: JSON like {\"tasks\": [{\"name\": \"Trip\", \"isDone\": false, \"tasks\": [...]}]} as Orchard exports it (ids, status, notes, due dates, assignees, labels and priorities are kept when present), an OPML outline (.opml), or a Markdown list (.md) with - [ ] and - [x] boxes."</p>
                    <input node_ref=file_input type="file" accept=".json,.opml,.xml,.md,.markdown,.txt,application/json,text/x-opml,text/markdown" aria-label="Tree file" class="mt-3 block w-full text-sm file:mr-3 file:rounded-md file:border-0 file:bg-slate-100 file:px-3 file:py-1.5 dark:file:bg-slate-800" />
                    <label class="mt-2 flex items-center gap-2 text-sm">
                        <input type="checkbox" class="accent-emerald-600" prop:checked=move || new_ids.get() on:change=move |ev| new_ids.set(event_target_checked(&ev)) />
                        "Give the tasks new ids"
                    </label>
                    <button type="button" class=format!("{PRIMARY} mt-3") disabled=move || busy.get() on:click=on_import.clone()>
                        {move || if busy.get() { "Uploading…" } else { "Import" }}
                    </button>
                </section>
            })}
            <section class="rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
                <h3 class="font-semibold">"Export"</h3>
                <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">"Every task at this level and below, loaded here or not. JSON and OPML keep every field; Markdown keeps titles, notes, nesting and done."</p>
                <label class="mt-3 flex items-center gap-2 text-sm">
                    "Format"
                    <select class=INPUT on:change=move |ev| {
                        if let Some(f) = TreeFormat::parse(&event_target_value(&ev)) {
                            export_format.set(f);
                        }
                    }>
                        {TreeFormat::ALL.into_iter().map(|f| view! { <option value=f.as_str() selected=move || export_format.get() == f>{f.label()}</option> }).collect_view()}
                    </select>
                </label>
                <div class="mt-3 flex flex-wrap gap-2">
                    <a class=BUTTON href=export_href download="">"Download now"</a>
                    {move || ui.can_edit.get().then(|| view! { <button type="button" class=BUTTON on:click=on_export.clone()>"Export as a job"</button> })}
                </div>
            </section>
            {move || ui.can_edit.get().then(|| view! {
                <section class="rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
                    <h3 class="font-semibold">"Generate a random tree"</h3>
                    <form class="mt-3 grid grid-cols-3 gap-2" on:submit=on_generate>
                        {field("Max depth", 0)}
                        {field("Max children", 1)}
                        {field("Name length", 2)}
                        {field("Roots", 3)}
                        {field("Max tasks", 4)}
                        {field("Seed", 5)}
                        <label class="col-span-3 flex items-center gap-2 text-sm">
                            <input type="checkbox" class="accent-emerald-600" prop:checked=move || gen_import.get() on:change=move |ev| gen_import.set(event_target_checked(&ev)) />
                            "Import it into the roots when written"
                        </label>
                        <button type="submit" class=format!("{PRIMARY} col-span-3 justify-self-start")>"Generate"</button>
                    </form>
                </section>
            })}
        </div>
        </Transition>
        {move || (!jobs.get().is_empty()).then(|| view! {
            <ul class="mt-4 flex flex-col gap-2" aria-label="Started jobs">
                {jobs.get().into_iter().map(|id| view! { <JobFollower id /> }).collect_view()}
            </ul>
        })}
        <Transition fallback=|| ()>
            {move || files.get().and_then(Result::ok).filter(|f| !f.is_empty()).map(|list| view! {
                <h3 class="mb-2 mt-6 text-sm font-semibold">"Tree files"</h3>
                <ul class="divide-y divide-slate-100 rounded-lg border border-slate-200 bg-white text-sm dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900">
                    {list.into_iter().take(20).map(|f| view! {
                        <li class="flex flex-wrap items-center gap-3 px-3 py-2">
                            <a class="font-medium text-emerald-700 hover:underline dark:text-emerald-400" download="" href=format!("/api/v1/files/{}", f.key)>{f.key.clone()}</a>
                            <span class="text-slate-500 dark:text-slate-400">{format!("{} tasks · {}", f.tasks, bytes(f.bytes))}</span>
                        </li>
                    }).collect_view()}
                </ul>
            })}
        </Transition>
    }
}
