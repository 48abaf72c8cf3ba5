//! The frame around every page: header with navigation, live-connection indicator and the
//! theme toggle; the page in a centred column below.

use super::error_view::PageErrors;
use super::live::LiveIndicator;
use super::theme_toggle::ThemeToggle;
use crate::accounts::components::user_menu::UserMenu;
use leptos::prelude::*;
use leptos_router::components::A;

const NAV: [(&str, &str); 4] = [
    ("/", "Overview"),
    ("/tasks", "Tasks"),
    ("/workers", "Workers"),
    ("/jobs", "Jobs"),
];

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <a href="#main" class="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2 focus:text-slate-900">
            "Skip to content"
        </a>
        <header class="sticky top-0 z-40 border-b border-slate-200 bg-white/90 backdrop-blur dark:border-slate-800 dark:bg-slate-900/90">
            <div class="mx-auto flex max-w-6xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3">
                <a href="/" class="flex items-center gap-2 text-lg font-semibold tracking-tight">
                    <span aria-hidden="true" class="inline-block h-6 w-6 rounded-full bg-emerald-500"></span>
                    "Orchard"
                </a>
                <nav aria-label="Main" class="order-3 flex w-full gap-1 overflow-x-auto sm:order-none sm:w-auto">
                    {NAV
                        .into_iter()
                        .map(|(href, label)| {
                            view! {
                                <A
                                    href=href
                                    exact=href == "/"
                                    attr:class="rounded-md px-3 py-1.5 text-sm font-medium text-slate-600 hover:bg-slate-100 hover:text-slate-900 aria-[current=page]:bg-emerald-50 aria-[current=page]:text-emerald-700 dark:text-slate-300 dark:hover:bg-slate-800 dark:hover:text-white dark:aria-[current=page]:bg-emerald-950 dark:aria-[current=page]:text-emerald-300"
                                >
                                    {label}
                                </A>
                            }
                        })
                        .collect_view()}
                </nav>
                <div class="ml-auto flex items-center gap-3">
                    <Transition fallback=|| ()>
                        <UserMenu />
                    </Transition>
                    <LiveIndicator />
                    <ThemeToggle />
                </div>
            </div>
        </header>
        <main id="main" class="mx-auto max-w-6xl px-4 py-6">
            <PageErrors>{children()}</PageErrors>
        </main>
    }
}
