//! What the forest's edits and its import job share: how a change is announced on the event
//! bus, and how deep a task sits.

use crate::error::AppResult;
use crate::state::Core;

/// Announces a change: the task, then each listing once.
pub fn announce(st: &Core, task_id: &str, action: &str, listings: &[Option<String>]) {
    st.events.publish("task", task_id, action);
    let mut seen: Vec<&str> = Vec::new();
    for l in listings {
        let name = l.as_deref().unwrap_or("root");
        if !seen.contains(&name) {
            seen.push(name);
            st.events.publish("tree", name, action);
        }
    }
}

/// How many levels down a task is (a root is at level 1).
pub async fn depth_of(st: &Core, id: &str) -> AppResult<u64> {
    let (crumbs, hidden) = st.tree.tree_path(id, 2).await?;
    Ok(crumbs.len() as u64 + hidden.max(0) as u64)
}
