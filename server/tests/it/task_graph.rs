//! The task graph on both databases: a task waits on several tasks and feeds several, takes
//! their outputs in the order its plan names them, and a job ends when every one of its
//! tasks is done, with its sinks' outputs as its result.

use crate::common::{self, Db};
use crate::store_conformance::{store, worker};
use engine::jobs::plan::TaskSpec;
use engine::store::jobs::Want;
use engine::store::{NewJob, Store};
use serde_json::{Value, json};
use shared::jobs::protocol::{CompletedTask, LeasedTask};

common::both!(
    a_diamond_runs_each_task_once_with_its_inputs_in_order,
    a_job_with_several_sinks_ends_when_all_are_done,
    a_completion_adds_tasks_whose_outputs_follow_its_own,
    a_task_that_needs_a_handler_goes_only_to_a_worker_offering_it,
    a_closing_task_waits_on_every_task_spawned_ones_too,
);

fn task(name: &str, deps: Vec<usize>) -> TaskSpec {
    TaskSpec {
        phase: "run",
        payload: json!({ "name": name }),
        deps,
        handler: None,
        retry: None,
        after_all: false,
    }
}

fn job(tasks: Vec<TaskSpec>) -> NewJob {
    NewJob {
        kind: "noop",
        server_only: false,
        params: json!({ "tasks": tasks.len() }),
        concurrency: 8,
        max_attempts: 3,
        phase: "run",
        tasks,
        replayed_from: None,
    }
}

/// Completes each task with its name and the names of its inputs.
fn finish(t: &LeasedTask) -> CompletedTask {
    CompletedTask {
        task_id: t.task_id.clone(),
        job_id: Some(t.job_id.clone()),
        attempt: t.attempt,
        output: json!({ "name": t.payload["name"], "inputs": t.inputs }),
        run_ms: None,
        started_us: None,
        run_us: None,
        spawn: Vec::new(),
    }
}

fn names(tasks: &[LeasedTask]) -> Vec<String> {
    let mut n: Vec<String> = tasks
        .iter()
        .map(|t| t.payload["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

/// Claims what is ready and completes it; returns what ran.
async fn round(s: &dyn Store, w: &str, now: i64) -> Vec<LeasedTask> {
    let got = s.claim(w, Want::tasks(10), 30_000, now).await.unwrap();
    let items: Vec<_> = got.iter().map(finish).collect();
    report(s, w, &items, 0, now + 1).await;
    got
}

async fn a_diamond_runs_each_task_once_with_its_inputs_in_order(db: Db) {
    let s = store(db).await;
    let w = worker(&*s, "w").await;
    // a feeds b and c; d takes c's output, then b's.
    let j = s
        .create_job(
            job(vec![
                task("a", vec![]),
                task("b", vec![0]),
                task("c", vec![0]),
                task("d", vec![2, 1]),
            ]),
            1_000,
        )
        .await
        .unwrap();
    let first = round(&*s, &w, 2_000).await;
    assert_eq!(names(&first), ["a"]);
    assert!(!first[0].is_root, "two tasks wait on a");
    let second = round(&*s, &w, 3_000).await;
    assert_eq!(names(&second), ["b", "c"]);
    assert!(second.iter().all(|t| t.inputs.len() == 1));
    assert_eq!(s.get_job(&j.id).await.unwrap().state.as_str(), "running");
    let last = round(&*s, &w, 4_000).await;
    assert_eq!(names(&last), ["d"]);
    assert!(last[0].is_root, "nothing waits on d");
    let inputs: Vec<&Value> = last[0].inputs.iter().map(|i| &i["name"]).collect();
    assert_eq!(
        inputs,
        [&json!("c"), &json!("b")],
        "in the order d's plan names them"
    );
    let done = s.get_job(&j.id).await.unwrap();
    assert_eq!(done.state.as_str(), "succeeded");
    assert_eq!(done.progress.done, 4);
    assert_eq!(done.result.unwrap()["name"], "d", "the one sink's output");
    assert!(round(&*s, &w, 5_000).await.is_empty());
}

async fn a_job_with_several_sinks_ends_when_all_are_done(db: Db) {
    let s = store(db).await;
    let w = worker(&*s, "w").await;
    // x feeds y; z stands alone: y and z are the sinks.
    let j = s
        .create_job(
            job(vec![
                task("x", vec![]),
                task("z", vec![]),
                task("y", vec![0]),
            ]),
            1_000,
        )
        .await
        .unwrap();
    let first = s.claim(&w, Want::tasks(10), 30_000, 2_000).await.unwrap();
    assert_eq!(names(&first), ["x", "z"]);
    let z = first.iter().find(|t| t.payload["name"] == "z").unwrap();
    assert!(z.is_root);
    // z done, x still running: the job is not.
    report(&*s, &w, &[finish(z)], 0, 2_001).await;
    assert_eq!(s.get_job(&j.id).await.unwrap().state.as_str(), "running");
    let x = first.iter().find(|t| t.payload["name"] == "x").unwrap();
    let out = report(&*s, &w, &[finish(x)], 5, 2_002).await;
    assert!(!out.completed[0].as_ref().unwrap().job_finished);
    assert_eq!(names(&out.claimed), ["y"]);
    let out = report(&*s, &w, &[finish(&out.claimed[0])], 0, 2_003).await;
    assert!(out.completed[0].as_ref().unwrap().job_finished);
    let done = s.get_job(&j.id).await.unwrap();
    assert_eq!(done.state.as_str(), "succeeded");
    // The sinks' outputs, in plan order: z, then y.
    assert_eq!(sink_names(&done.result.unwrap()), ["z", "y"]);
}

/// Reports `items` and claims up to `claim` more, every item accepted.
async fn report(
    s: &dyn Store,
    w: &str,
    items: &[CompletedTask],
    claim: i64,
    now: i64,
) -> engine::store::BatchOutcome {
    let out = s
        .complete_batch(w, items, Want::tasks(claim), 30_000, now)
        .await
        .unwrap();
    assert!(out.completed.iter().all(|c| c.is_ok()));
    out
}

/// The names in a job's result, one per sink, in plan order.
fn sink_names(result: &Value) -> Vec<String> {
    result
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_string())
        .collect()
}

/// What the next claim leases, by name.
fn by_name<'a>(tasks: &'a [LeasedTask], name: &str) -> &'a LeasedTask {
    tasks.iter().find(|t| t.payload["name"] == name).unwrap()
}

