//! Searching a company's documents and the global library.

use std::collections::HashSet;
use std::sync::Arc;

use rusqlite::Connection;

use crate::app::{App, AppState};
use crate::embed::usage::{Metered, usage_row};
use crate::embed::{EmbedError, Embedder, LexicalEmbedder};
use crate::error::Error;
use crate::identity::Actor;
use crate::index::{self, VectorIndex};
use crate::search::{self, Corpus, SearchError, SearchHit, SearchMode, Source};
use crate::service::library;
use crate::store::company::{Viewer, documents};
use crate::tenant::{TenantDb, TenantError, context};

/// A search, validated.
#[derive(Clone, Debug)]
pub struct Query {
    pub text: String,
    /// How many results, 1 to [`search::MAX_K`].
    pub k: usize,
    pub mode: SearchMode,
    /// Only these documents (public ids); each must exist in a searched source and be
    /// visible to the searcher.
    pub document_ids: Option<Vec<String>>,
    /// Where to look: the searcher's company, the global library, or both (not none).
    /// `None` is both, with the library left out (and logged) when it cannot be searched
    /// now, so a damaged or unusable library never takes a company's search down.
    pub sources: Option<Vec<Source>>,
}

/// Searches the current company's documents that `actor` may see and the global library
/// (as `sources` says), ranked as one collection. Vector and hybrid searches embed the
/// query once (at most one embedding per core at a time) and record its usage in the
/// searching company, off the response path; hybrid search without a usable index
/// degrades to keyword for that source.
pub async fn search(app: &AppState, actor: &Actor, q: Query) -> Result<Vec<SearchHit>, Error> {
    actor.require("documents:read")?;
    let Query {
        text: query,
        k,
        mode,
        document_ids,
        sources,
    } = q;
    let embedder: Arc<dyn Embedder> = app
        .embedder
        .clone()
        .unwrap_or_else(|| Arc::new(LexicalEmbedder));
    let ctx = context::current()?;
    let named = sources.is_some();
    let sources = sources.unwrap_or_else(|| vec![Source::Company, Source::Library]);
    let in_company = sources.contains(&Source::Company);
    let mut library = match sources.contains(&Source::Library) {
        true => match library::reader_ctx(app, actor, false).await {
            Ok(library) => library,
            Err(e) if !named => {
                tracing::warn!(error = %e, "searching without the library");
                None
            }
            Err(e) => return Err(e),
        },
        false => None,
    };
    if mode != SearchMode::Keyword {
        if in_company {
            // Loading the index may rebuild it from SQLite; vector mode needs it, hybrid degrades.
            if let Err(err) = company_index(app, &ctx.db, &embedder).await {
                if mode == SearchMode::Vector {
                    return Err(err.into());
                }
                tracing::warn!(error = %err, "hybrid search without the vector index");
            }
        }
        if let Some(lib) = &library {
            let loaded = company_index(app, &lib.db, &embedder).await;
            let usable = loaded.is_ok_and(|ix| ix.embedder_id() == embedder.id());
            match (usable, mode, named) {
                (true, _, _) | (false, SearchMode::Hybrid, _) => {}
                // Vector search of the library asked for by name needs its index.
                (false, _, true) => {
                    return Err(Error::Unavailable(
                        "semantic search of the library is unavailable: its index is not usable"
                            .into(),
                    ));
                }
                (false, _, false) => {
                    tracing::warn!("vector search without the library: its index is not usable");
                    library = None;
                }
            }
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
    let actor = actor.clone();
    let results = context::run(move |conn| {
        let ids = document_ids.as_deref();
        let allowed = |conn: &Connection, viewer: Viewer<'_>| {
            Ok::<_, Error>(documents::visible_ids(conn, &viewer, ids)?)
        };
        let named = |allowed: &Option<HashSet<i64>>| allowed.as_ref().map_or(0, HashSet::len);
        let company_allowed = match in_company {
            true => Some(allowed(conn, actor.viewer())?),
            false => None,
        };
        let in_company_named = company_allowed.as_ref().map_or(0, named);
        let company = company_allowed.as_ref().map(|allowed| Corpus {
            source: Source::Company,
            conn,
            index: db.loaded_index(),
            allowed: allowed.as_ref(),
        });
        let search = |corpora: &[Corpus<'_>], named: usize| {
            // Every named document must exist and be visible: others' ids answer 404.
            if ids.is_some_and(|ids| named < ids.len()) {
                return Err(Error::not_found("document"));
            }
            search::search_in(corpora, meter.as_ref(), &query, k, mode).map_err(search_error)
        };
        let Some(library) = library else {
            return search(&company.into_iter().collect::<Vec<_>>(), in_company_named);
        };
        let reader = library
            .actor
            .clone()
            .expect("a reader context has its actor");
        let index = library.db.clone();
        context::sync_scope(library, || {
            context::with_conn(|lconn| {
                let library_allowed = allowed(lconn, reader.viewer())?;
                let library = Corpus {
                    source: Source::Library,
                    conn: lconn,
                    index: index.loaded_index(),
                    allowed: library_allowed.as_ref(),
                };
                let named = in_company_named + named(&library_allowed);
                search(
                    &company.into_iter().chain([library]).collect::<Vec<_>>(),
                    named,
                )
            })
        })
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
