//! Workflows: a team's own work as a graph of steps, each run by a handler that workers
//! declare. A definition names its steps (`id`, `handler`, `input`, `after`); a step's input
//! may take upstream outputs (`{"$output": "id"}` or `{"$output": ["a", "b"]}`, at any depth;
//! `{"$literal": x}` passes `x` untouched), and a `map` step runs its handler once per element
//! of an upstream output, its own output then the array of theirs, in element order. Chain,
//! group and chord are graphs of plain steps.
//!
//! What the server checks before a run is made ([`WorkflowRequest::validate`]) and how a
//! worker builds a step's input from the outputs it waited on ([`resolve`]) live here, so the
//! server, the worker and any client read one definition.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Most steps of a run, map children included, unless the server is told otherwise.
pub const DEFAULT_MAX_STEPS: usize = 10_000;
/// Most steps of one run that run at once, unless the definition says.
pub const DEFAULT_WORKERS: u32 = 16;
/// Longest a step may be given to run.
pub const MAX_TIMEOUT_S: u32 = 86_400;

/// `{"steps": […], "workers"?}`: the body of a workflow job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WorkflowRequest {
    pub steps: Vec<StepDef>,
    /// Most steps of this run running at once (W).
    #[serde(default = "default_workers")]
    pub workers: u32,
}

fn default_workers() -> u32 {
    DEFAULT_WORKERS
}

/// One step of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    /// `[A-Za-z0-9_-]{1,64}`, unique in the workflow.
    pub id: String,
    /// The handler a worker offers under this name.
    pub handler: String,
    /// The step's input; `{"$output": …}` anywhere inside takes upstream outputs.
    #[serde(default)]
    pub input: Value,
    /// `{"$output": "id"}`: run the handler once per element of that step's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<Value>,
    /// Steps that must succeed first (a step also waits on every step its input names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// How long one attempt may run before its processes are stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u32>,
    /// How often the step is tried and how long it waits between tries (a map's runs each
    /// follow their map's policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<StepRetry>,
}

/// A step's retry policy; each field left out takes the server's default (3 attempts, a
/// backoff doubling from 500 ms up to 30 s).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StepRetry {
    /// Most attempts, the first included (1 to 100): exit 75, a timeout or a lost worker
    /// each end one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Wait after the first failed attempt; it doubles after each further one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_base_ms: Option<u64>,
    /// The longest wait between attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_max_ms: Option<u64>,
}

/// Most attempts a step may ask for.
pub const MAX_ATTEMPTS: u32 = 100;
/// Longest backoff a step may ask for: a day.
pub const MAX_BACKOFF_MS: u64 = 86_400_000;

impl StepRetry {
    fn check(&self) -> Result<(), String> {
        if let Some(n) = self.max_attempts
            && !(1..=MAX_ATTEMPTS).contains(&n)
        {
            return Err(format!(
                "retry.max_attempts must be between 1 and {MAX_ATTEMPTS}"
            ));
        }
        for (name, v) in [
            ("backoff_base_ms", self.backoff_base_ms),
            ("backoff_max_ms", self.backoff_max_ms),
        ] {
            if v.is_some_and(|v| v > MAX_BACKOFF_MS) {
                return Err(format!("retry.{name} must be at most {MAX_BACKOFF_MS}"));
            }
        }
        if let (Some(b), Some(m)) = (self.backoff_base_ms, self.backoff_max_ms)
            && m < b
        {
            return Err("retry.backoff_max_ms must not be less than retry.backoff_base_ms".into());
        }
        Ok(())
    }
}

/// A checked workflow, its steps in an order where each comes after every step it waits on.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub steps: Vec<CheckedStep>,
    pub workers: u32,
}

/// A step as planned: what it waits on, in the order its inputs arrive.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedStep {
    pub def: StepDef,
    /// The step a `map` runs over.
    pub map_over: Option<String>,
    /// Every step it waits on: `after` first, then those its input and map name.
    pub deps: Vec<String>,
}

