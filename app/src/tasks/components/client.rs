//! The Tasks page's browser-side state, shared by the outliner, the board and the panels:
//! which tasks are expanded (kept in `localStorage`, so it survives a reload), which one is
//! selected or being renamed, optimistic edits waiting for the server, and the message of
//! the last edit that failed.

use crate::tasks::api::{set_task_fields, update_task};
use crate::tasks::model::{Status, TreeTask};
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::tasks::fields::{Priority, filled};
use std::collections::{HashMap, HashSet};

#[cfg(feature = "hydrate")]
const EXPANDED_KEY: &str = "orchard.tasks.expanded";

#[derive(Clone, Copy)]
pub struct TreeUi {
    pub expanded: RwSignal<HashSet<String>>,
    pub selected: RwSignal<Option<String>>,
    pub editing: RwSignal<Option<String>>,
    /// The title being typed in the open editor, so a row rebuilt by a live update while
    /// someone types reopens with what they typed.
    pub draft: RwSignal<Option<(String, String)>>,
    /// Tasks as the user last changed them, until the server's listing catches up.
    pub pending: RwSignal<HashMap<String, TreeTask>>,
    /// Tasks deleted here, hidden until the listing no longer has them.
    pub hidden: RwSignal<HashSet<String>>,
    /// The last failure, shown until dismissed.
    pub error: RwSignal<Option<String>>,
    /// Bumped after a structural change made here, to refetch listings at once.
    pub local: RwSignal<u64>,
    pub can_edit: Signal<bool>,
    /// Opens a page of the app (a client-side navigation), for keys such as Ctrl+.
    pub open: Callback<String>,
}

impl TreeUi {
    pub fn new(can_edit: Signal<bool>) -> Self {
        let ui = TreeUi {
            expanded: RwSignal::new(HashSet::new()),
            selected: RwSignal::new(None),
            editing: RwSignal::new(None),
            draft: RwSignal::new(None),
            pending: RwSignal::new(HashMap::new()),
            hidden: RwSignal::new(HashSet::new()),
            error: RwSignal::new(None),
            local: RwSignal::new(0),
            can_edit,
            open: {
                let navigate = leptos_router::hooks::use_navigate();
                Callback::new(move |url: String| navigate(&url, Default::default()))
            },
        };
        // Effects run once the page is hydrated: the first run restores what was expanded
        // (the server rendered everything collapsed), later runs save each change.
        #[cfg(feature = "hydrate")]
        Effect::new(move |restored: Option<()>| {
            let ids = ui.expanded.get();
            if restored.is_none() {
                if let Some(saved) = storage()
                    .and_then(|s| s.get_item(EXPANDED_KEY).ok().flatten())
                    .and_then(|v| serde_json::from_str::<HashSet<String>>(&v).ok())
                {
                    ui.expanded.set(saved);
                }
            } else if let (Some(s), Ok(v)) = (storage(), serde_json::to_string(&ids)) {
                let _ = s.set_item(EXPANDED_KEY, &v);
            }
        });
        ui
    }

    /// What to show for a task from a listing: the pending edit while it is newer.
    pub fn shown(&self, t: &TreeTask) -> TreeTask {
        self.pending
            .with(|p| {
                p.get(&t.id)
                    .filter(|e| e.updated_at >= t.updated_at)
                    .cloned()
            })
            .unwrap_or_else(|| t.clone())
    }

    pub fn toggle(&self, id: &str) {
        self.expanded.update(|e| {
            if !e.remove(id) {
                e.insert(id.to_string());
            }
        });
    }

    pub fn fail(&self, message: impl Into<String>) {
        self.error.set(Some(message.into()));
    }

    /// Applies an edit at once and sends it; a refusal rolls it back with a message.
    pub fn edit(
        &self,
        before: TreeTask,
        title: Option<String>,
        notes: Option<String>,
        status: Option<Status>,
    ) {
        let mut after = before.clone();
        if let Some(t) = &title {
            after.title = t.trim().to_string();
        }
        if let Some(n) = &notes {
            after.notes = n.clone();
        }
        if let Some(s) = status {
            after.status = s;
            after.done_count = if s == Status::Done {
                after.child_count
            } else if before.status == Status::Done {
                0
            } else {
                after.done_count
            };
        }
        let ui = *self;
        let id = before.id.clone();
        ui.pending.update(|p| {
            p.insert(id.clone(), after);
        });
        spawn_local(async move {
            match update_task(id.clone(), title, notes, status).await {
                Ok(saved) => ui.pending.update(|p| {
                    p.insert(id, saved);
                }),
                Err(e) => {
                    ui.pending.update(|p| {
                        p.remove(&id);
                    });
                    ui.fail(format!("Not saved: {e}"));
                }
            }
        });
    }
}

impl TreeUi {
    /// Sets a task's due date, assignee, labels and priority (empty text clears), shown at
    /// once; a refusal rolls it back with the server's message.
    pub fn set_fields(
        &self,
        before: TreeTask,
        due: String,
        assignee: String,
        labels: Vec<String>,
        priority: Priority,
    ) {
        let mut after = before.clone();
        after.due = filled(&due);
        after.assignee = filled(&assignee);
        after.labels = labels.clone();
        after.priority = priority;
        let ui = *self;
        let id = before.id.clone();
        ui.pending.update(|p| {
            p.insert(id.clone(), after);
        });
        spawn_local(async move {
            match set_task_fields(id.clone(), due, assignee, labels, priority).await {
                Ok(saved) => ui.pending.update(|p| {
                    p.insert(id, saved);
                }),
                Err(e) => {
                    ui.pending.update(|p| {
                        p.remove(&id);
                    });
                    ui.fail(format!("Not saved: {e}"));
                }
            }
        });
    }
}

#[cfg(feature = "hydrate")]
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn use_tree_ui() -> TreeUi {
    expect_context::<TreeUi>()
}

/// The "7/10" of a task with children.
pub fn progress_label(t: &TreeTask) -> Option<String> {
    (t.child_count > 0).then(|| format!("{}/{}", t.done_count, t.child_count))
}

/// Shared classes for small buttons.
pub const BUTTON: &str = "rounded-md border border-slate-300 bg-white px-2.5 py-1 text-sm font-medium hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 disabled:opacity-50 dark:border-slate-700 dark:bg-slate-900 dark:hover:bg-slate-800";
pub const PRIMARY: &str = "rounded-md bg-emerald-700 px-3 py-1.5 text-sm font-semibold text-white hover:bg-emerald-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 focus-visible:ring-offset-2 disabled:opacity-50 dark:focus-visible:ring-offset-slate-950";
pub const INPUT: &str = "rounded-md border border-slate-300 bg-white px-2.5 py-1.5 text-sm focus:border-emerald-500 focus:outline-none focus:ring-1 focus:ring-emerald-500 dark:border-slate-700 dark:bg-slate-900";

/// The text a drag carries (`None` outside the browser).
pub fn drag_data(ev: &leptos::ev::DragEvent) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        ev.data_transfer()
            .and_then(|d| d.get_data("text/plain").ok())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

/// Starts a drag carrying `text`.
pub fn set_drag_data(ev: &leptos::ev::DragEvent, text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(dt) = ev.data_transfer() {
        let _ = dt.set_data("text/plain", text);
        dt.set_effect_allowed("move");
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, text);
}
