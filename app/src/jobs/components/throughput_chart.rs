//! Tasks completed over time, as an SVG bar chart (no script needed to draw it): one bar per
//! bucket across the job's life, its height the rate in tasks per second.

use crate::jobs::model::ThroughputPoint;
use crate::ui::format;
use leptos::prelude::*;

/// `start` is where buckets are counted from (a job's start) and `span_ms` how long the chart
/// covers (how long the job has run, or ran). The axis reads "0 s" to the span unless
/// `from_label` and `to_label` say otherwise.
#[component]
pub fn ThroughputChart(
    points: Vec<ThroughputPoint>,
    bucket_ms: i64,
    start: i64,
    span_ms: i64,
    #[prop(optional, into)] from_label: Option<String>,
    #[prop(optional, into)] to_label: Option<String>,
    /// What to say when no task finished in the span.
    #[prop(optional, into)]
    empty: Option<String>,
) -> impl IntoView {
    if points.is_empty() {
        let empty = empty.unwrap_or_else(|| "No tasks finished yet.".into());
        return view! { <p class="text-sm text-slate-500 dark:text-slate-400">{empty}</p> }
            .into_any();
    }
    let (w, h) = (600.0_f64, 160.0_f64);
    let bucket = bucket_ms.max(1);
    let index = |p: &ThroughputPoint| ((p.at - start) / bucket).max(0);
    let last = points.iter().map(index).max().unwrap_or(0);
    let slots = ((span_ms + bucket - 1) / bucket).max(last + 1);
    let rate = |tasks: i64| tasks as f64 * 1000.0 / bucket as f64;
    let peak = points
        .iter()
        .map(|p| rate(p.tasks))
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    // At least ten slots wide, so a job of a few milliseconds does not draw one
    // wall-to-wall bar.
    let bar_w = w / (slots.max(10) as f64);
    let total: i64 = points.iter().map(|p| p.tasks).sum();
    let label = format!(
        "Throughput: {total} tasks in {}, at most {} tasks/s ({} buckets)",
        format::duration(span_ms),
        rounded(peak),
        format::duration(bucket)
    );
    view! {
        <figure>
            <svg viewBox=format!("0 0 {w} {}", h + 20.0) class="h-44 w-full" role="img" aria-label=label.clone()>
                <line x1="0" y1=h x2=w y2=h class="stroke-slate-300 dark:stroke-slate-700" stroke-width="1" />
                {points.into_iter().map(|p| {
                    let x = index(&p) as f64 * bar_w;
                    let bh = (rate(p.tasks) / peak) * (h - 18.0);
                    view! {
                        <rect x=format!("{x:.1}") y=format!("{:.1}", h - bh) width=format!("{:.1}", (bar_w - 1.0).max(0.5)) height=format!("{bh:.1}") class="fill-emerald-500">
                            <title>{format!("{} tasks in {} from {} ({} tasks/s)", p.tasks, format::duration(bucket), format::duration(p.at - start), rounded(rate(p.tasks)))}</title>
                        </rect>
                    }
                }).collect_view()}
                <text x="0" y=h + 16.0 class="fill-slate-500 text-[10px]">{from_label.unwrap_or_else(|| "0 s".into())}</text>
                <text x=w y="8" text-anchor="end" class="fill-slate-500 text-[10px]">{format!("peak {} tasks/s", rounded(peak))}</text>
                <text x=(slots as f64 * bar_w).min(w) y=h + 16.0 text-anchor="end" class="fill-slate-500 text-[10px]">{to_label.unwrap_or_else(|| format::duration(span_ms))}</text>
            </svg>
            <figcaption class="sr-only">{label}</figcaption>
        </figure>
    }
    .into_any()
}

/// A rate as a whole number, or with one decimal below ten.
fn rounded(r: f64) -> String {
    if r < 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.0}")
    }
}
