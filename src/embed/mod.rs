//! Embedders: turn text into vectors for semantic search. One trait, several providers
//! (a local model, a built-in lexical fallback, an OpenAI-compatible HTTP service).
//!
//! - [`lexical`]: feature hashing of words and word pairs; needs nothing, always works.
//! - `minilm` (feature `local-model`): all-MiniLM-L6-v2 on the CPU with candle.
//! - [`openai`]: any OpenAI-compatible `/embeddings` endpoint.
//! - [`select`]: picks one from configuration and what is on disk.

pub mod lexical;
#[cfg(feature = "local-model")]
pub mod minilm;
pub mod openai;
pub mod select;
pub mod usage;

pub use lexical::LexicalEmbedder;
pub use select::{EmbedderConfig, EmbedderKind, select_embedder};

/// Where the local model lives, relative to the data directory (also without the
/// `local-model` feature, so configuration and scripts agree on it).
pub const MODEL_SUBDIR: &str = "models/all-minilm-l6-v2";

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
    /// Provider recorded in `token_usage` rows and looked up in the price table: `local`
    /// for models running in this process (free unless priced).
    fn provider(&self) -> &str {
        "local"
    }
    /// Model recorded in `token_usage` rows.
    fn model(&self) -> &str {
        self.id()
    }
    /// Embeds a batch of texts.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// `embedder`'s vectors for `texts`, checked: one per text, of its dimensions, finite. A
/// panic inside the model, or an answer that breaks those rules, is `EmbedError::Failed`:
/// a misbehaving embedder fails its caller instead of storing bad vectors.
pub fn embed_checked(embedder: &dyn Embedder, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let vectors = catch_unwind(AssertUnwindSafe(|| embedder.embed(texts)))
        .map_err(|_| EmbedError::Failed("the embedding model failed".into()))??;
    let dims = embedder.dimensions();
    if vectors.len() != texts.len() {
        return Err(EmbedError::Failed(format!(
            "the embedding model returned {} vectors for {} texts",
            vectors.len(),
            texts.len()
        )));
    }
    if let Some(v) = vectors
        .iter()
        .find(|v| v.len() != dims || v.iter().any(|x| !x.is_finite()))
    {
        return Err(EmbedError::Failed(format!(
            "the embedding model returned a malformed vector ({} values, expected {dims})",
            v.len()
        )));
    }
    Ok(vectors)
}

/// Scales `v` to unit length in place; returns false (leaving it untouched) for a zero or
/// non-finite vector, which cannot be indexed or compared.
pub fn normalize(v: &mut [f32]) -> bool {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return false;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    true
}
