//! The board: a task's children (or the roots) as To Do / In Progress / Done columns.
//! Clicking a card advances it one column; dragging it to a column sets that status. Every
//! change follows the done rule and shows in other tabs at once.

use super::client::{drag_data, progress_label, set_drag_data, use_tree_ui};
use super::fields::{FieldChips, FieldsEditor, has_fields};
use super::outline::load;
use crate::tasks::model::{MAX_PAGE, Status, TreeTask};
use crate::ui::live::use_live;
use leptos::prelude::*;

#[component]
pub fn Board(parent: Option<String>) -> impl IntoView {
    let ui = use_tree_ui();
    let live = use_live();
    let cards = Resource::new(
        move || (parent.clone(), live.tree.get(), ui.local.get()),
        |(p, _, _)| load(p, MAX_PAGE),
    );
    view! {
        <Transition fallback=|| view! { <p class="text-sm text-slate-500 dark:text-slate-400">"Loading…"</p> }>
            {move || cards.get().map(|r| match r {
                Ok(page) => {
                    let more = page.total - page.items.len() as i64;
                    view! {
                        <BoardColumns items=page.items />
                        {(more > 0).then(|| view! {
                            <p class="mt-3 text-sm text-slate-500 dark:text-slate-400">{format!("The board shows the first {MAX_PAGE} tasks; {more} more are in the outline.")}</p>
                        })}
                    }.into_any()
                }
                Err(e) => view! { <p role="alert" class="text-sm text-red-700 dark:text-red-400">{e.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}

/// The three columns of `items`.
#[component]
pub fn BoardColumns(items: Vec<TreeTask>) -> impl IntoView {
    view! {
        <div class="grid gap-4 md:grid-cols-3">
            {Status::ALL.into_iter().map(|s| view! { <Column status=s items=items.clone() /> }).collect_view()}
        </div>
    }
}

#[component]
fn Column(status: Status, items: Vec<TreeTask>) -> impl IntoView {
    let ui = use_tree_ui();
    let over = RwSignal::new(false);
    let stored = StoredValue::new(items.clone());
    let mine = move || {
        stored.with_value(|all| {
            all.iter()
                .map(|t| ui.shown(t))
                .filter(|t| t.status == status && !ui.hidden.with(|h| h.contains(&t.id)))
                .collect::<Vec<_>>()
        })
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        over.set(false);
        let Some(id) = drag_data(&ev) else {
            return;
        };
        let id = id.split('|').next().unwrap_or_default().to_string();
        if let Some(t) = stored.with_value(|all| all.iter().find(|t| t.id == id).cloned()) {
            let t = ui.shown(&t);
            if t.status != status {
                ui.edit(t, None, None, Some(status));
            }
        }
    };
    let accent = match status {
        Status::Todo => "bg-slate-400",
        Status::Doing => "bg-amber-500",
        Status::Done => "bg-emerald-500",
    };
    view! {
        <section aria-label=status.label()
            on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); over.set(true); }
            on:dragleave=move |_| over.set(false)
            on:drop=on_drop
            class=move || format!("flex min-h-48 flex-col rounded-lg border bg-slate-100/70 p-3 dark:bg-slate-900/60 {}",
                if over.get() { "border-emerald-500 ring-2 ring-emerald-400" } else { "border-slate-200 dark:border-slate-800" })>
            <h3 class="mb-3 flex items-center gap-2 text-sm font-semibold">
                <span class=format!("h-2.5 w-2.5 rounded-full {accent}")></span>
                {status.label()}
                <span class="ml-auto rounded-full bg-white px-2 text-xs tabular-nums text-slate-600 dark:bg-slate-800 dark:text-slate-300">{move || mine().len()}</span>
            </h3>
            <ul class="flex flex-col gap-2">
                {move || mine().into_iter().map(|t| view! { <Card task=t /> }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn Card(task: TreeTask) -> impl IntoView {
    let ui = use_tree_ui();
    let id = task.id.clone();
    let label = progress_label(&task);
    let next = task.status.next();
    let t = task.clone();
    let editing = RwSignal::new(false);
    let title = task.title.clone();
    let t_title = move || title.clone();
    let for_editor = task.clone();
    let has_fields = has_fields(&task);
    view! {
        // The card moves the task on; "Open" sits beside it (over its corner), not inside:
        // a link within a button is one control inside another.
        <li>
            <div class="relative">
            <button type="button" data-card=id.clone()
                draggable=move || ui.can_edit.get().to_string()
                disabled=move || !ui.can_edit.get()
                title=format!("Move to {}", next.label())
                on:dragstart=move |ev: leptos::ev::DragEvent| {
                    set_drag_data(&ev, &id);
                }
                on:click=move |_| ui.edit(t.clone(), None, None, Some(next))
                class="w-full rounded-md border border-slate-200 bg-white p-3 text-left text-sm shadow-sm hover:border-emerald-400 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 disabled:cursor-default dark:border-slate-700 dark:bg-slate-800">
                <span class=if task.status == Status::Done { "block text-slate-500 dark:text-slate-400 line-through" } else { "block" }>{task.title.clone()}</span>
                {has_fields.then(|| view! {
                    <span class="mt-1.5 flex flex-wrap gap-1"><FieldChips task=task.clone() /></span>
                })}
                <span class="mt-1 block min-h-4 pr-24 text-xs text-slate-500 dark:text-slate-400">{label.map(|l| format!("{l} done"))}</span>
            </button>
            <span class="absolute bottom-3 right-3 flex items-center gap-2">
                {move || ui.can_edit.get().then(|| view! {
                    <button type="button" aria-expanded=move || editing.get().to_string()
                        class="rounded text-xs text-slate-600 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 dark:text-slate-300"
                        on:click=move |_| editing.update(|e| *e = !*e)>
                        "Fields"<span class="sr-only">" of "{t_title()}</span>
                    </button>
                })}
                <a href=format!("/tasks/{}", task.id)
                    class="rounded text-xs text-slate-600 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 dark:text-slate-300">
                    "Open"<span class="sr-only">" "{task.title.clone()}</span>
                </a>
            </span>
            </div>
            {move || editing.get().then(|| view! {
                <div class="mt-1">
                    <FieldsEditor task=for_editor.clone() on_close=Callback::new(move |_| editing.set(false)) />
                </div>
            })}
        </li>
    }
}
