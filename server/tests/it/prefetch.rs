//! Prefetch on both databases: a claim that asks for batches gets a job's ready tasks in
//! batches sized from the job's measured task time, a job's concurrency bounds the batches
//! it has leased (so, with each batch run one task at a time, the tasks running at once),
//! and a claim without prefetch still leases one task per batch.

use crate::common::{self, Db};
use crate::store_conformance::{item, leased, new_job, store, worker};
use engine::store::Store;
use engine::store::jobs::{BATCH_TARGET_US, MAX_PREFETCH, Want};
use shared::jobs::protocol::{CompletedTask, LeasedTask};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

common::both!(
    batches_are_sized_from_the_jobs_task_time,
    concurrent_prefetching_workers_hold_at_most_w_batches,
);

/// A completion that says its task ran `run_us`.
fn ran(t: &LeasedTask, run_us: i64) -> CompletedTask {
    CompletedTask {
        run_us: Some(run_us),
        started_us: Some(1),
        ..item(t, t.attempt)
    }
}

/// The batches of leased tasks, in order, as (batch name, task count).
fn batches(tasks: &[LeasedTask]) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for t in tasks {
        match out.last_mut() {
            Some((b, n)) if *b == t.batch => *n += 1,
            _ => out.push((t.batch.clone(), 1)),
        }
    }
    out
}

async fn batches_are_sized_from_the_jobs_task_time(db: Db) {
    let s = store(db).await;
    let w = worker(&*s, "w").await;
    // 1,000 files in groups of 5: 200 generate tasks ready at once, W = 2.
    let job = s.create_job(new_job(1_000, 5, 2, 3), 1_000).await.unwrap();
    // Nothing measured yet: a task per batch, W of them.
    let first = s.claim(&w, Want::batches(5), 30_000, 2_000).await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|t| t.batch == t.task_id), "{first:?}");
    // Reported at 1 ms a task: a batch now carries 20 ms of work, 20 tasks, named by the
    // first of them, in plan order.
    let out = s
        .complete_batch(
            &w,
            &[ran(&first[0], 1_000), ran(&first[1], 1_000)],
            Want::batches(1),
            30_000,
            2_010,
        )
        .await
        .unwrap();
    assert!(out.completed.iter().all(|c| c.is_ok()));
    let a = out.claimed;
    let k = (BATCH_TARGET_US / 1_000) as usize;
    assert_eq!(batches(&a), vec![(a[0].task_id.clone(), k)]);
    assert!(out.more, "asked for one batch with room for two");
    // The second batch fills the job: W batches, 2k tasks leased, nothing more to take,
    // with prefetch or without.
    let b = s.claim(&w, Want::batches(5), 30_000, 2_020).await.unwrap();
    assert_eq!(batches(&b), vec![(b[0].task_id.clone(), k)]);
    assert_eq!(leased(&*s, &job.id).await, 2 * k as i64);
    assert!(
        s.claim(&w, Want::batches(5), 30_000, 2_030)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.claim(&w, Want::tasks(5), 30_000, 2_030)
            .await
            .unwrap()
            .is_empty()
    );
    // All but one of a batch reported at 5 ms each: the batch still holds its place.
    let items: Vec<_> = a[..k - 1].iter().map(|t| ran(t, 5_000)).collect();
    let out = s
        .complete_batch(&w, &items, Want::batches(4), 30_000, 2_040)
        .await
        .unwrap();
    assert!(out.claimed.is_empty(), "{:?}", batches(&out.claimed));
    // Its last task frees the place. The job's task time moved a quarter of the way each
    // report: 1,000 → 2,000 → 2,750 µs, so a batch now takes 20,000 / 2,750 = 7 tasks.
    let out = s
        .complete_batch(
            &w,
            &[ran(&a[k - 1], 5_000)],
            Want::batches(4),
            30_000,
            2_050,
        )
        .await
        .unwrap();
    let c = out.claimed;
    assert_eq!(batches(&c), vec![(c[0].task_id.clone(), 7)]);
    // Without prefetch, one task per batch, whatever the job's task time.
    let rest: Vec<_> = b.iter().map(|t| ran(t, 10)).collect();
    let out = s
        .complete_batch(&w, &rest, Want::tasks(5), 30_000, 2_060)
        .await
        .unwrap();
    assert_eq!(
        out.claimed.len(),
        1,
        "W = 2, one place held by the batch of 7"
    );
    assert_eq!(out.claimed[0].batch, out.claimed[0].task_id);
    // Tasks of a few microseconds: a batch is capped at MAX_PREFETCH.
    let out = s
        .complete_batch(
            &w,
            &[ran(&out.claimed[0], 1)],
            Want::batches(1),
            30_000,
            2_070,
        )
        .await
        .unwrap();
    let sizes = batches(&out.claimed);
    assert_eq!(sizes.len(), 1);
    assert!(
        sizes[0].1 as i64 <= MAX_PREFETCH && sizes[0].1 > 7,
        "{sizes:?}"
    );
}

/// Eight workers claim and report batches of one job at once, with W = 3. What the workers
/// hold never exceeds three batches, every task is done exactly once, and the result is
/// exact.
async fn concurrent_prefetching_workers_hold_at_most_w_batches(db: Db) {
    let s: Arc<dyn Store> = store(db).await;
    let job = s.create_job(new_job(400, 2, 3, 3), 1_000).await.unwrap();
    let total = job.progress.total;
    let held = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let most = Arc::new(Mutex::new(0usize));
    let done = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let mut handles = Vec::new();
    for i in 0..8 {
        let w = worker(&*s, &format!("w{i}")).await;
        let (s, held, most, done) = (s.clone(), held.clone(), most.clone(), done.clone());
        let job_id = job.id.clone();
        handles.push(tokio::spawn(async move {
            let mut mine = s.claim(&w, Want::batches(2), 30_000, 2_000).await.unwrap();
            for round in 0..2_000i64 {
                if mine.is_empty() {
                    let j = s.get_job(&job_id).await.unwrap();
                    if j.state.as_str() == "succeeded" {
                        break;
                    }
                    tokio::task::yield_now().await;
                    mine = s
                        .claim(&w, Want::batches(2), 30_000, 3_000 + round)
                        .await
                        .unwrap();
                    continue;
                }
                {
                    let mut h = held.lock().unwrap();
                    for (b, _) in batches(&mine) {
                        h.insert(b);
                    }
                    let mut m = most.lock().unwrap();
                    *m = (*m).max(h.len());
                }
                let items: Vec<_> = mine.iter().map(|t| ran(t, 300)).collect();
                {
                    let mut h = held.lock().unwrap();
                    for (b, _) in batches(&mine) {
                        h.remove(&b);
                    }
                    let mut d = done.lock().unwrap();
                    for t in &mine {
                        *d.entry(t.task_id.clone()).or_default() += 1;
                    }
                }
                let out = s
                    .complete_batch(&w, &items, Want::batches(2), 30_000, 3_000 + round)
                    .await
                    .unwrap();
                assert!(out.completed.iter().all(|c| c.is_ok()));
                mine = out.claimed;
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let most = *most.lock().unwrap();
    assert!(most <= 3, "held {most} batches");
    let done = done.lock().unwrap().clone();
    assert_eq!(done.len() as i64, total);
    assert!(done.values().all(|n| *n == 1));
    let j = s.get_job(&job.id).await.unwrap();
    assert_eq!(j.state.as_str(), "succeeded");
    assert_eq!(j.progress.done, total);
    // Every map reported {sum 10, count 2}: 200 maps.
    let result = j.result.unwrap();
    assert_eq!(result["count"], 400);
}
