//! Runs the tasks of tree jobs (import, export, generate; their kinds are in `kinds.rs`).
//! They work on the task forest, so only the server's own workers lease them. Each runs in its own Tokio task, aborted when
//! the lease's runner lets go of it (cancellation, shutdown), and reports how far it has
//! got to the job's progress a few times a second.

use super::import::{ParseOptions, parse};
use super::model::{GenerateParams, TreeFormat, TreeTask};
use crate::jobs::protocol::LeasedTask;
use crate::kinds::ExecError;
use crate::now_millis;
use crate::state::Core;
use crate::store::tree::LeaseHold;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Rows handed from the reader to the writer at a time.
const BATCH: usize = 1_000;

/// What a tree task does, as its kind and phase say (see `kinds.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Reads the uploaded file named by the job into the forest.
    Import,
    /// Writes the forest, or the job's root task's subtree, to a file.
    Export,
    /// Writes a random tree file.
    Generate,
    /// Imports the file the job's generate task wrote.
    ImportGenerated,
}

/// Runs one leased tree task to its output.
pub async fn run(task: &LeasedTask, st: &Core, step: Step) -> Result<Value, ExecError> {
    // A task of its own: the work goes on while the runner waits on a heartbeat, and
    // stops (rolling back) as soon as the runner drops it.
    let (task, st) = (task.clone(), st.clone());
    let handle = tokio::spawn(async move { run_inner(&task, &st, step).await });
    let mut guard = AbortOnDrop(handle);
    match (&mut guard.0).await {
        Ok(r) => r,
        Err(e) => Err(ExecError::Retryable(format!("tree task stopped: {e}"))),
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<Result<Value, ExecError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn fatal(e: impl std::fmt::Display) -> ExecError {
    ExecError::Fatal(e.to_string())
}

fn store_error(e: crate::store::StoreError) -> ExecError {
    match e {
        crate::store::StoreError::NotFound(m) => ExecError::Fatal(format!("{m} not found")),
        crate::store::StoreError::Conflict(m) | crate::store::StoreError::Invalid(m) => {
            ExecError::Fatal(m)
        }
        other => ExecError::Retryable(other.to_string()),
    }
}

/// Reports units done to the job, at most a few times a second.
struct Work {
    st: Core,
    job_id: String,
    total: i64,
    last: Option<Instant>,
}

impl Work {
    fn new(st: &Core, job_id: &str, total: i64) -> Self {
        Work {
            st: st.clone(),
            job_id: job_id.to_string(),
            total,
            last: None,
        }
    }

    async fn report(&mut self, done: i64, force: bool) {
        if !force
            && self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(250))
        {
            return;
        }
        self.last = Some(Instant::now());
        let total = self.total.max(done);
        if let Err(e) = self.st.jobs.job_work(&self.job_id, done, total).await {
            tracing::warn!(job_id = %self.job_id, error = %e, "progress not recorded");
        }
        self.st.events.publish("job", &self.job_id, "progress");
    }
}

async fn run_inner(task: &LeasedTask, st: &Core, step: Step) -> Result<Value, ExecError> {
    let p = &task.job_params;
    match step {
        Step::Import => {
            let key = p["file"]
                .as_str()
                .ok_or_else(|| fatal("no file to import"))?;
            let out = import(
                st,
                &task.job_id,
                key,
                p["parent"].as_str(),
                p["new_ids"].as_bool().unwrap_or(false),
                format_of(p)?,
                hold(task, st),
            )
            .await?;
            // The upload has served its purpose.
            let _ = st.files.delete_prefix(key).await;
            Ok(out)
        }
        Step::Export => export(st, &task.job_id, p["root"].as_str(), format_of(p)?).await,
        Step::Generate => {
            let params: GenerateParams = serde_json::from_value(p.clone())
                .map_err(|e| fatal(format!("bad parameters: {e}")))?;
            generate(st, &task.job_id, &params).await
        }
        Step::ImportGenerated => {
            let generated = task
                .inputs
                .first()
                .cloned()
                .ok_or_else(|| fatal("the generated file is missing"))?;
            let key = generated["file"]
                .as_str()
                .ok_or_else(|| fatal("the generated file is missing"))?;
            let imported = import(
                st,
                &task.job_id,
                key,
                None,
                false,
                TreeFormat::Json,
                hold(task, st),
            )
            .await?;
            Ok(json!({
                "file": key,
                "tasks": generated["tasks"],
                "bytes": generated["bytes"],
                "imported": imported,
            }))
        }
    }
}

/// The lease of the task running an import, kept as the import commits.
fn hold(task: &LeasedTask, st: &Core) -> LeaseHold {
    LeaseHold {
        task_id: task.task_id.clone(),
        attempt: task.attempt,
        until: now_millis() + st.engine.lease_ms,
    }
}

/// A job's `format` (JSON when absent, as jobs from before formats were).
fn format_of(p: &Value) -> Result<TreeFormat, ExecError> {
    match p["format"].as_str() {
        None => Ok(TreeFormat::Json),
        Some(f) => TreeFormat::parse(f).ok_or_else(|| fatal(format!("unknown format {f:?}"))),
    }
}

fn temp_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "orchard-tree-{}.json",
        uuid::Uuid::new_v4().simple()
    ))
}

