//! The editors that open inside an outline row: the inline rename and the notes.

use super::client::use_tree_ui;
use super::outline::{focus_row, focus_row_after_change};
use crate::tasks::model::TreeTask;
use leptos::prelude::*;

/// Inline rename: Enter saves, Escape cancels, leaving the field saves.
#[component]
pub fn TitleEditor(task: TreeTask) -> impl IntoView {
    let ui = use_tree_ui();
    let resumed = ui
        .draft
        .get_untracked()
        .filter(|(id, _)| *id == task.id)
        .map(|(_, text)| text);
    let value = RwSignal::new(resumed.clone().unwrap_or_else(|| task.title.clone()));
    let input = NodeRef::<leptos::html::Input>::new();
    let done = StoredValue::new(false);
    let task = StoredValue::new(task);
    // Every read here may come after the row was rebuilt and this editor disposed (a
    // blur fires as the field leaves the page): nothing is read that may be gone.
    let finish = move |save: bool| {
        if done.try_get_value().unwrap_or(true) {
            return;
        }
        done.set_value(true);
        let (Some(title), Some(t)) = (value.try_get_untracked(), task.try_get_value()) else {
            return;
        };
        ui.editing.try_set(None);
        ui.draft.try_set(None);
        if save && !title.trim().is_empty() && title.trim() != t.title {
            ui.edit(t.clone(), Some(title), None, None);
        }
        // The field is gone once editing ends: the row takes the focus at once, and again
        // after the save re-renders it if nothing else took the focus meanwhile.
        focus_row(&t.id);
        focus_row_after_change(&t.id);
    };
    Effect::new(move |_| {
        if let Some(el) = input.get() {
            // The value first: selecting before it is set would select nothing.
            el.set_value(&value.get_untracked());
            let _ = el.focus();
            if resumed.is_some() {
                // Reopened after a rebuild: carry on typing at the end.
                let end = el.value().len() as u32;
                let _ = el.set_selection_range(end, end);
            } else {
                el.select();
            }
        }
    });
    view! {
        <input node_ref=input type="text" aria-label="Title" maxlength="500"
            class="min-w-0 flex-1 rounded border border-emerald-500 bg-white px-1.5 py-0.5 text-sm outline-none dark:bg-slate-900"
            prop:value=move || value.get()
            on:input=move |ev| {
                let text = event_target_value(&ev);
                if let Some(t) = task.try_get_value() {
                    ui.draft.set(Some((t.id, text.clone())));
                }
                value.set(text);
            }
            on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                match ev.key().as_str() {
                    "Enter" => { ev.prevent_default(); finish(true); }
                    "Escape" => { ev.prevent_default(); finish(false); }
                    _ => {}
                }
                ev.stop_propagation();
            }
            on:blur=move |_| {
                // A row rebuilt under the editor takes its field away: that is no "done".
                if input
                    .try_get_untracked()
                    .flatten()
                    .is_some_and(|el| el.is_connected())
                {
                    finish(true);
                }
            } />
    }
}

/// Notes under a row; saved when the field is left.
#[component]
pub fn NotesEditor(task: TreeTask, level: usize) -> impl IntoView {
    let ui = use_tree_ui();
    let value = RwSignal::new(task.notes.clone());
    view! {
        <div class="pb-2 pr-2" style=format!("padding-left: {}rem", (level - 1) as f32 * 1.25 + 3.25)>
            <textarea rows="3" aria-label=format!("Notes for {}", task.title) maxlength="20000"
                placeholder="Notes…"
                readonly=move || !ui.can_edit.get()
                class="w-full rounded-md border border-slate-300 bg-white p-2 text-sm dark:border-slate-700 dark:bg-slate-900"
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
                on:blur=move |_| {
                    let Some(notes) = value.try_get_untracked() else {
                        return;
                    };
                    if notes != task.notes && ui.can_edit.try_get_untracked().unwrap_or(false) {
                        ui.edit(task.clone(), None, Some(notes), None);
                    }
                }></textarea>
        </div>
    }
}
