//! Writing tree files: the forest or one subtree, depth first in sibling order, as
//! `{"tasks":[{"id","name","isDone","status","notes","created_at","updated_at","tasks":[…]}]}`
//! — seed 000's format with Orchard's fields added, so seed 000 can read it and an import
//! of it restores every field. `due`, `assignee`, `labels` and `priority` are written only
//! when set, so a tree without them exports as before. Children are read only for tasks that have some: when a list
//! of siblings is read, the children of all of them come in one more query (up to a budget
//! of rows), so a query serves a whole sibling list, not one task. Memory stays bounded by
//! depth × budget.

use super::model::{MAX_PAGE, Status, TreeFormat, TreeTask};
use super::{markdown, opml};
use crate::store::tree::SiblingCursor;
use crate::store::tree::TreeStore;
use shared::tasks::fields::Priority;
use std::collections::{HashMap, VecDeque};
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot write the file: {0}")]
    Io(#[from] std::io::Error),
}

/// One open list of siblings.
struct Level {
    parent: Option<String>,
    queue: VecDeque<TreeTask>,
    cursor: Option<SiblingCursor>,
    exhausted: bool,
    first: bool,
}

impl Level {
    fn new(parent: Option<String>) -> Self {
        Level {
            parent,
            queue: VecDeque::new(),
            cursor: None,
            exhausted: false,
            first: true,
        }
    }
}

/// Most rows one look-ahead query brings.
const PREFETCH_ROWS: i64 = 10_000;

/// Reads the children of `tasks` (those that have some, in order, up to the budget) in one
/// query, keyed by parent.
async fn prefetch(
    store: &dyn TreeStore,
    tasks: &VecDeque<TreeTask>,
    cache: &mut HashMap<String, VecDeque<TreeTask>>,
) -> Result<(), ExportError> {
    let mut parents = Vec::new();
    let mut rows = 0;
    for t in tasks.iter().filter(|t| t.child_count > 0) {
        if rows + t.child_count > PREFETCH_ROWS {
            break;
        }
        rows += t.child_count;
        parents.push(t.id.clone());
    }
    if parents.len() < 2 {
        // One list alone is read when its turn comes.
        return Ok(());
    }
    for child in store.tree_children_of(&parents).await? {
        let parent = child.parent_id.clone().unwrap_or_default();
        cache.entry(parent).or_default().push_back(child);
    }
    // Lists read in full, even empty ones (children deleted since).
    for p in parents {
        cache.entry(p).or_default();
    }
    Ok(())
}

/// A task's fields up to the opening of its `tasks` list.
fn head(t: &TreeTask, out: &mut Vec<u8>) {
    let s = |v: &str| serde_json::to_string(v).unwrap_or_else(|_| "\"\"".into());
    let mut h = format!(
        "{{\"id\":{},\"name\":{},\"isDone\":{},\"status\":\"{}\",\"notes\":{},\"created_at\":{},\"updated_at\":{},",
        s(&t.id),
        s(&t.title),
        t.status == Status::Done,
        t.status.as_str(),
        s(&t.notes),
        t.created_at,
        t.updated_at
    );
    if let Some(d) = &t.due {
        h.push_str(&format!("\"due\":{},", s(d)));
    }
    if let Some(a) = &t.assignee {
        h.push_str(&format!("\"assignee\":{},", s(a)));
    }
    if !t.labels.is_empty() {
        let names: Vec<String> = t.labels.iter().map(|l| s(l)).collect();
        h.push_str(&format!("\"labels\":[{}],", names.join(",")));
    }
    if t.priority != Priority::None {
        h.push_str(&format!("\"priority\":\"{}\",", t.priority.as_str()));
    }
    h.push_str("\"tasks\":[");
    out.extend_from_slice(h.as_bytes());
}

/// What each format writes around the tasks, and for each task.
fn begin(format: TreeFormat, out: &mut Vec<u8>) {
    match format {
        TreeFormat::Json => out.extend_from_slice(b"{\"tasks\":["),
        TreeFormat::Opml => out.extend_from_slice(opml::HEAD.as_bytes()),
        TreeFormat::Markdown => {}
    }
}

