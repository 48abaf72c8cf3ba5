//! A coloured badge for a job's state.

use crate::jobs::model::JobState;
use leptos::prelude::*;

#[component]
pub fn StateBadge(state: JobState) -> impl IntoView {
    let class = match state {
        JobState::Queued => "bg-slate-200 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
        JobState::Running => "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-300",
        JobState::Succeeded => {
            "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300"
        }
        JobState::Failed => "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300",
        JobState::Cancelled => "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300",
    };
    view! {
        <span data-testid="job-state" class=format!("rounded-full px-2 py-0.5 text-xs font-medium {class}")>
            {state.as_str()}
        </span>
    }
}
