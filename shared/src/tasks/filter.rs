//! The task filter language, one grammar for `/tasks`, the board, saved views and
//! `GET /api/v1/tasks/search`:
//!
//! ```text
//! status:doing label:infra assignee:me due<7d priority>=high "free text" -label:later
//! ```
//!
//! Terms are separated by spaces and all must hold. A term is `key:value`, `key<value`,
//! `key<=value`, `key>value`, `key>=value`, a bare word or a quoted phrase (a substring of
//! the title or the notes, case-blind); `-` before a term negates it. Parsing gives a
//! [`Filter`]; [`Filter::to_string`] writes it back in a canonical form (what the URL keeps);
//! [`Filter::matches`] decides one task, the reference the store's SQL is tested against.

use super::fields::{Priority, format_date, label_problem, parse_date};
use super::model::{Status, TreeTask};
use std::fmt;

/// Longest filter, in characters.
pub const MAX_FILTER: usize = 500;
/// Most terms in one filter.
pub const MAX_TERMS: usize = 20;
/// Most days `due<Nd` may reach either way (about 270 years).
pub const MAX_DAYS: i64 = 100_000;

/// How a term compares its key with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => ":",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    pub fn holds<T: Ord>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// A due date in a filter: a calendar date, or a number of days from today (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    /// Days since 1970-01-01.
    Date(i64),
    /// Days from today; 0 is today.
    FromToday(i64),
}

impl Day {
    /// Days since 1970-01-01, given today's.
    pub fn resolve(self, today: i64) -> i64 {
        match self {
            Day::Date(d) => d,
            Day::FromToday(n) => today + n,
        }
    }
}

/// Whose tasks `assignee:` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// The person asking.
    Me,
    User(String),
}

/// What `has:` asks a task to carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HasField {
    Due,
    Assignee,
    Label,
}

impl HasField {
    const ALL: [HasField; 3] = [HasField::Due, HasField::Assignee, HasField::Label];

    pub fn as_str(self) -> &'static str {
        match self {
            HasField::Due => "due",
            HasField::Assignee => "assignee",
            HasField::Label => "label",
        }
    }
}

/// What `is:` asks about a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsState {
    /// Its newest run failed.
    Blocked,
    /// Due before today and not done.
    Overdue,
}

impl IsState {
    const ALL: [IsState; 2] = [IsState::Blocked, IsState::Overdue];

    pub fn as_str(self) -> &'static str {
        match self {
            IsState::Blocked => "blocked",
            IsState::Overdue => "overdue",
        }
    }
}

/// One condition, before negation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// A substring of the title or the notes, case-blind.
    Text(String),
    Status(Status),
    Label(String),
    Assignee(Who),
    Priority(Cmp, Priority),
    Due(Cmp, Day),
    Has(HasField),
    Is(IsState),
}

/// A term, perhaps negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub negated: bool,
    pub term: Term,
}

/// Terms that must all hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    pub clauses: Vec<Clause>,
}

/// Why a filter was refused, and where: `at` counts characters from the start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub at: usize,
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at + 1)
    }
}

impl std::error::Error for FilterError {}

/// The keys, in the order a message lists them.
const KEYS: &str = "status, label, assignee, priority, due, has, is";

