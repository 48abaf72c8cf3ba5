//! The outliner: an ARIA tree whose children load when a task is expanded, a page at a
//! time. Keyboard: Up/Down move, Right expands or enters, Left collapses or goes to the
//! parent, Enter renames, Escape cancels, Space toggles done, Delete deletes; Alt+Shift with
//! an arrow indents, outdents or reorders. Rows drag onto a row (to become its child) or
//! onto its upper or lower edge (to go before or after it).

use super::client::{TreeUi, drag_data, progress_label, set_drag_data, use_tree_ui};
use super::fields::{FieldChips, FieldsEditor, has_fields};
use super::row_editors::{NotesEditor, TitleEditor};
use crate::error::AppError;
use crate::tasks::api::{create_task, delete_task, get_subtree_size, list_children, move_task};
use crate::tasks::model::{DEFAULT_PAGE, MAX_PAGE, Status, TaskPage, TreeTask};
use crate::ui::live::use_live;
use leptos::prelude::*;
use leptos::tachys::html::attribute::custom::custom_attribute;
use leptos::tachys::view::add_attr::AddAnyAttr;
use leptos::task::spawn_local;

/// A move index past any list's end: "last".
const LAST: i64 = i64::MAX / 2;

/// The first `count` children of `parent`, fetched in pages of at most `MAX_PAGE`.
pub async fn load(parent: Option<String>, count: u32) -> Result<TaskPage, AppError> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let want = (count - items.len() as u32).clamp(1, MAX_PAGE);
        let page = list_children(parent.clone(), cursor, Some(want)).await?;
        items.extend(page.items);
        cursor = page.next_cursor.clone();
        if cursor.is_none() || items.len() as u32 >= count {
            return Ok(TaskPage {
                items,
                next_cursor: cursor,
                total: page.total,
            });
        }
    }
}

/// Where a task sits, for keyboard moves and drops.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    pub parent: Option<String>,
    pub index: usize,
    pub prev: Option<String>,
    /// The parent's own parent and index (for outdent).
    pub outer: Option<(Option<String>, usize)>,
}

/// Moves a task and refreshes; a refusal shows the server's reason.
pub fn move_to(ui: TreeUi, id: String, parent: Option<String>, index: i64) {
    spawn_local(async move {
        match move_task(id.clone(), parent.clone(), index).await {
            Ok(_) => {
                if let Some(p) = parent {
                    ui.expanded.update(|e| {
                        e.insert(p);
                    });
                }
                ui.local.update(|v| *v += 1);
                focus_row_after_change(&id);
            }
            Err(e) => ui.fail(format!("Not moved: {e}")),
        }
    });
}

/// Creates a task (after `after`, or last); with `rename`, selects it and opens its title
/// for typing (the placeholder title all selected, so typing replaces it). Quick-add passes
/// `false`: the new task appears and the focus stays where the person is typing.
pub fn create_under(
    ui: TreeUi,
    parent: Option<String>,
    after: Option<String>,
    title: String,
    rename: bool,
) {
    spawn_local(async move {
        match create_task(parent.clone(), title, after).await {
            Ok(t) => {
                if let Some(p) = parent {
                    ui.expanded.update(|e| {
                        e.insert(p);
                    });
                }
                ui.local.update(|v| *v += 1);
                if rename {
                    ui.selected.set(Some(t.id.clone()));
                    ui.editing.set(Some(t.id));
                }
            }
            Err(e) => ui.fail(format!("Not created: {e}")),
        }
    });
}

/// Deletes a task after a confirmation that says how many tasks go.
pub fn delete_with_confirm(ui: TreeUi, id: String, title: String) {
    spawn_local(async move {
        let n = match get_subtree_size(id.clone()).await {
            Ok(n) => n,
            Err(e) => return ui.fail(format!("Not deleted: {e}")),
        };
        let question = if n > 1 {
            format!(
                "Delete “{title}” and the {} tasks under it ({n} tasks in all)?",
                n - 1
            )
        } else {
            format!("Delete “{title}”?")
        };
        if !confirm(&question) {
            return;
        }
        ui.hidden.update(|h| {
            h.insert(id.clone());
        });
        if let Err(e) = delete_task(id.clone()).await {
            ui.hidden.update(|h| {
                h.remove(&id);
            });
            ui.fail(format!("Not deleted: {e}"));
        } else {
            ui.local.update(|v| *v += 1);
        }
    });
}

