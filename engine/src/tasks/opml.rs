//! OPML outlines as tree files: one task per `<outline>`, nested as the outlines nest. The
//! title is `text`; notes are `_note` and a done task `_complete="true"` (as outliners such as
//! Workflowy write them). Orchard's export adds `_id`, `_status`, `_due`, `_assignee`,
//! `_labels` (names joined by spaces), `_priority`, `_created` and `_updated`, so an
//! export → import keeps every field, as the JSON format does.
//!
//! Reading streams through `quick-xml` (which expands no entity but XML's five and
//! character references, so no external entity or entity bomb exists) into the JSON reader's
//! frames (`import::Frames`): memory stays bounded by the depth of the outline and the
//! longest tag, and errors name the byte offset and the path. Other elements (`head`,
//! `title`, …) are skipped; unknown attributes are skipped.

use super::frames::Frames;
use super::import::{MAX_ID, ParseError, ParseOptions, Summary, valid_id};
use super::model::{MAX_NOTES, MAX_TITLE, Status, TreeTask};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use shared::tasks::fields::{Priority, clean_labels, due_problem};
use std::cell::Cell;
use std::io::{BufRead, Read};
use std::rc::Rc;

/// Longest tag read, in bytes (its attributes included).
const MAX_TAG: u64 = 1024 * 1024;

/// A reader that fails once more than [`MAX_TAG`] bytes pass without the parser resetting
/// `since`, so one endless tag cannot fill memory (quick-xml buffers a whole tag).
struct Capped<R> {
    inner: R,
    since: Rc<Cell<u64>>,
}

impl<R: BufRead> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let have = self.fill_buf()?;
            let n = have.len().min(buf.len());
            buf[..n].copy_from_slice(&have[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Capped<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.since.get() > MAX_TAG {
            return Err(std::io::Error::other(format!(
                "a tag longer than {MAX_TAG} bytes"
            )));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.since.set(self.since.get() + n as u64);
        self.inner.consume(n);
    }
}

/// Reads an OPML file, handing each task to `emit` (children before their parent) with the
/// byte offset of its `<outline>`.
pub fn parse<R: BufRead>(
    reader: R,
    opts: &ParseOptions,
    emit: impl FnMut(TreeTask, u64) -> Result<(), String>,
) -> Result<Summary, ParseError> {
    let since = Rc::new(Cell::new(0));
    let mut xml = Reader::from_reader(Capped {
        inner: reader,
        since: since.clone(),
    });
    let mut frames = Frames::new(opts, emit);
    let mut buf = Vec::new();
    let mut in_body = false;
    let mut saw_opml = false;
    loop {
        buf.clear();
        since.set(0);
        let at = xml.buffer_position();
        let event = match xml.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => {
                return Err(frames.error(xml.error_position(), format!("not well-formed XML: {e}")));
            }
        };
        let step = (|| -> Result<bool, String> {
            match event {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let empty = matches!(event, Event::Empty(_));
                    match e.name().as_ref() {
                        b"opml" => saw_opml = true,
                        b"body" => in_body = !empty,
                        b"outline" if in_body => {
                            outline(&mut frames, e, at, opts, xml.decoder())?;
                            if empty {
                                frames.close()?;
                            }
                        }
                        b"outline" => return Err("an outline outside <body>".into()),
                        _ => {}
                    }
                }
                Event::End(ref e) => match e.name().as_ref() {
                    b"outline" if in_body => frames.close()?,
                    b"body" => in_body = false,
                    _ => {}
                },
                Event::DocType(_) => {
                    return Err("a DOCTYPE is not accepted in an outline file".into());
                }
                Event::Eof => return Ok(false),
                _ => {}
            }
            Ok(true)
        })();
        match step {
            Ok(true) => {}
            Ok(false) => break,
            Err(m) => return Err(frames.error(at, m)),
        }
    }
    if !saw_opml {
        return Err(frames.error(0, "not an OPML file: no <opml> element".into()));
    }
    let end = xml.buffer_position();
    frames.finish(end, "the file has no outlines")
}