impl Filter {
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        let chars: Vec<char> = input.chars().collect();
        if chars.len() > MAX_FILTER {
            return Err(FilterError {
                at: MAX_FILTER,
                message: format!("a filter is at most {MAX_FILTER} characters"),
            });
        }
        let mut clauses = Vec::new();
        let mut i = 0;
        loop {
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            if i == chars.len() {
                break;
            }
            let start = i;
            let negated = chars[i] == '-' && i + 1 < chars.len() && !chars[i + 1].is_whitespace();
            if negated {
                i += 1;
            }
            let term = if chars[i] == '"' {
                let (text, end) = phrase(&chars, i)?;
                i = end;
                Term::Text(text)
            } else {
                let word_start = i;
                while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '"' {
                    i += 1;
                }
                let word: String = chars[word_start..i].iter().collect();
                if i < chars.len() && chars[i] == '"' {
                    // `label:"x"`: a quoted value.
                    let Some((key, cmp, rest)) = split_key(&word) else {
                        return Err(err(
                            i,
                            "a quote starts inside a word; put a space before it",
                        ));
                    };
                    if !rest.is_empty() {
                        return Err(err(
                            i,
                            "a quote starts inside a word; put a space before it",
                        ));
                    }
                    let (value, end) = phrase(&chars, i)?;
                    i = end;
                    keyed(key, cmp, &value, word_start)?
                } else {
                    match split_key(&word) {
                        Some((key, cmp, value)) => keyed(key, cmp, value, word_start)?,
                        None => Term::Text(word),
                    }
                }
            };
            if clauses.len() == MAX_TERMS {
                return Err(err(
                    start,
                    &format!("a filter has at most {MAX_TERMS} terms"),
                ));
            }
            clauses.push(Clause { negated, term });
        }
        Ok(Filter { clauses })
    }

    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// Whether the filter names the person asking (`assignee:me`).
    pub fn mentions_me(&self) -> bool {
        self.clauses
            .iter()
            .any(|c| c.term == Term::Assignee(Who::Me))
    }

    /// Whether `clause` is one of its terms.
    pub fn has(&self, clause: &Clause) -> bool {
        self.clauses.contains(clause)
    }

    /// The filter with `clause` added, or taken out when it is there already: what a chip
    /// does when clicked.
    pub fn toggled(&self, clause: Clause) -> Filter {
        let mut clauses = self.clauses.clone();
        match clauses.iter().position(|c| *c == clause) {
            Some(at) => {
                clauses.remove(at);
            }
            None => {
                if let Term::Status(_) = clause.term {
                    // One status at a time: another status chip replaces it.
                    clauses.retain(|c| c.negated || !matches!(c.term, Term::Status(_)));
                }
                clauses.push(clause);
            }
        }
        Filter { clauses }
    }

    /// Whether `task` passes, for a caller named `me` (`None` when not a person) on the day
    /// `today` (days since 1970-01-01, UTC).
    pub fn matches(&self, task: &TreeTask, me: Option<&str>, today: i64) -> bool {
        self.clauses
            .iter()
            .all(|c| c.term.holds(task, me, today) != c.negated)
    }
}

impl Term {
    fn holds(&self, task: &TreeTask, me: Option<&str>, today: i64) -> bool {
        match self {
            Term::Text(t) => {
                let t = t.to_lowercase();
                task.title.to_lowercase().contains(&t) || task.notes.to_lowercase().contains(&t)
            }
            Term::Status(s) => task.status == *s,
            Term::Label(l) => task.labels.iter().any(|x| x == l),
            Term::Assignee(who) => {
                let name = match who {
                    Who::Me => me,
                    Who::User(u) => Some(u.as_str()),
                };
                name.is_some() && task.assignee.as_deref() == name
            }
            Term::Priority(cmp, p) => cmp.holds(task.priority, *p),
            Term::Due(cmp, day) => task
                .due
                .as_deref()
                .and_then(parse_date)
                .is_some_and(|d| cmp.holds(d, day.resolve(today))),
            Term::Has(HasField::Due) => task.due.is_some(),
            Term::Has(HasField::Assignee) => task.assignee.is_some(),
            Term::Has(HasField::Label) => !task.labels.is_empty(),
            Term::Is(IsState::Blocked) => task.blocked.is_some(),
            Term::Is(IsState::Overdue) => {
                task.status != Status::Done
                    && task
                        .due
                        .as_deref()
                        .and_then(parse_date)
                        .is_some_and(|d| d < today)
            }
        }
    }
}

fn err(at: usize, message: &str) -> FilterError {
    FilterError {
        at,
        message: message.to_string(),
    }
}

