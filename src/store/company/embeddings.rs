//! Embeddings in `document_chunks.embedding`, little-endian f32 BLOBs (invariant 3: SQLite
//! is the source of truth): everything the vector index, vector search and re-embedding
//! read, plus the write that stores a chunk's vector.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, params};

/// Encodes a vector as the stored BLOB (little-endian f32, 4 bytes per value).
pub fn encode_embedding(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Decodes a stored BLOB; `None` unless it holds exactly `dims` values.
pub fn decode_embedding(blob: &[u8], dims: usize) -> Option<Vec<f32>> {
    if blob.len() != dims * 4 {
        return None;
    }
    Some(
        blob.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

/// Stores each chunk's vector made by `embedder_id` (inside a write transaction; add the
/// same vectors to the loaded index after commit). Returns how many rows it changed per
/// item, in order (0 for a chunk deleted meanwhile).
pub fn set_embeddings(
    conn: &Connection,
    embedder_id: &str,
    items: &[(i64, Vec<f32>)],
) -> rusqlite::Result<Vec<bool>> {
    let mut stmt = conn.prepare_cached(
        "UPDATE document_chunks SET embedding = ?2, embedding_model = ?3 WHERE id = ?1",
    )?;
    items
        .iter()
        .map(|(id, v)| Ok(stmt.execute(params![id, encode_embedding(v), embedder_id])? > 0))
        .collect()
}

/// What SQLite holds for an index of one embedder, from [`indexable_chunk_ids`].
#[derive(Debug, Default)]
pub struct Indexable {
    /// Chunks with a vector of the embedder and the right length, ascending.
    pub live: Vec<i64>,
    /// Chunks with an unlabelled vector of the right length (stored before chunks recorded
    /// their embedder), ascending; counted in `stale` too.
    pub unlabelled: Vec<i64>,
    /// Chunks the index cannot hold: no vector yet, another embedder's, unlabelled, or of
    /// the wrong length. A reindex embeds them again.
    pub stale: usize,
}

/// What a complete index for `embedder_id` must hold, in one scan of the table
/// (`length()` of a BLOB is read from the record header, not the value).
pub fn indexable_chunk_ids(
    conn: &Connection,
    embedder_id: &str,
    dims: usize,
) -> rusqlite::Result<Indexable> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, embedding_model, length(embedding) IS ?2 FROM document_chunks ORDER BY id",
    )?;
    let mut rows = stmt.query(params![embedder_id, dims as i64 * 4])?;
    let mut out = Indexable::default();
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let fits: bool = row.get(2)?;
        match row.get_ref(1)?.as_str_or_null()? {
            Some(model) if fits && model == embedder_id => out.live.push(id),
            None if fits => {
                out.unlabelled.push(id);
                out.stale += 1;
            }
            _ => out.stale += 1,
        }
    }
    Ok(out)
}

/// Labels the unlabelled vectors of the given chunks as `embedder_id`'s.
pub fn label(conn: &Connection, embedder_id: &str, ids: &[i64]) -> rusqlite::Result<usize> {
    let json = serde_json::to_string(ids).expect("ids serialise");
    conn.prepare_cached(
        "UPDATE document_chunks SET embedding_model = ?2
          WHERE id IN (SELECT value FROM json_each(?1)) AND embedding_model IS NULL
            AND embedding IS NOT NULL",
    )?
    .execute(params![json, embedder_id])
}

/// Streams `(chunk id, vector)` for every chunk embedded by `embedder_id`, in ascending id
/// order, `batch` at a time, so a rebuild never holds more than one batch of decoded vectors
/// besides the graph. Rows whose BLOB has the wrong length are skipped and counted in the
/// returned total.
pub fn for_each_embedding_batch(
    conn: &Connection,
    embedder_id: &str,
    dims: usize,
    batch: usize,
    mut f: impl FnMut(Vec<(i64, Vec<f32>)>),
) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare(
        "SELECT id, embedding FROM document_chunks
          WHERE embedding IS NOT NULL AND embedding_model = ?1 ORDER BY id",
    )?;
    let mut rows = stmt.query([embedder_id])?;
    let (mut buf, mut skipped) = (Vec::with_capacity(batch), 0);
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let blob = row.get_ref(1)?.as_blob()?;
        match decode_embedding(blob, dims) {
            Some(v) => buf.push((id, v)),
            None => skipped += 1,
        }
        if buf.len() >= batch {
            f(std::mem::replace(&mut buf, Vec::with_capacity(batch)));
        }
    }
    if !buf.is_empty() {
        f(buf);
    }
    Ok(skipped)
}

