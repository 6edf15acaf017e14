//! `token_usage` rows for embedding calls (operation `embedding`), so a company's usage
//! summary shows what indexing and searching its documents cost, beside its chat calls.
//!
//! Tokens are estimated (about four characters a token, the estimate chunks are sized
//! with): the local models are free, and for a priced HTTP provider the estimate is within
//! a few percent of its own count on prose.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::pricing::PriceTable;
use crate::store::company::usage::NewUsage;

use super::{EmbedError, Embedder};

/// The `operation_type` of embedding rows.
pub const OPERATION: &str = "embedding";

/// User id recorded for embedding work the system starts itself (reindexing).
pub const SYSTEM_USER: &str = "system";

/// Estimated tokens of a batch of texts (the chunker's estimate, summed).
pub fn estimate_tokens<S: AsRef<str>>(texts: &[S]) -> i64 {
    texts
        .iter()
        .map(|t| crate::text::estimate_tokens(t.as_ref()))
        .sum()
}

/// The usage row of embedding `tokens` tokens with `embedder` for `user_id`, priced with
/// the provider's embedding rate (0 when the provider is not in the table).
pub fn usage_row(
    embedder: &dyn Embedder,
    prices: &PriceTable,
    user_id: &str,
    tokens: i64,
) -> NewUsage {
    NewUsage {
        embedding_tokens: tokens,
        ..NewUsage::new(user_id, embedder.provider(), embedder.model(), OPERATION)
    }
    .priced(prices)
}

/// An embedder that counts the tokens of its successful calls, to record what one request
/// (a search) embedded without threading counts through the code it calls.
pub struct Metered {
    inner: Arc<dyn Embedder>,
    tokens: AtomicI64,
}

impl Metered {
    pub fn new(inner: Arc<dyn Embedder>) -> Self {
        Metered {
            inner,
            tokens: AtomicI64::new(0),
        }
    }

    /// Tokens embedded so far (0 when it was never called).
    pub fn tokens(&self) -> i64 {
        self.tokens.load(Ordering::Relaxed)
    }
}

impl Embedder for Metered {
    fn id(&self) -> &str {
        self.inner.id()
    }
    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }
    fn provider(&self) -> &str {
        self.inner.provider()
    }
    fn model(&self) -> &str {
        self.inner.model()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let vectors = self.inner.embed(texts)?;
        self.tokens
            .fetch_add(estimate_tokens(texts), Ordering::Relaxed);
        Ok(vectors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::LexicalEmbedder;
    use crate::pricing::Price;

    #[test]
    fn rows_are_priced_by_provider_and_model() {
        assert_eq!(estimate_tokens(&["abcd", "abcde", ""]), 3);
        let free = usage_row(&LexicalEmbedder, &PriceTable::default(), "u1", 1000);
        assert_eq!(
            (free.provider.as_str(), free.operation_type.as_str()),
            ("local", OPERATION)
        );
        assert_eq!((free.embedding_tokens, free.estimated_cost), (1000, 0.0));
        let mut prices = PriceTable::default();
        prices.prices.push(Price {
            provider: "local".into(),
            model: None,
            prompt: 0.0,
            completion: 0.0,
            embedding: 2.0,
        });
        let priced = usage_row(&LexicalEmbedder, &prices, "u1", 500_000);
        assert!((priced.estimated_cost - 1.0).abs() < 1e-12);
        assert_eq!(priced.total_tokens(), 0);
    }
}