fn confirm(question: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.confirm_with_message(question).ok())
            .unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = question;
        false
    }
}

/// Focuses a task's row now (keyboard navigation to a row on the page).
pub fn focus_row(id: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(el) = row_element(id) {
        let _ = el.focus();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

/// The row of task `id` on the page, if it is there.
#[cfg(feature = "hydrate")]
fn row_element(id: &str) -> Option<web_sys::HtmlElement> {
    use wasm_bindgen::JsCast;
    web_sys::window()?
        .document()?
        .query_selector(&format!("[data-row][data-id=\"{id}\"]"))
        .ok()
        .flatten()?
        .dyn_into::<web_sys::HtmlElement>()
        .ok()
}

/// Gives a task's row the focus once a change has re-rendered it, unless the person has
/// moved the focus elsewhere by then.
pub fn focus_row_after_change(id: &str) {
    selected_gets_focus(id.to_string(), std::time::Duration::from_millis(150));
}
/// One sibling list.
#[component]
pub fn Listing(
    parent: Option<String>,
    level: usize,
    /// The parent's own place (for outdenting its children).
    #[prop(optional)]
    outer: Option<(Option<String>, usize)>,
) -> impl IntoView {
    let ui = use_tree_ui();
    let live = use_live();
    let count = RwSignal::new(DEFAULT_PAGE);
    let key = parent.clone();
    let page = Resource::new(
        move || (key.clone(), count.get(), live.tree.get(), ui.local.get()),
        |(p, n, _, _)| load(p, n),
    );
    let parent_for_items = parent.clone();
    view! {
        <Transition fallback=move || view! { <li class="px-3 py-1.5 text-sm text-slate-500 dark:text-slate-400" style=format!("padding-left: {}rem", level as f32 * 1.25)>"Loading…"</li> }>
            {move || page.get().map(|r| match r {
                Ok(p) => {
                    let left = p.total - p.items.len() as i64;
                    let parent = parent_for_items.clone();
                    let outer = outer.clone();
                    let empty = p.items.is_empty() && level == 1;
                    let hidden = ui.hidden.get();
                    let items: Vec<TreeTask> = p.items.into_iter().filter(|t| !hidden.contains(&t.id)).collect();
                    // Each refresh makes this list anew, so every row is rebuilt: a row's
                    // open editor and focus are carried over through `TreeUi` (`draft`,
                    // `selected`), not kept by the row.
                    let keyed: Vec<(String, TreeTask, Place)> = items.iter().enumerate().map(|(i, t)| {
                        let place = Place {
                            parent: parent.clone(),
                            index: i,
                            prev: i.checked_sub(1).map(|j| items[j].id.clone()),
                            outer: outer.clone(),
                        };
                        let key = format!("{}|{}|{}|{}|{}|{:?}", t.id, t.updated_at, t.child_count, t.done_count, i, place.prev);
                        (key, t.clone(), place)
                    }).collect();
                    let rows = view! {
                        <For each=move || keyed.clone() key=|(k, _, _)| k.clone() let:row>
                            <Node task=row.1 level place=row.2 />
                        </For>
                    };
                    view! {
                        {rows}
                        {empty.then(|| view! {
                            // A tree owns at least one item: an empty one says so as a
                            // disabled item rather than as a bare line.
                            <li role="treeitem" aria-disabled="true" class="px-3 py-8 text-center text-sm text-slate-500 dark:text-slate-400">"No tasks here yet."</li>
                        })}
                        {(left > 0).then(|| view! {
                            <li role="none" style=format!("padding-left: {}rem", level as f32 * 1.25 + 1.75)>
                                <button type="button" class="my-1 text-sm font-medium text-emerald-700 hover:underline dark:text-emerald-400"
                                    on:click=move |_| count.update(|c| *c += DEFAULT_PAGE)>
                                    {format!("Show {} more ({left} not shown)", left.min(DEFAULT_PAGE as i64))}
                                </button>
                            </li>
                        })}
                    }.into_any()
                }
                Err(e) => view! { <li role="alert" class="px-3 py-2 text-sm text-red-700 dark:text-red-400">{e.to_string()}</li> }.into_any(),
            })}
        </Transition>
    }
}

/// Where a drop lands on a row.
#[derive(Clone, Copy, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Zone {
    Before,
    Inside,
    After,
}

/// One task's row, and its children when expanded.
#[component]
pub fn Node(task: TreeTask, level: usize, place: Place) -> impl IntoView {
    let ui = use_tree_ui();
    let id = task.id.clone();
    let stored = StoredValue::new(task.clone());
    let place = StoredValue::new(place);
    let shown = Memo::new(move |_| ui.shown(&stored.get_value()));
    let expanded = {
        let id = id.clone();
        Memo::new(move |_| ui.expanded.with(|e| e.contains(&id)))
    };
    let selected = {
        let id = id.clone();
        Memo::new(move |_| ui.selected.get().as_deref() == Some(id.as_str()))
    };
    let editing = {
        let id = id.clone();
        Memo::new(move |_| ui.editing.get().as_deref() == Some(id.as_str()))
    };
    let first = level == 1 && place.with_value(|p| p.index == 0);
    let tab = move || {
        if selected.get() || (first && ui.selected.get().is_none()) {
            "0"
        } else {
            "-1"
        }
    };
    let notes_open = RwSignal::new(false);
    let fields_open = RwSignal::new(false);
    let drop_zone = RwSignal::new(None::<Zone>);
    // A change (done, indent, a live update) rebuilds rows; the rebuilt row of the selected
    // task takes the focus back when the old one took it away with it.
    let row = NodeRef::<leptos::html::Div>::new();
    // The new row may also mount first and the old one leave after: then the old one hands
    // the focus over as it goes.
    {
        let id = id.clone();
        Effect::new(move |_| {
            let Some(el) = row.get() else { return };
            // A search hit opens `/tasks/<parent>#<id>`: that row is selected, shown and
            // focused once it is on the page (the hash is dropped so it happens once).
            if landed_on(&id) {
                ui.selected.set(Some(id.clone()));
                el.scroll_into_view();
                let _ = el.focus();
                return;
            }
            if ui.selected.get_untracked().as_deref() == Some(id.as_str())
                && !editing.get_untracked()
                && focus_is_lost()
            {
                let _ = el.focus();
            }
        });
    }
    {
        let id = id.clone();
        on_cleanup(move || {
            if ui.selected.try_get_untracked().flatten().as_deref() == Some(id.as_str()) {
                refocus_if_lost(id.clone());
            }
        });
    }
    let has_children = move || shown.get().child_count > 0;

    let toggle_done = move || {
        let t = shown.get_untracked();
        let next = if t.status == Status::Done {
            Status::Todo
        } else {
            Status::Done
        };
        ui.edit(t, None, None, Some(next));
    };
    let on_key = {
        let id = id.clone();
        move |ev: leptos::ev::KeyboardEvent| {
            if editing.get_untracked() {
                return;
            }
            let key = ev.key();
            let (alt, ctrl, shift) = (ev.alt_key(), ev.ctrl_key() || ev.meta_key(), ev.shift_key());
            let t = shown.get_untracked();
            let p = place.get_value();
            let editor = ui.can_edit.get_untracked();
            // Tab and Shift+Tab indent and outdent (as Alt+Shift+→/← do); Alt+↑/↓ (with or
            // without Shift) move a task among its siblings.
            let indent =
                (key == "Tab" && !shift && !alt && !ctrl) || (key == "ArrowRight" && alt && shift);
            let outdent =
                (key == "Tab" && shift && !alt && !ctrl) || (key == "ArrowLeft" && alt && shift);
            let handled = match key.as_str() {
                _ if indent && editor => {
                    if let Some(prev) = p.prev {
                        move_to(ui, id.clone(), Some(prev), LAST);
                    }
                    true
                }
                _ if outdent && editor => {
                    if let (Some(_), Some((pp, pi))) = (&p.parent, p.outer) {
                        move_to(ui, id.clone(), pp, pi as i64 + 1);
                    }
                    true
                }
                "ArrowUp" if alt && editor => {
                    if p.index > 0 {
                        move_to(ui, id.clone(), p.parent, p.index as i64 - 1);
                    }
                    true
                }
                "ArrowDown" if alt && editor => {
                    move_to(ui, id.clone(), p.parent, p.index as i64 + 1);
                    true
                }
                "ArrowDown" if !alt => {
                    step_focus(&id, 1);
                    true
                }
                "ArrowUp" if !alt => {
                    step_focus(&id, -1);
                    true
                }
                "ArrowRight" if !alt => {
                    if t.child_count > 0 && !expanded.get_untracked() {
                        ui.toggle(&id);
                    } else if t.child_count > 0 {
                        step_focus(&id, 1);
                    }
                    true
                }
                "ArrowLeft" if !alt => {
                    if expanded.get_untracked() {
                        ui.toggle(&id);
                    } else if let Some(parent) = &p.parent {
                        focus_row(parent);
                    }
                    true
                }
                "Enter" if ctrl && editor => {
                    toggle_done();
                    true
                }
                "Enter" if editor && !alt && !shift => {
                    create_under(
                        ui,
                        p.parent.clone(),
                        Some(id.clone()),
                        "New task".into(),
                        true,
                    );
                    true
                }
                "F2" if editor => {
                    ui.editing.set(Some(id.clone()));
                    true
                }
                " " if editor => {
                    toggle_done();
                    true
                }
                "." if ctrl => {
                    ui.open.run(format!("/tasks/{id}"));
                    true
                }
                "Delete" if editor => {
                    delete_with_confirm(ui, id.clone(), t.title.clone());
                    true
                }
                "f" if editor && !ctrl && !alt => {
                    fields_open.set(true);
                    focus_fields(&id);
                    true
                }
                _ => false,
            };
            if handled {
                ev.prevent_default();
                ev.stop_propagation();
            }
        }
    };

    let on_drag_start = {
        let id = id.clone();
        move |ev: leptos::ev::DragEvent| {
            let p = place.get_value();
            let payload = format!("{id}|{}|{}", p.parent.unwrap_or_default(), p.index);
            set_drag_data(&ev, &payload);
        }
    };
    let zone_of = |ev: &leptos::ev::DragEvent| -> Zone {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            if let Some(el) = ev
                .current_target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            {
                let r = el.get_bounding_client_rect();
                let y = ev.client_y() as f64 - r.top();
                return if y < r.height() * 0.25 {
                    Zone::Before
                } else if y > r.height() * 0.75 {
                    Zone::After
                } else {
                    Zone::Inside
                };
            }
        }
        let _ = ev;
        Zone::Inside
    };
    let on_drop = {
        let id = id.clone();
        move |ev: leptos::ev::DragEvent| {
            ev.prevent_default();
            let zone = zone_of(&ev);
            drop_zone.set(None);
            let Some(data) = drag_data(&ev) else {
                return;
            };
            let mut parts = data.splitn(3, '|');
            let (Some(dragged), Some(from_parent), Some(from_index)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return;
            };
            if dragged == id || dragged.is_empty() {
                return;
            }
            let from_parent = (!from_parent.is_empty()).then(|| from_parent.to_string());
            let from_index: usize = from_index.parse().unwrap_or(usize::MAX);
            let p = place.get_value();
            let shift = |i: usize| {
                if from_parent == p.parent && from_index < i {
                    i - 1
                } else {
                    i
                }
            };
            match zone {
                Zone::Inside => move_to(ui, dragged.to_string(), Some(id.clone()), LAST),
                Zone::Before => move_to(
                    ui,
                    dragged.to_string(),
                    p.parent.clone(),
                    shift(p.index) as i64,
                ),
                Zone::After => move_to(
                    ui,
                    dragged.to_string(),
                    p.parent.clone(),
                    shift(p.index + 1) as i64,
                ),
            }
        }
    };

    let id_attr = id.clone();
    let parent_attr = place.with_value(|p| p.parent.clone().unwrap_or_default());
    let id_zoom = id.clone();
    let id_child = id.clone();
    let id_sibling = id.clone();
    let id_delete = id.clone();
    let id_focus = id.clone();
    let id_toggle = id.clone();
    let id_fields = id.clone();
    let children_outer = place.with_value(|p| (p.parent.clone(), p.index));
    let child_parent = id.clone();
    // `aria-level` is not among the attributes the view macro knows; added as written.
    view! {
        <li role="treeitem"
            aria-expanded=move || has_children().then(|| expanded.get().to_string())
            aria-selected=move || selected.get().to_string()
            class="list-none">
            <div node_ref=row data-row="" data-id=id_attr data-parent=parent_attr
                tabindex=tab
                draggable=move || ui.can_edit.get().to_string()
                on:focus=move |_| ui.selected.set(Some(id_focus.clone()))
                on:keydown=on_key
                on:dragstart=on_drag_start
                on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); drop_zone.set(Some(zone_of(&ev))); }
                on:dragleave=move |_| drop_zone.set(None)
                on:drop=on_drop
                class=move || format!(
                    "group flex min-h-9 items-center gap-2 rounded-md pr-2 text-sm outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 {} {}",
                    if selected.get() { "bg-emerald-50 dark:bg-emerald-950/40" } else { "hover:bg-slate-100 dark:hover:bg-slate-800/60" },
                    match drop_zone.get() {
                        Some(Zone::Before) => "border-t-2 border-emerald-500",
                        Some(Zone::After) => "border-b-2 border-emerald-500",
                        Some(Zone::Inside) => "ring-2 ring-emerald-400",
                        None => "",
                    }
                )
                style=format!("padding-left: {}rem", (level - 1) as f32 * 1.25 + 0.25)>
                <button type="button" tabindex="-1"
                    aria-label=move || if expanded.get() { "Collapse" } else { "Expand" }
                    class=move || format!("flex h-6 w-6 shrink-0 items-center justify-center rounded text-slate-500 dark:text-slate-400 hover:bg-slate-200 dark:hover:bg-slate-700 {}", if has_children() { "" } else { "invisible" })
                    on:click=move |_| ui.toggle(&id_toggle)>
                    <span class=move || format!("inline-block transition-transform {}", if expanded.get() { "rotate-90" } else { "" })>"▸"</span>
                </button>
                <input type="checkbox" tabindex="-1" aria-label="Done"
                    class="h-4 w-4 shrink-0 accent-emerald-600"
                    prop:checked=move || shown.get().status == Status::Done
                    disabled=move || !ui.can_edit.get()
                    on:click=move |ev| { ev.prevent_default(); toggle_done(); } />
                {move || if editing.get() {
                    view! { <TitleEditor task=shown.get_untracked() /> }.into_any()
                } else {
                    let t = shown.get();
                    view! {
                        <span
                            class=if t.status == Status::Done { "min-w-0 flex-1 truncate text-slate-500 dark:text-slate-400 line-through" } else { "min-w-0 flex-1 truncate" }
                            on:dblclick=move |_| if ui.can_edit.get_untracked() { ui.editing.set(Some(t.id.clone())) }>
                            {t.title.clone()}
                        </span>
                    }.into_any()
                }}
                <span class="hidden shrink-0 items-center gap-1 md:flex">
                    {move || { let t = shown.get(); has_fields(&t).then(|| view! { <FieldChips task=t /> }) }}
                </span>
                {move || (shown.get().status == Status::Doing).then(|| view! {
                    <span class="shrink-0 rounded-full bg-amber-100 px-2 py-0.5 text-xs font-medium text-amber-800 dark:bg-amber-900/50 dark:text-amber-200">"In progress"</span>
                })}
                {move || progress_label(&shown.get()).map(|label| {
                    let t = shown.get();
                    let pct = t.done_count as f64 * 100.0 / t.child_count.max(1) as f64;
                    view! {
                        <span class="flex shrink-0 items-center gap-1.5 text-xs tabular-nums text-slate-500 dark:text-slate-400" title="children done">
                            <span class="hidden h-1.5 w-12 overflow-hidden rounded-full bg-slate-200 sm:block dark:bg-slate-700">
                                <span class="block h-full rounded-full bg-emerald-500" style=format!("width: {pct:.0}%")></span>
                            </span>
                            {label}
                        </span>
                    }
                })}
                // Row actions: on a wide screen they appear on hover or focus and keep their
                // place; on a narrow one they take no room until the row is focused.
                <span class="hidden shrink-0 items-center gap-0.5 transition-opacity group-focus-within:flex sm:flex sm:opacity-0 sm:group-hover:opacity-100 sm:group-focus-within:opacity-100">
                    <a href=format!("/tasks/{id_zoom}") tabindex="-1" title="Zoom in" aria-label="Zoom in" class="rounded px-1.5 py-0.5 text-slate-500 dark:text-slate-400 hover:bg-slate-200 dark:hover:bg-slate-700">"⤢"</a>
                    <button type="button" tabindex="-1" title="Notes" aria-label="Notes" class="rounded px-1.5 py-0.5 text-slate-500 dark:text-slate-400 hover:bg-slate-200 dark:hover:bg-slate-700"
                        on:click=move |_| notes_open.update(|o| *o = !*o)>"✎"</button>
                    {move || ui.can_edit.get().then(|| view! {
                        <button type="button" tabindex="-1" title="Due date, assignee, labels, priority (F)" aria-label="Fields" class="rounded px-1.5 py-0.5 text-slate-500 dark:text-slate-400 hover:bg-slate-200 dark:hover:bg-slate-700"
                            on:click=move |_| fields_open.update(|o| *o = !*o)>"⚑"</button>
                    })}
                    {move || ui.can_edit.get().then(|| {
                        let (c, s, d) = (id_child.clone(), id_sibling.clone(), id_delete.clone());
                        view! {
                            <button type="button" tabindex="-1" title="Add a child" aria-label="Add a child" class="rounded px-1.5 py-0.5 text-slate-500 dark:text-slate-400 hover:bg-slate-200 dark:hover:bg-slate-700"
                                on:click=move |_| create_under(ui, Some(c.clone()), None, "New task".into(), true)>"+"</button>
                            <button type="button" tabindex="-1" title="Add a task below" aria-label="Add a task below" class="rounded px-1.5 py-0.5 text-slate-500 dark:text-slate-400 hover:bg-slate-200 dark:hover:bg-slate-700"
                                on:click=move |_| create_under(ui, place.with_value(|p| p.parent.clone()), Some(s.clone()), "New task".into(), true)>"↓+"</button>
                            <button type="button" tabindex="-1" title="Delete" aria-label="Delete" class="rounded px-1.5 py-0.5 text-red-600 hover:bg-red-50 dark:text-red-400 dark:hover:bg-red-950"
                                on:click=move |_| delete_with_confirm(ui, d.clone(), shown.get_untracked().title)>"✕"</button>
                        }
                    })}
                </span>
            </div>
            {move || notes_open.get().then(|| view! { <NotesEditor task=shown.get_untracked() level /> })}
            {move || { let t = shown.get(); has_fields(&t).then(|| view! {
                <div class="flex flex-wrap gap-1 pb-1 md:hidden" style=format!("padding-left: {}rem", (level - 1) as f32 * 1.25 + 3.25)>
                    <FieldChips task=t />
                </div>
            }) }}
            {move || fields_open.get().then(|| {
                let back = id_fields.clone();
                view! {
                    <div class="pb-2 pr-2" style=format!("padding-left: {}rem", (level - 1) as f32 * 1.25 + 3.25)>
                        <FieldsEditor task=shown.get_untracked()
                            on_close=Callback::new(move |_| { fields_open.set(false); focus_row(&back); }) />
                    </div>
                }
            })}
            {move || (expanded.get() && has_children()).then(|| view! {
                <ul role="group">
                    <Listing parent=Some(child_parent.clone()) level=level + 1 outer=children_outer.clone() />
                </ul>
            }.into_any())}
        </li>
    }
    .add_any_attr(custom_attribute("aria-level", level.to_string()))
}

