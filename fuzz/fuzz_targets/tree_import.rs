//! The task importer's streaming parser on arbitrary bytes: it must never panic or overflow
//! its stack, must accept only valid JSON, and what it accepts must be a well-formed forest
//! (children handed on before their parent, every parent present, counts that add up).

#![no_main]

use engine::tasks::import::{ParseOptions, parse};
use engine::tasks::model::Status;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    for new_ids in [false, true] {
        let opts = ParseOptions {
            parent: Some("target".into()),
            base_position: 0,
            new_ids,
            now: 1,
        };
        let mut rows = Vec::new();
        let Ok(summary) = parse(data, &opts, |t, offset| {
            assert!((offset as usize) < data.len());
            rows.push(t);
            Ok(())
        }) else {
            continue;
        };
        // Accepted input is JSON (serde_json gives up on very deep nesting; skip those).
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(data) {
            assert!(
                e.to_string().contains("recursion limit"),
                "accepted invalid JSON: {e}"
            );
        }
        assert_eq!(summary.tasks as usize, rows.len());
        // A file that repeats an id is refused when its rows are written; the shape checks
        // below need unique ids.
        let unique: std::collections::HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        if unique.len() != rows.len() || unique.contains("target") {
            continue;
        }
        // Each row's parent comes later (or is the import target); roll-ups match.
        let mut children: HashMap<&str, (i64, i64)> = HashMap::new();
        let mut top = (0, 0);
        for (i, t) in rows.iter().enumerate() {
            let done = (t.status == Status::Done) as i64;
            match t.parent_id.as_deref() {
                Some("target") => {
                    top.0 += 1;
                    top.1 += done;
                }
                Some(p) => {
                    assert!(
                        rows[i + 1..].iter().any(|r| r.id == p),
                        "parent {p} missing"
                    );
                    let e = children.entry(p).or_default();
                    e.0 += 1;
                    e.1 += done;
                }
                None => panic!("a row without a parent"),
            }
        }
        assert_eq!(top, (summary.top, summary.top_done));
        for t in &rows {
            let (n, d) = children.get(t.id.as_str()).copied().unwrap_or_default();
            assert_eq!((t.child_count, t.done_count), (n, d), "roll-up of {}", t.id);
        }
    }
});
