//! Label colours on the Tasks page, for editors: each label's chip with the palette beside
//! it (every colour carries white text at 4.5:1 or better, in both themes). A pick is saved
//! at once and every chip on the page takes it; the focus stays on the colour picked.

use super::client::use_tree_ui;
use super::fields::FieldChoices;
use crate::tasks::api::recolor_label;
use leptos::prelude::*;
use shared::tasks::fields::LABEL_PALETTE;

/// What a screen reader calls each palette colour, in the palette's order.
const NAMES: [&str; 10] = [
    "red", "orange", "amber", "green", "teal", "sky", "blue", "violet", "fuchsia", "rose",
];

#[component]
pub fn LabelColors() -> impl IntoView {
    let ui = use_tree_ui();
    let Some(choices) = use_context::<FieldChoices>() else {
        return ().into_any();
    };
    let problem = RwSignal::new(None::<String>);
    // The rows follow the set of names only, so a new colour redraws no row.
    let names = Memo::new(move |_| {
        let mut all: Vec<String> = choices.colors.with(|m| m.keys().cloned().collect());
        all.sort_unstable();
        all
    });
    let shown = Memo::new(move |_| ui.can_edit.get() && names.with(|n| !n.is_empty()));
    view! {
        {move || shown.get().then(|| view! {
            <details class="mt-6 rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
                <summary class="cursor-pointer text-sm font-semibold">"Label colours"</summary>
                <ul class="mt-3 flex flex-col gap-2">
                    <For each=move || names.get() key=|n| n.clone() let:name>
                        <LabelRow name choices problem />
                    </For>
                </ul>
                {move || problem.get().map(|p| view! { <p role="alert" class="mt-2 text-sm text-red-700 dark:text-red-400">{p}</p> })}
            </details>
        })}
    }
    .into_any()
}

#[component]
fn LabelRow(
    name: String,
    choices: FieldChoices,
    problem: RwSignal<Option<String>>,
) -> impl IntoView {
    let key = name.clone();
    let color = Memo::new(move |_| {
        choices
            .colors
            .with(|m| m.get(&key).cloned().unwrap_or_default())
    });
    let group = format!("color-{name}");
    let radios = LABEL_PALETTE
        .into_iter()
        .zip(NAMES)
        .map(|(c, said)| {
            let n = name.clone();
            let pick = move |_| {
                let n = n.clone();
                leptos::task::spawn_local(async move {
                    match recolor_label(n.clone(), c.to_string()).await {
                        Ok(label) => {
                            choices.colors.update(|m| {
                                m.insert(label.name, label.color);
                            });
                            problem.set(None);
                        }
                        Err(e) => problem.set(Some(format!("{n}: {e}"))),
                    }
                });
            };
            view! {
                <label class="cursor-pointer">
                    <input type="radio" class="peer sr-only" name=group.clone() value=c
                        prop:checked=move || color.with(|x| x.eq_ignore_ascii_case(c))
                        on:change=pick />
                    <span aria-hidden="true" class="block h-5 w-5 rounded-full ring-slate-900 ring-offset-2 peer-checked:ring-2 peer-focus-visible:ring-2 peer-focus-visible:ring-emerald-500 dark:ring-white dark:ring-offset-slate-900" style=format!("background-color: {c}")></span>
                    <span class="sr-only">{said}</span>
                </label>
            }
        })
        .collect_view();
    view! {
        <li>
            <fieldset class="flex flex-wrap items-center gap-2">
                <legend class="sr-only">{format!("Colour of {name}")}</legend>
                <span class="inline-flex w-32 shrink-0 items-center">
                    <span class="rounded-full px-2 py-0.5 text-xs font-medium text-white" data-label-chip=name.clone()
                        style=move || format!("background-color: {}", color.get())>{name.clone()}</span>
                </span>
                {radios}
            </fieldset>
        </li>
    }
}
