//! Saved views: each person's named filters. A view belongs to a person (a user id); a
//! token, which is nobody, keeps none.

use crate::error::{AppError, AppResult};
use crate::now_millis;
use crate::state::Core;
use shared::tasks::filter::Filter;
use shared::tasks::views::{Layout, MAX_VIEWS, SavedView, view_name_problem};

fn owner(user_id: Option<&str>) -> AppResult<&str> {
    user_id.ok_or_else(|| {
        AppError::Invalid("saved views belong to a person; sign in to keep views".into())
    })
}

pub async fn list(st: &Core, user_id: Option<&str>) -> AppResult<Vec<SavedView>> {
    Ok(st.tree.views(owner(user_id)?).await?)
}

/// Saves `filter` as `name` (replacing a view of that name), in the filter's canonical form.
pub async fn save(
    st: &Core,
    user_id: Option<&str>,
    name: &str,
    filter: &str,
    layout: Layout,
) -> AppResult<SavedView> {
    let owner = owner(user_id)?;
    if let Some(p) = view_name_problem(name) {
        return Err(AppError::Invalid(p));
    }
    let parsed = Filter::parse(filter).map_err(|e| AppError::Invalid(e.to_string()))?;
    if parsed.is_empty() {
        return Err(AppError::Invalid("a view needs a filter".into()));
    }
    let view = SavedView {
        name: name.trim().to_string(),
        filter: parsed.to_string(),
        layout,
        created_at: now_millis(),
    };
    st.tree.save_view(owner, &view, MAX_VIEWS as i64).await?;
    Ok(view)
}

pub async fn delete(st: &Core, user_id: Option<&str>, name: &str) -> AppResult<()> {
    Ok(st.tree.delete_view(owner(user_id)?, name).await?)
}
