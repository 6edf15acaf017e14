//! POST /api/search: keyword (FTS5 BM25), vector (HNSW) and hybrid (rank fusion) search over
//! the caller's company, within the documents the caller may see.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Error};
use super::json::ApiJson;
use super::openapi::ErrorBody;
use super::validate;
use crate::app::AppState;
use crate::embed::usage::{Metered, usage_row};
use crate::embed::{EmbedError, Embedder, LexicalEmbedder};
use crate::identity::Actor;
use crate::search::{self, SearchError, SearchHit, SearchMode, SearchRequest};
use crate::store::company::documents;
use crate::tenant::context;

/// Longest query accepted, in characters.
const MAX_QUERY_CHARS: usize = 1000;
/// Most documents a search may be restricted to.
const MAX_DOCUMENT_IDS: usize = 100;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_chunks))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    /// What to look for (1 to 1000 characters).
    #[schema(pattern = "text:line!", min_length = 1, max_length = 1000)]
    pub query: String,
    /// How many results (1 to 100, default 10).
    #[schema(minimum = 1, maximum = 100)]
    pub k: Option<u32>,
    /// hybrid (default), vector or keyword.
    #[schema(value_type = Option<String>, pattern = "^(hybrid|vector|keyword)$")]
    pub mode: Option<SearchMode>,
    /// Only search these documents (their ids).
    #[schema(max_items = 100, value_type = Option<Vec<uuid::Uuid>>)]
    pub document_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<SearchHit>,
    /// The mode that was used.
    #[schema(value_type = String)]
    pub mode: SearchMode,
}

#[utoipa::path(post, path = "/api/search", tag = "search", request_body = SearchBody,
    responses((status = 200, body = SearchResponse), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
async fn search_chunks(
    State(app): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<SearchBody>,
) -> ApiResult<Json<SearchResponse>> {
    actor.require("documents:read")?;
    let query = validate::text("query", &body.query, MAX_QUERY_CHARS)?;
    let k = body.k.unwrap_or(10);
    if !(1..=search::MAX_K as u32).contains(&k) {
        return Err(Error::invalid(
            "k",
            format!("must be between 1 and {}", search::MAX_K),
        ));
    }
    let document_ids = body
        .document_ids
        .as_deref()
        .map(|ids| validate::ids("document_ids", ids, MAX_DOCUMENT_IDS))
        .transpose()?;
    let mode = body.mode.unwrap_or_default();
    let embedder: Arc<dyn Embedder> = app
        .embedder
        .clone()
        .unwrap_or_else(|| Arc::new(LexicalEmbedder));
    let ctx = context::current()?;
    if mode != SearchMode::Keyword {
        // Loading the index may rebuild it from SQLite; vector mode needs it, hybrid degrades.
        if let Err(err) = crate::service::search::company_index(&app, &ctx.db, &embedder).await {
            if mode == SearchMode::Vector {
                return Err(err.into());
            }
            tracing::warn!(error = %err, "hybrid search without the vector index");
        }
    }
    // Held until the search is done; keyword search embeds nothing and does not wait.
    let embedding_permit = match mode {
        SearchMode::Keyword => None,
        _ => Some(
            app.query_embeddings
                .acquire()
                .await
                .map_err(|_| Error::Unavailable("the server is shutting down".into()))?,
        ),
    };
    let db = ctx.db.clone();
    let metered = Arc::new(Metered::new(embedder.clone()));
    let user_id = actor.user_uuid.clone();
    let meter = metered.clone();
    let results = context::run(move |conn| {
        let allowed = documents::visible_ids(conn, &actor.viewer(), document_ids.as_deref())?;
        if let (Some(ids), Some(allowed)) = (&document_ids, &allowed) {
            // Every named document must exist and be visible: others' ids answer 404.
            if allowed.len() < ids.len() {
                return Err(Error::not_found("document"));
            }
        }
        let req = SearchRequest {
            query: &query,
            k: k as usize,
            mode,
            allowed: allowed.as_ref(),
        };
        search::search(conn, db.loaded_index(), meter.as_ref(), req).map_err(search_error)
    })
    .await?;
    drop(embedding_permit);
    let tokens = metered.tokens();
    if tokens > 0 {
        // The query's embedding call, recorded off the response path: a usage row that
        // fails to store is logged, the search has already succeeded.
        let row = usage_row(metered.as_ref(), &app.workspace.prices, &user_id, tokens);
        let recorded = context::spawn(async move {
            if let Err(e) = app.usage_writer.insert(row).await {
                tracing::warn!(error = %e, "the search's embedding usage was not recorded");
            }
        });
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "the search's embedding usage was not recorded");
        }
    }
    Ok(Json(SearchResponse { results, mode }))
}

fn search_error(err: SearchError) -> Error {
    match err {
        SearchError::NoIndex(why) => {
            Error::Unavailable(format!("semantic search is unavailable: {why}"))
        }
        SearchError::Embed(EmbedError::Unavailable(why)) => {
            Error::Unavailable(format!("the embedding service is unavailable: {why}"))
        }
        other => Error::internal(other),
    }
}
