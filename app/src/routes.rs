//! Every page as a lazy route: its code (components, the decoding of the data it reads, its
//! server functions' client halves) is a chunk of its own that the browser fetches when the
//! page is first shown, so no page pays for the others. The server renders them as any
//! other route, and names the chunks a page needs in its `<head>` so they load alongside
//! the main module.

use crate::accounts::components::{
    audit_page::AuditPage, login_page::LoginPage, setup_page::SetupPage, tokens_page::TokensPage,
    users_page::UsersPage,
};
use crate::jobs::components::{job_page::JobPage, jobs_page::JobsPage};
use crate::overview::page::OverviewPage;
use crate::tasks::components::tasks_page::TasksPage;
use crate::workers::components::workers_page::WorkersPage;
use leptos::prelude::*;
use leptos_router::{LazyRoute, lazy_route};

/// The overview (`/`).
pub struct Overview;

#[lazy_route]
impl LazyRoute for Overview {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <OverviewPage /> }.into_any()
    }
}

/// The task tree and a zoomed subtree (`/tasks`, `/tasks/:id`).
pub struct Tasks;

#[lazy_route]
impl LazyRoute for Tasks {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <TasksPage /> }.into_any()
    }
}

/// The fleet, a worker and one of its processes (`/workers…`).
pub struct Workers;

#[lazy_route]
impl LazyRoute for Workers {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <WorkersPage /> }.into_any()
    }
}

/// The jobs list (`/jobs`).
pub struct Jobs;

#[lazy_route]
impl LazyRoute for Jobs {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <JobsPage /> }.into_any()
    }
}

/// A job or a workflow run (`/jobs/:id`).
pub struct Job;

#[lazy_route]
impl LazyRoute for Job {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <JobPage /> }.into_any()
    }
}

/// Sign-in (`/login`).
pub struct Login;

#[lazy_route]
impl LazyRoute for Login {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <LoginPage /> }.into_any()
    }
}

/// Choosing a password from an invitation (`/setup/:token`).
pub struct Setup;

#[lazy_route]
impl LazyRoute for Setup {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <SetupPage /> }.into_any()
    }
}

/// People and their roles (`/admin/users`).
pub struct Users;

#[lazy_route]
impl LazyRoute for Users {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <UsersPage /> }.into_any()
    }
}

/// The audit log (`/admin/audit`).
pub struct Audit;

#[lazy_route]
impl LazyRoute for Audit {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <AuditPage /> }.into_any()
    }
}

/// API tokens (`/admin/tokens`).
pub struct Tokens;

#[lazy_route]
impl LazyRoute for Tokens {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <TokensPage /> }.into_any()
    }
}
