//! Honest empty states for sections that are not built yet.

use leptos::prelude::*;
use leptos_meta::Title;

/// `/tasks`: the task trees and board are not available yet; says so plainly.
#[component]
pub fn TasksPage() -> impl IntoView {
    view! {
        <Title text="Tasks" />
        <h1 class="text-2xl font-bold tracking-tight">"Tasks"</h1>
        <div class="mt-6 rounded-lg border border-dashed border-slate-300 p-10 text-center dark:border-slate-700">
            <p class="font-medium">"Task trees are not available in this version yet."</p>
            <p class="mt-2 text-sm text-slate-600 dark:text-slate-400">
                "The outliner, the status board and tree import/export will appear here."
            </p>
        </div>
    }
}