/// A quoted phrase from the `"` at `start`: `\"` and `\\` stand for `"` and `\`. Returns
/// the text and the index after the closing quote.
fn phrase(chars: &[char], start: usize) -> Result<(String, usize), FilterError> {
    let mut out = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '"' => {
                if out.trim().is_empty() {
                    return Err(err(start, "an empty phrase matches everything; remove it"));
                }
                return Ok((out, i + 1));
            }
            '\\' if i + 1 < chars.len() && matches!(chars[i + 1], '"' | '\\') => {
                out.push(chars[i + 1]);
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err(err(start, "this quote is never closed"))
}

/// `key`, comparison, value of a word like `due<=7d`, when it starts with letters followed by
/// `:`, `<`, `<=`, `>` or `>=`.
fn split_key(word: &str) -> Option<(&str, Cmp, &str)> {
    let at = word.find([':', '<', '>'])?;
    let key = &word[..at];
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let rest = &word[at..];
    let (cmp, len) = if rest.starts_with("<=") {
        (Cmp::Le, 2)
    } else if rest.starts_with(">=") {
        (Cmp::Ge, 2)
    } else if rest.starts_with('<') {
        (Cmp::Lt, 1)
    } else if rest.starts_with('>') {
        (Cmp::Gt, 1)
    } else {
        (Cmp::Eq, 1)
    };
    Some((key, cmp, &rest[len..]))
}

fn keyed(key: &str, cmp: Cmp, value: &str, at: usize) -> Result<Term, FilterError> {
    let key_l = key.to_ascii_lowercase();
    let ordered = matches!(key_l.as_str(), "priority" | "due");
    if cmp != Cmp::Eq && !ordered {
        return Err(err(
            at,
            &format!("{key_l} takes `{key_l}:value`; only priority and due compare with < and >"),
        ));
    }
    if value.is_empty() {
        return Err(err(at, &format!("{key_l}{} needs a value", cmp.as_str())));
    }
    let v = value.to_lowercase();
    let term = match key_l.as_str() {
        "status" => Term::Status(
            parse_status(&v)
                .ok_or_else(|| err(at, &format!("no status {value:?}: use todo, doing or done")))?,
        ),
        "label" => {
            if let Some(p) = label_problem(value) {
                return Err(err(at, &p));
            }
            Term::Label(value.to_string())
        }
        "assignee" => Term::Assignee(if v == "me" {
            Who::Me
        } else {
            Who::User(value.to_string())
        }),
        "priority" => Term::Priority(
            cmp,
            Priority::parse(&v).ok_or_else(|| {
                err(
                    at,
                    &format!("no priority {value:?}: use none, low, medium, high or urgent"),
                )
            })?,
        ),
        "due" => Term::Due(
            cmp,
            parse_day(&v).ok_or_else(|| {
                err(
                    at,
                    &format!(
                        "due wants a date like 2027-03-31, today, or a number of days like 7d \
                     (at most {MAX_DAYS}), not {value:?}"
                    ),
                )
            })?,
        ),
        "has" => Term::Has(
            HasField::ALL
                .into_iter()
                .find(|h| h.as_str() == v || (*h == HasField::Label && v == "labels"))
                .ok_or_else(|| err(at, "has: takes due, assignee or label"))?,
        ),
        "is" => Term::Is(
            IsState::ALL
                .into_iter()
                .find(|s| s.as_str() == v)
                .ok_or_else(|| err(at, "is: takes blocked or overdue"))?,
        ),
        _ => {
            return Err(err(
                at,
                &format!(
                    "no key {key:?}: the keys are {KEYS}; to search for the text, put it in quotes"
                ),
            ));
        }
    };
    Ok(term)
}

fn parse_status(v: &str) -> Option<Status> {
    Status::parse(v).or(match v {
        "to-do" | "open" => Some(Status::Todo),
        "in-progress" | "inprogress" | "started" => Some(Status::Doing),
        "closed" | "finished" => Some(Status::Done),
        _ => None,
    })
}

fn parse_day(v: &str) -> Option<Day> {
    if v == "today" {
        return Some(Day::FromToday(0));
    }
    if let Some(n) = v.strip_suffix('d') {
        let n: i64 = n.parse().ok()?;
        return (n.abs() <= MAX_DAYS).then_some(Day::FromToday(n));
    }
    parse_date(v).map(Day::Date)
}

/// Whether a bare word reads back as itself: no key-like prefix, quote, space or leading `-`.
fn plain_word(t: &str) -> bool {
    !t.is_empty()
        && !t.starts_with('-')
        && !t.chars().any(|c| c.is_whitespace() || c == '"')
        && split_key(t).is_none()
}

fn quoted(t: &str) -> String {
    format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\""))
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Text(t) if plain_word(t) => f.write_str(t),
            Term::Text(t) => f.write_str(&quoted(t)),
            Term::Status(s) => write!(f, "status:{}", s.as_str()),
            Term::Label(l) => write!(f, "label:{l}"),
            Term::Assignee(Who::Me) => f.write_str("assignee:me"),
            Term::Assignee(Who::User(u)) => write!(f, "assignee:{u}"),
            Term::Priority(c, p) => write!(f, "priority{}{}", c.as_str(), p.as_str()),
            Term::Due(c, Day::Date(d)) => write!(f, "due{}{}", c.as_str(), format_date(*d)),
            Term::Due(c, Day::FromToday(0)) => write!(f, "due{}today", c.as_str()),
            Term::Due(c, Day::FromToday(n)) => write!(f, "due{}{n}d", c.as_str()),
            Term::Has(h) => write!(f, "has:{}", h.as_str()),
            Term::Is(s) => write!(f, "is:{}", s.as_str()),
        }
    }
}

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("-")?;
        }
        self.term.fmt(f)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.clauses.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            c.fmt(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Filter {
        Filter::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn clause(negated: bool, term: Term) -> Clause {
        Clause { negated, term }
    }

    #[test]
    fn the_example_parses_term_by_term() {
        let f = p(
            r#"status:doing label:infra assignee:me due<7d priority>=high "free text" -label:later"#,
        );
        assert_eq!(
            f.clauses,
            vec![
                clause(false, Term::Status(Status::Doing)),
                clause(false, Term::Label("infra".into())),
                clause(false, Term::Assignee(Who::Me)),
                clause(false, Term::Due(Cmp::Lt, Day::FromToday(7))),
                clause(false, Term::Priority(Cmp::Ge, Priority::High)),
                clause(false, Term::Text("free text".into())),
                clause(true, Term::Label("later".into())),
            ]
        );
        assert!(f.mentions_me());
    }

    #[test]
    fn every_filter_reads_back_as_itself() {
        for s in [
            r#"status:doing label:infra assignee:me due<7d priority>=high "free text" -label:later"#,
            "due>=2027-01-31 due:today due<-3d has:due -has:assignee has:label is:blocked is:overdue",
            r#"word "a \"quoted\" word" back\slash "\\ and \"" "-dash" "status:done" "é ü""#,
            "priority:none priority<urgent -priority>low assignee:ann.lee",
        ] {
            let f = p(s);
            assert_eq!(f.to_string(), s);
            assert_eq!(p(&f.to_string()), f);
        }
    }

    #[test]
    fn bad_filters_say_what_and_where() {
        for (s, at, says) in [
            ("status:late", 0, "no status"),
            ("ok statsu:done", 3, "no key"),
            ("status<done", 0, "only priority and due"),
            ("priority>=extreme", 0, "no priority"),
            ("due<7w", 0, "due wants"),
            ("due<2027-02-30", 0, "due wants"),
            (r#"a "open"#, 2, "never closed"),
            (r#""""#, 0, "empty phrase"),
            ("label:a,b", 0, "only letters"),
            ("has:colour", 0, "has: takes"),
            ("label:", 0, "needs a value"),
            (r#"ab"c""#, 2, "inside a word"),
        ] {
            let e = Filter::parse(s).expect_err(s);
            assert_eq!(e.at, at, "{s}: {e}");
            assert!(e.message.contains(says), "{s}: {e}");
        }
        let long = "x".repeat(MAX_FILTER + 1);
        assert!(Filter::parse(&long).is_err());
        let many = vec!["a"; MAX_TERMS + 1].join(" ");
        assert!(
            Filter::parse(&many)
                .unwrap_err()
                .message
                .contains("at most")
        );
    }

    #[test]
    fn odd_words_are_text() {
        assert_eq!(p("-").clauses, vec![clause(false, Term::Text("-".into()))]);
        assert_eq!(
            p(r#""http://x" 10:30 a-b"#).clauses,
            vec![
                clause(false, Term::Text("http://x".into())),
                clause(false, Term::Text("10:30".into())),
                clause(false, Term::Text("a-b".into())),
            ]
        );
        assert_eq!(p("STATUS:Done").to_string(), "status:done");
        assert!(p("   ").is_empty());
    }

    #[test]
    fn chips_toggle_and_one_status_at_a_time() {
        let f = p("status:todo word");
        let f = f.toggled(clause(false, Term::Status(Status::Done)));
        assert_eq!(f.to_string(), "word status:done");
        let f = f.toggled(clause(false, Term::Status(Status::Done)));
        assert_eq!(f.to_string(), "word");
    }

    #[test]
    fn matching_follows_each_key() {
        let today = parse_date("2027-03-10").unwrap();
        let t = TreeTask {
            id: "a".into(),
            parent_id: None,
            title: "Deploy the Ingest service".into(),
            notes: "see runbook".into(),
            status: Status::Doing,
            position: 0,
            child_count: 0,
            done_count: 0,
            created_at: 0,
            updated_at: 0,
            due: Some("2027-03-09".into()),
            assignee: Some("ann".into()),
            labels: vec!["infra".into()],
            priority: Priority::High,
            blocked: None,
        };
        let yes = |s: &str| p(s).matches(&t, Some("ann"), today);
        assert!(yes(
            "ingest RUNBOOK status:doing label:infra assignee:me assignee:ann"
        ));
        assert!(yes(
            "priority>=high priority<urgent -priority:low due<today due:-1d is:overdue"
        ));
        assert!(yes(
            "has:due has:assignee has:label -is:blocked -label:later"
        ));
        assert!(!yes("due>today"));
        assert!(!yes("-due<7d"));
        assert!(!yes("assignee:bob"));
        assert!(!p("assignee:me").matches(&t, None, today));
        assert!(p("-assignee:me").matches(&t, None, today));
    }
}
