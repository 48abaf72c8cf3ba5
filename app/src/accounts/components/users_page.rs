//! `/admin/users`: everyone who can sign in, their roles, and the admin's tools: add a
//! person, change a role, reset a password, disable or enable, sign out everywhere.

use super::{BUTTON, CARD, INPUT};
use crate::accounts::api::{
    AdminCreateUser, AdminResetPassword, AdminSetDisabled, AdminSetRole, Logout, admin_list_users,
};
use crate::accounts::model::{Role, User};
use crate::ui::error_view::ErrorBox;
use crate::ui::format::ago;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn UsersPage() -> impl IntoView {
    let create = ServerAction::<AdminCreateUser>::new();
    let set_role = ServerAction::<AdminSetRole>::new();
    let reset = ServerAction::<AdminResetPassword>::new();
    let disable = ServerAction::<AdminSetDisabled>::new();
    let everywhere = ServerAction::<Logout>::new();
    let is_admin = super::use_can(Role::Admin);
    super::reload_after(everywhere.value().into(), || "/login".to_string());
    let users = Resource::new(
        move || {
            (
                create.version().get(),
                set_role.version().get(),
                reset.version().get(),
                disable.version().get(),
            )
        },
        |_| admin_list_users(),
    );
    let error = move || {
        [
            create.value().get().and_then(|r| r.err()),
            set_role.value().get().and_then(|r| r.err()),
            reset.value().get().and_then(|r| r.err()),
            disable.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .next()
    };
    view! {
        <Title text="Users" />
        <div class="mb-4 flex flex-wrap items-end justify-between gap-3">
            <div>
                <h1 class="text-2xl font-semibold">"Users"</h1>
                <p class="text-sm text-slate-600 dark:text-slate-400">
                    "Viewers read everything; editors also change tasks and jobs; admins also manage people, tokens and workers."
                </p>
            </div>
            <ActionForm action=everywhere>
                <input type="hidden" name="everywhere" value="true" />
                <button type="submit" class="rounded-md border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800">
                    "Sign me out everywhere"
                </button>
            </ActionForm>
        </div>
        {move || error().map(|e| view! { <div class="mb-3"><ErrorBox error=e /></div> })}
        // `relative`: the screen-reader labels in the cells are positioned absolutely and would
        // otherwise widen the page past the scrolling box.
        <div tabindex="0" role="region" aria-label="People" class="relative overflow-x-auto rounded-lg focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 border border-slate-200 bg-white shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <table class="min-w-full text-sm">
                <thead class="bg-slate-50 text-left text-xs uppercase tracking-wide text-slate-500 dark:bg-slate-800/50 dark:text-slate-400">
                    <tr>
                        <th scope="col" class="px-3 py-2">"User"</th>
                        <th scope="col" class="px-3 py-2">"Role"</th>
                        <th scope="col" class="px-3 py-2">"Status"</th>
                        <th scope="col" class="px-3 py-2">"Added"</th>
                        <th scope="col" class="px-3 py-2">"New password"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    <Suspense fallback=|| view! { <tr><td class="px-3 py-3" colspan="5">"Loading…"</td></tr> }>
                        {move || Suspend::new(async move {
                            match users.await {
                                Ok(list) => list
                                    .into_iter()
                                    .map(|u| view! { <UserRow user=u set_role reset disable /> })
                                    .collect_view()
                                    .into_any(),
                                Err(e) => view! { <tr><td colspan="5" class="px-3 py-3"><ErrorBox error=e /></td></tr> }.into_any(),
                            }
                        })}
                    </Suspense>
                </tbody>
            </table>
        </div>
        <Transition fallback=|| ()>
            {move || is_admin.get().then(|| view! {
        <ActionForm action=create attr:class=format!("{CARD} mt-6 max-w-xl") attr:aria-label="Add a user">
            <h2 class="text-lg font-semibold">"Add a user"</h2>
            <div class="mt-3 grid gap-3 sm:grid-cols-3">
                <label class="block text-sm">
                    <span class="font-medium">"Username"</span>
                    <input name="username" required class=INPUT />
                </label>
                <label class="block text-sm">
                    <span class="font-medium">"Password"</span>
                    <input type="password" name="password" minlength="10" autocomplete="new-password" required class=INPUT />
                </label>
                <label class="block text-sm">
                    <span class="font-medium">"Role"</span>
                    <select name="role" class=INPUT>
                        <option value="viewer">"viewer"</option>
                        <option value="editor" selected>"editor"</option>
                        <option value="admin">"admin"</option>
                    </select>
                </label>
            </div>
            <button type="submit" class=format!("{BUTTON} mt-3")>"Add user"</button>
        </ActionForm>
            })}
        </Transition>
    }
}

#[component]
fn UserRow(
    user: User,
    set_role: ServerAction<AdminSetRole>,
    reset: ServerAction<AdminResetPassword>,
    disable: ServerAction<AdminSetDisabled>,
) -> impl IntoView {
    let name = user.username.clone();
    let role_id = format!("role-{name}");
    let pw_id = format!("pw-{name}");
    let (n1, n2, n3, n4, n5, n6, n7) = (
        name.clone(),
        name.clone(),
        name.clone(),
        name.clone(),
        name.clone(),
        name.clone(),
        name.clone(),
    );
    let current = user.role;
    let disabled = user.disabled;
    let sessions = user.sessions;
    let added = ago(user.created_at, crate::now_millis());
    view! {
        <tr data-user=n1>
            <td class="px-3 py-2 font-medium">{n2}</td>
            <td class="px-3 py-2">
                <ActionForm action=set_role attr:class="flex items-center gap-2">
                    <input type="hidden" name="username" value=n3 />
                    <label class="sr-only" for=role_id.clone()>"Role of "{n4}</label>
                    <select id=role_id name="role" class="rounded-md border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-950">
                        {Role::ALL
                            .into_iter()
                            .map(|r| view! { <option value=r.as_str() selected=r == current>{r.as_str()}</option> })
                            .collect_view()}
                    </select>
                    <button type="submit" class="rounded-md border border-slate-300 px-2 py-1 text-xs hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800">"Set"</button>
                </ActionForm>
            </td>
            <td class="px-3 py-2">
                <ActionForm action=disable attr:class="flex items-center gap-2">
                    <input type="hidden" name="username" value=n5 />
                    <input type="hidden" name="disabled" value=(!disabled).to_string() />
                    <span class=if disabled { "text-rose-600 dark:text-rose-400" } else { "text-emerald-700 dark:text-emerald-400" }>
                        {if disabled { "disabled".to_string() } else { format!("active · {sessions} session(s)") }}
                    </span>
                    <button type="submit" class="rounded-md border border-slate-300 px-2 py-1 text-xs hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800">
                        {if disabled { "Enable" } else { "Disable" }}
                    </button>
                </ActionForm>
            </td>
            <td class="px-3 py-2 text-slate-500 dark:text-slate-400">{added}</td>
            <td class="px-3 py-2">
                <ActionForm action=reset attr:class="flex items-center gap-2">
                    <input type="hidden" name="username" value=n6 />
                    <label class="sr-only" for=pw_id.clone()>"New password for "{n7}</label>
                    <input id=pw_id type="password" name="password" minlength="10" autocomplete="new-password" required class="w-36 rounded-md border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-950" />
                    <button type="submit" class="rounded-md border border-slate-300 px-2 py-1 text-xs hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800">"Reset"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