/// Puts the focus in a row's fields editor once it is drawn.
fn focus_fields(id: &str) {
    #[cfg(feature = "hydrate")]
    {
        let field = format!("due-{id}");
        leptos::prelude::request_animation_frame(move || {
            if let Some(el) = document()
                .get_element_by_id(&field)
                .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
            {
                let _ = el.focus();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

/// Moves focus to the row `step` rows after (or before) this one, in page order.
fn step_focus(id: &str, step: i32) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let Ok(rows) = doc.query_selector_all("[data-row]") else {
            return;
        };
        let ids: Vec<web_sys::HtmlElement> = (0..rows.length())
            .filter_map(|i| rows.item(i))
            .filter_map(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
            .collect();
        if let Some(at) = ids
            .iter()
            .position(|e| e.get_attribute("data-id").as_deref() == Some(id))
        {
            let next = at as i32 + step;
            if next >= 0 && (next as usize) < ids.len() {
                let _ = ids[next as usize].focus();
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, step);
}

/// Once the current changes to the page are done, gives the focus to the row of `id` if
/// nothing holds it.
fn refocus_if_lost(id: String) {
    selected_gets_focus(id, std::time::Duration::ZERO);
}

/// After `delay`, focuses the row of `id` unless the person has put the focus somewhere
/// else meanwhile (a later key, a click): only a focus that fell back to the page is taken.
fn selected_gets_focus(id: String, delay: std::time::Duration) {
    #[cfg(feature = "hydrate")]
    set_timeout(
        move || {
            if focus_is_lost() {
                focus_row(&id);
            }
        },
        delay,
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, delay);
}
/// Whether the page's address points at task `id` (`#id`); if so the mark is taken off it.
fn landed_on(id: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        let Some(window) = web_sys::window() else {
            return false;
        };
        let location = window.location();
        if location.hash().ok().as_deref() != Some(&format!("#{id}")) {
            return false;
        }
        if let (Ok(history), Ok(path), Ok(search)) =
            (window.history(), location.pathname(), location.search())
        {
            let _ = history.replace_state_with_url(
                &wasm_bindgen::JsValue::NULL,
                "",
                Some(&format!("{path}{search}")),
            );
        }
        true
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = id;
        false
    }
}

/// Whether the keyboard focus went back to the page itself (the focused element was
/// removed), rather than to something the person chose.
fn focus_is_lost() -> bool {
    #[cfg(feature = "hydrate")]
    {
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
            return false;
        };
        match (doc.active_element(), doc.body()) {
            (None, _) => true,
            (Some(active), Some(body)) => {
                let body: &web_sys::Element = body.as_ref();
                active == *body
            }
            _ => false,
        }
    }
    #[cfg(not(feature = "hydrate"))]
    false
}

/// The tree of `parent`'s children (the roots when `None`).
#[component]
pub fn Outline(parent: Option<String>) -> impl IntoView {
    view! {
        <ul role="tree" aria-label="Tasks" id="task-tree"
            class="rounded-lg border border-slate-200 bg-white p-1.5 dark:border-slate-800 dark:bg-slate-900">
            <Listing parent level=1 />
        </ul>
    }
}