/// Removes a temporary file when dropped.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tree_key(job_id: &str, format: TreeFormat) -> String {
    format!("jobs/{job_id}/tree.{}", format.extension())
}

/// Runs `writing` (which fills the temporary file and reports tasks written into `done`)
/// while reporting progress, then stores the file as the job's tree file. Answers the
/// file's key, its task count and its size.
async fn tree_file(
    st: &Core,
    job_id: &str,
    format: TreeFormat,
    total: i64,
    tmp: &TempFile,
    done: Arc<AtomicU64>,
    writing: impl std::future::Future<Output = Result<u64, ExecError>>,
) -> Result<(String, u64, u64), ExecError> {
    let mut work = Work::new(st, job_id, total);
    tokio::pin!(writing);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let tasks = loop {
        tokio::select! {
            r = &mut writing => break r?,
            _ = tick.tick() => work.report(done.load(Ordering::Relaxed) as i64, false).await,
        }
    };
    // The writer flushed its last bytes before finishing.
    let bytes = tokio::fs::metadata(&tmp.0)
        .await
        .map_err(|e| ExecError::Retryable(e.to_string()))?
        .len();
    let key = tree_key(job_id, format);
    st.files.put_file(&key, &tmp.0).await?;
    work.total = tasks as i64;
    work.report(tasks as i64, true).await;
    Ok((key, tasks, bytes))
}

/// A new temporary file, buffered for writing.
async fn temp_writer() -> Result<(TempFile, tokio::io::BufWriter<tokio::fs::File>), ExecError> {
    let tmp = TempFile(temp_path());
    let file = tokio::fs::File::create(&tmp.0)
        .await
        .map_err(|e| ExecError::Retryable(e.to_string()))?;
    Ok((tmp, tokio::io::BufWriter::new(file)))
}

async fn export(
    st: &Core,
    job_id: &str,
    root: Option<&str>,
    format: TreeFormat,
) -> Result<Value, ExecError> {
    let (tmp, mut out) = temp_writer().await?;
    let total = match root {
        Some(r) => st.tree.tree_subtree_size(r).await.map_err(store_error)?,
        None => 0,
    };
    let done = Arc::new(AtomicU64::new(0));
    let seen = done.clone();
    let writing = async {
        super::export::write_tree(&*st.tree, root, format, &mut out, move |n| {
            seen.store(n, Ordering::Relaxed)
        })
        .await
        .map_err(|e| match e {
            super::export::ExportError::Store(s) => store_error(s),
            other => ExecError::Retryable(other.to_string()),
        })
    };
    let (key, tasks, bytes) = tree_file(st, job_id, format, total, &tmp, done, writing).await?;
    Ok(
        json!({ "file": key, "tasks": tasks, "bytes": bytes, "root": root, "format": format.as_str() }),
    )
}

async fn generate(st: &Core, job_id: &str, p: &GenerateParams) -> Result<Value, ExecError> {
    let seed = p.seed.unwrap_or(0);
    let (tmp, mut out) = temp_writer().await?;
    let done = Arc::new(AtomicU64::new(0));
    let seen = done.clone();
    let writing = async {
        super::generate::write_random(p, seed, &mut out, move |n| seen.store(n, Ordering::Relaxed))
            .await
            .map_err(|e| ExecError::Retryable(e.to_string()))
    };
    let total = p.max_tasks as i64;
    let (key, tasks, bytes) =
        tree_file(st, job_id, TreeFormat::Json, total, &tmp, done, writing).await?;
    Ok(json!({ "file": key, "tasks": tasks, "bytes": bytes, "seed": seed }))
}

