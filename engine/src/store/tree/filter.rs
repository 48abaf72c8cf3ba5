//! A parsed filter (`shared::tasks::filter`) as one statement for each backend: every term
//! becomes a condition on `t` (a `tree_tasks` row) with its values bound as parameters, never
//! spliced. Free text of three characters or more goes through the trigram index (SQLite's
//! `tree_tasks_text` FTS5 table, Postgres's `pg_trgm` indexes); shorter text, which no
//! trigram index can answer, is a `LIKE` over the rows the other terms leave.

use super::super::param::{Param, contains_pattern};
use shared::tasks::fields::format_date;
use shared::tasks::filter::{Filter, HasField, IsState, Term, Who};
use shared::tasks::model::Status;

/// A filter with what its terms refer to settled: the person asking (`assignee:me`) and
/// today's date (`due<7d`).
#[derive(Debug, Clone)]
pub struct FilterQuery {
    pub filter: Filter,
    /// The username of the person asking; `None` when the caller is not a person (then
    /// `assignee:me` matches no task).
    pub me: Option<String>,
    /// Days since 1970-01-01, UTC.
    pub today: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Shortest text a trigram index answers.
const TRIGRAM: usize = 3;

/// The `WHERE` condition (over `t`) and its parameters, numbered from `$1`.
///
/// A label pair carries its task's status, so a label term asks for the status too when the
/// filter names one (`label:x status:doing` reads one range of `tree_task_labels_status`),
/// and that status term then needs no condition of its own.
pub fn condition(q: &FilterQuery, dialect: Dialect) -> (String, Vec<Param>) {
    let mut params = Vec::new();
    let mut parts = Vec::with_capacity(q.filter.clauses.len());
    let status = q.filter.clauses.iter().find_map(|c| match c.term {
        Term::Status(s) if !c.negated => Some(s),
        _ => None,
    });
    let labelled = q
        .filter
        .clauses
        .iter()
        .any(|c| !c.negated && matches!(c.term, Term::Label(_)));
    for c in &q.filter.clauses {
        let cond = match (&c.term, c.negated, status) {
            (Term::Status(s), false, Some(first)) if labelled && *s == first => continue,
            (Term::Label(l), false, Some(s)) => format!(
                "t.id IN (SELECT task_id FROM tree_task_labels WHERE label = {} AND status = {})",
                bind(&mut params, l.as_str().into()),
                bind(&mut params, s.as_str().into())
            ),
            _ => term(&c.term, q, dialect, &mut params),
        };
        parts.push(if c.negated {
            format!("NOT ({cond})")
        } else {
            cond
        });
    }
    if parts.is_empty() {
        parts.push("TRUE".into());
    }
    (parts.join(" AND "), params)
}

/// The matching tasks (columns `columns` of `t`, then the count of every match), at most
/// `$n` of them in id order, `$n` being the parameter after the condition's.
pub fn select(q: &FilterQuery, dialect: Dialect, columns: &str) -> (String, Vec<Param>) {
    let (matches, params) = match label_only(&q.filter) {
        // `label:x` (with `status:s`) alone: the pairs answer it without reading a task.
        Some((label, status)) => {
            let mut params = vec![Param::from(label)];
            let mut m = "SELECT task_id AS id FROM tree_task_labels WHERE label = $1".to_string();
            if let Some(s) = status {
                params.push(s.as_str().into());
                m.push_str(" AND status = $2");
            }
            (m, params)
        }
        None => {
            let (cond, params) = condition(q, dialect);
            (
                format!("SELECT t.id FROM tree_tasks t WHERE {cond}"),
                params,
            )
        }
    };
    let limit = params.len() + 1;
    let cols = columns
        .split(',')
        .map(|c| format!("t.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    // The matches are found once, by whichever index the terms favour, and only then
    // ordered: ordering first would let the planner walk every task by id.
    let sql = format!(
        "WITH m AS MATERIALIZED ({matches}) \
         SELECT {cols}, (SELECT COUNT(*) FROM m) AS total FROM m JOIN tree_tasks t ON t.id = m.id \
         ORDER BY m.id LIMIT ${limit}"
    );
    (sql, params)
}

/// The label and status of a filter made of one label term and at most one status, both
/// asked for (not negated).
fn label_only(f: &Filter) -> Option<(&str, Option<Status>)> {
    let mut label = None;
    let mut status = None;
    for c in &f.clauses {
        match (&c.term, c.negated) {
            (Term::Label(l), false) if label.is_none() => label = Some(l.as_str()),
            (Term::Status(s), false) if status.is_none() => status = Some(*s),
            _ => return None,
        }
    }
    label.map(|l| (l, status))
}

fn bind(params: &mut Vec<Param>, p: Param) -> String {
    params.push(p);
    format!("${}", params.len())
}

fn term(t: &Term, q: &FilterQuery, dialect: Dialect, params: &mut Vec<Param>) -> String {
    match t {
        Term::Text(text) => text_condition(text, dialect, params),
        Term::Status(s) => format!("t.status = {}", bind(params, s.as_str().into())),
        Term::Label(l) => format!(
            "t.id IN (SELECT task_id FROM tree_task_labels WHERE label = {})",
            bind(params, l.as_str().into())
        ),
        Term::Assignee(who) => {
            let name = match who {
                Who::Me => q.me.as_deref(),
                Who::User(u) => Some(u.as_str()),
            };
            match name {
                Some(n) => format!(
                    "(t.assignee IS NOT NULL AND t.assignee = {})",
                    bind(params, n.into())
                ),
                None => "FALSE".into(),
            }
        }
        Term::Priority(cmp, p) => {
            format!("t.priority {} {}", cmp.sql(), bind(params, p.rank().into()))
        }
        Term::Due(cmp, day) => format!(
            "(t.due IS NOT NULL AND t.due {} {})",
            cmp.sql(),
            bind(params, format_date(day.resolve(q.today)).as_str().into())
        ),
        Term::Has(HasField::Due) => "t.due IS NOT NULL".into(),
        Term::Has(HasField::Assignee) => "t.assignee IS NOT NULL".into(),
        Term::Has(HasField::Label) => "t.labels <> ''".into(),
        Term::Is(IsState::Blocked) => "t.blocked IS NOT NULL".into(),
        Term::Is(IsState::Overdue) => format!(
            "(t.status <> {} AND t.due IS NOT NULL AND t.due < {})",
            bind(params, Status::Done.as_str().into()),
            bind(params, format_date(q.today).as_str().into())
        ),
    }
}

fn text_condition(text: &str, dialect: Dialect, params: &mut Vec<Param>) -> String {
    match dialect {
        Dialect::Sqlite if text.chars().count() >= TRIGRAM => {
            // One FTS5 phrase: the trigram tokenizer matches it as a substring, case-blind.
            let phrase = format!("\"{}\"", text.replace('"', "\"\""));
            format!(
                "t.rowid IN (SELECT rowid FROM tree_tasks_text WHERE tree_tasks_text MATCH {})",
                bind(params, phrase.as_str().into())
            )
        }
        Dialect::Sqlite => {
            let p = bind(params, contains_pattern(text).as_str().into());
            format!("(t.title LIKE {p} ESCAPE '\\' OR t.notes LIKE {p} ESCAPE '\\')")
        }
        Dialect::Postgres => {
            let p = bind(params, contains_pattern(text).as_str().into());
            format!("(t.title ILIKE {p} ESCAPE '\\' OR t.notes ILIKE {p} ESCAPE '\\')")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> FilterQuery {
        FilterQuery {
            filter: Filter::parse(s).unwrap(),
            me: Some("ann".into()),
            today: 0,
        }
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let (sql, params) = condition(
            &q(r#"status:done label:x "it's ; DROP" ab"#),
            Dialect::Sqlite,
        );
        assert!(!sql.contains("DROP") && !sql.contains("it's"), "{sql}");
        assert_eq!(params.len(), 4);
        assert_eq!(params[2], Param::Text("\"it's ; DROP\"".into()));
        assert!(sql.contains("LIKE $4"), "{sql}");
    }

    #[test]
    fn negation_wraps_and_nobody_is_false() {
        let mut query = q("-assignee:me");
        query.me = None;
        assert_eq!(condition(&query, Dialect::Postgres).0, "NOT (FALSE)");
        assert_eq!(condition(&q(""), Dialect::Sqlite).0, "TRUE");
    }

    #[test]
    fn a_label_asks_for_the_status_named_beside_it() {
        let (sql, params) = condition(&q("status:doing label:x -label:y"), Dialect::Sqlite);
        assert_eq!(
            sql,
            "t.id IN (SELECT task_id FROM tree_task_labels WHERE label = $1 AND status = $2) \
             AND NOT (t.id IN (SELECT task_id FROM tree_task_labels WHERE label = $3))"
        );
        assert_eq!(params.len(), 3);
        // Two statuses match nothing: the second keeps its own condition.
        let (sql, _) = condition(&q("label:x status:doing status:done"), Dialect::Sqlite);
        assert!(sql.ends_with("AND t.status = $3"), "{sql}");
    }

    #[test]
    fn a_label_alone_reads_only_the_pairs() {
        let (sql, params) = select(&q("status:done label:x"), Dialect::Postgres, "id");
        assert!(
            sql.contains(
                "(SELECT task_id AS id FROM tree_task_labels WHERE label = $1 AND status = $2)"
            ),
            "{sql}"
        );
        assert_eq!(
            params,
            vec![Param::Text("x".into()), Param::Text("done".into())]
        );
        let (sql, _) = select(&q("label:x word"), Dialect::Postgres, "id");
        assert!(sql.contains("FROM tree_tasks t WHERE"), "{sql}");
    }

    #[test]
    fn the_limit_is_the_last_parameter() {
        let (sql, params) = select(&q("due<7d priority>=high"), Dialect::Postgres, "id, title");
        assert!(sql.ends_with("LIMIT $3"), "{sql}");
        assert_eq!(params[0], Param::Text("1970-01-08".into()));
        assert_eq!(params[1], Param::Int(3));
        assert!(
            sql.contains("SELECT t.id, t.title, (SELECT COUNT(*) FROM m) AS total"),
            "{sql}"
        );
    }
}
