//! Building graphs: from a dump (checked against the manifest first) or from the
//! embeddings stored in SQLite, in parallel batches.

use std::collections::HashSet;
use std::path::Path;

use hnsw_rs::prelude::Hnsw;
use rusqlite::Connection;

use super::distance::{DistUnitCosine, normalize};
use super::index::IndexParams;
use super::manifest::{FORMAT_VERSION, Manifest};
use super::{Graph, IndexError, dump, store};

/// hnsw_rs caps layers at 16; more than enough for millions of points.
const MAX_LAYER: usize = 16;
/// Rows decoded per batch while rebuilding from SQLite.
pub(super) const REBUILD_BATCH: usize = 4096;

/// The graph of the dump in `dir` (`None` for a valid dump of an empty index), or why it
/// cannot be used.
pub(super) fn try_load(
    dir: &Path,
    embedder_id: &str,
    dims: usize,
) -> Result<Option<Graph>, String> {
    let m = match Manifest::read(dir) {
        Ok(Some(m)) => m,
        Ok(None) => return Err("no manifest".into()),
        Err(e) => return Err(e.to_string()),
    };
    if m.format_version != FORMAT_VERSION {
        return Err(format!(
            "dump format {} is not {FORMAT_VERSION}",
            m.format_version
        ));
    }
    if m.embedder_id != embedder_id || m.dimensions != dims {
        return Err(format!(
            "dump is for embedder {} ({} dims), not {embedder_id} ({dims} dims)",
            m.embedder_id, m.dimensions
        ));
    }
    if m.count == 0 {
        return Ok(None);
    }
    let graph = dump::load(dir, &m).map_err(|e| e.to_string())?;
    if graph.get_point_indexation().get_data_dimension() != dims {
        return Err("dump vectors have other dimensions".into());
    }
    Ok(Some(graph))
}

/// The chunk ids in a graph. hnsw_rs's point iterator panics on an empty graph.
pub(super) fn graph_ids(graph: &Graph) -> HashSet<i64> {
    let mut ids = HashSet::with_capacity(graph.get_nb_point());
    if graph.get_nb_point() > 0 {
        for point in graph.get_point_indexation() {
            ids.insert(point.get_origin_id() as i64);
        }
    }
    ids
}

pub(super) fn new_graph(params: &IndexParams, capacity: usize) -> Graph {
    Hnsw::new(
        params.max_nb_connection,
        capacity.max(1024),
        MAX_LAYER,
        params.ef_construction,
        DistUnitCosine,
    )
}

/// Inserts a batch, in parallel when it is big enough to pay for the thread hand-off.
pub(super) fn insert_batch(graph: &Graph, items: &[(Vec<f32>, usize)]) {
    if items.len() >= 64 {
        let refs: Vec<(&Vec<f32>, usize)> = items.iter().map(|(v, id)| (v, *id)).collect();
        graph.parallel_insert(&refs);
    } else {
        for (v, id) in items {
            graph.insert((v.as_slice(), *id));
        }
    }
}

/// A fresh graph of every chunk in SQLite embedded by `embedder_id`; returns it and the
/// count of rows skipped for having the wrong length or an unusable vector.
pub(super) fn build_from_sqlite(
    conn: &Connection,
    embedder_id: &str,
    dims: usize,
    params: &IndexParams,
) -> Result<(Graph, usize), IndexError> {
    let count: i64 = conn.query_row(
        "SELECT COUNT(*) FROM document_chunks
          WHERE embedding IS NOT NULL AND embedding_model = ?1",
        [embedder_id],
        |r| r.get(0),
    )?;
    let graph = new_graph(params, count as usize);
    let mut invalid = 0;
    let skipped =
        store::for_each_embedding_batch(conn, embedder_id, dims, REBUILD_BATCH, |batch| {
            let items: Vec<(Vec<f32>, usize)> = batch
                .into_iter()
                .filter_map(|(id, mut v)| {
                    let ok = id > 0 && normalize(&mut v);
                    invalid += usize::from(!ok);
                    ok.then_some((v, id as usize))
                })
                .collect();
            insert_batch(&graph, &items);
        })?;
    Ok((graph, skipped + invalid))
}