/// Opens the task of an `<outline>` and reads its attributes.
fn outline<E: FnMut(TreeTask, u64) -> Result<(), String>>(
    frames: &mut Frames<'_, E>,
    e: &BytesStart<'_>,
    at: u64,
    opts: &ParseOptions,
    decoder: quick_xml::encoding::Decoder,
) -> Result<(), String> {
    let f = frames.open(at)?;
    for a in e.attributes() {
        let a = a.map_err(|e| format!("a bad attribute: {e}"))?;
        let v = a
            .decode_and_unescape_value(decoder)
            .map_err(|e| format!("a bad attribute value: {e}"))?;
        match a.key.as_ref() {
            b"text" | b"title" if f.title.is_none() => {
                let t = v.trim();
                if t.chars().count() > MAX_TITLE {
                    return Err(format!("text longer than {MAX_TITLE} characters"));
                }
                f.title = Some(t.to_string());
            }
            b"_note" => {
                if v.chars().count() > MAX_NOTES {
                    return Err(format!("notes longer than {MAX_NOTES} characters"));
                }
                f.notes = v.into_owned();
            }
            b"_complete" => f.is_done = Some(v == "true"),
            b"_status" => {
                f.status =
                    Some(Status::parse(&v).ok_or_else(|| {
                        format!("unknown _status {v:?}: use todo, doing or done")
                    })?);
            }
            b"_id" if !opts.new_ids => {
                if !valid_id(&v) {
                    return Err(format!(
                        "invalid _id {v:?}: use 1–{MAX_ID} characters of letters, digits, \
                         '_', '-', '.', ':' (not only dots)"
                    ));
                }
                f.id = Some(v.into_owned());
            }
            b"_due" => {
                if let Some(p) = due_problem(&v) {
                    return Err(p);
                }
                f.due = Some(v.into_owned());
            }
            b"_assignee" => {
                if v.is_empty() || v.chars().count() > MAX_ID {
                    return Err(format!(
                        "an assignee is a username of 1–{MAX_ID} characters"
                    ));
                }
                f.assignee = Some(v.into_owned());
            }
            b"_labels" => {
                let names: Vec<String> = v.split_whitespace().map(str::to_string).collect();
                f.labels = clean_labels(&names)?;
            }
            b"_priority" => {
                f.priority = Priority::parse(&v).ok_or_else(|| {
                    format!("unknown _priority {v:?}: use none, low, medium, high or urgent")
                })?;
            }
            b"_created" => f.created_at = Some(number(&v)?),
            b"_updated" => f.updated_at = Some(number(&v)?),
            _ => {}
        }
    }
    if f.title.is_none() {
        return Err("the outline has no \"text\"".into());
    }
    // The id is fixed before any child opens.
    f.children_started = true;
    if f.id.is_none() {
        f.id = Some(uuid::Uuid::now_v7().to_string());
    }
    Ok(())
}

fn number(v: &str) -> Result<i64, String> {
    v.parse()
        .map_err(|_| format!("{v:?} is not a time in Unix milliseconds"))
}

/// `text` as an XML attribute value: the five XML escapes, and line breaks and tabs as
/// character references (a parser turns a raw one into a space).
fn attr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

/// The file's opening, before the first outline.
pub const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n\
     <head><title>Orchard tasks</title></head>\n<body>\n";
/// The file's end, after the last outline.
pub const TAIL: &str = "</body>\n</opml>\n";

