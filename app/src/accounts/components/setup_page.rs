//! `/setup/:token`: the one-time link printed at first start creates the first admin.

use super::{BUTTON, CARD, INPUT};
use crate::accounts::api::{SetupAdmin, get_setup_needed};
use crate::ui::error_view::ErrorBox;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn SetupPage() -> impl IntoView {
    let action = ServerAction::<SetupAdmin>::new();
    let token = move || {
        use_params_map()
            .with(|p| p.get("token"))
            .unwrap_or_default()
    };
    let pending = action.pending();
    super::reload_after(action.value().into(), || "/".to_string());
    // A link used already (or any link once an account exists) says so at once.
    let needed = Resource::new(|| (), |_| get_setup_needed());
    let done = move || matches!(needed.get(), Some(Ok(false)));
    view! {
        <Title text="Set up" />
        <div class="mx-auto mt-10 max-w-sm">
            <Transition fallback=|| ()>
            {move || done().then(|| view! {
                <div class=CARD>
                    <h1 class="text-xl font-semibold">"Orchard is already set up"</h1>
                    <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
                        "This setup link has been used. Sign in with your account, or ask an admin for one."
                    </p>
                    <a href="/login" class=format!("{BUTTON} mt-4 inline-block text-center")>"Sign in"</a>
                </div>
            })}
            // Inside the same transition, so the page the server sends already hides it.
            <div class:hidden=done>
            <ActionForm action=action attr:class=CARD attr:aria-label="Create the first admin">
                <h1 class="text-xl font-semibold">"Welcome to Orchard"</h1>
                <p class="mb-4 mt-1 text-sm text-slate-600 dark:text-slate-400">
                    "Create the first admin account. This link works once."
                </p>
                <input type="hidden" name="token" value=token />
                <label class="block text-sm">
                    <span class="font-medium">"Username"</span>
                    <input name="username" autocomplete="username" required autofocus class=INPUT />
                </label>
                <label class="mt-3 block text-sm">
                    <span class="font-medium">"Password"</span>
                    <input type="password" name="password" autocomplete="new-password" minlength="10" required class=INPUT />
                    <span class="mt-1 block text-xs text-slate-500 dark:text-slate-400">"at least 10 characters"</span>
                </label>
                <div class="mt-4">
                    <button type="submit" class=BUTTON disabled=move || pending.get()>
                        {move || if pending.get() { "Creating…" } else { "Create admin and sign in" }}
                    </button>
                </div>
                {move || action.value().get().and_then(|r| r.err()).map(|e| view! { <div class="mt-3"><ErrorBox error=e /></div> })}
            </ActionForm>
            </div>
            </Transition>
        </div>
    }
}
