//! `/admin/tokens`: API tokens for workers, pipelines and scripts, issued and revoked from
//! the browser. A new token is shown once, right after it is made; only its hash is kept.

use super::{BUTTON, CARD, INPUT};
use crate::accounts::api::{AdminCreateToken, AdminRevokeToken, admin_list_tokens};
use crate::accounts::model::TokenInfo;
use crate::ui::error_view::ErrorBox;
use crate::ui::format::ago;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

const SCOPES: [(&str, &str); 4] = [
    ("worker", "worker — run jobs (orchard worker)"),
    ("wpipe", "wpipe — report pipelines (wpipe clients)"),
    ("read", "read — read everything, as a viewer"),
    ("write", "write — change tasks and jobs, as an editor"),
];

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<AdminCreateToken>::new();
    let revoke = ServerAction::<AdminRevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| admin_list_tokens(),
    );
    let pending = create.pending();
    view! {
        <Title text="API tokens" />
        <h1 class="text-2xl font-bold tracking-tight">"API tokens"</h1>
        <p class="mb-4 mt-1 text-sm text-slate-600 dark:text-slate-400">
            "Tokens let workers, pipelines and scripts call Orchard: "
            <code class="rounded bg-slate-100 px-1 dark:bg-slate-800">"Authorization: Bearer <token>"</code>
            ". Give each machine or script its own, with only the scopes it needs; revoking one stops it within a second."
        </p>
        {move || create.value().get().map(|r| match r {
            Ok(token) => view! {
                <div role="status" class="mb-4 rounded-lg border border-emerald-300 bg-emerald-50 p-4 text-sm dark:border-emerald-800 dark:bg-emerald-950">
                    <p class="font-medium text-emerald-900 dark:text-emerald-200">"Token created. Copy it now: it is not shown again."</p>
                    <input readonly aria-label="The new token" value=token.clone()
                        class="mt-2 w-full rounded-md border border-emerald-300 bg-white px-2 py-1.5 font-mono text-xs dark:border-emerald-800 dark:bg-slate-900"
                        data-testid="new-token" />
                    <p class="mt-2 text-emerald-900 dark:text-emerald-200">
                        "Start a worker with it from a file: "
                        <code class="rounded bg-white px-1 dark:bg-slate-900">"orchard worker --server URL --token-file ./orchard.token"</code>
                    </p>
                </div>
            }.into_any(),
            Err(e) => view! { <div class="mb-4"><ErrorBox error=e /></div> }.into_any(),
        })}
        <div class="grid grid-cols-1 gap-6 lg:grid-cols-3">
            <ActionForm action=create attr:class=format!("{CARD} lg:col-span-1") attr:aria-label="New token">
                <h2 class="text-lg font-semibold">"New token"</h2>
                <label class="mt-3 block text-sm">
                    <span class="font-medium">"Name"</span>
                    <input name="name" required maxlength="100" placeholder="build-server-7" class=INPUT />
                </label>
                <fieldset class="mt-3 text-sm">
                    <legend class="font-medium">"Scopes"</legend>
                    {SCOPES.iter().map(|(scope, label)| view! {
                        <label class="mt-1 flex items-center gap-2">
                            <input type="checkbox" name=*scope value="on" checked=*scope == "worker" class="h-4 w-4 accent-emerald-600" />
                            <span>{*label}</span>
                        </label>
                    }).collect_view()}
                </fieldset>
                <label class="mt-3 block text-sm">
                    <span class="font-medium">"Belongs to (optional)"</span>
                    <input name="user" placeholder="a username" class=INPUT />
                    <span class="mt-1 block text-xs text-slate-500 dark:text-slate-400">"A person's token never does more than their role, and stops with them."</span>
                </label>
                <div class="mt-4">
                    <button type="submit" class=BUTTON disabled=move || pending.get()>
                        {move || if pending.get() { "Creating…" } else { "Create token" }}
                    </button>
                </div>
            </ActionForm>
            <div class="min-w-0 lg:col-span-2">
                {move || revoke.value().get().and_then(|r| r.err()).map(|e| view! { <div class="mb-3"><ErrorBox error=e /></div> })}
                <Transition fallback=|| view! { <p class="text-sm text-slate-500 dark:text-slate-400" role="status">"Loading tokens…"</p> }>
                    {move || tokens.get().map(|r| match r {
                        Ok(list) => view! { <TokenTable list revoke /> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                    })}
                </Transition>
            </div>
        </div>
    }
}

#[component]
fn TokenTable(list: Vec<TokenInfo>, revoke: ServerAction<AdminRevokeToken>) -> impl IntoView {
    if list.is_empty() {
        return view! {
            <p class="rounded-lg border border-dashed border-slate-300 p-6 text-center text-sm text-slate-500 dark:text-slate-400 dark:border-slate-700">
                "No tokens yet. Create one for each worker machine or script."
            </p>
        }
        .into_any();
    }
    let now = crate::now_millis();
    view! {
        <div tabindex="0" role="region" aria-label="Tokens" class="relative overflow-x-auto rounded-lg focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 border border-slate-200 bg-white shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <table class="min-w-full text-sm">
                <thead class="bg-slate-50 text-left text-xs uppercase tracking-wide text-slate-500 dark:bg-slate-800/50 dark:text-slate-400">
                    <tr>
                        <th scope="col" class="px-3 py-2">"Name"</th>
                        <th scope="col" class="px-3 py-2">"Scopes"</th>
                        <th scope="col" class="px-3 py-2">"Owner"</th>
                        <th scope="col" class="px-3 py-2">"Created"</th>
                        <th scope="col" class="px-3 py-2">"Last used"</th>
                        <th scope="col" class="px-3 py-2"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {list.into_iter().map(|t| {
                        let revoked = t.revoked_at.is_some();
                        let name = t.name.clone();
                        view! {
                            <tr data-token=t.name.clone() class=if revoked { "text-slate-400 line-through" } else { "" }>
                                <td class="px-3 py-2 font-medium">{t.name.clone()}</td>
                                <td class="px-3 py-2">{t.scopes.clone()}</td>
                                <td class="px-3 py-2">{t.username.clone().unwrap_or_else(|| "—".into())}</td>
                                <td class="px-3 py-2 text-slate-500 dark:text-slate-400">{ago(t.created_at, now)}</td>
                                <td class="px-3 py-2 text-slate-500 dark:text-slate-400">{t.last_used_at.map(|at| ago(at, now)).unwrap_or_else(|| "never".into())}</td>
                                <td class="px-3 py-2 text-right">
                                    {if revoked {
                                        view! { <span class="text-xs no-underline">"revoked"</span> }.into_any()
                                    } else {
                                        view! {
                                            <ActionForm action=revoke>
                                                <input type="hidden" name="name" value=name.clone() />
                                                <button type="submit" aria-label=format!("Revoke {name}")
                                                    class="rounded-md border border-red-300 px-2 py-1 text-xs text-red-700 hover:bg-red-50 dark:border-red-800 dark:text-red-300 dark:hover:bg-red-950">
                                                    "Revoke"
                                                </button>
                                            </ActionForm>
                                        }.into_any()
                                    }}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
