//! Pages and pieces for accounts: sign-in, first-run setup, the user menu, and the admin's
//! users and audit pages. `provide_me` makes the signed-in person known to every component,
//! which hides what their role cannot do (the server refuses it either way).

pub mod audit_page;
pub mod login_page;
pub mod setup_page;
pub mod tokens_page;
pub mod user_menu;
pub mod users_page;

use super::api::get_me;
use super::model::{Me, Role};
use leptos::prelude::*;

pub(crate) const INPUT: &str = "mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-1.5 shadow-sm focus:border-emerald-500 focus:outline-none focus:ring-2 focus:ring-emerald-500/30 dark:border-slate-700 dark:bg-slate-950";
pub(crate) const BUTTON: &str = "rounded-md bg-emerald-700 px-4 py-2 text-sm font-medium text-white hover:bg-emerald-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-400 disabled:opacity-60";
pub(crate) const CARD: &str = "rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900";

/// Who is signed in, loaded once per page.
#[derive(Clone, Copy)]
pub struct MeResource(pub Resource<Option<Me>>);

pub fn provide_me() {
    let me = Resource::new_blocking(|| (), |_| async { get_me().await.ok().flatten() });
    provide_context(MeResource(me));
}

/// The signed-in person, if any (and once known).
pub fn use_me() -> Signal<Option<Me>> {
    let r = use_context::<MeResource>();
    Signal::derive(move || r.and_then(|r| r.0.get()).flatten())
}

/// Whether the signed-in person's role includes `role`.
pub fn use_can(role: Role) -> Signal<bool> {
    let me = use_me();
    Signal::derive(move || me.get().is_some_and(|m| m.can(role)))
}

/// After signing in or out, load the next page afresh: who is signed in, the live stream
/// and every resource start over with the new session.
pub fn reload_after<T, E>(value: Signal<Option<Result<T, E>>>, to: impl Fn() -> String + 'static)
where
    T: Send + Sync + 'static,
    E: Send + Sync + 'static,
{
    Effect::new(move |_| {
        if value.with(|v| matches!(v, Some(Ok(_)))) {
            #[cfg(feature = "hydrate")]
            if let Some(w) = web_sys::window() {
                let _ = w.location().set_href(&to());
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = to();
        }
    });
}
