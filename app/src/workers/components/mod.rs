//! Components of the workers dashboard: the fleet table, a worker's processes, a process's
//! tasks, and the small pieces they share.

pub mod badges;
pub mod clock;
pub mod details_view;
pub mod fleet_table;
pub mod process_panel;
pub mod sparkline;
pub mod worker_panel;
pub mod workers_page;
