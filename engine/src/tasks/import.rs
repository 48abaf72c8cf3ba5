//! Reading tree files: seed 000's format `{"tasks":[{"id","name","isDone","tasks":[…]}]}`
//! and Orchard's export (the same, plus `status`, `notes`, `created_at`, `updated_at`).
//!
//! The reader is a streaming, non-recursive JSON parser: memory stays bounded by the depth
//! of the tree (one small frame per open task), not by the size of the file, and a
//! 10,000-deep chain needs no stack. Each task is handed on when its object closes, with
//! its children already counted. Errors name the byte offset and the path
//! (`tasks[3].tasks[0].name`). Rules:
//! - `name` (or `title`) is required; `id` is optional (a new one is made) and, when the
//!   file's ids are kept, must come before the task's `tasks`.
//! - `status` wins over `isDone`; without either a task is `todo`.
//! - `due` (`YYYY-MM-DD` or null), `assignee` (a username or null), `labels` (an array of
//!   names) and `priority` (`none` … `urgent`) are optional; files without them import as
//!   before.
//! - Unknown keys are skipped, whatever their value.

use super::frames::Frames;
use super::json_lexer::{Lexer, describe};
use super::model::{MAX_NOTES, MAX_TITLE, Status, TreeTask};
use crate::Millis;
use shared::tasks::fields::{MAX_LABELS, Priority, clean_labels, due_problem};
use std::io::BufRead;

/// Where and why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at byte {offset} ({path})")]
pub struct ParseError {
    pub offset: u64,
    pub path: String,
    pub message: String,
}

/// How deep a tree may be unless configured otherwise (`ORCHARD_MAX_TREE_DEPTH`).
pub const DEFAULT_MAX_DEPTH: u64 = 100_000;

/// How a file's tasks are placed.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Parent of the file's top-level tasks (`None`: they become roots).
    pub parent: Option<String>,
    /// The top-level tasks go after this position.
    pub base_position: i64,
    /// Ignore the file's ids and make new ones.
    pub new_ids: bool,
    /// Timestamp for tasks the file gives none.
    pub now: Millis,
    /// Levels the file may nest (the tree's limit less the parent's own depth); a deeper
    /// file is refused where it first goes too deep, before its frames can pile up.
    pub max_depth: u64,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            parent: None,
            base_position: 0,
            new_ids: false,
            now: 0,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// What a file held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub tasks: u64,
    /// Top-level tasks, and how many of them are done.
    pub top: i64,
    pub top_done: i64,
}

/// Longest id accepted, in bytes.
pub const MAX_ID: usize = 100;

/// Ids are kept as given when they are 1–100 characters of `[A-Za-z0-9_.:-]`, not all of
/// them dots (`.` and `..` would be path segments, so no URL could name the task).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
        && !id.bytes().all(|b| b == b'.')
}

/// A task's `labels`: an array of at most `MAX_LABELS` strings (each checked after).
fn labels<R: BufRead>(lx: &mut Lexer<R>) -> Result<Vec<String>, String> {
    lx.expect(b'[')?;
    let mut out = Vec::new();
    if lx.peek_token()? == Some(b']') {
        lx.bump();
        return Ok(out);
    }
    loop {
        if out.len() == MAX_LABELS {
            return Err(format!("a task has at most {MAX_LABELS} labels"));
        }
        out.push(lx.string()?);
        match lx.peek_token()? {
            Some(b',') => lx.bump(),
            Some(b']') => {
                lx.bump();
                return Ok(out);
            }
            Some(b) => return Err(format!("expected ',' or ']' but found {}", describe(b))),
            None => return Err("the file ended inside labels".into()),
        }
    }
}

/// The key as error paths name it.
fn key_label(k: &str) -> &'static str {
    match k {
        "tasks" => "tasks",
        "id" => "id",
        "name" => "name",
        "title" => "title",
        "notes" => "notes",
        "isDone" => "isDone",
        "status" => "status",
        "created_at" => "created_at",
        "updated_at" => "updated_at",
        "due" => "due",
        "assignee" => "assignee",
        "labels" => "labels",
        "priority" => "priority",
        _ => "(unknown key)",
    }
}

/// Where the parser is.
enum State {
    /// Inside a list of tasks (the top one when the stack is empty): next an item or `]`.
    List { first: bool },
    /// Inside a task's object: next a key or `}`.
    Keys { first: bool },
}

