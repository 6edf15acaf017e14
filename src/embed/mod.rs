//! Embedders: turn text into vectors for semantic search. One trait, several providers
//! (a local model, a built-in lexical fallback, an OpenAI-compatible HTTP service).

/// Errors of producing embeddings.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding model unavailable: {0}")]
    Unavailable(String),
    #[error("embedding failed: {0}")]
    Failed(String),
}

/// A text embedder. Implementations are blocking (run them on the blocking pool) and return
/// L2-normalised vectors of exactly `dimensions()` values, one per input text, in order.
pub trait Embedder: Send + Sync + 'static {
    /// Stable identifier recorded with every index ("all-minilm-l6-v2", "lexical-v1", …);
    /// a change of id or dimensions means the company indexes must be rebuilt.
    fn id(&self) -> &str;
    fn dimensions(&self) -> usize;
    /// Embeds a batch of texts.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
}
