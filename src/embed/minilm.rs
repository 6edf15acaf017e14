//! all-MiniLM-L6-v2 run locally with candle: 384-dimensional sentence embeddings, no
//! network at run time. The files (config.json, tokenizer.json, model.safetensors) are put
//! in `<data dir>/models/all-minilm-l6-v2/` by scripts/fetch_model.sh.
//!
//! Same recipe as sentence-transformers: BERT forward pass, mean of the token vectors
//! weighted by the attention mask, L2 normalisation.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::normalize;
use super::{EmbedError, Embedder};

/// Identifier recorded with indexes built from this model.
pub const MINILM_ID: &str = "all-minilm-l6-v2";
pub const MINILM_DIMS: usize = 384;
pub use super::MODEL_SUBDIR;
/// The files the model needs.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
/// Tokens per text. The model was trained on 128 but handles its 512 positions; 256
/// covers a ~1000-character chunk whole while keeping attention (quadratic) affordable.
const MAX_TOKENS: usize = 256;
/// Texts per forward pass: padding to the longest text wastes less in small batches, and
/// memory stays bounded (measured ~85 ms per 230-token chunk on 2 cores).
const BATCH: usize = 8;

/// The local MiniLM embedder.
pub struct MiniLmEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl MiniLmEmbedder {
    /// True when every model file exists in `dir`.
    pub fn files_present(dir: &Path) -> bool {
        MODEL_FILES.iter().all(|f| dir.join(f).is_file())
    }

    /// Loads the model from `dir` (memory-maps the weights; ~0.2 s).
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let unavailable = |what: &str, e: &dyn std::fmt::Display| {
            EmbedError::Unavailable(format!("MiniLM {what} in {}: {e}", dir.display()))
        };
        let config = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| unavailable("config.json", &e))?;
        let config: Config =
            serde_json::from_str(&config).map_err(|e| unavailable("config.json", &e))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| unavailable("tokenizer.json", &e))?;
        // The shipped tokenizer pads and truncates to a fixed 128: pad to the batch's
        // longest text instead (cheaper) and truncate at our own limit.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| unavailable("tokenizer settings", &e))?;
        let device = Device::Cpu;
        // SAFETY: the weights file is memory-mapped; it must not be modified while the
        // server runs (fetch_model.sh replaces the directory by rename, never in place).
        let vb = unsafe {
            VarBuilder::from_mmaped_safetensors(
                &[dir.join("model.safetensors")],
                DType::F32,
                &device,
            )
        }
        .map_err(|e| unavailable("model.safetensors", &e))?;
        let model = BertModel::load(vb, &config).map_err(|e| unavailable("weights", &e))?;
        if config.hidden_size != MINILM_DIMS {
            return Err(unavailable(
                "config",
                &format!("hidden size {}", config.hidden_size),
            ));
        }
        Ok(MiniLmEmbedder {
            model,
            tokenizer,
            device,
        })
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let failed = |e: &dyn std::fmt::Display| EmbedError::Failed(format!("MiniLM: {e}"));
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| failed(&e))?;
        let len = encodings.first().map_or(0, |e| e.get_ids().len());
        let n = encodings.len();
        let flat = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor, EmbedError> {
            let data: Vec<u32> = encodings
                .iter()
                .flat_map(|e| f(e).iter().copied())
                .collect();
            Tensor::from_vec(data, (n, len), &self.device).map_err(|e| failed(&e))
        };
        let ids = flat(&|e| e.get_ids())?;
        let type_ids = flat(&|e| e.get_type_ids())?;
        let mask = flat(&|e| e.get_attention_mask())?;
        let pooled = (|| {
            let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?; // (n, len, 384)
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, len, 1)
            let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // (n, 384)
            let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (n, 1)
            summed.broadcast_div(&counts)?.to_vec2::<f32>()
        })()
        .map_err(|e: candle_core::Error| failed(&e))?;
        Ok(pooled
            .into_iter()
            .map(|mut v| {
                normalize(&mut v);
                v
            })
            .collect())
    }
}

impl Embedder for MiniLmEmbedder {
    fn id(&self) -> &str {
        MINILM_ID
    }

    fn dimensions(&self) -> usize {
        MINILM_DIMS
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            out.extend(self.embed_batch(batch)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs against the real model when scripts/fetch_model.sh has been run (the model is
    /// 90 MB and not in the repository); says so and passes otherwise.
    #[test]
    fn reproduces_sentence_transformers_scores() {
        let dir = std::env::var_os("SILO_MODEL_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("data")
                    .join(MODEL_SUBDIR)
            });
        if !MiniLmEmbedder::files_present(&dir) {
            // scripts/test.sh fetches the model and sets this: there, a missing model fails.
            assert!(
                std::env::var_os("SILO_REQUIRE_MODEL").is_none(),
                "model missing in {}",
                dir.display()
            );
            eprintln!(
                "model not fetched ({}): run scripts/fetch_model.sh",
                dir.display()
            );
            return;
        }
        let e = MiniLmEmbedder::load(&dir).unwrap();
        let texts = [
            "The weather is lovely today.",
            "It's so sunny outside!",
            "He drove to the stadium.",
        ];
        // One batch, and one at a time: padding must not change a text's vector.
        let v = e.embed(&texts).unwrap();
        let single = e.embed(&texts[2..]).unwrap();
        let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert!((cos(&v[2], &single[0]) - 1.0).abs() < 1e-4);
        // The similarity matrix sentence-transformers prints for these three sentences.
        assert!(
            (cos(&v[0], &v[1]) - 0.6660).abs() < 0.01,
            "{}",
            cos(&v[0], &v[1])
        );
        assert!(
            (cos(&v[0], &v[2]) - 0.1046).abs() < 0.01,
            "{}",
            cos(&v[0], &v[2])
        );
        assert!(
            (cos(&v[1], &v[2]) - 0.1411).abs() < 0.01,
            "{}",
            cos(&v[1], &v[2])
        );
        assert_eq!(v[0].len(), MINILM_DIMS);
        // Long input is truncated, not an error.
        let long = "word ".repeat(2000);
        assert_eq!(e.embed(&[&long, ""]).unwrap().len(), 2);
    }
}
