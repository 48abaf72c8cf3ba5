//! Tasks completed over time, as an SVG bar chart (no script needed to draw it): one bar per
//! bucket across the job's life, its height the rate in tasks per second, stacked by phase
//! where the points tell phases apart.

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
    let (w, h) = (600.0_f64, 140.0_f64);
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
    // The phases the chart tells apart, in the order they first appear.
    let mut phases: Vec<String> = Vec::new();
    for t in points.iter().flat_map(|p| &p.phases) {
        if !phases.contains(&t.phase) {
            phases.push(t.phase.clone());
        }
    }
    let label = format!(
        "Throughput: {total} tasks in {}, at most {} tasks/s ({} buckets)",
        format::duration(span_ms),
        rounded(peak),
        format::duration(bucket)
    );
    view! {
        <figure>
            <div class="mb-1 text-right text-xs text-slate-500 dark:text-slate-400">{format!("peak {} tasks/s", rounded(peak))}</div>
            // Only bars and the axis are drawn, stretched to the box; the labels are text
            // outside the drawing, so they read the same at any width.
            <svg viewBox=format!("0 0 {w} {h}") preserveAspectRatio="none" class="h-36 w-full" role="img" aria-label=label.clone()>
                <line x1="0" y1=h x2=w y2=h class="stroke-slate-300 dark:stroke-slate-700" stroke-width="1" vector-effect="non-scaling-stroke" />
                {points.into_iter().map(|p| {
                    let x = index(&p) as f64 * bar_w;
                    let when = format!("in {} from {}", format::duration(bucket), format::duration(p.at - start));
                    // One segment per phase, stacked in phase order from the axis up.
                    let parts: Vec<(String, i64)> = if p.phases.is_empty() {
                        vec![(String::new(), p.tasks)]
                    } else {
                        p.phases.iter().map(|t| (t.phase.clone(), t.tasks)).collect()
                    };
                    let mut top = h;
                    parts.into_iter().map(|(phase, tasks)| {
                        let bh = (rate(tasks) / peak) * (h - 4.0);
                        top -= bh;
                        let what = if phase.is_empty() { String::new() } else { format!(" {phase}") };
                        view! {
                            <rect x=format!("{x:.1}") y=format!("{top:.1}") width=format!("{:.1}", (bar_w - 1.0).max(0.5)) height=format!("{bh:.1}") class=phase_fill(&phase)>
                                <title>{format!("{tasks}{what} tasks {when} ({} tasks/s)", rounded(rate(tasks)))}</title>
                            </rect>
                        }
                    }).collect_view()
                }).collect_view()}
            </svg>
            <div class="relative mt-1 h-4 text-xs text-slate-500 dark:text-slate-400">
                <span class="absolute left-0">{from_label.unwrap_or_else(|| "0 s".into())}</span>
                // The end of the span, under the last slot (a short job fills part of the width).
                <span class="absolute" style=format!("right: {:.1}%", 100.0 - (slots as f64 * bar_w / w * 100.0).clamp(25.0, 100.0))>
                    {to_label.unwrap_or_else(|| format::duration(span_ms))}
                </span>
            </div>
            {(!phases.is_empty()).then(|| view! {
                <ul class="mt-1 flex flex-wrap gap-x-4 gap-y-1 text-xs text-slate-600 dark:text-slate-400" aria-hidden="true">
                    {phases.into_iter().map(|phase| view! {
                        <li class="flex items-center gap-1.5">
                            <svg viewBox="0 0 10 10" class="h-2.5 w-2.5"><rect width="10" height="10" class=phase_fill(&phase) /></svg>
                            {phase}
                        </li>
                    }).collect_view()}
                </ul>
            })}
            <figcaption class="sr-only">{label}</figcaption>
        </figure>
    }
    .into_any()
}

/// The fill of a phase's bars (one colour where phases are not told apart).
fn phase_fill(phase: &str) -> &'static str {
    match phase {
        "generate" => "fill-sky-500",
        "map" => "fill-emerald-500",
        "reduce" => "fill-violet-500",
        "" => "fill-emerald-500",
        _ => "fill-amber-500",
    }
}

/// A rate as a whole number, or with one decimal below ten.
fn rounded(r: f64) -> String {
    if r < 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.0}")
    }
}
