//! A workflow run drawn as a graph, layered left to right: a step sits one layer right of
//! the furthest step it waits on, each coloured and labelled by its state, a map shown as
//! one node with the count of its runs. Every node is a link that opens the step's panel
//! (`?step=id`), so the graph is reachable by keyboard; the edges are a picture only.

use shared::jobs::workflow::{Checked, StepState, StepView};
use std::collections::HashMap;

use leptos::prelude::*;

const NODE_W: f64 = 168.0;
const NODE_H: f64 = 52.0;
const GAP_X: f64 = 56.0;
const GAP_Y: f64 = 14.0;

/// A step placed on the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub handler: String,
    pub is_map: bool,
    pub deps: Vec<String>,
    pub x: f64,
    pub y: f64,
}

/// The graph's nodes and its size in pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub nodes: Vec<Node>,
    pub width: f64,
    pub height: f64,
}

/// Places each step one layer right of the furthest step it waits on, in definition order
/// within a layer.
pub fn layout(c: &Checked) -> Layout {
    let mut layer: HashMap<&str, usize> = HashMap::new();
    let mut rows: Vec<usize> = Vec::new();
    let mut nodes = Vec::with_capacity(c.steps.len());
    for s in &c.steps {
        let l = s
            .deps
            .iter()
            .filter_map(|d| layer.get(d.as_str()))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        layer.insert(s.def.id.as_str(), l);
        if rows.len() <= l {
            rows.resize(l + 1, 0);
        }
        let row = rows[l];
        rows[l] += 1;
        nodes.push(Node {
            id: s.def.id.clone(),
            handler: s.def.handler.clone(),
            is_map: s.map_over.is_some(),
            deps: s.deps.clone(),
            x: l as f64 * (NODE_W + GAP_X),
            y: row as f64 * (NODE_H + GAP_Y),
        });
    }
    let layers = rows.len().max(1) as f64;
    let tallest = rows.iter().copied().max().unwrap_or(1) as f64;
    Layout {
        nodes,
        width: layers * NODE_W + (layers - 1.0) * GAP_X,
        height: tallest * NODE_H + (tallest - 1.0) * GAP_Y,
    }
}

/// Where a node stands: its state and, for a map, how many of its runs are done.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeStatus {
    pub state: StepState,
    pub done: usize,
    pub runs: usize,
}

/// The runs a map step added (`id[0]`, `id[1]`, …) among a run's steps.
pub fn children<'a>(id: &str, steps: &'a [StepView]) -> impl Iterator<Item = &'a StepView> {
    let prefix = format!("{id}[");
    steps.iter().filter(move |s| s.id.starts_with(&prefix))
}

/// A node's status from the run's steps: a plain step's own; a map's from its runs once it
/// has added them.
pub fn status(node: &Node, steps: &[StepView]) -> NodeStatus {
    let own = steps
        .iter()
        .find(|s| s.id == node.id)
        .map_or(StepState::Waiting, |s| s.state);
    if !node.is_map {
        return NodeStatus {
            state: own,
            done: 0,
            runs: 0,
        };
    }
    let kids: Vec<StepState> = children(&node.id, steps).map(|s| s.state).collect();
    let done = kids.iter().filter(|s| **s == StepState::Succeeded).count();
    let any = |x: StepState| kids.contains(&x);
    let state = if kids.is_empty() || matches!(own, StepState::Failed | StepState::Cancelled) {
        own
    } else if any(StepState::Failed) {
        StepState::Failed
    } else if any(StepState::Running) {
        StepState::Running
    } else if any(StepState::Ready) {
        StepState::Ready
    } else if done == kids.len() {
        StepState::Succeeded
    } else if any(StepState::Cancelled) {
        StepState::Cancelled
    } else {
        StepState::Waiting
    };
    NodeStatus {
        state,
        done,
        runs: kids.len(),
    }
}

/// The colours of a state, readable in both themes.
pub fn state_class(state: StepState) -> &'static str {
    match state {
        StepState::Waiting => {
            "border-slate-300 bg-white text-slate-700 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-300"
        }
        StepState::Ready => {
            "border-amber-400 bg-amber-50 text-amber-900 dark:border-amber-600 dark:bg-amber-950 dark:text-amber-200"
        }
        StepState::Running => {
            "border-sky-500 bg-sky-50 text-sky-900 dark:border-sky-500 dark:bg-sky-950 dark:text-sky-200"
        }
        StepState::Succeeded => {
            "border-emerald-500 bg-emerald-50 text-emerald-900 dark:border-emerald-600 dark:bg-emerald-950 dark:text-emerald-200"
        }
        StepState::Failed => {
            "border-red-500 bg-red-50 text-red-900 dark:border-red-600 dark:bg-red-950 dark:text-red-200"
        }
        StepState::Cancelled => {
            "border-slate-400 bg-slate-100 text-slate-700 dark:border-slate-500 dark:bg-slate-800 dark:text-slate-300"
        }
    }
}

/// A step id as it stands in a URL: a map run's brackets percent-encoded (ids are otherwise
/// `[A-Za-z0-9_-]`).
pub fn encode_step(step: &str) -> String {
    step.replace('[', "%5B").replace(']', "%5D")
}

/// A link to a step's panel on the run's page.
pub fn step_href(job: &str, step: &str) -> String {
    format!("/jobs/{job}?step={}", encode_step(step))
}

