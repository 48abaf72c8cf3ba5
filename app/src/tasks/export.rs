//! Writing tree files: the forest or one subtree, depth first in sibling order, as
//! `{"tasks":[{"id","name","isDone","status","notes","created_at","updated_at","tasks":[…]}]}`
//! — seed 000's format with Orchard's fields added, so seed 000 can read it and an import
//! of it restores every field. Children are read from the store a page at a time and only
//! for tasks that have some, so memory stays bounded by depth × page.

use super::model::{MAX_PAGE, Status, TreeTask};
use crate::store::Store;
use crate::store::tree::SiblingCursor;
use std::collections::VecDeque;
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

/// A task's fields up to the opening of its `tasks` list.
fn head(t: &TreeTask, out: &mut Vec<u8>) {
    let s = |v: &str| serde_json::to_string(v).unwrap_or_else(|_| "\"\"".into());
    out.extend_from_slice(
        format!(
            "{{\"id\":{},\"name\":{},\"isDone\":{},\"status\":\"{}\",\"notes\":{},\"created_at\":{},\"updated_at\":{},\"tasks\":[",
            s(&t.id),
            s(&t.title),
            t.status == Status::Done,
            t.status.as_str(),
            s(&t.notes),
            t.created_at,
            t.updated_at
        )
        .as_bytes(),
    );
}

/// Writes the forest (or the subtree of `root`) to `out`; `progress` hears the number of
/// tasks written so far, now and then. Returns how many tasks were written.
pub async fn write_tree<W: AsyncWrite + Unpin>(
    store: &dyn Store,
    root: Option<&str>,
    out: &mut W,
    mut progress: impl FnMut(u64),
) -> Result<u64, ExportError> {
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut written = 0u64;
    buf.extend_from_slice(b"{\"tasks\":[");
    let mut stack: Vec<Level> = Vec::new();
    match root {
        Some(id) => {
            let t = store.tree_task(id).await?;
            head(&t, &mut buf);
            written += 1;
            if t.child_count > 0 {
                stack.push(Level::new(Some(t.id)));
            } else {
                buf.extend_from_slice(b"]}");
            }
        }
        None => stack.push(Level::new(None)),
    }
    while let Some(level) = stack.last_mut() {
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
        }
        let Some(t) = level.queue.pop_front() else {
            // This list is over: close it, and the task that owns it.
            let owned = level.parent.is_some();
            stack.pop();
            buf.extend_from_slice(if owned { b"]}" } else { b"" });
            continue;
        };
        if !level.first {
            buf.push(b',');
        }
        level.first = false;
        head(&t, &mut buf);
        written += 1;
        if t.child_count > 0 {
            stack.push(Level::new(Some(t.id)));
        } else {
            buf.extend_from_slice(b"]}");
        }
        if buf.len() >= 1 << 16 {
            out.write_all(&buf).await?;
            buf.clear();
            progress(written);
        }
    }
    buf.extend_from_slice(b"]}\n");
    out.write_all(&buf).await?;
    out.flush().await?;
    progress(written);
    Ok(written)
}
