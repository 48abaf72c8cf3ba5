//! Live updates: one `EventSource` on `/api/v1/events` per tab. Change notices mark the page
//! stale; at most every 300 ms a stale page bumps `LiveContext::version`, which every live
//! resource depends on, so a burst of job progress costs one refetch, not hundreds.
//! `EventSource` reconnects by itself; the header shows "reconnecting" meanwhile.

use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct LiveContext {
    /// Bumped whenever something changed on the server.
    pub version: RwSignal<u64>,
    /// `None` before the stream opened (or without JavaScript), then whether it is up.
    pub connected: RwSignal<Option<bool>>,
    /// Bumped when the task forest changed (`task` and `tree` events), so tree listings
    /// refetch for those only, not for every job's progress.
    pub tree: RwSignal<u64>,
}

pub fn provide_live_context() {
    let ctx = LiveContext {
        version: RwSignal::new(0),
        connected: RwSignal::new(None),
        tree: RwSignal::new(0),
    };
    provide_context(ctx);
    // Only a signed-in person has a stream to open: a signed-out page (sign-in, setup) opens
    // none, so it shows no "reconnecting" and logs no refusal.
    #[cfg(feature = "hydrate")]
    {
        let me = crate::accounts::components::use_me();
        Effect::new(move |opened: Option<bool>| {
            if opened == Some(true) {
                return true;
            }
            if me.get().is_some() {
                connect(ctx);
                return true;
            }
            false
        });
    }
}

/// The live context, or a still one when none was provided (e.g. in isolated components).
pub fn use_live() -> LiveContext {
    use_context::<LiveContext>().unwrap_or(LiveContext {
        version: RwSignal::new(0),
        connected: RwSignal::new(None),
        tree: RwSignal::new(0),
    })
}

#[cfg(feature = "hydrate")]
fn connect(ctx: LiveContext) {
    use std::cell::Cell;
    use std::rc::Rc;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let Ok(es) = web_sys::EventSource::new("/api/v1/events") else {
        ctx.connected.set(Some(false));
        return;
    };
    let stale = Rc::new(Cell::new(false));
    let tree_stale = Rc::new(Cell::new(false));
    let on_message = {
        let (stale, tree_stale) = (stale.clone(), tree_stale.clone());
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            stale.set(true);
            let data = e.data().as_string().unwrap_or_default();
            if data.contains("\"topic\":\"tree\"") || data.contains("\"topic\":\"task\"") {
                tree_stale.set(true);
            }
        })
    };
    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        // After a reconnect anything may have changed while we were away.
        ctx.connected.set(Some(true));
        ctx.version.update(|v| *v += 1);
        ctx.tree.update(|v| *v += 1);
    });
    let on_error =
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| ctx.connected.set(Some(false)));
    es.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    es.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    es.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // The stream lives as long as the tab.
    on_message.forget();
    on_open.forget();
    on_error.forget();
    std::mem::forget(es);
    set_interval(
        move || {
            if stale.replace(false) {
                ctx.version.update(|v| *v += 1);
            }
            if tree_stale.replace(false) {
                ctx.tree.update(|v| *v += 1);
            }
        },
        std::time::Duration::from_millis(300),
    );
}

/// "Live" / "Reconnecting…" badge in the header.
#[component]
pub fn LiveIndicator() -> impl IntoView {
    let live = use_live();
    let me = crate::accounts::components::use_me();
    view! {
        <span
            id="live-indicator"
            role="status"
            class=move || if me.get().is_some() {
                "flex items-center gap-1.5 text-xs text-slate-500 dark:text-slate-400"
            } else {
                "hidden"
            }
        >
            {move || match live.connected.get() {
                Some(true) => view! {
                    <span class="h-2 w-2 rounded-full bg-emerald-500"></span>
                    <span>"Live"</span>
                }.into_any(),
                Some(false) => view! {
                    <span class="h-2 w-2 animate-pulse rounded-full bg-amber-500"></span>
                    <span>"Reconnecting…"</span>
                }.into_any(),
                None => view! {
                    <span class="h-2 w-2 rounded-full bg-slate-400"></span>
                    <span>"Static"</span>
                }.into_any(),
            }}
        </span>
    }
}
