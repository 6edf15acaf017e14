//! The model price table: estimated cost of a model call from its token counts.
//!
//! Prices are per one million tokens, per provider and optionally per model (seed 001's
//! defaults: `custom` (DeepSeek) 0.14 prompt / 0.28 completion, `ollama` free). An exact
//! (provider, model) entry wins over the provider's wildcard entry; a call of a provider
//! not in the table is recorded at cost 0.

use serde::{Deserialize, Serialize};

/// One price entry. `model: None` matches every model of the provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub provider: String,
    #[serde(default)]
    pub model: Option<String>,
    /// Currency units per 1M prompt tokens.
    pub prompt: f64,
    /// Currency units per 1M completion tokens.
    pub completion: f64,
    /// Currency units per 1M embedding tokens.
    #[serde(default)]
    pub embedding: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PriceTable {
    pub currency: String,
    pub prices: Vec<Price>,
}

impl Default for PriceTable {
    fn default() -> Self {
        let price = |provider: &str, prompt, completion| Price {
            provider: provider.into(),
            model: None,
            prompt,
            completion,
            embedding: 0.0,
        };
        PriceTable {
            currency: "USD".into(),
            prices: vec![price("custom", 0.14, 0.28), price("ollama", 0.0, 0.0)],
        }
    }
}

/// The configuration file/variable shape: `{"currency": "USD", "prices": [...]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceTableConfig {
    #[serde(default = "usd")]
    currency: String,
    prices: Vec<Price>,
}

fn usd() -> String {
    "USD".into()
}

impl PriceTable {
    /// Parses a table from JSON, checking every price is finite and non-negative.
    pub fn from_json(text: &str) -> anyhow::Result<PriceTable> {
        let cfg: PriceTableConfig = serde_json::from_str(text)?;
        anyhow::ensure!(
            cfg.currency.len() == 3 && cfg.currency.bytes().all(|b| b.is_ascii_uppercase()),
            "currency must be a 3-letter upper-case code"
        );
        for p in &cfg.prices {
            for v in [p.prompt, p.completion, p.embedding] {
                anyhow::ensure!(
                    v.is_finite() && v >= 0.0,
                    "price of {} must be >= 0",
                    p.provider
                );
            }
        }
        Ok(PriceTable {
            currency: cfg.currency,
            prices: cfg.prices,
        })
    }

    /// The price entry for a call, if any.
    pub fn lookup(&self, provider: &str, model: &str) -> Option<&Price> {
        let exact = self
            .prices
            .iter()
            .find(|p| p.provider == provider && p.model.as_deref() == Some(model));
        exact.or_else(|| {
            self.prices
                .iter()
                .find(|p| p.provider == provider && p.model.is_none())
        })
    }

    /// Estimated cost: tokens / 1M × rate, summed over prompt, completion and embedding.
    pub fn cost(
        &self,
        provider: &str,
        model: &str,
        prompt: i64,
        completion: i64,
        embedding: i64,
    ) -> Option<f64> {
        self.lookup(provider, model).map(|p| {
            (prompt as f64 * p.prompt
                + completion as f64 * p.completion
                + embedding as f64 * p.embedding)
                / 1_000_000.0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_defaults() {
        let t = PriceTable::default();
        let c = t
            .cost("custom", "deepseek-chat", 1_000_000, 500_000, 0)
            .unwrap();
        assert!((c - (0.14 + 0.14)).abs() < 1e-12);
        assert_eq!(t.cost("ollama", "llama3", 10_000, 10_000, 0), Some(0.0));
        assert_eq!(t.cost("openai", "gpt", 1, 1, 0), None);
    }

    #[test]
    fn exact_model_wins_and_config_is_checked() {
        let t = PriceTable::from_json(
            r#"{"prices": [{"provider": "custom", "prompt": 1, "completion": 2},
                           {"provider": "custom", "model": "big", "prompt": 10, "completion": 20, "embedding": 1}]}"#,
        )
        .unwrap();
        assert_eq!(t.cost("custom", "big", 1_000_000, 0, 1_000_000), Some(11.0));
        assert_eq!(t.cost("custom", "small", 0, 1_000_000, 0), Some(2.0));
        assert!(
            PriceTable::from_json(
                r#"{"prices": [{"provider": "x", "prompt": -1, "completion": 0}]}"#
            )
            .is_err()
        );
        assert!(PriceTable::from_json(r#"{"currency": "usd", "prices": []}"#).is_err());
    }
}
