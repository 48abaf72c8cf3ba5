//! `/api/v1/labels`: the labels tasks carry, with their colours. A label is made by the
//! first task that carries it; an editor may recolour it.

use crate::access::allow;
use crate::error::{ApiJson, ApiResult};
use crate::openapi::{ErrorBody, TASKS};
use app::access::Access;
use app::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use engine::tasks::labels;
use serde::Deserialize;
use shared::tasks::fields::Label;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Access::Viewer, routes!(list)))
        .routes(allow(Access::Editor, routes!(recolor)))
}

/// Every label, by name, with its colour.
#[utoipa::path(get, path = "/labels", tag = TASKS,
    responses((status = 200, description = "The labels", body = [Label])))]
async fn list(State(st): State<AppState>) -> ApiResult<Json<Vec<Label>>> {
    Ok(Json(labels::list(&st).await?))
}

/// A label's new colour.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RecolorBody {
    /// `#rrggbb`, dark enough for white text (4.5:1).
    color: String,
}

/// Recolours a label.
#[utoipa::path(patch, path = "/labels/{name}", tag = TASKS, request_body = RecolorBody,
    params(("name" = String, Path, description = "Label name")),
    responses(
        (status = 200, description = "The label as it is now", body = Label),
        (status = 400, description = "Not a colour, or too light for white text", body = ErrorBody),
        (status = 404, description = "No such label", body = ErrorBody),
    ))]
async fn recolor(
    State(st): State<AppState>,
    Path(name): Path<String>,
    ApiJson(b): ApiJson<RecolorBody>,
) -> ApiResult<Json<Label>> {
    Ok(Json(labels::recolor(&st, &name, &b.color).await?))
}
