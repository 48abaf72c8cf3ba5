//! A job's tasks as its kind plans them: each task names the task it feeds (`parent`) and
//! how many feed it (`deps`). The plan is fixed when the job is created, so "the job is
//! complete" is exactly "the root task is done", a fact stored in the database and true
//! across restarts. Each kind writes its own plan (`file_average::plan`, `noop::plan`, the
//! tree kinds' one-task plans).

/// One task to insert. `parent` indexes into the same plan.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub phase: &'static str,
    pub payload: serde_json::Value,
    pub parent: Option<usize>,
    pub deps: i64,
}

/// Every task but the root has a parent, every parent's deps equals its number of children,
/// and exactly one root exists: what every plan must hold.
#[cfg(test)]
pub(crate) fn check_tree(tasks: &[TaskSpec]) {
    let roots = tasks.iter().filter(|t| t.parent.is_none()).count();
    assert_eq!(roots, 1);
    for (i, t) in tasks.iter().enumerate() {
        let children = tasks.iter().filter(|c| c.parent == Some(i)).count() as i64;
        assert_eq!(children, t.deps, "task {i} deps");
    }
}
