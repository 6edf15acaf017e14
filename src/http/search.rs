//! POST /api/search: keyword (FTS5 BM25), vector (HNSW) and hybrid (rank fusion) search over
//! the caller's company, within the documents the caller may see, and the global library.

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
use super::views::search::SearchHit;
use crate::app::AppState;
use crate::identity::Actor;
use crate::search::{MAX_K, SearchMode, Source};
use crate::service::search::{self, Query};

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
    /// Only search these documents (their ids, of the company or the library).
    #[schema(max_items = 100, value_type = Option<Vec<uuid::Uuid>>)]
    pub document_ids: Option<Vec<String>>,
    /// Where to look: `company` (the caller's company), `library` (the global library), or
    /// both (the default), ranked together; a source named twice counts once.
    #[schema(min_items = 1, max_items = 2, value_type = Option<Vec<SourceName>>)]
    pub sources: Option<Vec<String>>,
}

/// A place to search (for the API description; parsed with the errors of [`search_chunks`]).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum SourceName {
    Company,
    Library,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
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
    let query = validate::text("query", &body.query, MAX_QUERY_CHARS)?;
    let k = body.k.unwrap_or(10);
    if !(1..=MAX_K as u32).contains(&k) {
        return Err(Error::invalid(
            "k",
            format!("must be between 1 and {}", MAX_K),
        ));
    }
    let document_ids = body
        .document_ids
        .as_deref()
        .map(|ids| validate::ids("document_ids", ids, MAX_DOCUMENT_IDS))
        .transpose()?;
    let mode = body.mode.unwrap_or_default();
    let sources = match body.sources.as_deref() {
        None => None,
        Some([]) => return Err(Error::invalid("sources", "must name at least one source")),
        Some(names) => {
            let mut sources = Vec::new();
            for (i, name) in names.iter().enumerate() {
                let source = match name.as_str() {
                    "company" => Source::Company,
                    "library" => Source::Library,
                    _ => {
                        return Err(Error::invalid(
                            format!("sources[{i}]"),
                            "must be company or library",
                        ));
                    }
                };
                // Named twice is the same place.
                if !sources.contains(&source) {
                    sources.push(source);
                }
            }
            Some(sources)
        }
    };
    let hits = search::search(
        &app,
        &actor,
        Query {
            text: query,
            k: k as usize,
            mode,
            document_ids,
            sources,
        },
    )
    .await?;
    Ok(Json(SearchResponse {
        results: hits.into_iter().map(SearchHit::from).collect(),
        mode,
    }))
}
