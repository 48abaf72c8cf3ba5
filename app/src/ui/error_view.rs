//! How a failed load looks on any page, and the error boundary around page content.

use crate::error::AppError;
use leptos::prelude::*;

/// A readable error box; unreachable-server errors say the page will retry.
#[component]
pub fn ErrorBox(error: AppError) -> impl IntoView {
    let retrying = matches!(error, AppError::Unreachable(_));
    view! {
        <div role="alert" class="rounded-md border border-red-200 bg-red-50 p-4 text-sm text-red-800 dark:border-red-900 dark:bg-red-950 dark:text-red-200">
            <p class="font-medium">{error.to_string()}</p>
            {retrying.then(|| view! { <p class="mt-1">"Reconnecting — this page updates by itself when the server answers."</p> })}
        </div>
    }
}

/// Renders its children, or the errors they raised.
#[component]
pub fn PageErrors(children: Children) -> impl IntoView {
    view! {
        <ErrorBoundary fallback=|errors| {
            view! {
                <div role="alert" class="rounded-md border border-red-200 bg-red-50 p-4 text-sm text-red-800 dark:border-red-900 dark:bg-red-950 dark:text-red-200">
                    <p class="font-medium">"Something went wrong on this page."</p>
                    <ul class="mt-2 list-disc pl-5">
                        {move || errors.get().into_iter().map(|(_, e)| view! { <li>{e.to_string()}</li> }).collect_view()}
                    </ul>
                </div>
            }
        }>{children()}</ErrorBoundary>
    }
}
