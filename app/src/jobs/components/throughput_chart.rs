//! Tasks completed over time, as an SVG bar chart (no script needed to draw it).

use crate::jobs::model::ThroughputPoint;
use leptos::prelude::*;

#[component]
pub fn ThroughputChart(points: Vec<ThroughputPoint>) -> impl IntoView {
    if points.is_empty() {
        return view! { <p class="text-sm text-slate-500 dark:text-slate-400">"No tasks finished yet."</p> }
            .into_any();
    }
    let (w, h) = (600.0_f64, 160.0_f64);
    let first = points.first().map(|p| p.at).unwrap_or_default();
    let last = points.last().map(|p| p.at).unwrap_or_default();
    let step = if points.len() > 1 {
        points
            .windows(2)
            .map(|p| p[1].at - p[0].at)
            .min()
            .unwrap_or(1000)
            .max(1)
    } else {
        1000
    };
    let slots = ((last - first) / step + 1).max(1) as f64;
    let max = points.iter().map(|p| p.tasks).max().unwrap_or(1).max(1) as f64;
    // At least 30 slots wide, so a short job does not draw one wall-to-wall bar.
    let bar_w = (w / slots.max(30.0)).max(1.0);
    let total: i64 = points.iter().map(|p| p.tasks).sum();
    let label = format!(
        "Throughput: {total} tasks over {} buckets of {} s, peak {} per bucket",
        points.len(),
        step / 1000,
        max as i64
    );
    view! {
        <figure>
            <svg viewBox=format!("0 0 {w} {}", h + 20.0) class="h-44 w-full" role="img" aria-label=label.clone()>
                <line x1="0" y1=h x2=w y2=h class="stroke-slate-300 dark:stroke-slate-700" stroke-width="1" />
                {points.into_iter().map(|p| {
                    let x = ((p.at - first) / step) as f64 * bar_w;
                    let bh = (p.tasks as f64 / max) * (h - 10.0);
                    view! {
                        <rect x=format!("{x:.1}") y=format!("{:.1}", h - bh) width=format!("{:.1}", (bar_w - 1.0).max(0.5)) height=format!("{bh:.1}") class="fill-emerald-500">
                            <title>{format!("{} tasks", p.tasks)}</title>
                        </rect>
                    }
                }).collect_view()}
                <text x="0" y=h + 16.0 class="fill-slate-500 text-[10px]">"start"</text>
                <text x=w y=h + 16.0 text-anchor="end" class="fill-slate-500 text-[10px]">{format!("peak {} / {} s", max as i64, step / 1000)}</text>
            </svg>
            <figcaption class="sr-only">{label}</figcaption>
        </figure>
    }
    .into_any()
}
