//! Markdown nested lists as tree files: one task per list item, nested by indentation, with
//! GitHub's task boxes for status (`- [ ]` to do, `- [x]` done; an item without a box is to
//! do). Lines under an item that are not items themselves are its notes.
//!
//! ```text
//! - [ ] Launch
//!   - [x] Write the copy
//!     Two drafts, then the final one.
//!   - [ ] Deploy
//! ```
//!
//! Reading streams line by line with the JSON reader's frames (`import::Frames`), so memory
//! stays bounded by the depth of the list and each line's length, and errors name the byte
//! offset and the path (`tasks[0].tasks[1]`) with the line. Headings and text before the
//! first item are skipped; `*`, `+` and numbered items (`1.`, `1)`) are items too; a tab
//! indents to the next multiple of four columns. Writing gives two spaces per level and
//! escapes what would read back as something else.

use super::frames::Frames;
use super::import::{ParseError, ParseOptions, Summary};
use super::model::{MAX_NOTES, MAX_TITLE, Status, TreeTask};
use std::io::{BufRead, Read};

/// Longest line read, in bytes (a title or a line of notes; far above both limits).
const MAX_LINE: u64 = 256 * 1024;

/// A list item's parts: where its text starts (in columns), whether its box is ticked
/// (`None` without a box), and its text.
struct Item<'a> {
    indent: usize,
    done: Option<bool>,
    text: &'a str,
}

/// Columns of leading white space, and the rest of the line.
fn indentation(line: &str) -> (usize, &str) {
    let mut cols = 0;
    for (i, c) in line.char_indices() {
        match c {
            ' ' => cols += 1,
            '\t' => cols = (cols / 4 + 1) * 4,
            _ => return (cols, &line[i..]),
        }
    }
    (cols, "")
}

/// The item on `line`, if it is one.
fn item(line: &str) -> Option<Item<'_>> {
    let (indent, rest) = indentation(line);
    let after = if let Some(r) = rest
        .strip_prefix("- ")
        .or_else(|| rest.strip_prefix("* "))
        .or_else(|| rest.strip_prefix("+ "))
    {
        r
    } else {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        let r = &rest[digits..];
        r.strip_prefix(". ").or_else(|| r.strip_prefix(") "))?
    };
    let (done, text) = if let Some(t) = after.strip_prefix("[ ] ") {
        (Some(false), t)
    } else if let Some(t) = after
        .strip_prefix("[x] ")
        .or_else(|| after.strip_prefix("[X] "))
    {
        (Some(true), t)
    } else if matches!(after.trim_end(), "[ ]" | "[x]" | "[X]") {
        (Some(after.trim_end() != "[ ]"), "")
    } else {
        (None, after)
    };
    Some(Item {
        indent,
        done,
        text: unescape(text.trim()),
    })
}

/// A leading backslash written before text that would otherwise read as a box or an item.
fn unescape(text: &str) -> &str {
    match text.strip_prefix('\\') {
        Some(rest) if needs_escape(rest) => rest,
        _ => text,
    }
}

fn needs_escape(text: &str) -> bool {
    text.starts_with('[')
        || text.starts_with('\\')
        || text.starts_with('#')
        || item(&format!("{text} ")).is_some()
}

/// Reads a Markdown list, handing each task to `emit` (children before their parent) with
/// the byte offset of its line.
pub fn parse<R: BufRead>(
    mut reader: R,
    opts: &ParseOptions,
    emit: impl FnMut(TreeTask, u64) -> Result<(), String>,
) -> Result<Summary, ParseError> {
    let mut frames = Frames::new(opts, emit);
    // The open items' indentations, one per open frame.
    let mut indents: Vec<usize> = Vec::new();
    let mut offset = 0u64;
    let mut number = 0u64;
    let mut raw = Vec::new();
    loop {
        raw.clear();
        let n = Read::by_ref(&mut reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut raw)
            .map_err(|e| frames.error(offset, format!("cannot read the file: {e}")))?;
        if n == 0 {
            break;
        }
        number += 1;
        let at = offset;
        offset += n as u64;
        if n as u64 > MAX_LINE {
            return Err(frames.error(at, format!("line {number} is longer than {MAX_LINE} bytes")));
        }
        let line = std::str::from_utf8(&raw)
            .map_err(|e| {
                frames.error(
                    at + e.valid_up_to() as u64,
                    format!("line {number} is not UTF-8 text"),
                )
            })?
            .trim_end_matches(['\n', '\r']);
        let step = (|| -> Result<(), String> {
            if let Some(it) = item(line) {
                while indents.last().is_some_and(|&i| i >= it.indent) {
                    indents.pop();
                    frames.close()?;
                }
                let f = frames.open_fixed(at)?;
                if it.text.is_empty() {
                    return Err("a list item has no text".into());
                }
                if it.text.chars().count() > MAX_TITLE {
                    return Err(format!(
                        "an item's text is longer than {MAX_TITLE} characters"
                    ));
                }
                f.title = Some(it.text.to_string());
                f.status = it.done.map(|d| if d { Status::Done } else { Status::Todo });
                indents.push(it.indent);
                return Ok(());
            }
            let (_, text) = indentation(line);
            if text.starts_with('#') && indents.is_empty() {
                return Ok(());
            }
            if text.starts_with('#') {
                // A heading ends the list it follows.
                while indents.pop().is_some() {
                    frames.close()?;
                }
                return Ok(());
            }
            let Some(f) = frames.innermost() else {
                // Text before the first item.
                return Ok(());
            };
            if text.is_empty() && f.notes.is_empty() {
                return Ok(());
            }
            if !f.notes.is_empty() || text.is_empty() {
                f.notes.push('\n');
            }
            f.notes.push_str(unescape(text));
            if f.notes.chars().count() > MAX_NOTES + 1 {
                return Err(format!(
                    "an item's notes are longer than {MAX_NOTES} characters"
                ));
            }
            Ok(())
        })();
        step.map_err(|m| frames.error(at, format!("{m} (line {number})")))?;
    }
    while indents.pop().is_some() {
        frames.close().map_err(|m| frames.error(offset, m))?;
    }
    frames.finish(offset, "the file has no list items")
}

