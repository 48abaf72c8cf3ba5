//! Task-tree types shared by the browser and the server.
//!
//! The done rule (seed 000's checkbox tree):
//! - Marking a task `done` marks its whole subtree `done`.
//! - Taking a `done` task back to `todo` or `doing` puts its whole subtree back to `todo`.
//! - A parent follows its children: when every child is done it becomes `done`; when a done
//!   parent gains a child that is not done (a new child, a child reopened, a task moved in)
//!   it becomes `doing`. The change climbs as far as it flips parents.
//!   Switching between `todo` and `doing` touches nothing else.

use super::fields::Priority;
use crate::Millis;
use serde::{Deserialize, Serialize};

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Status {
    #[default]
    Todo,
    Doing,
    Done,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Todo, Status::Doing, Status::Done];
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Todo => "todo",
            Status::Doing => "doing",
            Status::Done => "done",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Status::Todo => "To Do",
            Status::Doing => "In Progress",
            Status::Done => "Done",
        }
    }
    /// A parent's status under the done rule, given its direct children: done when all of
    /// them are, in progress when it says done but some are not, else as it is.
    pub fn settled(self, children: i64, done: i64) -> Self {
        match (children, self) {
            (0, own) => own,
            (n, _) if done >= n => Status::Done,
            (_, Status::Done) => Status::Doing,
            (_, own) => own,
        }
    }

    /// The board's click: To Do → In Progress → Done → To Do.
    pub fn next(self) -> Self {
        match self {
            Status::Todo => Status::Doing,
            Status::Doing => Status::Done,
            Status::Done => Status::Todo,
        }
    }
}

/// One task of the forest, with the roll-up of its direct children.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TreeTask {
    pub id: String,
    /// `None` for a root.
    pub parent_id: Option<String>,
    pub title: String,
    pub notes: String,
    pub status: Status,
    /// Sort key among siblings (ascending; gaps are normal).
    pub position: i64,
    /// Direct children.
    pub child_count: i64,
    /// Direct children that are done.
    pub done_count: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// When it is due, `YYYY-MM-DD`.
    #[serde(default)]
    pub due: Option<String>,
    /// The username of the person it is assigned to.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Label names, in the order they were given.
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub priority: Priority,
    /// Why the task's newest run failed; `None` when it is not blocked.
    #[serde(default)]
    pub blocked: Option<String>,
}

/// A page of siblings, in order; `next_cursor` continues it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskPage {
    pub items: Vec<TreeTask>,
    pub next_cursor: Option<String>,
    /// How many siblings there are in all.
    pub total: i64,
}

/// One step of a path from a root down to a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Crumb {
    pub id: String,
    pub title: String,
}

/// A search result: the task and its ancestors, root first. Very deep paths keep their
/// root and the ancestors nearest the task; `path_elided` says how many were left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    pub task: TreeTask,
    pub path: Vec<Crumb>,
    pub path_elided: i64,
}

/// Search results, in id order (oldest first); `more` when there were more hits than
/// returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    pub more: bool,
    /// Every task that matches, the ones not returned included.
    pub total: i64,
}

/// Parameters of a random tree (seed 000's `/generate`, plus a size cap and a seed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GenerateParams {
    /// Depth of the deepest task (a root alone is depth 1).
    pub max_depth: u32,
    /// Most children any task gets (each gets 0..=this at random).
    pub max_children: u32,
    /// Characters in each generated name.
    pub name_length: u32,
    /// Root tasks.
    pub roots: u32,
    /// The tree stops growing at this many tasks.
    pub max_tasks: u64,
    /// Same seed, same tree; `None` picks one.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Import the file into the forest (at the roots) once written.
    #[serde(default)]
    pub import: bool,
}

/// A generated tree file, listed on the Tasks page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TreeFile {
    pub job_id: String,
    /// File key, downloadable at `/api/v1/files/{key}`.
    pub key: String,
    pub tasks: i64,
    pub bytes: i64,
    pub created_at: Millis,
}

/// Sort keys of siblings are spaced this far apart, so inserts and moves between two
/// siblings rarely have to renumber the others.
pub const POSITION_GAP: i64 = 1 << 16;
/// Default and largest page of children.
pub const DEFAULT_PAGE: u32 = 200;
pub const MAX_PAGE: u32 = 1000;
/// Longest title and notes accepted, in characters.
pub const MAX_TITLE: usize = 500;
pub const MAX_NOTES: usize = 20_000;

/// The formats of tree files: Orchard's JSON (seed 000's format with fields added), OPML
/// outlines, and Markdown nested lists with task boxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TreeFormat {
    #[default]
    Json,
    Opml,
    Markdown,
}

impl TreeFormat {
    pub const ALL: [TreeFormat; 3] = [TreeFormat::Json, TreeFormat::Opml, TreeFormat::Markdown];

    pub fn as_str(self) -> &'static str {
        match self {
            TreeFormat::Json => "json",
            TreeFormat::Opml => "opml",
            TreeFormat::Markdown => "markdown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            TreeFormat::Json => "JSON",
            TreeFormat::Opml => "OPML",
            TreeFormat::Markdown => "Markdown",
        }
    }

    /// A file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            TreeFormat::Json => "json",
            TreeFormat::Opml => "opml",
            TreeFormat::Markdown => "md",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            TreeFormat::Json => "application/json",
            TreeFormat::Opml => "text/x-opml; charset=utf-8",
            TreeFormat::Markdown => "text/markdown; charset=utf-8",
        }
    }
}
