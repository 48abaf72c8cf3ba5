//! Labels: listed with their colours, recoloured by an editor. A label comes into being
//! the first time a task carries it (see the tree store), with a colour from
//! `shared::tasks::fields::LABEL_PALETTE`.

use crate::error::{AppError, AppResult};
use crate::state::Core;
use shared::tasks::fields::{Label, color_problem, label_problem};

pub async fn list(st: &Core) -> AppResult<Vec<Label>> {
    Ok(st.tree.tree_labels().await?)
}

/// Gives a label a new colour, which must carry white text at 4.5:1 or better.
pub async fn recolor(st: &Core, name: &str, color: &str) -> AppResult<Label> {
    if let Some(p) = label_problem(name) {
        return Err(AppError::Invalid(p));
    }
    if let Some(p) = color_problem(color) {
        return Err(AppError::Invalid(p));
    }
    Ok(st
        .tree
        .tree_recolor_label(name, &color.to_ascii_lowercase())
        .await?)
}
