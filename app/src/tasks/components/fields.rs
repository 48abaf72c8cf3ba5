//! A task's fields on its row and its card: chips for priority, due date (red once
//! overdue), assignee and labels (each in its own colour), and the editor that sets them.
//! Label colours come from the server once the page runs; until then (and on the server)
//! a label shows the colour it was given when first used.

use super::client::{BUTTON, INPUT, PRIMARY, use_tree_ui};
use crate::tasks::api::{list_assignees, list_labels};
use crate::tasks::model::TreeTask;
use leptos::prelude::*;
use shared::tasks::fields::{Priority, day_of, default_label_color, format_date, parse_date};
use std::collections::HashMap;

/// Label colours by name, and the people a task may be assigned to, loaded once per page.
#[derive(Clone, Copy)]
pub struct FieldChoices {
    pub colors: RwSignal<HashMap<String, String>>,
    pub people: RwSignal<Vec<String>>,
}

/// Makes [`FieldChoices`] known to the page's rows and cards, and loads them in the
/// browser.
pub fn provide_field_choices() {
    let choices = FieldChoices {
        colors: RwSignal::new(HashMap::new()),
        people: RwSignal::new(Vec::new()),
    };
    provide_context(choices);
    load_choices(choices, true);
}

/// Loads the label colours, and the people too when `people` (they do not change as tasks
/// are edited; labels do, when a task brings a new one).
fn load_choices(choices: FieldChoices, people: bool) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        if let Ok(labels) = list_labels().await {
            let map = labels.into_iter().map(|l| (l.name, l.color)).collect();
            let _ = choices.colors.try_set(map);
        }
        if people && let Ok(names) = list_assignees().await {
            let _ = choices.people.try_set(names);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (choices, people, list_labels, list_assignees);
}

fn use_field_choices() -> Option<FieldChoices> {
    use_context::<FieldChoices>()
}

/// Whether a task carries any field a chip shows (most do not, and draw nothing).
pub fn has_fields(t: &TreeTask) -> bool {
    t.due.is_some() || t.assignee.is_some() || !t.labels.is_empty() || t.priority != Priority::None
}

/// Whether a due date has passed (UTC, as the filter's `due` counts days).
fn overdue(due: &str) -> bool {
    parse_date(due).is_some_and(|d| d < day_of(crate::now_millis()))
}

const CHIP: &str = "inline-flex shrink-0 items-center rounded-full px-2 py-0.5 text-xs font-medium";

fn priority_class(p: Priority) -> &'static str {
    match p {
        Priority::None => "",
        Priority::Low => "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-200",
        Priority::Medium => "bg-sky-100 text-sky-800 dark:bg-sky-900/60 dark:text-sky-100",
        Priority::High => {
            "bg-orange-100 text-orange-800 dark:bg-orange-900/60 dark:text-orange-100"
        }
        Priority::Urgent => "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-100",
    }
}

/// The chips of a task's fields; nothing at all for a task without any.
#[component]
pub fn FieldChips(task: TreeTask) -> impl IntoView {
    let choices = use_field_choices();
    let color = move |name: &str| {
        choices
            .and_then(|c| c.colors.with(|m| m.get(name).cloned()))
            .unwrap_or_else(|| default_label_color(name).to_string())
    };
    let priority = (task.priority != Priority::None).then(|| {
        view! {
            <span class=format!("{CHIP} {}", priority_class(task.priority))
                title="Priority">{task.priority.label()}</span>
        }
    });
    let due = task.due.clone().map(|d| {
        let late = overdue(&d) && task.status != crate::tasks::model::Status::Done;
        let class = if late {
            "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-100"
        } else {
            "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-200"
        };
        let text = if late {
            format!("Overdue · {d}")
        } else {
            format!("Due {d}")
        };
        view! { <span class=format!("{CHIP} tabular-nums {class}") data-due=d>{text}</span> }
    });
    let assignee = task.assignee.clone().map(|a| {
        view! {
            <span class=format!("{CHIP} bg-emerald-50 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200")
                title="Assigned to">{format!("@{a}")}</span>
        }
    });
    let labels = task
        .labels
        .iter()
        .map(|l| {
            let name = l.clone();
            let style = move || format!("background-color: {}", color(&name));
            view! { <span class=format!("{CHIP} text-white") style=style data-label=l.clone()>{l.clone()}</span> }
        })
        .collect_view();
    view! { {priority} {due} {assignee} {labels} }
}

