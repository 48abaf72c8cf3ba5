//! The Tasks page: outliner, board, search, and import, export and generate panels.

pub mod board;
pub mod client;
pub mod fields;
pub mod files_panel;
pub mod outline;
pub mod row_editors;
pub mod search;
pub mod shortcuts;
pub mod tasks_page;