/// The stored vectors of the given chunks made by `embedder_id` (in ascending id order;
/// missing ids, other embedders' vectors and rows of the wrong length are left out).
pub fn embeddings_of(
    conn: &Connection,
    ids: &[i64],
    embedder_id: &str,
    dims: usize,
) -> rusqlite::Result<Vec<(i64, Vec<f32>)>> {
    let json = serde_json::to_string(ids).expect("ids serialise");
    let mut stmt = conn.prepare_cached(
        "SELECT id, embedding FROM document_chunks
          WHERE id IN (SELECT value FROM json_each(?1)) AND embedding IS NOT NULL
            AND embedding_model = ?2 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![json, embedder_id], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut out = Vec::with_capacity(ids.len());
    for row in rows {
        let (id, blob) = row?;
        if let Some(v) = decode_embedding(&blob, dims) {
            out.push((id, v));
        }
    }
    Ok(out)
}

/// Chunks with a vector of `embedder_id` (the size a rebuilt graph is made for).
pub fn count_of(conn: &Connection, embedder_id: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM document_chunks
          WHERE embedding IS NOT NULL AND embedding_model = ?1",
    )?
    .query_row([embedder_id], |r| r.get::<_, i64>(0))
    .map(|n| n as usize)
}

/// The embedder most stored vectors are of, with their dimensions: what a copy of the
/// company (an import) builds its index for before any embedder is chosen.
pub fn dominant_model(conn: &Connection) -> rusqlite::Result<Option<(String, usize)>> {
    conn.prepare_cached(
        "SELECT embedding_model, length(embedding) / 4, COUNT(*) AS n FROM document_chunks
          WHERE embedding IS NOT NULL AND embedding_model IS NOT NULL
          GROUP BY 1, 2 ORDER BY n DESC, 1 LIMIT 1",
    )?
    .query_row([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
    })
    .optional()
}

fn ids_json<'a>(ids: impl IntoIterator<Item = &'a i64>) -> String {
    serde_json::to_string(&ids.into_iter().collect::<Vec<_>>()).expect("ids serialise")
}

/// Chunks of the given documents with a vector of `embedder_id`.
pub fn count_in(
    conn: &Connection,
    docs: &HashSet<i64>,
    embedder_id: &str,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM document_chunks
          WHERE document_id IN (SELECT value FROM json_each(?1)) AND embedding_model = ?2",
    )?
    .query_row(params![ids_json(docs), embedder_id], |r| r.get::<_, i64>(0))
    .map(|n| n as usize)
}

/// Calls `f` with `(chunk id, vector)` for every chunk of the given documents embedded by
/// `embedder_id` (rows of the wrong length are skipped).
pub fn scan_in(
    conn: &Connection,
    docs: &HashSet<i64>,
    embedder_id: &str,
    dims: usize,
    mut f: impl FnMut(i64, Vec<f32>),
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, embedding FROM document_chunks
          WHERE document_id IN (SELECT value FROM json_each(?1)) AND embedding_model = ?2",
    )?;
    let mut rows = stmt.query(params![ids_json(docs), embedder_id])?;
    while let Some(row) = rows.next()? {
        if let Some(v) = decode_embedding(row.get_ref(1)?.as_blob()?, dims) {
            f(row.get(0)?, v);
        }
    }
    Ok(())
}

/// chunk id → document id for the given chunks.
pub fn documents_of(
    conn: &Connection,
    chunks: impl Iterator<Item = i64>,
) -> rusqlite::Result<HashMap<i64, i64>> {
    let json = serde_json::to_string(&chunks.collect::<Vec<_>>()).expect("ids");
    let mut stmt = conn.prepare_cached(
        "SELECT id, document_id FROM document_chunks WHERE id IN (SELECT value FROM json_each(?1))",
    )?;
    stmt.query_map([json], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// The chunks of the given documents.
pub fn chunks_of(conn: &Connection, docs: &HashSet<i64>) -> rusqlite::Result<HashSet<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM document_chunks WHERE document_id IN (SELECT value FROM json_each(?1))",
    )?;
    stmt.query_map([ids_json(docs)], |r| r.get(0))?.collect()
}

/// Which chunks are stale for an embedder: no vector, an unlabelled one, another model's,
/// or one of the wrong length.
const STALE: &str = "(embedding IS NULL OR embedding_model IS NOT ?1 OR length(embedding) != ?2)";

/// Chunks whose vector is not `embedder_id`'s of `dims` values.
pub fn stale_count(conn: &Connection, embedder_id: &str, dims: usize) -> rusqlite::Result<usize> {
    conn.prepare_cached(&format!(
        "SELECT COUNT(*) FROM document_chunks WHERE {STALE}"
    ))?
    .query_row(params![embedder_id, dims as i64 * 4], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as usize)
}

/// Up to `limit` stale chunks (as [`stale_count`]) with ids above `after`, ascending, with
/// their text.
pub fn stale_after(
    conn: &Connection,
    embedder_id: &str,
    dims: usize,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, String)>> {
    conn.prepare_cached(&format!(
        "SELECT id, content FROM document_chunks WHERE id > ?3 AND {STALE} ORDER BY id LIMIT ?4"
    ))?
    .query_map(
        params![embedder_id, dims as i64 * 4, after, limit as i64],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_round_trip_and_length_check() {
        let v = vec![0.5f32, -1.25, 3.0];
        let blob = encode_embedding(&v);
        assert_eq!(blob.len(), 12);
        assert_eq!(decode_embedding(&blob, 3), Some(v));
        assert_eq!(decode_embedding(&blob, 4), None);
    }
}