/// A task at `depth` opens (its children follow); `first` among its siblings.
fn open(format: TreeFormat, t: &TreeTask, depth: usize, first: bool, out: &mut Vec<u8>) {
    match format {
        TreeFormat::Json => {
            if !first {
                out.push(b',');
            }
            head(t, out);
        }
        TreeFormat::Opml => opml::open_tag(t, depth, out),
        TreeFormat::Markdown => markdown::item_lines(t, depth, out),
    }
}

/// The task at `depth` ends, after its children.
fn close(format: TreeFormat, depth: usize, out: &mut Vec<u8>) {
    match format {
        TreeFormat::Json => out.extend_from_slice(b"]}"),
        TreeFormat::Opml => opml::close_tag(depth, out),
        TreeFormat::Markdown => {}
    }
}

fn end(format: TreeFormat, out: &mut Vec<u8>) {
    match format {
        TreeFormat::Json => out.extend_from_slice(b"]}\n"),
        TreeFormat::Opml => out.extend_from_slice(opml::TAIL.as_bytes()),
        TreeFormat::Markdown => {}
    }
}

/// Writes the forest (or the subtree of `root`) to `out` in `format`; `progress` hears the
/// number of tasks written so far, now and then. Returns how many tasks were written.
pub async fn write_tree<W: AsyncWrite + Unpin>(
    store: &dyn TreeStore,
    root: Option<&str>,
    format: TreeFormat,
    out: &mut W,
    mut progress: impl FnMut(u64),
) -> Result<u64, ExportError> {
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut written = 0u64;
    begin(format, &mut buf);
    let mut stack: Vec<Level> = Vec::new();
    // The depth of the tasks of the level at the top of the stack is its index, plus one
    // below a root task.
    let below = root.is_some() as usize;
    match root {
        Some(id) => {
            let t = store.tree_task(id).await?;
            open(format, &t, 0, true, &mut buf);
            written += 1;
            if t.child_count > 0 {
                stack.push(Level::new(Some(t.id)));
            } else {
                close(format, 0, &mut buf);
            }
        }
        None => stack.push(Level::new(None)),
    }
    let mut cache: HashMap<String, VecDeque<TreeTask>> = HashMap::new();
    while !stack.is_empty() {
        let depth = stack.len() - 1 + below;
        let level = stack.last_mut().expect("not empty");
        if level.queue.is_empty() && !level.exhausted {
            let (page, _) = store
                .tree_children(
                    level.parent.as_deref(),
                    level.cursor.as_ref(),
                    MAX_PAGE as i64,
                )
                .await?;
            level.exhausted = page.len() < MAX_PAGE as usize;
            level.cursor = page.last().map(|t| (t.position, t.id.clone()));
            level.queue.extend(page);
            prefetch(store, &level.queue, &mut cache).await?;
        }
        let Some(t) = level.queue.pop_front() else {
            // This list is over: close it, and the task that owns it.
            let owned = level.parent.is_some();
            stack.pop();
            if owned {
                close(format, depth.saturating_sub(1), &mut buf);
            }
            continue;
        };
        open(format, &t, depth, level.first, &mut buf);
        level.first = false;
        written += 1;
        if t.child_count > 0 {
            let mut next = Level::new(Some(t.id));
            if let Some(children) = cache.remove(next.parent.as_deref().unwrap_or_default()) {
                next.queue = children;
                next.exhausted = true;
                prefetch(store, &next.queue, &mut cache).await?;
            }
            stack.push(next);
        } else {
            close(format, depth, &mut buf);
        }
        if buf.len() >= 1 << 16 {
            out.write_all(&buf).await?;
            buf.clear();
            progress(written);
        }
    }
    end(format, &mut buf);
    out.write_all(&buf).await?;
    out.flush().await?;
    progress(written);
    Ok(written)
}
