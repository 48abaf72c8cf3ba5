//! Every browser test in one binary: a real Orchard server and Debian's Chromium driven by
//! Playwright.

mod common;

mod browser;
mod fields;
mod filters;
mod keyboard;
mod pages;
mod runs;
mod stale;
mod tasks;
mod workers;