async fn a_completion_adds_tasks_whose_outputs_follow_its_own(db: Db) {
    use shared::jobs::protocol::SpawnedTask;
    let s = store(db).await;
    let w = worker(&*s, "w").await;
    // a feeds m; c takes z's output, then m's. m's completion adds three tasks, whose outputs
    // c takes after m's own; a sink's completion adds one that is a sink too.
    let j = s
        .create_job(
            job(vec![
                task("a", vec![]),
                task("m", vec![0]),
                task("z", vec![]),
                task("c", vec![2, 1]),
                task("t", vec![]),
            ]),
            1_000,
        )
        .await
        .unwrap();
    let first = s.claim(&w, Want::tasks(10), 30_000, 2_000).await.unwrap();
    assert_eq!(names(&first), ["a", "t", "z"]);
    let mut items: Vec<_> = first.iter().map(finish).collect();
    let t = items
        .iter_mut()
        .find(|i| i.task_id == by_name(&first, "t").task_id)
        .unwrap();
    t.spawn = vec![SpawnedTask {
        phase: "run".into(),
        handler: None,
        payload: json!({ "name": "t0" }),
    }];
    report(&*s, &w, &items, 0, 2_001).await;
    let second = s.claim(&w, Want::tasks(10), 30_000, 3_000).await.unwrap();
    assert_eq!(names(&second), ["m", "t0"]);
    assert!(
        by_name(&second, "t0").is_root,
        "added by a sink: a sink too"
    );
    let mut items: Vec<_> = second.iter().map(finish).collect();
    let m = items
        .iter_mut()
        .find(|i| i.task_id == by_name(&second, "m").task_id)
        .unwrap();
    m.spawn = (0..3)
        .map(|i| SpawnedTask {
            phase: "run".into(),
            handler: None,
            payload: json!({ "name": format!("m{i}") }),
        })
        .collect();
    let out = report(&*s, &w, &items, 10, 3_001).await;
    assert!(out.completed.iter().all(|c| c.is_ok()));
    assert!(
        out.completed
            .iter()
            .all(|c| !c.as_ref().unwrap().job_finished)
    );
    // The added tasks are ready at once, and c is not: it waits on them now.
    assert_eq!(names(&out.claimed), ["m0", "m1", "m2"]);
    assert!(out.claimed.iter().all(|t| !t.is_root));
    let grown = s.get_job(&j.id).await.unwrap();
    assert_eq!(grown.progress.total, 5 + 1 + 3);
    assert_eq!(grown.state.as_str(), "running");
    let items: Vec<_> = out.claimed.iter().map(finish).collect();
    let out = report(&*s, &w, &items, 10, 3_002).await;
    assert_eq!(names(&out.claimed), ["c"]);
    let inputs: Vec<&Value> = out.claimed[0].inputs.iter().map(|i| &i["name"]).collect();
    assert_eq!(
        inputs,
        [
            &json!("z"),
            &json!("m"),
            &json!("m0"),
            &json!("m1"),
            &json!("m2")
        ],
        "m's own output, then those of the tasks it added, in m's place"
    );
    let end = report(&*s, &w, &[finish(&out.claimed[0])], 0, 3_003).await;
    assert!(end.completed[0].as_ref().unwrap().job_finished);
    let done = s.get_job(&j.id).await.unwrap();
    assert_eq!(done.state.as_str(), "succeeded");
    assert_eq!(done.progress.done, 9);
    // The sinks in plan order: c, t, then t0 (added last).
    assert_eq!(sink_names(&done.result.unwrap()), ["c", "t", "t0"]);
}

