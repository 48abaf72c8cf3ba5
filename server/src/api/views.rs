//! `/api/v1/views`: the caller's saved views (named filters). Each person sees and changes
//! only their own; a token keeps none and gets a 400.

use crate::access::allow;
use crate::error::{ApiJson, ApiResult};
use crate::openapi::{ErrorBody, TASKS};
use app::access::Access;
use app::accounts::service::Caller;
use app::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use engine::tasks::views;
use serde::Deserialize;
use shared::tasks::views::{Layout, SavedView};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Access::Viewer, routes!(list)))
        .routes(allow(Access::Viewer, routes!(save, remove)))
}

/// The caller's views, by name.
#[utoipa::path(get, path = "/views", tag = TASKS,
    responses(
        (status = 200, description = "The caller's views", body = [SavedView]),
        (status = 400, description = "The caller is not a person", body = ErrorBody),
    ))]
async fn list(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Vec<SavedView>>> {
    Ok(Json(views::list(&st, caller.user_id()).await?))
}

/// A view to save.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ViewBody {
    /// A filter in the filter language; it is kept in its canonical form.
    filter: String,
    /// `outline` (the default) or `board`.
    #[serde(default)]
    layout: Layout,
}

/// Saves a view under `name`, replacing the caller's view of that name.
#[utoipa::path(put, path = "/views/{name}", tag = TASKS, request_body = ViewBody,
    params(("name" = String, Path, description = "View name, 1–60 characters")),
    responses(
        (status = 200, description = "The view as saved", body = SavedView),
        (status = 400, description = "A bad name or filter, or the caller is not a person", body = ErrorBody),
        (status = 409, description = "The caller keeps the most views there may be", body = ErrorBody),
    ))]
async fn save(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    ApiJson(b): ApiJson<ViewBody>,
) -> ApiResult<Json<SavedView>> {
    Ok(Json(
        views::save(&st, caller.user_id(), &name, &b.filter, b.layout).await?,
    ))
}

/// Deletes one of the caller's views.
#[utoipa::path(delete, path = "/views/{name}", tag = TASKS,
    params(("name" = String, Path, description = "View name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The caller is not a person", body = ErrorBody),
        (status = 404, description = "The caller has no view of that name", body = ErrorBody),
    ))]
async fn remove(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    views::delete(&st, caller.user_id(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