/// The lines of one task at `depth` (0 for the top): its item, then its notes.
pub fn item_lines(t: &TreeTask, depth: usize, out: &mut Vec<u8>) {
    let pad = "  ".repeat(depth);
    let mark = if t.status == Status::Done {
        "[x]"
    } else {
        "[ ]"
    };
    let title = if needs_escape(&t.title) {
        format!("\\{}", t.title)
    } else {
        t.title.clone()
    };
    out.extend_from_slice(format!("{pad}- {mark} {title}\n").as_bytes());
    for line in t.notes.trim_end().lines() {
        let line = line.trim();
        if line.is_empty() {
            out.extend_from_slice(b"\n");
        } else if needs_escape(line) {
            out.extend_from_slice(format!("{pad}  \\{line}\n").as_bytes());
        } else {
            out.extend_from_slice(format!("{pad}  {line}\n").as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<TreeTask>, ParseError> {
        let mut out = Vec::new();
        parse(text.as_bytes(), &ParseOptions::default(), |t, _| {
            out.push(t);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn items_nest_by_indentation_with_boxes_and_notes() {
        let tasks = read(
            "# Plan\n\nIntro text.\n\n- [ ] Launch\n  - [x] Write the copy\n    Two drafts.\n\n    Then one.\n  * Deploy\n\t1. [X] Tabbed\n- Later\n",
        )
        .unwrap();
        let titles: Vec<_> = tasks.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(
            titles,
            ["Write the copy", "Tabbed", "Deploy", "Launch", "Later"]
        );
        assert_eq!(tasks[0].notes, "Two drafts.\n\nThen one.");
        assert_eq!(tasks[0].status, Status::Done);
        // Deploy's only child is done, so Deploy is too (the done rule).
        assert_eq!(tasks[2].status, Status::Done);
        assert_eq!(tasks[3].child_count, 2);
        assert_eq!(tasks[3].status, Status::Done);
        assert_eq!(tasks[4].status, Status::Todo);
        assert_eq!(tasks[1].parent_id.as_deref(), Some(tasks[2].id.as_str()));
    }

    #[test]
    fn what_would_misread_is_escaped_and_reads_back() {
        let t = TreeTask {
            id: "x".into(),
            parent_id: None,
            title: "[x] not a box".into(),
            notes: "- not an item\n# not a heading\nplain".into(),
            status: Status::Todo,
            position: 0,
            child_count: 0,
            done_count: 0,
            created_at: 0,
            updated_at: 0,
            due: None,
            assignee: None,
            labels: Vec::new(),
            priority: shared::tasks::fields::Priority::None,
            blocked: None,
        };
        let mut out = Vec::new();
        item_lines(&t, 1, &mut out);
        let text = String::from_utf8(out).unwrap();
        let back = read(&text).unwrap();
        assert_eq!(
            (back[0].title.as_str(), back[0].notes.as_str()),
            (t.title.as_str(), t.notes.as_str())
        );
    }

    #[test]
    fn mistakes_name_the_line_and_the_byte() {
        let e = read("- ok\n  - [ ]\n").unwrap_err();
        assert_eq!(e.offset, 5);
        assert!(e.message.contains("no text (line 2)"), "{e}");
        assert_eq!(e.path, "tasks[0].tasks[0]");
        let e = read("nothing here\n").unwrap_err();
        assert!(e.message.contains("no list items"), "{e}");
        let mut bad = b"- a\n- b".to_vec();
        bad.push(0xff);
        let e = parse(&bad[..], &ParseOptions::default(), |_, _| Ok(())).unwrap_err();
        assert_eq!(e.offset, 7);
        let long = format!("- {}\n", "x".repeat(MAX_TITLE + 1));
        assert!(read(&long).unwrap_err().message.contains("longer than"));
    }
}
