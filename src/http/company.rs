//! GET /api/company: the caller's company as seen from inside its tenant scope.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::ApiResult;
use crate::tenant::{self, Actor};

/// Permission: none beyond being a user of the company.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/company", get(get_company))
}

async fn get_company(_actor: Actor) -> ApiResult<Json<Value>> {
    let ctx = tenant::context::current()?;
    let company = ctx.db.company();
    Ok(Json(json!({
        "id": company.uuid,
        "name": company.name,
        "slug": company.slug,
        "industry": company.industry,
        "schema_version": ctx.db.schema_version(),
    })))
}