async fn a_task_that_needs_a_handler_goes_only_to_a_worker_offering_it(db: Db) {
    use shared::jobs::protocol::SpawnedTask;
    let s = store(db).await;
    let plain = worker(&*s, "plain").await;
    let offers = worker(&*s, "offers").await;
    let needs = |name: &str, handler: &str| TaskSpec {
        handler: Some(handler.into()),
        ..task(name, vec![])
    };
    s.create_job(
        job(vec![
            needs("r", "resize"),
            task("any", vec![]),
            needs("p", "print"),
        ]),
        1_000,
    )
    .await
    .unwrap();
    let mut want = Want::batches(8);
    let got = s.claim(&plain, want.clone(), 30_000, 2_000).await.unwrap();
    assert_eq!(
        names(&got),
        ["any"],
        "a worker offering nothing gets only plain tasks"
    );
    want.handlers = vec!["resize".into(), "other".into()];
    let got = s.claim(&offers, want.clone(), 30_000, 2_001).await.unwrap();
    assert_eq!(names(&got), ["r"]);
    // What a completion adds keeps its handler.
    let mut item = finish(&got[0]);
    item.spawn = vec![SpawnedTask {
        phase: "run".into(),
        handler: Some("print".into()),
        payload: json!({ "name": "r0" }),
    }];
    let out = s
        .complete_batch(&offers, &[item], want.clone(), 30_000, 2_002)
        .await
        .unwrap();
    assert!(out.claimed.is_empty(), "{:?}", names(&out.claimed));
    want.handlers = vec!["print".into()];
    let got = s.claim(&offers, want, 30_000, 2_003).await.unwrap();
    assert_eq!(names(&got), ["p", "r0"]);
}

/// A closing task waits on every other task of its job, those added at run time too, with
/// no edge to each, and is then the job's only sink.
async fn a_closing_task_waits_on_every_task_spawned_ones_too(db: Db) {
    use shared::jobs::protocol::SpawnedTask;
    let s = store(db).await;
    let w = worker(&*s, "w").await;
    let closer = TaskSpec {
        after_all: true,
        ..task("end", vec![])
    };
    let j = s
        .create_job(
            job(vec![task("a", vec![]), task("b", vec![]), closer]),
            1_000,
        )
        .await
        .unwrap();
    let first = s.claim(&w, Want::tasks(10), 30_000, 2_000).await.unwrap();
    assert_eq!(names(&first), ["a", "b"], "the closing task waits");
    let mut a = finish(by_name(&first, "a"));
    a.spawn = vec![SpawnedTask {
        phase: "run".into(),
        handler: None,
        payload: json!({ "name": "late" }),
    }];
    report(&*s, &w, &[a, finish(by_name(&first, "b"))], 0, 2_001).await;
    // Only the task a added is ready: the closing task waits on it too.
    let second = s.claim(&w, Want::tasks(10), 30_000, 3_000).await.unwrap();
    assert_eq!(names(&second), ["late"]);
    let out = report(&*s, &w, &[finish(&second[0])], 10, 3_001).await;
    assert_eq!(names(&out.claimed), ["end"]);
    assert!(out.claimed[0].inputs.is_empty(), "it takes no outputs");
    let out = report(&*s, &w, &[finish(&out.claimed[0])], 0, 3_002).await;
    assert!(out.completed[0].as_ref().unwrap().job_finished);
    let done = s.get_job(&j.id).await.unwrap();
    assert_eq!(done.state.as_str(), "succeeded");
    assert_eq!(done.progress.total, 4);
    // Its output alone is the result, though a, b and late have no dependents either.
    assert_eq!(done.result.unwrap()["name"], "end");
    // A plan whose closing task also names tasks it waits on is refused before it is made.
    let bad = TaskSpec {
        after_all: true,
        ..task("x", vec![0])
    };
    assert!(engine::jobs::plan::check(&[task("a", vec![]), bad]).is_err());
}
