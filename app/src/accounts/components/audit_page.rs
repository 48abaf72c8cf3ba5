//! `/admin/audit`: who changed what and when, newest first, filtered by person or action.

use crate::accounts::api::admin_list_audit;
use crate::accounts::model::AuditFilter;
use crate::ui::error_view::ErrorBox;
use crate::ui::format::ago;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

const PAGE: i64 = 100;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        query.with(|q| AuditFilter {
            actor: q.get("actor").filter(|s| !s.is_empty()),
            action: q.get("action").filter(|s| !s.is_empty()),
            before: q.get("before").filter(|s| !s.is_empty()),
            limit: Some(PAGE),
        })
    };
    let entries = Resource::new(filter, admin_list_audit);
    let input = "rounded-md border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-950";
    view! {
        <Title text="Audit log" />
        <h1 class="text-2xl font-semibold">"Audit log"</h1>
        <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
            "Every change made through the pages, the API or the command line, with who made it and how the server answered. Worker and pipeline telemetry is kept in the job and fleet tables instead."
        </p>
        <form method="get" action="/admin/audit" class="mb-4 flex flex-wrap items-end gap-3 text-sm" aria-label="Filter">
            <label>"Who " <input name="actor" class=input value=move || filter().actor.unwrap_or_default() /></label>
            <label>"Action contains " <input name="action" class=input placeholder="jobs, DELETE, user…" value=move || filter().action.unwrap_or_default() /></label>
            <button type="submit" class="rounded-md border border-slate-300 px-3 py-1 hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800">"Filter"</button>
            <a href="/admin/audit" class="text-emerald-700 underline dark:text-emerald-400">"Clear"</a>
        </form>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                    Ok(list) => {
                        let older = (list.len() as i64 == PAGE).then(|| {
                            let f = filter();
                            format!(
                                "/admin/audit?actor={}&action={}&before={}",
                                f.actor.unwrap_or_default(),
                                f.action.unwrap_or_default(),
                                list.last().map(|e| e.id.clone()).unwrap_or_default()
                            )
                        });
                        view! {
                            <div tabindex="0" role="region" aria-label="Audit log" class="relative overflow-x-auto rounded-lg focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 border border-slate-200 bg-white shadow-sm dark:border-slate-800 dark:bg-slate-900">
                                <table class="min-w-full text-sm">
                                    <thead class="bg-slate-50 text-left text-xs uppercase tracking-wide text-slate-500 dark:bg-slate-800/50 dark:text-slate-400">
                                        <tr>
                                            <th scope="col" class="px-3 py-2">"When"</th>
                                            <th scope="col" class="px-3 py-2">"Who"</th>
                                            <th scope="col" class="px-3 py-2">"Action"</th>
                                            <th scope="col" class="px-3 py-2">"Target"</th>
                                            <th scope="col" class="px-3 py-2">"Answer"</th>
                                        </tr>
                                    </thead>
                                    <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                                        {list.is_empty().then(|| view! { <tr><td colspan="5" class="px-3 py-4 text-slate-500 dark:text-slate-400">"Nothing recorded for this filter."</td></tr> })}
                                        {list.into_iter().map(|e| {
                                            let ok = e.status < 400;
                                            view! {
                                                <tr>
                                                    <td class="px-3 py-2 whitespace-nowrap text-slate-500 dark:text-slate-400" title=e.request_id.clone()>{ago(e.at, crate::now_millis())}</td>
                                                    <td class="px-3 py-2"><span class="font-medium">{e.actor}</span><span class="ml-1 text-xs text-slate-500 dark:text-slate-400">{e.role}</span></td>
                                                    <td class="px-3 py-2 font-mono text-xs">{e.action}</td>
                                                    <td class="px-3 py-2 font-mono text-xs">{e.target}</td>
                                                    <td class=if ok { "px-3 py-2 text-emerald-700 dark:text-emerald-400" } else { "px-3 py-2 text-rose-600 dark:text-rose-400" }>{e.status}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            {older.map(|href| view! { <a href=href class="mt-3 inline-block text-emerald-700 underline dark:text-emerald-400">"Older entries →"</a> })}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
