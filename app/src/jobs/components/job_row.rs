//! One job in the list: kind, state, progress, age.

use super::state_badge::StateBadge;
use crate::jobs::model::Job;
use crate::ui::format::ago;
use crate::ui::progress::ProgressBar;
use leptos::prelude::*;

#[component]
pub fn JobRow(job: Job) -> impl IntoView {
    let fraction = job.progress.fraction();
    let now = crate::now_millis();
    let summary = match (job.params.get("files"), job.params.get("entries")) {
        (Some(f), Some(c)) => format!("{f} files × {c} numbers"),
        _ => job
            .params
            .get("tasks")
            .map(|n| format!("{n} tasks"))
            .unwrap_or_default(),
    };
    view! {
        <li data-testid="job-row">
            <a
                href=format!("/jobs/{}", job.id)
                class="block px-4 py-3 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-emerald-500 dark:hover:bg-slate-800/60"
            >
                <div class="flex flex-wrap items-center gap-x-3 gap-y-1">
                    <span class="font-medium">{job.kind.label()}</span>
                    <StateBadge state=job.state />
                    <span class="text-sm text-slate-500 dark:text-slate-400">{summary}</span>
                    <span class="ml-auto text-xs text-slate-500 dark:text-slate-400">{ago(job.created_at, now)}</span>
                </div>
                <div class="mt-2 flex items-center gap-3">
                    <ProgressBar fraction=fraction label=format!("Progress of job {}", job.id) />
                    <span class="w-28 shrink-0 text-right text-xs tabular-nums text-slate-600 dark:text-slate-400">
                        {job.progress.done} " / " {job.progress.total} " tasks"
                    </span>
                </div>
            </a>
        </li>
    }
}
