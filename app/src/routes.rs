//! Every page as a lazy route: its code (components, the decoding of the data it reads, its
//! server functions' client halves) is a chunk of its own that the browser fetches when the
//! page is first shown, so no page pays for the others. Small pages opened together share a
//! route (sign-in and setup; the admin pages): the splitter makes a file for every set of
//! routes sharing code, so fewer routes load fewer, larger files. The server renders them as any
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

/// Sign-in and choosing a password from an invitation (`/login`, `/setup/:token`): one
/// chunk, as both are small and share the account forms.
pub struct Welcome;

#[lazy_route]
impl LazyRoute for Welcome {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        let path = leptos_router::hooks::use_location().pathname;
        view! {
            {move || if path.get().starts_with("/setup/") {
                view! { <SetupPage /> }.into_any()
            } else {
                view! { <LoginPage /> }.into_any()
            }}
        }
        .into_any()
    }
}

/// The admin's pages — people, the audit log, API tokens (`/admin/…`): one chunk.
pub struct Admin;

#[lazy_route]
impl LazyRoute for Admin {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        let path = leptos_router::hooks::use_location().pathname;
        view! {
            {move || match path.get().as_str() {
                "/admin/audit" => view! { <AuditPage /> }.into_any(),
                "/admin/tokens" => view! { <TokensPage /> }.into_any(),
                _ => view! { <UsersPage /> }.into_any(),
            }}
        }
        .into_any()
    }
}