/// Reads a tree file, handing each task to `emit` (children before their parent) with the
/// byte offset where it starts. `emit` may stop the read by returning an error message.
pub fn parse<R: BufRead>(
    reader: R,
    opts: &ParseOptions,
    emit: impl FnMut(TreeTask, u64) -> Result<(), String>,
) -> Result<Summary, ParseError> {
    let mut lx = Lexer {
        r: reader,
        offset: 0,
    };
    let mut frames = Frames::new(opts, emit);
    let mut key: Option<&'static str> = None;
    let fail = |lx: &Lexer<R>, frames: &Frames<'_, _>, key: Option<&str>, message: String| {
        frames.error_at(lx.offset, key, message)
    };

    // The top level: `{"tasks": [...], …}` or a bare list.
    let wrapped = match lx.peek_token() {
        Ok(Some(b'{')) => true,
        Ok(Some(b'[')) => false,
        Ok(Some(b)) => {
            return Err(fail(
                &lx,
                &frames,
                None,
                format!(
                    "expected an object with \"tasks\" but found {}",
                    describe(b)
                ),
            ));
        }
        Ok(None) => return Err(fail(&lx, &frames, None, "the file is empty".into())),
        Err(m) => return Err(fail(&lx, &frames, None, m)),
    };
    let mut seen_tasks = !wrapped;
    if wrapped {
        lx.bump();
        // Top-level keys before (and after) the list.
        let found = (|| -> Result<bool, String> {
            let mut first = true;
            loop {
                match lx.peek_token()? {
                    Some(b'}') => return Ok(false),
                    _ if !first => lx.expect(b',')?,
                    _ => {}
                }
                first = false;
                let k = lx.string()?;
                lx.expect(b':')?;
                if k == "tasks" {
                    return Ok(true);
                }
                lx.skip_value()?;
            }
        })()
        .map_err(|m| fail(&lx, &frames, None, m))?;
        if !found {
            return Err(fail(
                &lx,
                &frames,
                None,
                "the file has no \"tasks\" list".into(),
            ));
        }
        seen_tasks = true;
    }
    debug_assert!(seen_tasks);
    lx.expect(b'[')
        .map_err(|m| fail(&lx, &frames, Some("tasks"), m))?;
    let mut state = State::List { first: true };

    loop {
        let step = (|| -> Result<Option<State>, String> {
            match state {
                State::List { first } => match lx.peek_token()? {
                    Some(b']') => {
                        lx.bump();
                        if frames.depth() == 0 {
                            return Ok(None);
                        }
                        Ok(Some(State::Keys { first: false }))
                    }
                    _ => {
                        if !first {
                            lx.expect(b',')?;
                        }
                        if lx.peek_token()? != Some(b'{') {
                            lx.expect(b'{')?;
                        }
                        // Opened (or refused as too deep) where the task's `{` is.
                        frames.open(lx.offset)?;
                        lx.bump();
                        Ok(Some(State::Keys { first: true }))
                    }
                },
                State::Keys { first } => {
                    if lx.peek_token()? == Some(b'}') {
                        lx.bump();
                        return frames.close().map(|_| Some(State::List { first: false }));
                    }
                    if !first {
                        lx.expect(b',')?;
                    }
                    let k = lx.string()?;
                    lx.expect(b':')?;
                    key = Some(key_label(&k));
                    let frame = frames.innermost().expect("a task is open");
                    match k.as_str() {
                        "tasks" => {
                            if lx.is_null()? {
                                key = None;
                                return Ok(Some(State::Keys { first: false }));
                            }
                            // The id is fixed at the first list: a second `tasks` key
                            // adds children to the same task.
                            if !frame.children_started && (frame.id.is_none() || opts.new_ids) {
                                frame.id = Some(uuid::Uuid::now_v7().to_string());
                            }
                            frame.children_started = true;
                            lx.expect(b'[')?;
                            key = None;
                            return Ok(Some(State::List { first: true }));
                        }
                        "id" => {
                            let id = match lx.peek_token()? {
                                Some(b'"') => lx.string()?,
                                Some(b'-' | b'0'..=b'9') => lx.integer()?.to_string(),
                                _ => return Err("the id must be a string or a number".into()),
                            };
                            if !opts.new_ids {
                                if frame.children_started {
                                    return Err(
                                        "the id must come before the task's \"tasks\"".into()
                                    );
                                }
                                if !valid_id(&id) {
                                    return Err(format!(
                                        "invalid id {id:?}: use 1–{MAX_ID} characters of \
                                         letters, digits, '_', '-', '.', ':' (not only dots)"
                                    ));
                                }
                                frame.id = Some(id);
                            }
                        }
                        "name" | "title" => {
                            let t = lx.string()?;
                            if t.chars().count() > MAX_TITLE {
                                return Err(format!("name longer than {MAX_TITLE} characters"));
                            }
                            frame.title = Some(t);
                        }
                        "notes" => {
                            if !lx.is_null()? {
                                let n = lx.string()?;
                                if n.chars().count() > MAX_NOTES {
                                    return Err(format!(
                                        "notes longer than {MAX_NOTES} characters"
                                    ));
                                }
                                frame.notes = n;
                            }
                        }
                        "isDone" => frame.is_done = Some(lx.bool()?),
                        "status" => {
                            let s = lx.string()?;
                            frame.status = Some(Status::parse(&s).ok_or_else(|| {
                                format!("unknown status {s:?}: use todo, doing or done")
                            })?);
                        }
                        "created_at" => frame.created_at = Some(lx.integer()?),
                        "updated_at" => frame.updated_at = Some(lx.integer()?),
                        "due" => {
                            if !lx.is_null()? {
                                let d = lx.string()?;
                                if let Some(p) = due_problem(&d) {
                                    return Err(p);
                                }
                                frame.due = Some(d);
                            }
                        }
                        "assignee" => {
                            if !lx.is_null()? {
                                let who = lx.string()?;
                                if who.is_empty() || who.chars().count() > MAX_ID {
                                    return Err(format!(
                                        "an assignee is a username of 1–{MAX_ID} characters"
                                    ));
                                }
                                frame.assignee = Some(who);
                            }
                        }
                        "labels" => frame.labels = clean_labels(&labels(&mut lx)?)?,
                        "priority" => {
                            let p = lx.string()?;
                            frame.priority = Priority::parse(&p).ok_or_else(|| {
                                format!(
                                    "unknown priority {p:?}: use none, low, medium, high or urgent"
                                )
                            })?;
                        }
                        _ => lx.skip_value()?,
                    }
                    key = None;
                    Ok(Some(State::Keys { first: false }))
                }
            }
        })();
        match step {
            Ok(Some(next)) => state = next,
            Ok(None) => break,
            Err(m) => return Err(fail(&lx, &frames, key, m)),
        }
    }

    // After the list: the rest of the top-level object, then nothing but white space.
    let rest = (|| -> Result<(), String> {
        if wrapped {
            loop {
                match lx.peek_token()? {
                    Some(b'}') => {
                        lx.bump();
                        break;
                    }
                    _ => {
                        lx.expect(b',')?;
                        lx.string()?;
                        lx.expect(b':')?;
                        lx.skip_value()?;
                    }
                }
            }
        }
        match lx.peek_token()? {
            None => Ok(()),
            Some(b) => Err(format!(
                "unexpected {} after the end of the data",
                describe(b)
            )),
        }
    })();
    rest.map_err(|m| fail(&lx, &frames, None, m))?;
    Ok(frames.summary())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_deeper_than_allowed_is_refused_where_it_goes_too_deep() {
        let open = r#"{"name":"x","tasks":["#;
        let deep = |n: usize| format!(r#"{{"tasks":[{}{}]}}"#, open.repeat(n), "]}".repeat(n));
        let opts = ParseOptions {
            max_depth: 50,
            ..Default::default()
        };
        assert_eq!(
            read(&deep(50), &opts).unwrap().len(),
            50,
            "the limit is inclusive"
        );
        let e = read(&deep(51), &opts).unwrap_err();
        assert!(e.message.contains("deeper than 50 levels"), "{e}");
        assert!(e.path.contains("…34 levels…"), "{}", e.path);
        assert_eq!(
            e.offset,
            (r#"{"tasks":["#.len() + 50 * open.len()) as u64,
            "{e}"
        );
        // A file of nothing but openings, far deeper than any limit, stops at the limit.
        let endless = format!("{{\"tasks\":[{}", "{\"tasks\":[".repeat(1_000_000));
        let e = read(&endless, &ParseOptions::default()).unwrap_err();
        assert!(e.message.contains("deeper than 100000"), "{e}");
    }

    #[test]
    fn the_done_rule_holds_on_import() {
        let rows = read(
            r#"{"tasks":[
                {"name":"Trip","isDone":false,"tasks":[{"name":"Book","isDone":true},{"name":"Pack","isDone":true}]},
                {"name":"Party","isDone":true,"tasks":[{"name":"Cake","isDone":false}]},
                {"name":"Leaf","status":"doing"}]}"#,
            &ParseOptions::default(),
        )
        .unwrap();
        let by = |t: &str| rows.iter().find(|r| r.title == t).unwrap().status;
        assert_eq!(by("Trip"), Status::Done, "all children done");
        assert_eq!(by("Party"), Status::Doing, "done, but a child is not");
        assert_eq!(by("Leaf"), Status::Doing, "a leaf keeps its word");
    }

    #[test]
    fn ids_of_only_dots_are_refused() {
        for bad in [".", "..", "...", "", "a/b", "a b"] {
            assert!(!valid_id(bad), "{bad:?}");
        }
        for good in ["a.b", ".a", "a..", "1", "x:y-z_0"] {
            assert!(valid_id(good), "{good:?}");
        }
        assert!(!valid_id(&"a".repeat(MAX_ID + 1)));
    }

    fn read(text: &str, opts: &ParseOptions) -> Result<Vec<TreeTask>, ParseError> {
        let mut out = Vec::new();
        parse(text.as_bytes(), opts, |t, _| {
            out.push(t);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn reads_seed_000_files_children_first() {
        let rows = read(
            r#"{"tasks":[{"id":"a","name":"A","isDone":false,"tasks":[
                {"id":"b","name":"B","isDone":true,"tasks":[]},
                {"id":"c","name":"C \u00e9\n","isDone":false}]}]}"#,
            &ParseOptions::default(),
        )
        .unwrap();
        let ids: Vec<_> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "a"]);
        assert_eq!(rows[1].title, "C é\n");
        assert_eq!(rows[1].parent_id.as_deref(), Some("a"));
        assert_eq!((rows[2].child_count, rows[2].done_count), (2, 1));
        assert_eq!(rows[0].status, Status::Done);
        assert!(rows[0].position < rows[1].position);
        assert_eq!(rows[2].parent_id, None);
    }

    #[test]
    fn a_deep_chain_needs_no_stack() {
        let depth = 100_000;
        let mut s = String::from("{\"tasks\":[");
        for i in 0..depth {
            s.push_str(&format!("{{\"id\":\"n{i}\",\"name\":\"x\",\"tasks\":["));
        }
        for _ in 0..depth {
            s.push_str("]}");
        }
        s.push_str("]}");
        let rows = read(&s, &ParseOptions::default()).unwrap();
        assert_eq!(rows.len(), depth);
        assert_eq!(rows.last().unwrap().id, "n0");
    }

    #[test]
    fn errors_name_the_place() {
        let e = read(
            r#"{"tasks":[{"id":"a","name":"A","tasks":[{"id":"b","isDone":"yes"}]}]}"#,
            &ParseOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.path, "tasks[0].tasks[0].isDone");
        assert_eq!(e.message, "expected true or false");
        let e = read(r#"{"tasks":[{"id":"a"}]}"#, &ParseOptions::default()).unwrap_err();
        assert_eq!(e.message, "the task has no \"name\"");
        assert_eq!(e.offset, 20);
        for bad in [
            "",
            "[",
            "{\"tasks\":[}",
            "{\"tasks\":[{\"name\":\"a\"}]} x",
            "{\"tasks\":[{\"name\":\"a\",\"tasks\":[],\"id\":\"late\"}]}",
            "{\"other\":1}",
            "{\"tasks\":[{\"name\":\"a\",\"id\":\"bad id\"}]}",
            "{\"tasks\":[{\"name\":\"\\ud800\"}]}",
            "{\"tasks\":[{\"name\":\"a\",\"x\":{\"k\" 1}}]}",
            "{\"tasks\":[{\"name\":\"a\",\"x\":[1 2]}]}",
            "{\"tasks\":[{\"name\":\"a\",\"x\":{\"k\":1,}}]}",
        ] {
            assert!(read(bad, &ParseOptions::default()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_second_tasks_key_adds_to_the_same_task() {
        for new_ids in [false, true] {
            let opts = ParseOptions {
                new_ids,
                ..Default::default()
            };
            let rows = read(
                r#"{"tasks":[{"name":"a","tasks":[{"name":"b"}],"tasks":[{"name":"c"}]}]}"#,
                &opts,
            )
            .unwrap();
            assert_eq!(rows[0].parent_id.as_ref(), Some(&rows[2].id));
            assert_eq!(rows[1].parent_id.as_ref(), Some(&rows[2].id));
            assert_eq!(rows[2].child_count, 2);
        }
    }

    #[test]
    fn new_ids_and_unknown_keys() {
        let opts = ParseOptions {
            new_ids: true,
            parent: Some("p".into()),
            base_position: 10,
            now: 5,
            ..Default::default()
        };
        let rows = read(
            r#"{"version":1,"tasks":[{"id":"a","x":{"y":[1,{"z":null}]},"name":"A",
               "status":"doing","notes":"n","tasks":[{"name":"B"}]}],"more":"ok"}"#,
            &opts,
        )
        .unwrap();
        assert_ne!(rows[1].id, "a");
        assert_eq!(rows[0].parent_id.as_ref(), Some(&rows[1].id));
        assert_eq!(rows[1].parent_id.as_deref(), Some("p"));
        assert_eq!(rows[1].position, 10 + super::super::model::POSITION_GAP);
        assert_eq!(
            (rows[1].status, rows[1].notes.as_str()),
            (Status::Doing, "n")
        );
        assert_eq!((rows[1].created_at, rows[1].updated_at), (5, 5));
    }
}
