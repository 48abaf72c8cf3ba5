//! The signed-in person in the header: name, role, admin links, sign out.

use super::use_me;
use crate::accounts::api::Logout;
use crate::accounts::model::Role;
use leptos::form::ActionForm;
use leptos::prelude::*;

#[component]
pub fn UserMenu() -> impl IntoView {
    let me = use_me();
    let logout = ServerAction::<Logout>::new();
    super::reload_after(logout.value().into(), || "/login".to_string());
    view! {
        {move || match me.get() {
            None => view! {
                <a href="/login" class="rounded-md px-3 py-1.5 text-sm font-medium text-emerald-700 hover:bg-emerald-50 dark:text-emerald-300 dark:hover:bg-emerald-950">"Sign in"</a>
            }.into_any(),
            Some(m) => {
                let admin = m.can(Role::Admin);
                view! {
                    <div class="flex items-center gap-2 text-sm">
                        {admin.then(|| view! {
                            <a href="/admin/users" class="rounded-md px-2 py-1 text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800">"Users"</a>
                            <a href="/admin/tokens" class="rounded-md px-2 py-1 text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800">"Tokens"</a>
                            <a href="/admin/audit" class="rounded-md px-2 py-1 text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800">"Audit"</a>
                        })}
                        <span class="hidden sm:inline" data-testid="me">
                            <span class="font-medium">{m.name.clone()}</span>
                            <span class="ml-1 rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600 dark:bg-slate-800 dark:text-slate-300">{m.role.as_str()}</span>
                        </span>
                        {m.person.then(|| view! {
                            <ActionForm action=logout>
                                <button type="submit" class="rounded-md px-2 py-1 text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800">"Sign out"</button>
                            </ActionForm>
                        })}
                    </div>
                }.into_any()
            }
        }}
    }
}