/// Counts the bytes a reader has handed out.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Imports the tree file under `key` in one transaction: a reader thread parses it and
/// hands rows over in batches; this task checks their ids and writes them. Any error
/// drops the transaction, so the forest is as it was.
pub async fn import(
    st: &Core,
    job_id: &str,
    key: &str,
    parent: Option<&str>,
    new_ids: bool,
    format: TreeFormat,
    hold: LeaseHold,
) -> Result<Value, ExecError> {
    let started = Instant::now();
    let (reader, len) = st.files.reader(key).await?;
    let parent_depth = match parent {
        Some(p) => super::forest::depth_of(st, p)
            .await
            .map_err(|e| ExecError::Fatal(e.to_string()))?,
        None => 0,
    };
    let (mut tx_import, last) = st.tree.tree_import(parent).await.map_err(store_error)?;
    let opts = ParseOptions {
        parent: parent.map(str::to_string),
        base_position: last,
        new_ids,
        now: now_millis(),
        max_depth: st.engine.max_tree_depth.saturating_sub(parent_depth),
    };
    let read = Arc::new(AtomicU64::new(0));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<(TreeTask, u64)>>(4);
    let bridge = tokio_util::io::SyncIoBridge::new(reader);
    let counter = read.clone();
    let parser = tokio::task::spawn_blocking(move || {
        let input = std::io::BufReader::with_capacity(
            1 << 16,
            Counted {
                inner: bridge,
                read: counter,
            },
        );
        let mut batch = Vec::with_capacity(BATCH);
        let summary = {
            let hand_on = |row: TreeTask, offset: u64| -> Result<(), String> {
                batch.push((row, offset));
                if batch.len() >= BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    tx.blocking_send(full)
                        .map_err(|_| "the import stopped".to_string())?;
                }
                Ok(())
            };
            match format {
                TreeFormat::Json => parse(input, &opts, hand_on),
                TreeFormat::Opml => super::opml::parse(input, &opts, hand_on),
                TreeFormat::Markdown => super::markdown::parse(input, &opts, hand_on),
            }
        };
        if summary.is_ok() && !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
        summary
    });
    let mut work = Work::new(st, job_id, len as i64);
    let mut written = 0u64;
    let mut failure: Option<ExecError> = None;
    let mut people = std::collections::HashMap::new();
    while let Some(batch) = rx.recv().await {
        if let Err(e) = check_assignees(st, &mut people, &batch).await {
            failure = Some(e);
            break;
        }
        if let Err(e) = write_batch(&mut *tx_import, &batch).await {
            failure = Some(e);
            break;
        }
        written += batch.len() as u64;
        work.report(read.load(Ordering::Relaxed) as i64, false)
            .await;
    }
    drop(rx);
    let parsed = parser
        .await
        .map_err(|e| ExecError::Retryable(format!("the reader stopped: {e}")))?;
    if let Some(e) = failure {
        return Err(e);
    }
    let summary = parsed.map_err(|e| fatal(format!("the file was not imported: {e}")))?;
    let hold = LeaseHold {
        until: now_millis() + st.engine.lease_ms,
        ..hold
    };
    let listings = tx_import
        .finish(summary.top, summary.top_done, now_millis(), Some(&hold))
        .await
        .map_err(store_error)?;
    work.report(len as i64, true).await;
    super::forest::announce(st, parent.unwrap_or("root"), "created", &listings);
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(
        job_id,
        tasks = written,
        bytes = len,
        seconds = secs,
        "tree imported"
    );
    Ok(json!({
        "tasks": summary.tasks,
        "top": summary.top,
        "bytes": len,
        "parent": parent,
        "seconds": secs,
    }))
}

/// Refuses a task assigned to someone who is not an Orchard user, naming its byte offset.
/// `people` remembers the usernames already looked up.
async fn check_assignees(
    st: &Core,
    people: &mut std::collections::HashMap<String, bool>,
    batch: &[(TreeTask, u64)],
) -> Result<(), ExecError> {
    for (t, offset) in batch {
        let Some(who) = &t.assignee else { continue };
        let known = match people.get(who) {
            Some(&k) => k,
            None => {
                let k = st
                    .accounts
                    .credentials(who)
                    .await
                    .map_err(store_error)?
                    .is_some();
                people.insert(who.clone(), k);
                k
            }
        };
        if !known {
            return Err(fatal(format!(
                "the file was not imported: the task at byte {offset} is assigned to {who:?}, \
                 who is not an Orchard user"
            )));
        }
    }
    Ok(())
}

/// Refuses ids that repeat within the batch or already exist, naming the byte offset of
/// the task; then writes the batch.
async fn write_batch(
    imp: &mut dyn crate::store::tree::TreeImport,
    batch: &[(TreeTask, u64)],
) -> Result<(), ExecError> {
    let mut seen = std::collections::HashMap::with_capacity(batch.len());
    for (t, offset) in batch {
        if seen.insert(t.id.as_str(), *offset).is_some() {
            return Err(fatal(format!(
                "the file was not imported: task id {:?} appears twice (again at byte {offset})",
                t.id
            )));
        }
    }
    let rows: Vec<TreeTask> = batch.iter().map(|(t, _)| t.clone()).collect();
    match imp.insert(&rows).await {
        Ok(()) => Ok(()),
        // An id clash: find which one to name it (the transaction is lost either way).
        Err(crate::store::StoreError::Conflict(_)) => {
            let ids: Vec<&str> = batch.iter().map(|(t, _)| t.id.as_str()).collect();
            let clash = imp
                .existing(&ids)
                .await
                .ok()
                .and_then(|c| c.into_iter().next());
            Err(fatal(match clash {
                Some(id) => format!(
                    "the file was not imported: task id {id:?} (at byte {}) already exists; \
                     import with new ids to keep both",
                    seen.get(id.as_str()).copied().unwrap_or_default()
                ),
                None => format!(
                    "the file was not imported: an id between bytes {} and {} already exists; \
                     import with new ids to keep both",
                    batch.first().map_or(0, |b| b.1),
                    batch.last().map_or(0, |b| b.1)
                ),
            }))
        }
        Err(e) => Err(store_error(e)),
    }
}
