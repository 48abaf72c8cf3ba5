//! Splits a job into its task tree. For a file-average job of G = ⌈F / group⌉ groups:
//! G generate tasks (each writes its group's files) feed G map tasks (each sums its group),
//! which feed reduce tasks combining 5 partials each, level by level, up to one root reduce
//! that writes the result. The tree is fixed at creation, so "the job is complete" is exactly
//! "the root task is done" — a fact stored in the database, true across restarts.

use super::params::{FileAverageParams, REDUCE_FAN_IN};
use serde_json::json;

/// One task to insert. `parent` indexes into the same plan.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub phase: &'static str,
    pub payload: serde_json::Value,
    pub parent: Option<usize>,
    pub deps: i64,
}

/// The task tree of a file-average job, in claim order (generate, map, reduce by level).
pub fn file_average(p: &FileAverageParams) -> Vec<TaskSpec> {
    let groups = p.groups() as usize;
    let mut tasks = Vec::with_capacity(groups * 2 + groups / (REDUCE_FAN_IN - 1) + 2);
    for g in 0..groups {
        let start = g as u32 * p.group_size;
        let end = (start + p.group_size).min(p.files);
        tasks.push(TaskSpec {
            phase: "generate",
            payload: json!({ "first_file": start, "end_file": end }),
            parent: Some(groups + g),
            deps: 0,
        });
    }
    for g in 0..groups {
        let start = g as u32 * p.group_size;
        let end = (start + p.group_size).min(p.files);
        tasks.push(TaskSpec {
            phase: "map",
            payload: json!({ "first_file": start, "end_file": end }),
            parent: None,
            deps: 1,
        });
    }
    // Reduce levels: combine the previous level's outputs REDUCE_FAN_IN at a time until one
    // task remains. A single group still gets one reduce: the root always writes the result.
    let mut level_start = groups;
    let mut level_len = groups;
    let mut level = 1;
    loop {
        let next_len = level_len.div_ceil(REDUCE_FAN_IN);
        let next_start = tasks.len();
        for r in 0..next_len {
            let first = r * REDUCE_FAN_IN;
            let len = REDUCE_FAN_IN.min(level_len - first);
            for child in 0..len {
                tasks[level_start + first + child].parent = Some(next_start + r);
            }
            tasks.push(TaskSpec {
                phase: "reduce",
                payload: json!({ "level": level, "index": r }),
                parent: None,
                deps: len as i64,
            });
        }
        if next_len == 1 {
            break;
        }
        level_start = next_start;
        level_len = next_len;
        level += 1;
    }
    tasks
}

/// A no-op job: `n` independent tasks feeding one root that marks the job done.
pub fn noop(n: u32) -> Vec<TaskSpec> {
    let n = n as usize;
    let mut tasks: Vec<TaskSpec> = (0..n)
        .map(|i| TaskSpec {
            phase: "run",
            payload: json!({ "index": i }),
            parent: Some(n),
            deps: 0,
        })
        .collect();
    tasks.push(TaskSpec {
        phase: "finish",
        payload: json!({}),
        parent: None,
        deps: n as i64,
    });
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(files: u32, group_size: u32) -> FileAverageParams {
        FileAverageParams {
            workers: 2,
            files,
            entries: 10,
            group_size,
            seed: 1,
        }
    }

    /// Every task but the root has a parent, every parent's deps equals its number of
    /// children, and exactly one root exists.
    fn check_tree(tasks: &[TaskSpec]) {
        let roots: Vec<_> = tasks.iter().filter(|t| t.parent.is_none()).collect();
        assert_eq!(roots.len(), 1);
        assert!(roots[0].phase == "reduce" || roots[0].phase == "finish");
        for (i, t) in tasks.iter().enumerate() {
            let children = tasks.iter().filter(|c| c.parent == Some(i)).count() as i64;
            assert_eq!(children, t.deps, "task {i} deps");
        }
    }

    #[test]
    fn one_group_still_has_a_root_reduce() {
        let t = file_average(&params(3, 5));
        assert_eq!(t.len(), 3);
        check_tree(&t);
    }

    #[test]
    fn groups_of_five_reduce_level_by_level() {
        // 130 files / 5 = 26 groups → 26 map → 6 reduce → 2 reduce → 1 root.
        let t = file_average(&params(130, 5));
        assert_eq!(t.iter().filter(|t| t.phase == "generate").count(), 26);
        assert_eq!(t.iter().filter(|t| t.phase == "reduce").count(), 6 + 2 + 1);
        check_tree(&t);
    }

    #[test]
    fn noop_tasks_feed_one_root() {
        let t = noop(4);
        assert_eq!(t.len(), 5);
        check_tree(&t);
        assert_eq!(t[4].phase, "finish");
    }

    #[test]
    fn last_group_is_short() {
        let t = file_average(&params(7, 5));
        assert_eq!(t[1].payload["first_file"], 5);
        assert_eq!(t[1].payload["end_file"], 7);
        check_tree(&t);
    }
}
