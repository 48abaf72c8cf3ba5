//! Components of the Jobs pages, one per file.

pub mod create_form;
pub mod job_page;
pub mod job_row;
pub mod jobs_page;
pub mod run_graph;
pub mod run_step;
pub mod run_view;
pub mod state_badge;
pub mod throughput_chart;