/// Whether a name is `[A-Za-z0-9_-]{1,64}`.
pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl WorkflowRequest {
    /// Checks the definition: names, references, limits and the absence of cycles. The
    /// message names the step and the problem.
    pub fn validate(&self, max_steps: usize, max_workers: u32) -> Result<Checked, String> {
        if self.steps.is_empty() {
            return Err("a workflow needs at least one step".into());
        }
        if self.steps.len() > max_steps {
            return Err(format!(
                "a workflow has at most {max_steps} steps, this one has {}",
                self.steps.len()
            ));
        }
        if self.workers == 0 || self.workers > max_workers {
            return Err(format!("workers must be between 1 and {max_workers}"));
        }
        let mut ids = BTreeSet::new();
        for s in &self.steps {
            if !is_name(&s.id) {
                return Err(format!(
                    "step id {:?} must be 1 to 64 of A-Z, a-z, 0-9, _ and -",
                    clip(&s.id)
                ));
            }
            if !ids.insert(s.id.as_str()) {
                return Err(format!("step id {:?} appears twice", s.id));
            }
            if !is_name(&s.handler) {
                return Err(format!(
                    "step {}: handler {:?} must be 1 to 64 of A-Z, a-z, 0-9, _ and -",
                    s.id,
                    clip(&s.handler)
                ));
            }
            if let Some(t) = s.timeout_s
                && (t == 0 || t > MAX_TIMEOUT_S)
            {
                return Err(format!(
                    "step {}: timeout_s must be between 1 and {MAX_TIMEOUT_S}",
                    s.id
                ));
            }
            if let Some(r) = &s.retry {
                r.check().map_err(|e| format!("step {}: {e}", s.id))?;
            }
        }
        let mut checked = Vec::with_capacity(self.steps.len());
        for s in &self.steps {
            let mut deps: Vec<String> = Vec::new();
            let mut add = |id: &str, how: &str| -> Result<(), String> {
                if id == s.id {
                    return Err(format!("step {} {how} itself", s.id));
                }
                if !ids.contains(id) {
                    return Err(format!("step {} {how} {id:?}, which is not a step", s.id));
                }
                if !deps.iter().any(|d| d == id) {
                    deps.push(id.to_string());
                }
                Ok(())
            };
            for a in &s.after {
                add(a, "comes after")?;
            }
            let mut refs = Vec::new();
            references(&s.input, &mut refs, 0).map_err(|e| format!("step {}: {e}", s.id))?;
            for r in &refs {
                add(r, "takes the output of")?;
            }
            let map_over = match &s.map {
                None => None,
                Some(m) => {
                    let Some(src) = m
                        .as_object()
                        .filter(|o| o.len() == 1)
                        .and_then(|o| o.get("$output"))
                        .and_then(Value::as_str)
                    else {
                        return Err(format!(
                            "step {}: map must be {{\"$output\": \"step id\"}}",
                            s.id
                        ));
                    };
                    add(src, "maps over")?;
                    Some(src.to_string())
                }
            };
            checked.push(CheckedStep {
                def: s.clone(),
                map_over,
                deps,
            });
        }
        Ok(Checked {
            steps: in_order(checked)?,
            workers: self.workers,
        })
    }
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Deepest nesting of a step's input that is searched for references.
const MAX_DEPTH: usize = 64;

/// The step ids `{"$output": …}` names inside `v`, skipping `{"$literal": …}`.
fn references(v: &Value, out: &mut Vec<String>, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("input nests deeper than {MAX_DEPTH} levels"));
    }
    match v {
        Value::Object(o) if o.len() == 1 && o.contains_key("$literal") => Ok(()),
        Value::Object(o) if o.len() == 1 && o.contains_key("$output") => match &o["$output"] {
            Value::String(id) => {
                out.push(id.clone());
                Ok(())
            }
            Value::Array(ids) if ids.iter().all(Value::is_string) => {
                out.extend(ids.iter().filter_map(Value::as_str).map(String::from));
                Ok(())
            }
            _ => Err("$output must name a step or a list of steps".into()),
        },
        Value::Object(o) => o.values().try_for_each(|x| references(x, out, depth + 1)),
        Value::Array(a) => a.iter().try_for_each(|x| references(x, out, depth + 1)),
        _ => Ok(()),
    }
}

/// The steps ordered so each comes after what it waits on (in definition order where the
/// graph leaves a choice), or the steps of a cycle.
fn in_order(steps: Vec<CheckedStep>) -> Result<Vec<CheckedStep>, String> {
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.def.id.as_str(), i))
        .collect();
    let mut waiting: Vec<usize> = steps.iter().map(|s| s.deps.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, s) in steps.iter().enumerate() {
        for d in &s.deps {
            dependents[index[d.as_str()]].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..steps.len()).filter(|i| waiting[*i] == 0).collect();
    let mut order = Vec::with_capacity(steps.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if order.len() < steps.len() {
        let stuck: Vec<&str> = (0..steps.len())
            .filter(|i| waiting[*i] > 0)
            .map(|i| steps[i].def.id.as_str())
            .take(10)
            .collect();
        return Err(format!(
            "the steps wait on each other in a cycle: {}",
            stuck.join(", ")
        ));
    }
    let mut slots: Vec<Option<CheckedStep>> = steps.into_iter().map(Some).collect();
    Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
}

/// What a step's task carries: its id and handler, its input as defined, and the steps it
/// waits on in the order their outputs arrive (`map` for one whose outputs are a fan-out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepPayload {
    pub step: String,
    pub handler: String,
    #[serde(default)]
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<DepRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u32>,
    /// For a map step: most children it may add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_children: Option<usize>,
}

