//! Search over a company's chunks: vector (HNSW), keyword (FTS5 BM25) and hybrid.
