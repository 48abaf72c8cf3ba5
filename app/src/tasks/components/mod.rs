//! The Tasks page: outliner, board, filters and saved views, and import, export and generate panels.

pub mod board;
pub mod client;
pub mod fields;
pub mod files_panel;
pub mod filter_bar;
pub mod label_colors;
pub mod outline;
pub mod row_editors;
pub mod shortcuts;
pub mod tasks_page;