/// The graph: edges drawn under nodes that link to their panels.
#[component]
pub fn RunGraph(
    job: String,
    layout: Layout,
    #[prop(into)] steps: Signal<Vec<StepView>>,
    #[prop(into)] selected: Signal<Option<String>>,
) -> impl IntoView {
    let pos: HashMap<String, (f64, f64)> = layout
        .nodes
        .iter()
        .map(|n| (n.id.clone(), (n.x, n.y)))
        .collect();
    let edges: Vec<String> = layout
        .nodes
        .iter()
        .flat_map(|n| {
            n.deps.iter().filter_map(|d| pos.get(d)).map(|&(dx, dy)| {
                let (x1, y1) = (dx + NODE_W, dy + NODE_H / 2.0);
                let (x2, y2) = (n.x, n.y + NODE_H / 2.0);
                let mid = (x1 + x2) / 2.0;
                format!("M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}")
            })
        })
        .collect();
    let (w, h) = (layout.width, layout.height);
    view! {
        <div class="overflow-x-auto pb-2 focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500" data-testid="run-graph" tabindex="0" role="region" aria-label="Steps of the run">
            <div class="relative" style=format!("width: {w}px; height: {h}px")>
                <svg
                    class="absolute inset-0 text-slate-400 dark:text-slate-600"
                    width=w
                    height=h
                    aria-hidden="true"
                >
                    {edges
                        .into_iter()
                        .map(|d| view! { <path d=d fill="none" stroke="currentColor" stroke-width="1.5" /> })
                        .collect_view()}
                </svg>
                {layout
                    .nodes
                    .into_iter()
                    .map(|n| {
                        let node = n.clone();
                        let here = n.id.clone();
                        let st = Memo::new(move |_| steps.with(|s| status(&node, s)));
                        let href = step_href(&job, &n.id);
                        let is_sel = Memo::new(move |_| selected.with(|s| s.as_deref() == Some(here.as_str())));
                        let label = n.id.clone();
                        let handler = n.handler.clone();
                        let is_map = n.is_map;
                        view! {
                            <a
                                href=href
                                data-noscroll=true
                                data-step=n.id.clone()
                                data-state=move || st.get().state.as_str()
                                aria-current=move || is_sel.get().then_some("true")
                                class=move || format!(
                                    "absolute flex flex-col justify-center rounded-md border-2 px-2 text-xs shadow-sm hover:shadow focus:outline-none focus-visible:ring-2 focus-visible:ring-emerald-500 {} {}",
                                    state_class(st.get().state),
                                    if is_sel.get() { "ring-2 ring-slate-900 dark:ring-white" } else { "" },
                                )
                                style=format!("left: {}px; top: {}px; width: {NODE_W}px; height: {NODE_H}px", n.x, n.y)
                            >
                                <span class="truncate font-mono font-semibold">
                                    {label}{is_map.then_some(" ⋯")}
                                </span>
                                <span class="truncate">
                                    {handler} " · "
                                    {move || {
                                        let s = st.get();
                                        if is_map && s.runs > 0 {
                                            format!("{}/{} {}", s.done, s.runs, s.state.as_str())
                                        } else {
                                            s.state.as_str().to_string()
                                        }
                                    }}
                                </span>
                            </a>
                        }
                    })
                    .collect_view()}
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::jobs::workflow::WorkflowRequest;

    fn checked(steps: serde_json::Value) -> Checked {
        let w: WorkflowRequest = serde_json::from_value(json!({ "steps": steps })).unwrap();
        w.validate(100, 16).unwrap()
    }

    fn view(id: &str, state: StepState) -> StepView {
        StepView {
            id: id.into(),
            handler: "h".into(),
            state,
            attempts: 1,
            output: None,
            error: None,
            started_at: None,
            finished_at: None,
            waiting_reason: None,
        }
    }

    #[test]
    fn steps_sit_right_of_what_they_wait_on() {
        let l = layout(&checked(json!([
            {"id": "a", "handler": "h"},
            {"id": "b", "handler": "h"},
            {"id": "c", "handler": "h", "after": ["a", "b"]},
            {"id": "d", "handler": "h", "after": ["c"]},
        ])));
        let at = |id: &str| {
            let n = l.nodes.iter().find(|n| n.id == id).unwrap();
            (n.x, n.y)
        };
        assert_eq!(at("a").0, at("b").0);
        assert!(at("b").1 > at("a").1);
        assert!(at("c").0 > at("a").0);
        assert!(at("d").0 > at("c").0);
        assert_eq!(l.width, 3.0 * NODE_W + 2.0 * GAP_X);
    }

    #[test]
    fn a_map_reads_its_runs() {
        let l = layout(&checked(json!([
            {"id": "gen", "handler": "h"},
            {"id": "sq", "handler": "h", "map": {"$output": "gen"}},
        ])));
        let sq = &l.nodes[1];
        let steps = vec![
            view("gen", StepState::Succeeded),
            view("sq", StepState::Succeeded),
            view("sq[0]", StepState::Succeeded),
            view("sq[1]", StepState::Running),
        ];
        let s = status(sq, &steps);
        assert_eq!((s.state, s.done, s.runs), (StepState::Running, 1, 2));
        let s = status(sq, &steps[..1]);
        assert_eq!(s.state, StepState::Waiting);
        assert_eq!(step_href("j", "sq[1]"), "/jobs/j?step=sq%5B1%5D");
    }
}
