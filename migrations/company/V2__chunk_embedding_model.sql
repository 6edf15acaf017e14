-- Company database, schema version 2: which embedder produced each stored vector, and a
-- cheap way to find chunks still waiting for one.
--
-- SQLite is the source of truth for vectors (invariant 3) and the embedder can change
-- (built-in default, an OpenAI-compatible provider, a local model): a vector is only
-- comparable with vectors of the same model and dimensions. Recording the model per chunk
-- lets a reindex re-embed exactly the chunks made by another model instead of all of them,
-- and lets search skip vectors that do not match the active embedder.
--
-- Rows written before this version keep embedding_model NULL: their model is the one in
-- the company's vectors/ manifest at upgrade time. The CHECK (verified against existing
-- rows by ALTER TABLE) only forbids a model name without a vector, or an empty name.
ALTER TABLE document_chunks ADD COLUMN embedding_model TEXT
    CHECK (embedding_model IS NULL OR (embedding_model <> '' AND embedding IS NOT NULL));

-- The embedding worker and `silo reindex` ask "which chunks have no vector yet", in
-- document order. Partial, so it stays tiny once everything is embedded, and carrying
-- (document_id, chunk_index) so the batch is read in order straight off the index.
CREATE INDEX idx_document_chunks_embedding_pending
    ON document_chunks (document_id, chunk_index)
    WHERE embedding IS NULL;