/// A task's opening tag at `depth`; its children follow, then [`close_tag`].
pub fn open_tag(t: &TreeTask, depth: usize, out: &mut Vec<u8>) {
    let mut s = format!(
        "{}<outline text=\"{}\" _id=\"{}\" _status=\"{}\"",
        "  ".repeat(depth),
        attr(&t.title),
        attr(&t.id),
        t.status.as_str()
    );
    if t.status == Status::Done {
        s.push_str(" _complete=\"true\"");
    }
    if !t.notes.is_empty() {
        s.push_str(&format!(" _note=\"{}\"", attr(&t.notes)));
    }
    if let Some(d) = &t.due {
        s.push_str(&format!(" _due=\"{}\"", attr(d)));
    }
    if let Some(a) = &t.assignee {
        s.push_str(&format!(" _assignee=\"{}\"", attr(a)));
    }
    if !t.labels.is_empty() {
        s.push_str(&format!(" _labels=\"{}\"", attr(&t.labels.join(" "))));
    }
    if t.priority != Priority::None {
        s.push_str(&format!(" _priority=\"{}\"", t.priority.as_str()));
    }
    s.push_str(&format!(
        " _created=\"{}\" _updated=\"{}\">\n",
        t.created_at, t.updated_at
    ));
    out.extend_from_slice(s.as_bytes());
}

pub fn close_tag(depth: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{}</outline>\n", "  ".repeat(depth)).as_bytes());
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
    fn outlines_nest_with_notes_and_completion() {
        let tasks = read(
            r#"<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>
               <outline text="Launch &amp; learn"><outline text="Copy" _note="two&#10;lines" _complete="true"/>
               <outline text="Deploy"></outline></outline></body></opml>"#,
        )
        .unwrap();
        let titles: Vec<_> = tasks.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(titles, ["Copy", "Deploy", "Launch & learn"]);
        assert_eq!(
            (tasks[0].notes.as_str(), tasks[0].status),
            ("two\nlines", Status::Done)
        );
        assert_eq!(tasks[2].child_count, 2);
        assert_eq!(tasks[2].status, Status::Todo);
    }

    #[test]
    fn a_task_reads_back_as_written() {
        let t = TreeTask {
            id: "a-1".into(),
            parent_id: None,
            title: "Say \"hi\" <now> & 'then'".into(),
            notes: "line\n\ttabbed\r\n".into(),
            status: Status::Doing,
            position: 0,
            child_count: 0,
            done_count: 0,
            created_at: 5,
            updated_at: 7,
            due: Some("2027-03-31".into()),
            assignee: Some("ann".into()),
            labels: vec!["infra".into(), "q3/ops".into()],
            priority: Priority::High,
            blocked: None,
        };
        let mut out = HEAD.as_bytes().to_vec();
        open_tag(&t, 0, &mut out);
        close_tag(0, &mut out);
        out.extend_from_slice(TAIL.as_bytes());
        let back = read(std::str::from_utf8(&out).unwrap()).unwrap();
        assert_eq!(back[0].title, t.title);
        assert_eq!(back[0].notes, t.notes);
        assert_eq!(
            (
                &back[0].id,
                back[0].status,
                &back[0].due,
                &back[0].assignee,
                &back[0].labels,
                back[0].priority,
                back[0].created_at,
                back[0].updated_at
            ),
            (
                &t.id,
                t.status,
                &t.due,
                &t.assignee,
                &t.labels,
                t.priority,
                5,
                7
            )
        );
    }

    #[test]
    fn hostile_or_broken_files_are_refused_where_they_fail() {
        let e = read("<opml><body><outline text=\"a\"><outline></outline></outline></body></opml>")
            .unwrap_err();
        assert!(e.message.contains("no \"text\""), "{e}");
        assert_eq!(e.path, "tasks[0].tasks[0]");
        let e = read(
            "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><opml><body><outline text=\"&a;\"/></body></opml>",
        )
        .unwrap_err();
        assert!(e.message.contains("DOCTYPE"), "{e}");
        let e = read("<opml><body><outline text=\"a\"></body></opml>").unwrap_err();
        assert!(e.message.contains("well-formed"), "{e}");
        let e = read("<opml><body></body></opml>").unwrap_err();
        assert!(e.message.contains("no outlines"), "{e}");
        let e = read(&format!(
            "<opml><body><outline text=\"{}\"/></body></opml>",
            "x".repeat(MAX_TAG as usize + 10)
        ))
        .unwrap_err();
        assert!(e.message.contains("longer than"), "{e}");
        assert!(
            read("{\"tasks\":[]}")
                .unwrap_err()
                .message
                .contains("not an OPML")
        );
    }
}
