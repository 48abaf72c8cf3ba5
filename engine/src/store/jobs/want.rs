//! What a claim asks of the queue ([`Want`]): how many batches, how large a batch may be, the
//! handlers it offers and their fleet limits; and the rule that sizes a batch from a job's
//! measured task time, which `orchard_claim` in `postgres/functions.sql` spells out too.

/// What a claim asks for: up to `batches` batches of tasks, and whether a batch may hold
/// several of a job's ready tasks (`prefetch`: the worker then runs a batch's tasks one after
/// another on one slot). A job's concurrency W bounds the batches it has leased, so it bounds
/// the tasks running at once whichever way the worker asks. A task that names a handler is
/// leased only to a claim that offers it (`handlers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub batches: i64,
    pub prefetch: bool,
    pub handlers: Vec<String>,
    /// Fleet-wide limits of handlers offered, by handler: a claim leases a step of such a
    /// handler only while fewer than `n` tasks leased under its key run across the fleet.
    pub limits: std::collections::BTreeMap<String, shared::jobs::protocol::FleetLimit>,
}

/// Work a batch is sized to carry: enough that the round trip reporting it is a small part
/// of it, little enough that its last task starts well within its lease.
pub const BATCH_TARGET_US: i64 = 20_000;
/// Most tasks in one batch.
pub const MAX_PREFETCH: i64 = 64;
/// Most tasks one claim leases in all, batches or not.
pub const MAX_CLAIM_TASKS: i64 = 256;

impl Want {
    /// Up to `n` tasks, each a batch of its own.
    pub fn tasks(n: i64) -> Self {
        Self {
            batches: n,
            prefetch: false,
            handlers: Vec::new(),
            limits: Default::default(),
        }
    }

    /// Up to `n` batches, each as many of a job's ready tasks as its measured task time
    /// makes worth carrying together.
    pub fn batches(n: i64) -> Self {
        Self {
            batches: n,
            prefetch: true,
            handlers: Vec::new(),
            limits: Default::default(),
        }
    }

    /// Most tasks a batch may take: one without prefetch, or while the job's task time
    /// is unmeasured; otherwise enough for `BATCH_TARGET_US` of work, at most
    /// `MAX_PREFETCH`. (`orchard_claim` in `postgres/functions.sql` spells out the same
    /// rule from `batch_max()`.)
    pub fn batch_size(&self, task_us: Option<i64>) -> i64 {
        match task_us {
            Some(us) if self.prefetch => (BATCH_TARGET_US / us.max(1)).clamp(1, MAX_PREFETCH),
            _ => 1,
        }
    }

    /// The handlers offered, as the JSON array SQLite's claim reads.
    pub fn handlers_json(&self) -> String {
        serde_json::to_string(&self.handlers).unwrap_or_else(|_| "[]".into())
    }

    /// The fleet limit of a handler offered, if it has one.
    pub fn limit_of(&self, handler: Option<&str>) -> Option<&shared::jobs::protocol::FleetLimit> {
        self.limits.get(handler?)
    }

    /// The limits as three parallel arrays (handler, key, n), as `orchard_claim` takes them.
    pub fn limit_arrays(&self) -> (Vec<String>, Vec<String>, Vec<i64>) {
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for (h, l) in &self.limits {
            out.0.push(h.clone());
            out.1.push(l.key.clone());
            out.2.push(i64::from(l.n));
        }
        out
    }

    /// The most tasks per batch this claim allows.
    pub fn batch_max(&self) -> i64 {
        if self.prefetch { MAX_PREFETCH } else { 1 }
    }
}
