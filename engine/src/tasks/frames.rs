//! The open tasks of a tree file being read, shared by every format's reader (JSON, OPML,
//! Markdown): a stack of frames, one per task whose children are still coming. A reader
//! opens a frame where a task starts, fills in what it reads, and closes it where the task
//! ends; closing builds the row (the done rule over the children already counted), hands
//! it on, and counts it in its parent. Memory is one small frame per level, and an error
//! names the path of open frames (`tasks[3].tasks[0]`).

use super::import::{ParseError, ParseOptions, Summary};
use super::model::{POSITION_GAP, Status, TreeTask};
use shared::tasks::fields::Priority;

/// A task whose end has not been read yet.
pub(super) struct Frame {
    pub offset: u64,
    /// Index among its siblings.
    pub index: u64,
    pub id: Option<String>,
    /// Its children have started, so its id is fixed.
    pub children_started: bool,
    pub title: Option<String>,
    pub notes: String,
    pub status: Option<Status>,
    pub is_done: Option<bool>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
    pub due: Option<String>,
    pub assignee: Option<String>,
    pub labels: Vec<String>,
    pub priority: Priority,
    pub children: i64,
    pub done_children: i64,
}

impl Frame {
    fn new(offset: u64, index: u64) -> Self {
        Frame {
            offset,
            index,
            id: None,
            children_started: false,
            title: None,
            notes: String::new(),
            status: None,
            is_done: None,
            created_at: None,
            updated_at: None,
            due: None,
            assignee: None,
            labels: Vec::new(),
            priority: Priority::None,
            children: 0,
            done_children: 0,
        }
    }
}

/// Levels of a path named one by one at each end; a deeper path names how many it skips.
const PATH_ENDS: usize = 8;

/// The frames of one read, and what it has handed on.
pub(super) struct Frames<'o, E> {
    stack: Vec<Frame>,
    opts: &'o ParseOptions,
    summary: Summary,
    top_index: u64,
    emit: E,
}

impl<'o, E: FnMut(TreeTask, u64) -> Result<(), String>> Frames<'o, E> {
    pub fn new(opts: &'o ParseOptions, emit: E) -> Self {
        Frames {
            stack: Vec::new(),
            opts,
            summary: Summary::default(),
            top_index: 0,
            emit,
        }
    }

    /// How many tasks are open.
    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    /// Opens a task starting at byte `offset`, the next child of the innermost open task
    /// (or the next top-level task). Refused past the allowed depth, before frames pile up.
    pub fn open(&mut self, offset: u64) -> Result<&mut Frame, String> {
        if self.stack.len() as u64 >= self.opts.max_depth {
            return Err(format!(
                "the tree goes deeper than {} levels, the most allowed here \
                 (ORCHARD_MAX_TREE_DEPTH)",
                self.opts.max_depth
            ));
        }
        let index = match self.stack.last_mut() {
            // Counted when the child closes; its index is reserved now.
            Some(parent) => {
                parent.children += 1;
                (parent.children - 1) as u64
            }
            None => {
                self.top_index += 1;
                self.top_index - 1
            }
        };
        self.stack.push(Frame::new(offset, index));
        Ok(self.stack.last_mut().expect("just pushed"))
    }

    /// Opens a task whose id is fixed at once (formats whose children need no key to start).
    pub fn open_fixed(&mut self, offset: u64) -> Result<&mut Frame, String> {
        let f = self.open(offset)?;
        f.id = Some(uuid::Uuid::now_v7().to_string());
        f.children_started = true;
        Ok(f)
    }

    pub fn innermost(&mut self) -> Option<&mut Frame> {
        self.stack.last_mut()
    }

    /// Closes the innermost task: builds its row, hands it on, and counts it in its parent.
    pub fn close(&mut self) -> Result<(), String> {
        let opts = self.opts;
        let f = self.stack.last().expect("a task is open");
        let title = f.title.clone().ok_or("the task has no \"name\"")?;
        // The file's own word, then the done rule over the children it already counted: a
        // file from elsewhere may say a parent of only done tasks is not done (Orchard's
        // own exports always agree with the rule, so they import as they are).
        let status = f
            .status
            .unwrap_or(match f.is_done {
                Some(true) => Status::Done,
                _ => Status::Todo,
            })
            .settled(f.children, f.done_children);
        let f = self.stack.pop().expect("a task is open");
        let id = match f.id {
            Some(id) if !opts.new_ids || f.children_started => id,
            _ => uuid::Uuid::now_v7().to_string(),
        };
        let (parent_id, position) = match self.stack.last_mut() {
            Some(parent) => {
                parent.done_children += (status == Status::Done) as i64;
                (
                    parent.id.clone(),
                    (f.index as i64 + 1).saturating_mul(POSITION_GAP),
                )
            }
            None => {
                self.summary.top += 1;
                self.summary.top_done += (status == Status::Done) as i64;
                (
                    opts.parent.clone(),
                    opts.base_position
                        .saturating_add((f.index as i64 + 1).saturating_mul(POSITION_GAP)),
                )
            }
        };
        let created_at = f.created_at.unwrap_or(opts.now);
        let row = TreeTask {
            blocked: None,
            id,
            parent_id,
            position,
            title,
            notes: f.notes,
            status,
            child_count: f.children,
            done_count: f.done_children,
            created_at,
            updated_at: f.updated_at.unwrap_or(created_at),
            due: f.due,
            assignee: f.assignee,
            labels: f.labels,
            priority: f.priority,
        };
        self.summary.tasks += 1;
        (self.emit)(row, f.offset)
    }

    /// `tasks[3].tasks[0]` for the open frames, plus the key being read.
    pub fn path(&self, key: Option<&str>) -> String {
        let stack = &self.stack;
        let mut p = String::new();
        for (i, f) in stack.iter().enumerate() {
            if stack.len() > 2 * PATH_ENDS && i >= PATH_ENDS && i < stack.len() - PATH_ENDS {
                if i == PATH_ENDS {
                    p.push_str(&format!(".…{} levels…", stack.len() - 2 * PATH_ENDS));
                }
                continue;
            }
            if !p.is_empty() {
                p.push('.');
            }
            p.push_str(&format!("tasks[{}]", f.index));
        }
        if let Some(k) = key {
            if !p.is_empty() {
                p.push('.');
            }
            p.push_str(k);
        }
        if p.is_empty() { "top level".into() } else { p }
    }

    pub fn error_at(&self, offset: u64, key: Option<&str>, message: String) -> ParseError {
        ParseError {
            offset,
            path: self.path(key),
            message,
        }
    }

    pub fn error(&self, offset: u64, message: String) -> ParseError {
        self.error_at(offset, None, message)
    }

    pub fn summary(self) -> Summary {
        self.summary
    }

    /// The summary of a read that ended at byte `offset`; `empty` is the error when it held
    /// no task at all.
    pub fn finish(self, offset: u64, empty: &str) -> Result<Summary, ParseError> {
        if self.summary.tasks == 0 {
            return Err(self.error(offset, empty.to_string()));
        }
        Ok(self.summary)
    }
}
