//! The filter of `/tasks` and the board: a field that takes the filter language, chips that
//! build it by mouse, the person's saved views, and — while a filter is set — the matching
//! tasks (with their paths, and how many match) in place of the outline or in the board's
//! columns. The filter lives in the URL (`?q=`), so a reload or a shared link keeps it.

use super::board::BoardColumns;
use super::client::{BUTTON, INPUT, use_tree_ui};
use super::fields::{FieldChips, has_fields};
use crate::tasks::api::{delete_view, get_search, list_views, save_view};
use crate::tasks::model::{SearchResults, Status};
use crate::ui::live::use_live;
use leptos::prelude::*;
use shared::tasks::fields::Priority;
use shared::tasks::filter::{Clause, Cmp, Day, Filter, IsState, Term, Who};
use shared::tasks::views::Layout;
pub use shared::tasks::views::tasks_href;

/// Goes to a URL in place (the filter changes what the page shows, not where it is). Made
/// while the component is built, so it can be called from timers and handlers.
pub fn use_replace_url() -> Callback<String> {
    let navigate = leptos_router::hooks::use_navigate();
    Callback::new(move |url: String| {
        navigate(
            &url,
            leptos_router::NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    })
}

const CHIP_BASE: &str = "rounded-full border px-2.5 py-0.5 text-xs font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500";
const CHIP_ON: &str = "border-emerald-700 bg-emerald-700 text-white";
const CHIP_OFF: &str = "border-slate-300 bg-white text-slate-700 hover:bg-slate-50 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-200 dark:hover:bg-slate-800";

fn on(term: Term) -> Clause {
    Clause {
        negated: false,
        term,
    }
}

/// The chips a filter is built from, with what each adds.
fn chips() -> Vec<(&'static str, Clause)> {
    vec![
        ("To Do", on(Term::Status(Status::Todo))),
        ("In Progress", on(Term::Status(Status::Doing))),
        ("Done", on(Term::Status(Status::Done))),
        (
            "Not done",
            Clause {
                negated: true,
                term: Term::Status(Status::Done),
            },
        ),
        ("Assigned to me", on(Term::Assignee(Who::Me))),
        (
            "Due within 7 days",
            on(Term::Due(Cmp::Lt, Day::FromToday(7))),
        ),
        ("Overdue", on(Term::Is(IsState::Overdue))),
        ("High priority", on(Term::Priority(Cmp::Ge, Priority::High))),
        ("Blocked", on(Term::Is(IsState::Blocked))),
    ]
}

/// The filter field, its chips and the saved views. `q` is the filter in the URL; `path`
/// and `board` say where a changed filter goes.
#[component]
pub fn FilterBar(q: Memo<String>, board: Memo<bool>, path: String) -> impl IntoView {
    let text = RwSignal::new(q.get_untracked());
    // The URL changed elsewhere (a view opened, back): the field follows.
    Effect::new(move |_| {
        let now = q.get();
        if text.get_untracked().trim() != now {
            text.set(now);
        }
    });
    let path = StoredValue::new(path);
    let replace_url = use_replace_url();
    let apply = move |f: String| {
        replace_url.run(tasks_href(&path.get_value(), board.get_untracked(), &f));
    };
    // Typing applies once it pauses.
    #[cfg(feature = "hydrate")]
    {
        let generation = StoredValue::new(0u64);
        Effect::new(move |prev: Option<()>| {
            let typed = text.get();
            if prev.is_none() {
                return;
            }
            generation.update_value(|g| *g += 1);
            let mine = generation.get_value();
            set_timeout(
                move || {
                    // A filter that does not parse stays in the field, its problem shown
                    // under it, and the matches of the last good one stay too.
                    if generation.try_get_value() == Some(mine)
                        && q.try_get_untracked().is_some_and(|cur| cur != typed.trim())
                        && Filter::parse(&typed).is_ok()
                    {
                        apply(typed);
                    }
                },
                std::time::Duration::from_millis(300),
            );
        });
    }
    let parsed = Memo::new(move |_| Filter::parse(&text.get()));
    let toggle = move |c: Clause| {
        if let Ok(f) = parsed.get_untracked() {
            let next = f.toggled(c).to_string();
            text.set(next.clone());
            apply(next);
        }
    };
    let choices = use_context::<super::fields::FieldChoices>();
    let labels = move || {
        let mut names: Vec<String> = choices
            .map(|c| c.colors.with(|m| m.keys().cloned().collect()))
            .unwrap_or_default();
        names.sort_unstable();
        names
    };
    view! {
        <div role="search" class="mb-4 flex flex-col gap-2" aria-label="Filter tasks">
            <form class="flex flex-wrap items-center gap-2" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                if parsed.with_untracked(Result::is_ok) {
                    apply(text.get_untracked());
                }
            }>
                <input type="search" name="q" aria-label="Filter tasks" aria-describedby="filter-help"
                    placeholder="Filter: status:doing label:infra assignee:me due<7d \"text\""
                    autocomplete="off" spellcheck="false" maxlength="500"
                    class=format!("{INPUT} min-w-0 flex-1 font-mono")
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Escape" && !text.get_untracked().is_empty() {
                        ev.prevent_default();
                        ev.stop_propagation();
                        text.set(String::new());
                        apply(String::new());
                    } />
                <button type="submit" class=BUTTON>"Apply"</button>
                {move || (!q.get().is_empty()).then(|| view! {
                    <button type="button" class=BUTTON on:click=move |_| { text.set(String::new()); apply(String::new()); }>"Clear"</button>
                })}
            </form>
            {move || match parsed.get() {
                Err(e) => view! { <p id="filter-help" role="alert" class="text-sm text-red-700 dark:text-red-400">{e.to_string()}</p> }.into_any(),
                Ok(_) => view! { <p id="filter-help" class="sr-only">"Terms all hold: key:value, key<value, a word or a \"phrase\"; - before a term negates it. Keys: status, label, assignee, priority, due, has, is."</p> }.into_any(),
            }}
            <div class="flex flex-wrap items-center gap-1.5" role="group" aria-label="Quick filters">
                {chips().into_iter().map(|(name, clause)| {
                    let c = clause.clone();
                    let pressed = Memo::new(move |_| parsed.with(|f| f.as_ref().is_ok_and(|f| f.has(&c))));
                    view! {
                        <button type="button" aria-pressed=move || pressed.get().to_string()
                            class=move || format!("{CHIP_BASE} {}", if pressed.get() { CHIP_ON } else { CHIP_OFF })
                            on:click=move |_| toggle(clause.clone())>{name}</button>
                    }
                }).collect_view()}
                <select aria-label="Filter by label" class=format!("{INPUT} py-0.5 text-xs")
                    on:change=move |ev| {
                        let name = event_target_value(&ev);
                        if !name.is_empty() {
                            toggle(on(Term::Label(name)));
                        }
                        // The list is an action, not a state: it goes back to its prompt.
                        if let Some(el) = ev.target() {
                            use leptos::wasm_bindgen::JsCast;
                            if let Ok(sel) = el.dyn_into::<leptos::web_sys::HtmlSelectElement>() {
                                sel.set_value("");
                            }
                        }
                    }>
                    <option value="">"Label…"</option>
                    {move || labels().into_iter().map(|l| view! { <option value=l.clone()>{l.clone()}</option> }).collect_view()}
                </select>
            </div>
            <SavedViews q board />
        </div>
    }
}

