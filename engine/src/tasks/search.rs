//! Searching the forest with the filter language (`shared::tasks::filter`): parse, settle
//! who "me" is and what day it is, ask the store, and give each hit its path.

use super::model::{SearchHit, SearchResults};
use crate::error::{AppError, AppResult};
use crate::now_millis;
use crate::state::Core;
use crate::store::tree::FilterQuery;
use shared::tasks::fields::day_of;
use shared::tasks::filter::Filter;

/// Ancestors a hit's path keeps (plus the root).
const HIT_PATH: i64 = 8;
/// Hits returned when the caller names no limit, and the most it may name.
pub const DEFAULT_HITS: i64 = 50;
pub const MAX_HITS: i64 = 200;

/// Who is searching: the username of a person, or `None` for a token (which has no tasks
/// of its own, so `assignee:me` is refused).
pub type Me<'a> = Option<&'a str>;

/// The filter `q` read for a search: its problems as a 400 naming the place.
pub fn parse(q: &str, me: Me<'_>) -> AppResult<Filter> {
    let filter = Filter::parse(q).map_err(|e| AppError::Invalid(e.to_string()))?;
    if filter.is_empty() {
        return Err(AppError::Invalid("type something to search for".into()));
    }
    if filter.mentions_me() && me.is_none() {
        return Err(AppError::Invalid(
            "assignee:me needs a signed-in person; a token has no tasks of its own — \
             name the person (assignee:<username>)"
                .into(),
        ));
    }
    Ok(filter)
}

/// The first `limit` tasks (1 to [`MAX_HITS`]) matching `q`, oldest first, with their
/// paths and the count of every match.
pub async fn search(st: &Core, me: Me<'_>, q: &str, limit: i64) -> AppResult<SearchResults> {
    if !(1..=MAX_HITS).contains(&limit) {
        return Err(AppError::Invalid(format!(
            "limit must be between 1 and {MAX_HITS}"
        )));
    }
    let query = FilterQuery {
        filter: parse(q, me)?,
        me: me.map(str::to_string),
        today: day_of(now_millis()),
    };
    let (found, total) = st.tree.tree_filter(&query, limit).await?;
    // Every hit's path in one statement.
    let ids: Vec<String> = found.iter().map(|t| t.id.clone()).collect();
    let mut paths = st.tree.tree_paths(&ids, HIT_PATH + 1).await?;
    let mut hits = Vec::with_capacity(found.len());
    for task in found {
        // The path ends with the task itself; the hit shows its ancestors. A task deleted
        // since the search read it is left out.
        let Some((mut path, elided)) = paths.remove(&task.id) else {
            continue;
        };
        path.pop();
        hits.push(SearchHit {
            task,
            path,
            path_elided: elided,
        });
    }
    let more = total > hits.len() as i64;
    Ok(SearchResults { hits, more, total })
}
