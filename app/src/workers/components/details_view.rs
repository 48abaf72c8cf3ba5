//! Task and process details made readable: a JSON report (wpipe sends its errors as JSON
//! objects) becomes a list of fields with the message first and a traceback as lines;
//! anything else is shown as text.

use leptos::prelude::*;
use serde_json::Value;

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `file:line in method` lines of a wpipe traceback list.
fn traceback(v: &Value) -> Option<Vec<String>> {
    let frames = v.as_array()?;
    Some(
        frames
            .iter()
            .map(|f| match f {
                Value::Object(m) => format!(
                    "{}:{} in {}",
                    m.get("file").map(text_of).unwrap_or_default(),
                    m.get("line").map(text_of).unwrap_or_default(),
                    m.get("method").map(text_of).unwrap_or_default()
                ),
                other => text_of(other),
            })
            .collect(),
    )
}

const MESSAGE_KEYS: [&str; 4] = ["error_message", "message", "error", "detail"];

#[component]
pub fn DetailsView(details: String) -> impl IntoView {
    let parsed = serde_json::from_str::<Value>(&details).ok();
    match parsed {
        Some(Value::Object(map)) => {
            let message = MESSAGE_KEYS
                .iter()
                .find_map(|k| map.get(*k).filter(|v| !v.is_null()).map(text_of));
            let fields: Vec<(String, Value)> = map
                .into_iter()
                .filter(|(k, _)| !MESSAGE_KEYS.contains(&k.as_str()) || message.is_none())
                .collect();
            view! {
                <div class="space-y-1 text-xs" data-testid="details">
                    {message.map(|m| view! { <p class="font-medium text-red-700 dark:text-red-300">{m}</p> })}
                    <dl class="grid grid-cols-[auto_1fr] gap-x-3 gap-y-0.5">
                        {fields.into_iter().map(|(k, v)| {
                            let value = match traceback(&v).filter(|_| k.contains("traceback")) {
                                Some(lines) => view! {
                                    <ol class="break-all font-mono">{lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ol>
                                }.into_any(),
                                None => view! { <span class="break-all">{text_of(&v)}</span> }.into_any(),
                            };
                            view! {
                                <dt class="text-slate-500 dark:text-slate-400">{k.replace('_', " ")}</dt>
                                <dd>{value}</dd>
                            }
                        }).collect_view()}
                    </dl>
                </div>
            }
            .into_any()
        }
        Some(Value::String(s)) => view! { <p class="whitespace-pre-wrap break-words text-xs" data-testid="details">{s}</p> }.into_any(),
        _ => view! { <p class="whitespace-pre-wrap break-words text-xs" data-testid="details">{details}</p> }.into_any(),
    }
}
