//! `/tasks` and `/tasks/{id}`: the forest (or one task's subtree, with breadcrumbs), as an
//! outline or a board, with a filter (and saved views), a quick-add field, and the import, export and generate
//! panels.

use super::board::Board;
use super::client::{INPUT, PRIMARY, TreeUi};
use super::files_panel::FilesPanel;
use super::filter_bar::{FilterBar, FilterResults, tasks_href, use_replace_url};
use super::label_colors::LabelColors;
use super::outline::{Outline, create_under};
use super::shortcuts::OutlineKeys;
use crate::accounts::components::use_can;
use crate::accounts::model::Role;
use crate::error::AppError;
use crate::tasks::api::{CreateTask, get_task_path};
use crate::ui::not_found::NotFoundPage;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use leptos_router::hooks::{use_location, use_query_map};

#[component]
pub fn TasksPage() -> impl IntoView {
    let params = use_params_map();
    let zoom = move || params.with(|p| p.get("id").filter(|s| !s.is_empty()));
    view! {
        {move || {
            let parent = zoom();
            view! { <Zoomed parent /> }
        }}
    }
}

/// The forest, or one task's subtree once the task is known to exist: an unknown id is the
/// "not found" page with a 404, not an empty outline.
#[component]
fn Zoomed(parent: Option<String>) -> impl IntoView {
    let Some(id) = parent else {
        return view! { <TreeView parent=None /> }.into_any();
    };
    let key = id.clone();
    let found = Resource::new(move || key.clone(), get_task_path);
    view! {
        <Transition fallback=|| view! { <p class="text-sm text-slate-500 dark:text-slate-400" role="status">"Loading…"</p> }>
            {move || found.get().map(|r| match r {
                Err(AppError::NotFound(_)) => view! { <NotFoundPage /> }.into_any(),
                _ => view! { <TreeView parent=Some(id.clone()) /> }.into_any(),
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn TreeView(parent: Option<String>) -> impl IntoView {
    let can_edit = use_can(Role::Editor);
    let ui = TreeUi::new(can_edit);
    provide_context(ui);
    super::fields::provide_field_choices();
    // The layout and the filter are in the URL (`?view=board&q=…`), so a reload or a
    // shared link keeps them.
    let query = use_query_map();
    let board = Memo::new(move |_| query.with(|q| q.get("view").as_deref() == Some("board")));
    let filter = Memo::new(move |_| {
        query.with(|q| q.get("q").map(|s| s.trim().to_string()).unwrap_or_default())
    });
    let pathname = use_location().pathname;
    let here = pathname.get_untracked();
    let replace_url = use_replace_url();
    let show = move |as_board: bool| {
        let path = pathname.get_untracked();
        replace_url.run(tasks_href(&path, as_board, &filter.get_untracked()));
    };
    let new_title = RwSignal::new(String::new());
    let crumbs_for = parent.clone();
    let crumbs = Resource::new(
        move || crumbs_for.clone(),
        |p| async move {
            match p {
                Some(id) => get_task_path(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    // Where Esc goes: the zoomed task's parent, or the whole forest (nowhere from there).
    let zoom_out = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let up = crumbs
            .get()
            .and_then(Result::ok)
            .flatten()
            .map(|p| match p.len() {
                0 | 1 => "/tasks".to_string(),
                n => format!("/tasks/{}", p[n - 2].id),
            });
        zoom_out.set(up);
    });
    let add_parent = parent.clone();
    let add_parent_field = parent.clone();
    let add_input = NodeRef::<leptos::html::Input>::new();
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let title = new_title.get_untracked();
        if title.trim().is_empty() {
            return;
        }
        new_title.set(String::new());
        create_under(ui, add_parent.clone(), None, title, false);
        // The field keeps the focus for the next task.
        if let Some(el) = add_input.get_untracked() {
            let _ = el.focus();
        }
    };
    let tab = |on: bool| {
        format!(
            "rounded-md px-3 py-1 text-sm font-medium {}",
            if on {
                "bg-white shadow-sm dark:bg-slate-700"
            } else {
                "text-slate-600 hover:text-slate-900 dark:text-slate-400 dark:hover:text-white"
            }
        )
    };
    let (outline_parent, board_parent, files_parent) =
        (parent.clone(), parent.clone(), parent.clone());
    view! {
        <Title text="Tasks" />
        <nav aria-label="Breadcrumbs" class="mb-1 flex flex-wrap items-center gap-1 text-sm text-slate-500 dark:text-slate-400">
            <a href="/tasks" class="hover:underline">"All tasks"</a>
            <Transition fallback=|| ()>
                {move || crumbs.get().and_then(Result::ok).flatten().map(|path| {
                    let last = path.len().saturating_sub(1);
                    path.into_iter().enumerate().map(|(i, c)| view! {
                        <span aria-hidden="true">"›"</span>
                        {if i == last {
                            view! { <span aria-current="page" class="font-medium text-slate-700 dark:text-slate-300">{c.title}</span> }.into_any()
                        } else {
                            view! { <a href=format!("/tasks/{}", c.id) class="hover:underline">{c.title}</a> }.into_any()
                        }}
                    }).collect_view()
                })}
            </Transition>
        </nav>
        <div class="mb-4 flex flex-wrap items-center gap-3">
            <h1 class="text-2xl font-bold tracking-tight">
                <Transition fallback=|| "Tasks">
                    {move || crumbs.get().and_then(Result::ok).flatten().and_then(|p| p.last().map(|c| c.title.clone())).unwrap_or_else(|| "Tasks".into())}
                </Transition>
            </h1>
            <div role="tablist" aria-label="View" class="flex rounded-lg bg-slate-100 p-1 dark:bg-slate-800">
                <button type="button" role="tab" aria-selected=move || (!board.get()).to_string() class=move || tab(!board.get()) on:click=move |_| show(false)>"Outline"</button>
                <button type="button" role="tab" aria-selected=move || board.get().to_string() class=move || tab(board.get()) on:click=move |_| show(true)>"Board"</button>
            </div>
        </div>
        <FilterBar q=filter board path=here />
        {move || ui.error.get().map(|e| view! {
            <div role="alert" class="mb-3 flex items-start gap-3 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800 dark:border-red-900 dark:bg-red-950 dark:text-red-200">
                <span class="flex-1">{e}</span>
                <button type="button" class="font-medium underline" on:click=move |_| ui.error.set(None)>"Dismiss"</button>
            </div>
        })}
        <Transition fallback=|| ()>{move || can_edit.get().then(|| view! {
            // Without JavaScript the form posts to the server function itself, which sends
            // the browser back here; with it, the task is added in place.
            <form class="mb-3 flex gap-2" method="post" action=CreateTask::url() on:submit=add.clone()>
                {add_parent_field.clone().map(|p| view! { <input type="hidden" name="parent_id" value=p /> })}
                <input node_ref=add_input type="text" name="title" required aria-label="New task" placeholder="Add a task…" maxlength="500"
                    class=format!("{INPUT} flex-1") prop:value=move || new_title.get()
                    on:input=move |ev| new_title.set(event_target_value(&ev)) />
                <button type="submit" class=PRIMARY>"Add"</button>
            </form>
        })}</Transition>
        {move || if !filter.get().is_empty() {
            view! { <FilterResults q=filter board /> }.into_any()
        } else if board.get() {
            view! { <Board parent=board_parent.clone() /> }.into_any()
        } else {
            view! { <Outline parent=outline_parent.clone() /> }.into_any()
        }}
        // The outline's keys, under the outline only, and only those the person may use.
        <div class="mt-2 flex flex-wrap items-center gap-x-3 gap-y-1">
            {move || (!board.get() && filter.get().is_empty()).then(|| view! {
                <p class="hidden text-xs text-slate-500 dark:text-slate-400 sm:block">
                    {if can_edit.get() {
                        "Keys: ↑ ↓ move · → ← expand, collapse · Enter new task · F2 rename · Space done · Tab indent · F fields · / filter"
                    } else {
                        "Keys: ↑ ↓ move · → ← expand, collapse · Ctrl+. zoom in · Esc zoom out · / filter"
                    }}
                </p>
            })}
            <OutlineKeys zoom_out=zoom_out.into() />
        </div>
        <LabelColors />
        <h2 class="mb-3 mt-8 text-lg font-semibold">"Files"</h2>
        <FilesPanel parent=files_parent />
    }
}
