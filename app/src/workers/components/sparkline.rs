//! A tiny inline chart of tasks finished per minute.

use leptos::prelude::*;

#[component]
pub fn Sparkline(points: Vec<i64>) -> impl IntoView {
    let (w, h) = (90.0_f64, 22.0_f64);
    let max = points.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = points.len().max(2) as f64 - 1.0;
    let line: String = points
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * w / n,
                h - 1.0 - *v as f64 * (h - 2.0) / max
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let total: i64 = points.iter().sum();
    let last = points.last().copied().unwrap_or(0);
    let label = format!(
        "{total} tasks in the last {} minutes, {last} in the last minute",
        points.len()
    );
    let title = label.clone();
    view! {
        <svg role="img" aria-label=label width=w height=h viewBox=format!("0 0 {w} {h}") class="overflow-visible text-emerald-600 dark:text-emerald-400">
            <title>{title}</title>
            <polyline points=line fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round" />
        </svg>
    }
}
