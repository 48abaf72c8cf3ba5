//! Coloured badges for worker health, process status and task state.

use crate::workers::fleet::{ProcessStatus, StepState};
use crate::workers::model::Health;
use leptos::prelude::*;

const GREEN: &str = "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300";
const AMBER: &str = "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300";
const RED: &str = "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300";
const GREY: &str = "bg-slate-200 text-slate-700 dark:bg-slate-800 dark:text-slate-300";
const BLUE: &str = "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-300";

fn badge(text: &'static str, class: &'static str, testid: &'static str) -> impl IntoView {
    view! {
        <span data-testid=testid class=format!("inline-block rounded-full px-2 py-0.5 text-xs font-medium {class}")>
            {text}
        </span>
    }
}

pub fn health_badge(h: Health) -> impl IntoView {
    let class = match h {
        Health::Healthy => GREEN,
        Health::Late => AMBER,
        Health::Dead => RED,
        Health::Stopped => GREY,
    };
    badge(h.as_str(), class, "health")
}

pub fn process_badge(s: ProcessStatus) -> impl IntoView {
    let class = match s {
        ProcessStatus::Running => BLUE,
        ProcessStatus::Success => GREEN,
        ProcessStatus::Error => RED,
    };
    badge(s.as_str(), class, "process-status")
}

pub fn step_badge(s: StepState) -> impl IntoView {
    let class = match s {
        StepState::Pending => GREY,
        StepState::Running => BLUE,
        StepState::Success => GREEN,
        StepState::Error => RED,
    };
    badge(s.as_str(), class, "task-state")
}
