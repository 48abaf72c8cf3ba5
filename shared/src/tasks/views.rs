//! Saved views: a person's named filters, each opening as an outline or a board.

use serde::{Deserialize, Serialize};

/// How a view shows its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Layout {
    #[default]
    Outline,
    Board,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Outline => "outline",
            Layout::Board => "board",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Layout::Outline, Layout::Board]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
}

/// A saved view as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SavedView {
    pub name: String,
    /// The filter, in the filter language's canonical form.
    pub filter: String,
    pub layout: Layout,
    pub created_at: i64,
}

impl SavedView {
    /// Where the view opens: `/tasks` with its filter (and layout) in the query.
    pub fn href(&self) -> String {
        tasks_href("/tasks", self.layout == Layout::Board, &self.filter)
    }
}

/// `/tasks` (or a zoomed task's path) with the layout and filter given in its query.
pub fn tasks_href(path: &str, board: bool, q: &str) -> String {
    let mut parts = Vec::new();
    if board {
        parts.push("view=board".to_string());
    }
    if !q.trim().is_empty() {
        parts.push(format!("q={}", crate::format::query_escape(q.trim())));
    }
    if parts.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", parts.join("&"))
    }
}

/// Longest view name, in characters.
pub const MAX_VIEW_NAME: usize = 60;
/// Most views one person keeps.
pub const MAX_VIEWS: usize = 50;

/// Why a view name is refused, if it is.
pub fn view_name_problem(name: &str) -> Option<String> {
    let n = name.trim();
    if n.is_empty() {
        return Some("a view needs a name".into());
    }
    if n.chars().count() > MAX_VIEW_NAME {
        return Some(format!("view names are at most {MAX_VIEW_NAME} characters"));
    }
    if n.chars().any(char::is_control) {
        return Some("a view name cannot hold control characters".into());
    }
    None
}
