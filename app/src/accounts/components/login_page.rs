//! `/login`: username and password; works without JavaScript.

use super::{BUTTON, CARD, INPUT};
use crate::accounts::api::Login;
use crate::ui::error_view::ErrorBox;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let next = move || use_query_map().with(|q| q.get("next")).unwrap_or_default();
    let pending = action.pending();
    super::reload_after(action.value().into(), move || {
        crate::accounts::api::safe_next(Some(&next()).filter(|n| !n.is_empty()).map(|n| n.as_str()))
    });
    view! {
        <Title text="Sign in" />
        <div class="mx-auto mt-10 max-w-sm">
            <ActionForm action=action attr:class=CARD attr:aria-label="Sign in">
                <h1 class="mb-4 text-xl font-semibold">"Sign in to Orchard"</h1>
                <input type="hidden" name="next" value=next />
                <label class="block text-sm">
                    <span class="font-medium">"Username"</span>
                    <input name="username" autocomplete="username" required autofocus class=INPUT />
                </label>
                <label class="mt-3 block text-sm">
                    <span class="font-medium">"Password"</span>
                    <input type="password" name="password" autocomplete="current-password" required class=INPUT />
                </label>
                <div class="mt-4 flex items-center gap-3">
                    <button type="submit" class=BUTTON disabled=move || pending.get()>
                        {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </div>
                {move || action.value().get().and_then(|r| r.err()).map(|e| view! { <div class="mt-3"><ErrorBox error=e /></div> })}
                <p class="mt-4 text-xs text-slate-500 dark:text-slate-400">
                    "First run? The server printed a one-time setup link in its console; open it to create the first admin. An admin can add more people under Users."
                </p>
            </ActionForm>
        </div>
    }
}
