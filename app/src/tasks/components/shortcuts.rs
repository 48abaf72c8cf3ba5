//! The Tasks page's page-wide keys — `/` to filter, `?` for every shortcut, Esc to zoom
//! out — and the dialog that lists every key of the outliner. Keys typed into a field or a
//! dialog are left alone; a row's own keys (see `outline.rs`) are handled there first.

use leptos::prelude::*;

/// Every key of the outliner, as the dialog lists them.
pub const SHORTCUTS: [(&str, &str); 15] = [
    ("↑ ↓", "Previous or next task"),
    (
        "→ ←",
        "Expand or collapse; ← on a closed task goes to its parent",
    ),
    ("Enter", "New task below, ready to type"),
    ("F2", "Rename (or double-click the title)"),
    ("Space · Ctrl+Enter", "Done, or not done"),
    ("Tab", "Indent under the task above"),
    ("Shift+Tab", "Outdent beside its parent"),
    ("Alt+↑ · Alt+↓", "Move up or down among its siblings"),
    ("F", "Due date, assignee, labels, priority"),
    ("Delete", "Delete, with its subtasks (asks first)"),
    ("Ctrl+.", "Zoom in: the task's own page"),
    ("Esc", "Zoom out to the parent's page"),
    ("/", "Filter"),
    ("?", "This list"),
    ("Alt+Shift+arrows", "Indent, outdent and move, as above"),
];

/// Installs the page-wide keys and draws the shortcut list when asked for. `zoom_out` is
/// where Esc goes (`None` at the top of the forest).
#[component]
pub fn OutlineKeys(zoom_out: Signal<Option<String>>) -> impl IntoView {
    let open = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let navigate = leptos_router::hooks::use_navigate();
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.default_prevented() || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
                return;
            }
            if typing_or_in_dialog(&ev) {
                return;
            }
            match ev.key().as_str() {
                "/" => {
                    if let Some(el) = document()
                        .query_selector("input[aria-label='Filter tasks']")
                        .ok()
                        .flatten()
                        .and_then(|e| {
                            wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok()
                        })
                    {
                        ev.prevent_default();
                        let _ = el.focus();
                    }
                }
                "?" => {
                    ev.prevent_default();
                    open.set(true);
                }
                "Escape" => {
                    if let Some(url) = zoom_out.get_untracked() {
                        ev.prevent_default();
                        navigate(&url, Default::default());
                    }
                }
                _ => {}
            }
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = zoom_out;
    view! {
        <button type="button" class="rounded text-xs text-slate-600 underline-offset-2 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 dark:text-slate-300"
            on:click=move |_| open.set(true)>
            "Keyboard shortcuts (?)"
        </button>
        {move || open.get().then(|| view! { <ShortcutList open /> })}
    }
}

/// Whether a key went to a text field, a list box or an open dialog, which keep it.
#[cfg(feature = "hydrate")]
fn typing_or_in_dialog(ev: &web_sys::KeyboardEvent) -> bool {
    let Some(el) = ev
        .target()
        .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
    else {
        return false;
    };
    matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
        || el.closest("[role=dialog]").ok().flatten().is_some()
}

/// The dialog of every shortcut: focus goes to its Close button, Esc or Close shut it and
/// give the focus back where it was.
#[component]
fn ShortcutList(open: RwSignal<bool>) -> impl IntoView {
    let close_button = NodeRef::<leptos::html::Button>::new();
    #[cfg(feature = "hydrate")]
    let before = document()
        .active_element()
        .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok());
    // A row may be drawn anew while the list is open (a live update); then its successor,
    // found by the task's id, takes the focus back.
    #[cfg(feature = "hydrate")]
    let before_row = before.as_ref().and_then(|e| e.get_attribute("data-id"));
    let close = move || {
        open.set(false);
        #[cfg(feature = "hydrate")]
        match (&before, &before_row) {
            (Some(el), _) if el.is_connected() => {
                let _ = el.focus();
            }
            (_, Some(id)) => super::outline::focus_row(id),
            _ => {}
        }
    };
    let close = StoredValue::new_local(close);
    Effect::new(move |_| {
        if let Some(b) = close_button.get() {
            let _ = b.focus();
        }
    });
    view! {
        <div class="fixed inset-0 z-50 flex items-center justify-center bg-slate-900/50 p-4"
            on:click=move |ev: leptos::ev::MouseEvent| {
                if ev.target() == ev.current_target() { close.with_value(|c| c()); }
            }>
            <div role="dialog" aria-modal="true" aria-labelledby="shortcuts-title"
                class="max-h-full w-full max-w-lg overflow-y-auto rounded-lg bg-white p-5 text-slate-900 shadow-xl dark:bg-slate-900 dark:text-slate-100"
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Escape" { ev.prevent_default(); ev.stop_propagation(); close.with_value(|c| c()); }
                }>
                <h2 id="shortcuts-title" class="mb-3 text-lg font-semibold">"Keyboard shortcuts"</h2>
                <dl class="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1.5 text-sm">
                    {SHORTCUTS.into_iter().map(|(keys, what)| view! {
                        <dt><kbd class="whitespace-nowrap rounded border border-slate-300 bg-slate-50 px-1.5 py-0.5 font-mono text-xs dark:border-slate-600 dark:bg-slate-800">{keys}</kbd></dt>
                        <dd class="text-slate-700 dark:text-slate-300">{what}</dd>
                    }).collect_view()}
                </dl>
                <div class="mt-4 flex justify-end">
                    <button node_ref=close_button type="button"
                        class="rounded-md bg-emerald-700 px-3 py-1.5 text-sm font-semibold text-white hover:bg-emerald-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 focus-visible:ring-offset-2 dark:focus-visible:ring-offset-slate-900"
                        on:click=move |_| close.with_value(|c| c())>"Close"</button>
                </div>
            </div>
        </div>
    }
}
