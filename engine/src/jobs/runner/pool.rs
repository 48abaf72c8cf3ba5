//! A worker's bookkeeping, shared by its claimer, runners and reporter: how many batches it
//! holds, how long batches and reports take, and from those how far ahead it claims.

use super::WorkerConfig;
use crate::jobs::service::MAX_BATCH;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// One worker's bookkeeping, shared by its claimer, runners and reporter.
pub(super) struct Pool {
    pub(super) cfg: WorkerConfig,
    pub(super) counts: Mutex<Counts>,
    /// Woken when tasks finish, so the claimer can ask for more.
    pub(super) room: Notify,
    /// Batches being run right now.
    pub(super) running: AtomicUsize,
}

pub(super) struct Counts {
    /// Batches held: queued, running, being reported, or reserved by a claim in flight.
    pub(super) inflight: usize,
    /// Moving average of how long a batch runs, in milliseconds (`None` until one ran).
    pub(super) avg_ms: Option<f64>,
    /// Moving average of how long reporting finished tasks takes, in milliseconds.
    pub(super) report_ms: Option<f64>,
    /// Moving average of how many tasks a batch holds.
    pub(super) batch_len: Option<f64>,
}

impl Pool {
    /// How many batches to hold: one per slot, plus as many queued as will start within a
    /// quarter of a lease at the pace batches have been running, and no more than one
    /// claim's worth of tasks queued (the rest is better left to other workers).
    pub(super) fn target(&self, c: &Counts) -> usize {
        let slots = self.cfg.slots.max(1);
        let ahead = match c.avg_ms {
            Some(ms) => {
                let budget = self.cfg.lease_ms as f64 / 4.0;
                let tasks = MAX_BATCH as f64 / c.batch_len.unwrap_or(1.0).max(1.0);
                (budget / ms.max(0.001) * slots as f64).min(tasks) as usize
            }
            None => 0,
        };
        slots + ahead
    }

    /// Lets go of `finished` batches and reserves room for new ones (at most one claim's).
    pub(super) fn reserve(&self, finished: usize) -> usize {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.inflight = c.inflight.saturating_sub(finished);
        let room = self
            .target(&c)
            .saturating_sub(c.inflight)
            .min(MAX_BATCH as usize);
        c.inflight += room;
        room
    }

    /// Gives back reserved or finished places.
    pub(super) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.inflight = c.inflight.saturating_sub(n);
        drop(c);
        self.room.notify_one();
    }

    /// How long the reporter may wait for running tasks to finish, when they are quick.
    pub(super) fn short_wait(&self) -> Option<Duration> {
        if self.running.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let avg = self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .avg_ms?;
        (avg <= 2.0).then(|| Duration::from_secs_f64(avg * 1.5 / 1000.0))
    }

    /// Records a batch of `len` tasks that ran for `d`.
    pub(super) fn ran_for(&self, d: Duration, len: usize) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.avg_ms = Some(moving_average(c.avg_ms, d.as_secs_f64() * 1000.0));
        c.batch_len = Some(moving_average(c.batch_len, len as f64));
    }

    pub(super) fn reported_in(&self, d: Duration) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.report_ms = Some(moving_average(c.report_ms, d.as_secs_f64() * 1000.0));
    }

    /// Whether a runner with nothing queued should report its batch itself: batches take
    /// at least half as long as a report. Quicker tasks are better off sharing a report
    /// (the reporter waits for them), and where a report costs several tasks' time (a
    /// remote database, where reports of one job also wait for each other on its row)
    /// sharing it is what keeps the pace.
    pub(super) fn reports_alone(&self) -> bool {
        let c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        matches!((c.avg_ms, c.report_ms), (Some(task), Some(report)) if task >= report / 2.0)
    }
}

fn moving_average(avg: Option<f64>, x: f64) -> f64 {
    match avg {
        Some(avg) => avg * 0.9 + x * 0.1,
        None => x,
    }
}