/// A step waited on, and whether it is a map (its output is followed by its children's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub map: bool,
}

/// What a map step outputs: how many children it added (their outputs follow it).
pub fn map_header(children: usize) -> Value {
    serde_json::json!({ "map_children": children })
}

/// The outputs of the steps a step waited on, by id, from the inputs its task received: one
/// output per plain step; for a map, its header and then its children's outputs, gathered
/// into the array of them.
pub fn outputs_by_step(
    deps: &[DepRef],
    inputs: &[Value],
) -> Result<BTreeMap<String, Value>, String> {
    let mut out = BTreeMap::new();
    let mut rest = inputs.iter();
    for d in deps {
        let first = rest
            .next()
            .ok_or_else(|| format!("the output of step {} is missing", d.id))?;
        if d.map {
            let n = first
                .get("map_children")
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("map step {} left no count of its children", d.id))?;
            let children: Vec<Value> = rest.by_ref().take(n as usize).cloned().collect();
            if children.len() as u64 != n {
                return Err(format!("the outputs of map step {} are missing", d.id));
            }
            out.insert(d.id.clone(), Value::Array(children));
        } else {
            out.insert(d.id.clone(), first.clone());
        }
    }
    Ok(out)
}

/// A step's input with every `{"$output": …}` replaced by the outputs it names and every
/// `{"$literal": x}` by `x`.
pub fn resolve(input: &Value, outputs: &BTreeMap<String, Value>) -> Result<Value, String> {
    Ok(match input {
        Value::Object(o) if o.len() == 1 && o.contains_key("$literal") => o["$literal"].clone(),
        Value::Object(o) if o.len() == 1 && o.contains_key("$output") => match &o["$output"] {
            Value::String(id) => output_of(outputs, id)?,
            Value::Array(ids) => Value::Array(
                ids.iter()
                    .map(|id| output_of(outputs, id.as_str().unwrap_or_default()))
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err("$output must name a step or a list of steps".into()),
        },
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), resolve(v, outputs)?)))
                .collect::<Result<Map<String, Value>, String>>()?,
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| resolve(v, outputs))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

fn output_of(outputs: &BTreeMap<String, Value>, id: &str) -> Result<Value, String> {
    outputs
        .get(id)
        .cloned()
        .ok_or_else(|| format!("the output of step {id} is missing"))
}

/// Where a step of a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Waiting,
    Ready,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl StepState {
    pub const ALL: [StepState; 6] = [
        StepState::Waiting,
        StepState::Ready,
        StepState::Running,
        StepState::Succeeded,
        StepState::Failed,
        StepState::Cancelled,
    ];

    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Waiting => "waiting",
            StepState::Ready => "ready",
            StepState::Running => "running",
            StepState::Succeeded => "succeeded",
            StepState::Failed => "failed",
            StepState::Cancelled => "cancelled",
        }
    }

    /// Whether the step will not change again unless retried.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            StepState::Succeeded | StepState::Failed | StepState::Cancelled
        )
    }
}

/// A step of a run as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepView {
    /// The step's id; a map's children are `id[0]`, `id[1]`, ….
    pub id: String,
    pub handler: String,
    pub state: StepState,
    /// Attempts started so far.
    pub attempts: i64,
    #[serde(default)]
    pub output: Option<Value>,
    /// The last attempt's error, if it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// When its current or last attempt started (Unix ms).
    #[serde(default)]
    pub started_at: Option<i64>,
    #[serde(default)]
    pub finished_at: Option<i64>,
    /// Why a ready step is not running, e.g. `no worker offers handler "x"`.
    #[serde(default)]
    pub waiting_reason: Option<String>,
}

/// A page of a run's steps, in plan order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepPage {
    pub items: Vec<StepView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// The end of one attempt's log of a step, as the run page shows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LogTail {
    /// The attempt shown (0: the step has not started).
    pub attempt: i64,
    /// Attempts started so far.
    pub attempts: i64,
    /// Its last lines, at most [`LOG_TAIL_BYTES`].
    pub text: String,
    /// Bytes before `text` that are not shown (dropped when kept, or cut for the page).
    pub cut: i64,
}

