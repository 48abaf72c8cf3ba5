//! Components of the workers dashboard.

pub mod workers_page;
