//! The HTML document and the router: every page Orchard serves, rendered on the server and
//! hydrated in the browser.

use crate::access::{Access, PageAccess};
use crate::accounts::components::provide_me;
use crate::assets::Assets;
use crate::routes;
use crate::ui::layout::Layout;
use crate::ui::live::provide_live_context;
use crate::ui::not_found::NotFoundPage;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{Lazy, SsrMode, path};

/// The document around the app. `boot.js` runs before first paint so a dark-mode user
/// never sees a white flash. Every file comes from the build's own prefix ([`Assets`]).
pub fn shell(options: LeptosOptions, assets: Assets) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href=assets.url("favicon.svg") type="image/svg+xml" />
                <script src=assets.url("boot.js")></script>
                <link rel="stylesheet" href=assets.url("pkg/orchard.css") />
                <AutoReload options=options.clone() />
                <HydrationScripts options root=assets.prefix().to_string() />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-slate-50 text-slate-900 antialiased dark:bg-slate-950 dark:text-slate-100">
                <App />
            </body>
        </html>
    }
}

/// Who may open each page of [`App`]'s router, in the server router's path syntax. Keep it
/// beside the `<Route>`s below: the HTTP layer refuses a page missing here, and the access
/// test fails on any route of one without the other.
pub const PAGES: [PageAccess; 13] = [
    page("/", Access::Viewer),
    page("/tasks", Access::Viewer),
    page("/tasks/{id}", Access::Viewer),
    page("/workers", Access::Viewer),
    page("/workers/{id}", Access::Viewer),
    page("/workers/{id}/processes/{pid}", Access::Viewer),
    page("/jobs", Access::Viewer),
    page("/jobs/{id}", Access::Viewer),
    page("/login", Access::Public),
    page("/setup/{token}", Access::Public),
    page("/admin/users", Access::Admin),
    page("/admin/audit", Access::Admin),
    page("/admin/tokens", Access::Admin),
];

const fn page(path: &'static str, access: Access) -> PageAccess {
    PageAccess { path, access }
}

/// Routes render with `SsrMode::Async`: the server waits for a page's data and sends it
/// complete, so every page reads fully without JavaScript; hydration then makes it live.
/// Every page is a lazy route (`routes.rs`): the browser loads a page's code with the page.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_me();
    provide_live_context();
    view! {
        <Title formatter=|t: String| if t.is_empty() { "Orchard".to_string() } else { format!("{t} · Orchard") } />
        <Router>
            <Layout>
                <Routes fallback=|| view! { <NotFoundPage /> }>
                    <Route path=path!("/") view={Lazy::<routes::Overview>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/tasks") view={Lazy::<routes::Tasks>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/tasks/:id") view={Lazy::<routes::Tasks>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/workers") view={Lazy::<routes::Workers>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/workers/:id") view={Lazy::<routes::Workers>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/workers/:id/processes/:pid") view={Lazy::<routes::Workers>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/jobs") view={Lazy::<routes::Jobs>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/jobs/:id") view={Lazy::<routes::Job>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/login") view={Lazy::<routes::Welcome>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/setup/:token") view={Lazy::<routes::Welcome>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/users") view={Lazy::<routes::Admin>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/audit") view={Lazy::<routes::Admin>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/tokens") view={Lazy::<routes::Admin>::new()} ssr=SsrMode::Async />
                </Routes>
            </Layout>
        </Router>
    }
}
