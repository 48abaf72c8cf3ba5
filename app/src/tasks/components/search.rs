//! Search every title in the forest on the server; each hit shows its path and opens the
//! task where it lives.

use super::client::INPUT;
use crate::tasks::api::get_search;
use leptos::prelude::*;

#[component]
pub fn SearchBox() -> impl IntoView {
    let text = RwSignal::new(String::new());
    let query = RwSignal::new(String::new());
    // Ask once typing pauses.
    #[cfg(feature = "hydrate")]
    {
        let generation = StoredValue::new(0u64);
        Effect::new(move |_| {
            let q = text.get();
            generation.update_value(|g| *g += 1);
            let mine = generation.get_value();
            // The box may be gone when the pause ends (a hit was opened): then nothing.
            set_timeout(
                move || {
                    if generation.try_get_value() == Some(mine) {
                        let _ = query.try_set(q.trim().to_string());
                    }
                },
                std::time::Duration::from_millis(250),
            );
        });
    }
    let results = Resource::new(
        move || query.get(),
        |q| async move {
            if q.is_empty() {
                None
            } else {
                Some(get_search(q).await)
            }
        },
    );
    view! {
        <div class="relative w-full sm:w-80">
            <input type="search" placeholder="Search all tasks…" aria-label="Search all tasks"
                class=format!("{INPUT} w-full") prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
                on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Escape" { text.set(String::new()); } />
            <Transition fallback=|| ()>
                {move || results.get().flatten().map(|r| view! {
                    <div role="listbox" aria-label="Search results"
                        class="absolute right-0 z-20 mt-1 max-h-96 w-full overflow-auto rounded-lg border border-slate-200 bg-white p-1 shadow-lg sm:w-[28rem] dark:border-slate-700 dark:bg-slate-900">
                        {match r {
                            Ok(found) if found.hits.is_empty() => view! { <p class="p-3 text-sm text-slate-500 dark:text-slate-400">"No task has that in its title."</p> }.into_any(),
                            Ok(found) => view! {
                                {found.hits.into_iter().map(|h| {
                                    let href = match &h.task.parent_id {
                                        Some(p) => format!("/tasks/{p}#{}", h.task.id),
                                        None => format!("/tasks#{}", h.task.id),
                                    };
                                    let mut path: Vec<String> = h.path.iter().map(|c| c.title.clone()).collect();
                                    if h.path_elided > 0 && !path.is_empty() {
                                        path.insert(1, format!("… {} more …", h.path_elided));
                                    }
                                    view! {
                                        <a role="option" aria-selected="false" href=href on:click=move |_| { let _ = text.try_set(String::new()); }
                                            class="block rounded-md px-3 py-2 text-sm hover:bg-slate-100 focus:bg-slate-100 focus:outline-none dark:hover:bg-slate-800 dark:focus:bg-slate-800">
                                            <span class="block font-medium">{h.task.title.clone()}</span>
                                            <span class="block truncate text-xs text-slate-500 dark:text-slate-400">{if path.is_empty() { "A root task".to_string() } else { path.join(" › ") }}</span>
                                        </a>
                                    }
                                }).collect_view()}
                                {found.more.then(|| view! { <p class="px-3 py-2 text-xs text-slate-500 dark:text-slate-400">"More tasks match; type more to narrow it down."</p> })}
                            }.into_any(),
                            Err(e) => view! { <p role="alert" class="p-3 text-sm text-red-700 dark:text-red-400">{e.to_string()}</p> }.into_any(),
                        }}
                    </div>
                })}
            </Transition>
        </div>
    }
}