/// The editor of a task's due date, assignee, labels and priority, saved at once.
#[component]
pub fn FieldsEditor(task: TreeTask, on_close: Callback<()>) -> impl IntoView {
    let ui = use_tree_ui();
    let choices = use_field_choices();
    let people = move || choices.map(|c| c.people.get()).unwrap_or_default();
    let due = RwSignal::new(task.due.clone().unwrap_or_default());
    let assignee = RwSignal::new(task.assignee.clone().unwrap_or_default());
    let labels = RwSignal::new(task.labels.join(" "));
    let priority = RwSignal::new(task.priority);
    let key = task.id.clone();
    let field_id = move |what: &str| format!("{what}-{key}");
    let (due_id, who_id, labels_id, prio_id) = (
        field_id("due"),
        field_id("assignee"),
        field_id("labels"),
        field_id("priority"),
    );
    let save = {
        let task = task.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let names: Vec<String> = labels
                .get_untracked()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            ui.set_fields(
                task.clone(),
                due.get_untracked(),
                assignee.get_untracked(),
                names,
                priority.get_untracked(),
            );
            if let Some(c) = choices {
                load_choices(c, false);
            }
            on_close.run(());
        }
    };
    let today = format_date(day_of(crate::now_millis()));
    view! {
        <form class="grid gap-2 rounded-md border border-slate-200 bg-slate-50 p-3 text-sm sm:grid-cols-2 dark:border-slate-700 dark:bg-slate-800/60"
            aria-label=format!("Fields of {}", task.title)
            on:submit=save
            on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Escape" { ev.stop_propagation(); on_close.run(()); }>
            <label class="flex flex-col gap-1">
                <span class="text-xs font-medium text-slate-600 dark:text-slate-300">"Due"</span>
                <input id=due_id type="date" class=INPUT min="0001-01-01" max="9999-12-31"
                    prop:value=move || due.get() placeholder=today
                    on:input=move |ev| due.set(event_target_value(&ev)) />
            </label>
            <label class="flex flex-col gap-1">
                <span class="text-xs font-medium text-slate-600 dark:text-slate-300">"Assignee"</span>
                <select id=who_id class=INPUT on:change=move |ev| assignee.set(event_target_value(&ev))>
                    <option value="" selected=move || assignee.get().is_empty()>"Nobody"</option>
                    {move || {
                        let mut names = people();
                        let current = assignee.get_untracked();
                        if !current.is_empty() && !names.contains(&current) {
                            names.push(current);
                        }
                        names.into_iter().map(|n| {
                            let chosen = n.clone();
                            view! { <option value=n.clone() selected=move || assignee.get() == chosen>{n.clone()}</option> }
                        }).collect_view()
                    }}
                </select>
            </label>
            <label class="flex flex-col gap-1">
                <span class="text-xs font-medium text-slate-600 dark:text-slate-300">"Labels (separated by spaces)"</span>
                <input id=labels_id type="text" class=INPUT maxlength="900" placeholder="infra q3"
                    prop:value=move || labels.get()
                    on:input=move |ev| labels.set(event_target_value(&ev)) />
            </label>
            <label class="flex flex-col gap-1">
                <span class="text-xs font-medium text-slate-600 dark:text-slate-300">"Priority"</span>
                <select id=prio_id class=INPUT
                    on:change=move |ev| if let Some(p) = Priority::parse(&event_target_value(&ev)) { priority.set(p) }>
                    {Priority::ALL.into_iter().map(|p| view! {
                        <option value=p.as_str() selected=move || priority.get() == p>{p.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <div class="flex gap-2 sm:col-span-2">
                <button type="submit" class=PRIMARY>"Save"</button>
                <button type="button" class=BUTTON on:click=move |_| on_close.run(())>"Cancel"</button>
            </div>
        </form>
    }
}