/// Most bytes of a log the run page shows; the whole log is a download away.
pub const LOG_TAIL_BYTES: usize = 64 * 1024;

/// Why a ready step whose handler no live worker offers is not running.
pub fn no_worker_offers(handler: &str) -> String {
    format!("no worker offers handler {handler:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wf(steps: Value) -> WorkflowRequest {
        serde_json::from_value(json!({ "steps": steps })).unwrap()
    }

    fn check(steps: Value) -> Result<Checked, String> {
        wf(steps).validate(DEFAULT_MAX_STEPS, 256)
    }

    #[test]
    fn a_chord_orders_its_steps_and_waits_on_what_inputs_name() {
        let c = check(json!([
            {"id": "sum", "handler": "add", "input": {"xs": {"$output": ["a", "b"]}}},
            {"id": "a", "handler": "double", "input": 1},
            {"id": "b", "handler": "double", "input": 2, "after": ["a"]},
        ]))
        .unwrap();
        let order: Vec<&str> = c.steps.iter().map(|s| s.def.id.as_str()).collect();
        assert_eq!(order, ["a", "b", "sum"]);
        assert_eq!(c.steps[2].deps, ["a", "b"]);
        assert_eq!(c.steps[1].deps, ["a"]);
        assert_eq!(c.workers, DEFAULT_WORKERS);
    }

    #[test]
    fn bad_definitions_name_their_problem() {
        for (steps, says) in [
            (json!([]), "at least one step"),
            (json!([{"id": "a b", "handler": "h"}]), "step id \"a b\""),
            (
                json!([{"id": "a", "handler": "h"}, {"id": "a", "handler": "h"}]),
                "appears twice",
            ),
            (
                json!([{"id": "a", "handler": "h", "after": ["zz"]}]),
                "\"zz\", which is not a step",
            ),
            (
                json!([{"id": "a", "handler": "h", "input": {"$output": "a"}}]),
                "takes the output of itself",
            ),
            (
                json!([{"id": "a", "handler": "h", "after": ["b"]}, {"id": "b", "handler": "h", "after": ["a"]}]),
                "cycle: a, b",
            ),
            (
                json!([{"id": "a", "handler": "h", "map": [1, 2]}]),
                "map must be",
            ),
            (
                json!([{"id": "a", "handler": "", "input": 1}]),
                "handler \"\"",
            ),
            (
                json!([{"id": "a", "handler": "h", "timeout_s": 0}]),
                "timeout_s",
            ),
            (
                json!([{"id": "a", "handler": "h", "input": {"$output": 7}}]),
                "$output must name",
            ),
        ] {
            let e = check(steps.clone()).unwrap_err();
            assert!(e.contains(says), "{steps}: {e}");
        }
        let many: Vec<Value> = (0..11)
            .map(|i| json!({"id": format!("s{i}"), "handler": "h"}))
            .collect();
        assert!(
            wf(json!(many))
                .validate(10, 256)
                .unwrap_err()
                .contains("at most 10 steps")
        );
        let mut deep = json!(1);
        for _ in 0..100 {
            deep = json!([deep]);
        }
        assert!(
            check(json!([{"id": "a", "handler": "h", "input": deep}]))
                .unwrap_err()
                .contains("nests")
        );
        assert!(
            serde_json::from_value::<WorkflowRequest>(json!({"steps": [], "extra": 1})).is_err()
        );
    }

    #[test]
    fn inputs_are_resolved_from_outputs_and_map_children() {
        let deps = vec![
            DepRef {
                id: "a".into(),
                map: false,
            },
            DepRef {
                id: "sq".into(),
                map: true,
            },
        ];
        let inputs = [json!(5), map_header(3), json!(1), json!(4), json!(9)];
        let outs = outputs_by_step(&deps, &inputs).unwrap();
        assert_eq!(outs["sq"], json!([1, 4, 9]));
        let input = json!({"x": {"$output": "a"}, "all": {"$output": ["sq", "a"]},
                           "raw": {"$literal": {"$output": "a"}}, "n": [1, {"$output": "a"}]});
        assert_eq!(
            resolve(&input, &outs).unwrap(),
            json!({"x": 5, "all": [[1, 4, 9], 5], "raw": {"$output": "a"}, "n": [1, 5]})
        );
        assert!(
            outputs_by_step(&deps, &inputs[..3])
                .unwrap_err()
                .contains("missing")
        );
    }
}
