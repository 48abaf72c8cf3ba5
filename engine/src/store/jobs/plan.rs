//! A job's tasks as its kind plans them: a graph in which each task names the tasks it waits
//! on (`deps`), whose outputs it receives as inputs, in that order. A task may wait on
//! several tasks and feed several; a task nothing waits on is a sink. A job is complete when
//! every one of its tasks is done, a fact the database counts (`done = total`) and that holds
//! across restarts, and its result is made of its sinks' outputs. A completion may add tasks
//! to its running job (`jobs::protocol::SpawnedTask`). Each kind writes its own plan
//! (`file_average::plan`, `noop::plan`, the tree kinds' plans).

/// One task to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub phase: &'static str,
    pub payload: serde_json::Value,
    /// The tasks this one waits on, as indexes into the same plan, each before this task:
    /// their outputs are its inputs, in this order.
    pub deps: Vec<usize>,
    /// The handler a worker must offer to run it (`None`: any worker that runs its kind).
    pub handler: Option<String>,
    /// Its own retry policy (`None`: the job's attempts and the server's backoff).
    pub retry: Option<Retry>,
    /// A closing task: it waits on every other task of its job (those spawned at run time
    /// too) without taking their outputs, and its `deps` are empty. A job with closing
    /// tasks has them as its only sinks.
    pub after_all: bool,
}

/// A task's own retry policy: most attempts, and the backoff between them (each `None`: the
/// job's attempts, the server's backoff).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Retry {
    pub max_attempts: Option<i64>,
    pub backoff_base_ms: Option<i64>,
    pub backoff_max_ms: Option<i64>,
}

/// Why a plan cannot be run: a task waits on itself, on a task after it (the only way a
/// plan's order could hide a cycle), or on one that does not exist.
pub fn check(tasks: &[TaskSpec]) -> Result<(), String> {
    if !tasks.is_empty() && tasks.iter().all(|t| t.after_all) {
        return Err("a plan needs a task that does not close it".into());
    }
    for (i, t) in tasks.iter().enumerate() {
        if t.after_all && !t.deps.is_empty() {
            return Err(format!(
                "task {i} waits on every task and must name none of its own"
            ));
        }
        if let Some(&d) = t
            .deps
            .iter()
            .find(|&&d| d < tasks.len() && tasks[d].after_all)
        {
            return Err(format!("task {i} waits on task {d}, which closes the job"));
        }
        if let Some(d) = t.deps.iter().find(|&&d| d >= i) {
            return Err(format!(
                "task {i} waits on task {d}, which does not come before it"
            ));
        }
    }
    Ok(())
}

/// How many tasks wait on each task of a plan.
pub fn fan_out(tasks: &[TaskSpec]) -> Vec<i64> {
    let mut out = vec![0; tasks.len()];
    for t in tasks {
        for &d in &t.deps {
            out[d] += 1;
        }
    }
    out
}

/// Every plan a kind makes: valid, and with exactly one sink (the task whose output is the
/// job's result).
#[cfg(test)]
pub(crate) fn check_one_sink(tasks: &[TaskSpec]) {
    check(tasks).unwrap();
    let closers = tasks.iter().filter(|t| t.after_all).count();
    if closers > 0 {
        assert_eq!(closers, 1, "a job's closing tasks are its sinks");
    } else {
        assert_eq!(fan_out(tasks).iter().filter(|n| **n == 0).count(), 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(deps: Vec<usize>) -> TaskSpec {
        TaskSpec {
            phase: "run",
            payload: json!({}),
            deps,
            handler: None,
            retry: None,
            after_all: false,
        }
    }

    #[test]
    fn a_task_waits_only_on_tasks_before_it() {
        assert!(check(&[task(vec![]), task(vec![0]), task(vec![0, 1])]).is_ok());
        assert!(
            check(&[task(vec![0])])
                .unwrap_err()
                .contains("task 0 waits on task 0")
        );
        assert!(check(&[task(vec![1]), task(vec![])]).is_err());
        assert!(check(&[task(vec![]), task(vec![5])]).is_err());
    }

    #[test]
    fn fan_out_counts_the_tasks_waiting() {
        // A diamond: 0 feeds 1 and 2, which both feed 3.
        let plan = [task(vec![]), task(vec![0]), task(vec![0]), task(vec![1, 2])];
        assert_eq!(fan_out(&plan), vec![2, 1, 1, 0]);
    }
}
