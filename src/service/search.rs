//! Searching a company's documents.

use std::sync::Arc;

use crate::app::{App, AppState};
use crate::embed::usage::{Metered, usage_row};
use crate::embed::{EmbedError, Embedder, LexicalEmbedder};
use crate::error::Error;
use crate::identity::Actor;
use crate::index::{self, VectorIndex};
use crate::search::{self, SearchError, SearchHit, SearchMode, SearchRequest};
use crate::store::company::documents;
use crate::tenant::{TenantDb, TenantError, context};

/// A search, validated.
#[derive(Clone, Debug)]
pub struct Query {
    pub text: String,
    /// How many results, 1 to [`search::MAX_K`].
    pub k: usize,
    pub mode: SearchMode,
    /// Only these documents (public ids); each must exist and be visible to the searcher.
    pub document_ids: Option<Vec<String>>,
}

/// Searches the current company's documents that `actor` may see. Vector and hybrid
/// searches embed the query (at most one embedding per core at a time) and record its
/// usage, off the response path; hybrid search without a usable index degrades to keyword.
pub async fn search(app: &AppState, actor: &Actor, q: Query) -> Result<Vec<SearchHit>, Error> {
    actor.require("documents:read")?;
    let Query {
        text: query,
        k,
        mode,
        document_ids,
    } = q;
    let actor = actor.clone();
    let embedder: Arc<dyn Embedder> = app
        .embedder
        .clone()
        .unwrap_or_else(|| Arc::new(LexicalEmbedder));
    let ctx = context::current()?;
    if mode != SearchMode::Keyword {
        // Loading the index may rebuild it from SQLite; vector mode needs it, hybrid degrades.
        if let Err(err) = company_index(app, &ctx.db, &embedder).await {
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
            k,
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
        let app = app.clone();
        let recorded = context::spawn(async move {
            if let Err(e) = app.usage_writer.insert(row).await {
                tracing::warn!(error = %e, "the search's embedding usage was not recorded");
            }
        });
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "the search's embedding usage was not recorded");
        }
    }
    Ok(results)
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

/// The company's vector index for `embedder`, loaded on first use. A load that queued a
/// reindex wakes the worker, and one that grew the loaded indexes lets the registry close
/// idle companies to stay in the memory budget.
pub async fn company_index<'a>(
    app: &App,
    db: &'a Arc<TenantDb>,
    embedder: &Arc<dyn Embedder>,
) -> Result<&'a VectorIndex, TenantError> {
    let reindex = app.ingest.reindexes_for(embedder.id());
    let (index, ensured) = index::lifecycle::ensure(db, embedder, reindex).await?;
    if ensured.reindex_queued {
        app.ingest.notify(db.company().id);
    }
    if ensured.loaded_now {
        app.registry.trim_indexes();
    }
    Ok(index)
}