/// The person's saved views, as links, and saving the current filter as one.
#[component]
fn SavedViews(q: Memo<String>, board: Memo<bool>) -> impl IntoView {
    let changed = RwSignal::new(0u64);
    let views = Resource::new(move || changed.get(), |_| list_views());
    let naming = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let name_input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if naming.get()
            && let Some(el) = name_input.get()
        {
            let _ = el.focus();
        }
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (n, f) = (name.get_untracked(), q.get_untracked());
        let layout = if board.get_untracked() {
            Layout::Board
        } else {
            Layout::Outline
        };
        leptos::task::spawn_local(async move {
            match save_view(n, f, layout).await {
                Ok(_) => {
                    let _ = naming.try_set(false);
                    let _ = name.try_set(String::new());
                    let _ = problem.try_set(None);
                    changed.update(|c| *c += 1);
                }
                Err(e) => {
                    let _ = problem.try_set(Some(e.to_string()));
                }
            }
        });
    };
    let remove = move |n: String| {
        leptos::task::spawn_local(async move {
            match delete_view(n).await {
                Ok(()) => changed.update(|c| *c += 1),
                Err(e) => {
                    let _ = problem.try_set(Some(e.to_string()));
                }
            }
        });
    };
    view! {
        <div class="flex flex-wrap items-center gap-1.5 text-sm">
            <span class="text-xs font-medium text-slate-600 dark:text-slate-400">"Views:"</span>
            <Transition fallback=|| ()>
                {move || views.get().map(|r| match r {
                    Ok(vs) if vs.is_empty() => view! { <span class="text-xs text-slate-600 dark:text-slate-400">"none saved yet"</span> }.into_any(),
                    Ok(vs) => view! {
                        <ul class="contents">
                            {vs.into_iter().map(|v| {
                                let href = v.href();
                                let current = v.filter == q.get() && (v.layout == Layout::Board) == board.get();
                                let n = v.name.clone();
                                view! {
                                    <li class=format!("inline-flex items-center rounded-full border {}", if current { "border-emerald-700 bg-emerald-50 dark:bg-emerald-950" } else { "border-slate-300 dark:border-slate-700" })>
                                        <a href=href aria-current=current.then_some("true") title=v.filter.clone()
                                            class="rounded-l-full py-0.5 pl-2.5 pr-1 text-xs font-medium hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500">
                                            {v.name.clone()}{(v.layout == Layout::Board).then_some(" · board")}
                                        </a>
                                        <button type="button" class="rounded-r-full px-1.5 py-0.5 text-xs text-slate-600 hover:text-red-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 dark:text-slate-300"
                                            on:click=move |_| remove(n.clone())>
                                            <span aria-hidden="true">"×"</span><span class="sr-only">{format!("Delete view {}", v.name)}</span>
                                        </button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <span class="text-xs text-red-700 dark:text-red-400">{e.to_string()}</span> }.into_any(),
                })}
            </Transition>
            {move || (!q.get().is_empty() && !naming.get()).then(|| view! {
                <button type="button" class=format!("{BUTTON} text-xs") on:click=move |_| naming.set(true)>"Save view…"</button>
            })}
            {move || naming.get().then(|| view! {
                <form class="inline-flex items-center gap-1.5" on:submit=save>
                    <input node_ref=name_input type="text" required maxlength="60" aria-label="View name" placeholder="View name"
                        class=format!("{INPUT} py-0.5 text-xs") prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Escape" { ev.stop_propagation(); naming.set(false); } />
                    <button type="submit" class=format!("{BUTTON} text-xs")>"Save"</button>
                    <button type="button" class=format!("{BUTTON} text-xs") on:click=move |_| naming.set(false)>"Cancel"</button>
                </form>
            })}
            {move || problem.get().map(|p| view! { <span role="alert" class="text-xs text-red-700 dark:text-red-400">{p}</span> })}
        </div>
    }
}

/// What a filter matches: a list with paths, or the board's columns.
#[component]
pub fn FilterResults(q: Memo<String>, board: Memo<bool>) -> impl IntoView {
    let ui = use_tree_ui();
    let live = use_live();
    let limit = RwSignal::new(50i64);
    let results = Resource::new(
        move || (q.get(), limit.get(), live.tree.get(), ui.local.get()),
        |(q, limit, _, _)| get_search(q, limit),
    );
    view! {
        <Transition fallback=|| view! { <p class="text-sm text-slate-500 dark:text-slate-400" role="status">"Searching…"</p> }>
            {move || results.get().map(|r| match r {
                Ok(found) => {
                    let shown = found.hits.len() as i64;
                    let more = found.more;
                    view! {
                        <p role="status" class="mb-3 text-sm text-slate-600 dark:text-slate-300">
                            <span class="font-semibold tabular-nums" data-total=found.total>{count_text(&found)}</span>
                            {more.then(|| format!(" · showing the first {shown}"))}
                        </p>
                        {if board.get() {
                            let items = found.hits.iter().map(|h| h.task.clone()).collect::<Vec<_>>();
                            view! { <BoardColumns items /> }.into_any()
                        } else {
                            view! { <HitList found /> }.into_any()
                        }}
                        {(more && limit.get_untracked() < 200).then(|| view! {
                            <button type="button" class=format!("{BUTTON} mt-3") on:click=move |_| limit.set(200)>"Show up to 200"</button>
                        })}
                    }.into_any()
                }
                Err(e) => view! { <p role="alert" class="text-sm text-red-700 dark:text-red-400">{e.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}

fn count_text(found: &SearchResults) -> String {
    match found.total {
        0 => "No task matches".into(),
        1 => "1 task matches".into(),
        n => format!("{n} tasks match"),
    }
}

/// The hits, each with its path, opening the task where it lives.
#[component]
fn HitList(found: SearchResults) -> impl IntoView {
    view! {
        <ol class="divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900" aria-label="Matching tasks">
            {found.hits.into_iter().map(|h| {
                let href = match &h.task.parent_id {
                    Some(p) => format!("/tasks/{p}#{}", h.task.id),
                    None => format!("/tasks#{}", h.task.id),
                };
                let mut path: Vec<String> = h.path.iter().map(|c| c.title.clone()).collect();
                if h.path_elided > 0 && !path.is_empty() {
                    path.insert(1, format!("… {} more …", h.path_elided));
                }
                let done = h.task.status == Status::Done;
                let chips = has_fields(&h.task).then(|| view! { <span class="flex flex-wrap gap-1"><FieldChips task=h.task.clone() /></span> });
                view! {
                    <li class="flex flex-wrap items-center gap-x-3 gap-y-1 px-3 py-2" data-hit=h.task.id.clone()>
                        <span class=format!("rounded px-1.5 py-0.5 text-xs font-medium {}", status_class(h.task.status))>{h.task.status.label()}</span>
                        <a href=href class=format!("font-medium hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 {}", if done { "text-slate-500 line-through dark:text-slate-400" } else { "" })>{h.task.title.clone()}</a>
                        {chips}
                        <span class="w-full truncate text-xs text-slate-500 dark:text-slate-400">{if path.is_empty() { "A root task".to_string() } else { path.join(" › ") }}</span>
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Todo => "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-200",
        Status::Doing => "bg-amber-100 text-amber-900 dark:bg-amber-900/60 dark:text-amber-100",
        Status::Done => {
            "bg-emerald-100 text-emerald-900 dark:bg-emerald-900/60 dark:text-emerald-100"
        }
    }
}
