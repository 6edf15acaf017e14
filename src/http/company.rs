//! GET /api/company: the caller's company, as routed through its tenant scope.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::primary::companies;
use crate::tenant::{self, Actor};

/// Permission: none beyond being a user of the company.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/company", get(get_company))
}

async fn get_company(State(app): State<AppState>, _actor: Actor) -> ApiResult<Json<Value>> {
    let ctx = tenant::context::current()?;
    // The row, not the registry's copy: a rename shows at once.
    let id = ctx.db.company().id;
    let company = app
        .read_primary(move |conn| Ok(companies::get(conn, id)?))
        .await?
        .ok_or_else(|| ApiError::not_found("company"))?;
    Ok(Json(json!({
        "id": company.uuid,
        "name": company.name,
        "slug": company.slug,
        "industry": company.industry,
        "schema_version": ctx.db.schema_version(),
    })))
}
