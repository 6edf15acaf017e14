//! Building graphs: from a dump (checked against the manifest first) or from the
//! embeddings stored in SQLite, in parallel batches.

use std::collections::HashSet;
use std::path::Path;

use hnsw_rs::prelude::Hnsw;
use rusqlite::Connection;

use super::distance::DistUnitCosine;
use super::exact::ExactVectors;
use super::manifest::{FORMAT_VERSION, Manifest};
use super::vector_index::IndexParams;
use super::{Graph, IndexError, dump};
use crate::embed::normalize;
use crate::store::company::embeddings;

/// hnsw_rs caps layers at 16; more than enough for millions of points.
const MAX_LAYER: usize = 16;
/// Rows decoded per batch while rebuilding from SQLite.
pub(super) const REBUILD_BATCH: usize = 4096;

/// The graph of the dump in `dir` (`None` for a valid dump of an empty index), or why it
/// cannot be used.
pub(super) fn try_load(
    dir: &Path,
    manifest: Result<Option<Manifest>, IndexError>,
    embedder_id: &str,
    dims: usize,
) -> Result<Option<Graph>, String> {
    let m = match manifest {
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

/// The chunk ids in a graph, and its vectors when it has at most `keep_vectors_up_to`
/// points. Only for a graph no other thread uses yet: hnsw_rs's point iterator re-takes a
/// layer's read lock per step and deadlocks against a concurrent insert (and it panics on
/// an empty graph).
pub(super) fn graph_contents(
    graph: &Graph,
    keep_vectors_up_to: usize,
    dims: usize,
) -> (HashSet<i64>, Option<ExactVectors>) {
    let n = graph.get_nb_point();
    let mut ids = HashSet::with_capacity(n);
    let mut vectors = (n <= keep_vectors_up_to).then(|| ExactVectors::with_capacity(dims, n));
    if n > 0 {
        for point in graph.get_point_indexation() {
            let id = point.get_origin_id() as i64;
            ids.insert(id);
            if let Some(v) = vectors.as_mut() {
                v.push(id, point.get_v());
            }
        }
    }
    (ids, vectors)
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
    let count = embeddings::count_of(conn, embedder_id)?;
    let graph = new_graph(params, count);
    let mut invalid = 0;
    let skipped =
        embeddings::for_each_embedding_batch(conn, embedder_id, dims, REBUILD_BATCH, |batch| {
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
