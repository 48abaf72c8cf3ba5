//! Every server integration test in one binary: a real server on port 0 with a fresh SQLite
//! or Postgres database, real HTTP, real worker processes.

mod common;

mod access;
mod api;
mod cli;
mod declared;
mod deploy;
mod hardening;
mod interchange;
mod migrations;
mod monitoring;
mod names;
mod openapi;
mod pages;
mod pg_functions;
mod prefetch;
mod s3;
mod schemathesis;
mod states;
mod store_conformance;
mod task_fields;
mod task_graph;
mod task_search;
mod tree;
mod workers;
mod workflow_recovery;
mod workflows;
mod wpipe;
