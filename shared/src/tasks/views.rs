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
        let q = crate::format::query_escape(&self.filter);
        match self.layout {
            Layout::Outline => format!("/tasks?q={q}"),
            Layout::Board => format!("/tasks?view=board&q={q}"),
        }
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
