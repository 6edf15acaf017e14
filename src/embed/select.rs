//! Choosing the embedder at start-up from configuration and what is on disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::lexical::LexicalEmbedder;
use super::openai::OpenAiEmbedder;
use super::{EmbedError, Embedder};

/// Which embedder to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum EmbedderKind {
    /// The HTTP service if a URL is configured, else the local model if its files are
    /// present, else the built-in lexical embedder (with a warning).
    #[default]
    Auto,
    Lexical,
    Minilm,
    Openai,
}

/// Embedder settings (flatten into the server options with `#[command(flatten)]`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct EmbedderConfig {
    /// Embedder: auto, lexical, minilm or openai. Changing it means reindexing companies.
    #[arg(
        long = "embedder",
        env = "SILO_EMBEDDER",
        value_enum,
        default_value = "auto"
    )]
    pub kind: EmbedderKind,
    /// Root of an OpenAI-compatible API, e.g. http://localhost:11434/v1.
    #[arg(long, env = "SILO_EMBED_URL")]
    pub embed_url: Option<String>,
    /// Model name sent to the HTTP service.
    #[arg(long, env = "SILO_EMBED_MODEL")]
    pub embed_model: Option<String>,
    /// Provider name of the HTTP service in usage rows and the price table (e.g. ollama).
    #[arg(long, env = "SILO_EMBED_PROVIDER", default_value = "openai")]
    pub embed_provider: String,
    /// Bearer key for the HTTP service.
    #[arg(long, env = "SILO_EMBED_API_KEY", hide_env_values = true)]
    pub embed_api_key: Option<String>,
    /// Output dimensions of the HTTP model (needed before the first call).
    #[arg(long, env = "SILO_EMBED_DIMENSIONS")]
    pub embed_dimensions: Option<usize>,
    /// Directory of the local model; default `<data dir>/models/all-minilm-l6-v2`.
    #[arg(long, env = "SILO_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
}

/// Timeout of one HTTP embedding request (a batch of up to 64 texts).
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// Builds the configured embedder. `Auto` never fails (the lexical embedder always
/// works); an explicit choice fails loudly when it cannot be honoured, so a typo in the
/// configuration does not silently switch every company to other vectors.
pub fn select_embedder(
    data_dir: &Path,
    config: &EmbedderConfig,
) -> Result<Arc<dyn Embedder>, EmbedError> {
    let model_dir = config
        .model_dir
        .clone()
        .unwrap_or_else(|| data_dir.join(super::MODEL_SUBDIR));
    match config.kind {
        EmbedderKind::Lexical => Ok(Arc::new(LexicalEmbedder)),
        EmbedderKind::Openai => openai(config),
        EmbedderKind::Minilm => local_model(&model_dir),
        EmbedderKind::Auto => {
            if config.embed_url.is_some() {
                return openai(config);
            }
            match local_model(&model_dir) {
                Ok(e) => {
                    tracing::info!(dir = %model_dir.display(), "using the local MiniLM embedder");
                    Ok(e)
                }
                Err(why) => {
                    tracing::warn!(
                        reason = %why,
                        "no local embedding model; using the built-in lexical embedder \
                         (run scripts/fetch_model.sh for semantic search)"
                    );
                    Ok(Arc::new(LexicalEmbedder))
                }
            }
        }
    }
}

/// Whether `embedder` is the lexical fallback `Auto` chose because the local model is
/// missing: its vectors must not replace a real model's (no automatic reindex).
pub fn is_fallback(config: &EmbedderConfig, embedder: &dyn Embedder) -> bool {
    config.kind == EmbedderKind::Auto && embedder.id() == super::lexical::LEXICAL_ID
}

fn openai(config: &EmbedderConfig) -> Result<Arc<dyn Embedder>, EmbedError> {
    let missing = |what: &str| EmbedError::Unavailable(format!("openai embedder needs {what}"));
    let url = config
        .embed_url
        .as_deref()
        .ok_or_else(|| missing("SILO_EMBED_URL"))?;
    let model = config
        .embed_model
        .as_deref()
        .ok_or_else(|| missing("SILO_EMBED_MODEL"))?;
    let dims = config
        .embed_dimensions
        .filter(|d| *d > 0)
        .ok_or_else(|| missing("SILO_EMBED_DIMENSIONS"))?;
    let provider = Some(config.embed_provider.trim())
        .filter(|p| !p.is_empty())
        .unwrap_or("openai");
    Ok(Arc::new(
        OpenAiEmbedder::new(url, model, config.embed_api_key.clone(), dims, HTTP_TIMEOUT)
            .with_provider(provider),
    ))
}

#[cfg(feature = "local-model")]
fn local_model(dir: &Path) -> Result<Arc<dyn Embedder>, EmbedError> {
    use super::minilm::MiniLmEmbedder;
    if !MiniLmEmbedder::files_present(dir) {
        return Err(EmbedError::Unavailable(format!(
            "model files not found in {}",
            dir.display()
        )));
    }
    Ok(Arc::new(MiniLmEmbedder::load(dir)?))
}

#[cfg(not(feature = "local-model"))]
fn local_model(_dir: &Path) -> Result<Arc<dyn Embedder>, EmbedError> {
    Err(EmbedError::Unavailable(
        "this binary was built without the local-model feature".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_falls_back_to_lexical_without_model_files() {
        let tmp = tempfile::tempdir().unwrap();
        let e = select_embedder(tmp.path(), &EmbedderConfig::default()).unwrap();
        assert_eq!(e.id(), super::super::lexical::LEXICAL_ID);
        let explicit = EmbedderConfig {
            kind: EmbedderKind::Minilm,
            ..Default::default()
        };
        assert!(select_embedder(tmp.path(), &explicit).is_err());
    }

    #[test]
    fn openai_needs_url_model_and_dimensions() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = EmbedderConfig {
            kind: EmbedderKind::Openai,
            embed_url: Some("http://127.0.0.1:9/v1".into()),
            embed_model: Some("nomic-embed-text".into()),
            ..Default::default()
        };
        assert!(select_embedder(tmp.path(), &c).is_err());
        c.embed_dimensions = Some(768);
        let e = select_embedder(tmp.path(), &c).unwrap();
        assert_eq!((e.id(), e.dimensions()), ("openai:nomic-embed-text", 768));
        // Auto picks the HTTP service when a URL is configured.
        c.kind = EmbedderKind::Auto;
        assert_eq!(
            select_embedder(tmp.path(), &c).unwrap().id(),
            "openai:nomic-embed-text"
        );
    }

    #[cfg(feature = "local-model")]
    #[test]
    fn auto_picks_minilm_when_the_files_are_present() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(super::super::MODEL_SUBDIR);
        if !super::super::minilm::MiniLmEmbedder::files_present(&dir) {
            assert!(
                std::env::var_os("SILO_REQUIRE_MODEL").is_none(),
                "model missing"
            );
            eprintln!("model not fetched: run scripts/fetch_model.sh");
            return;
        }
        let c = EmbedderConfig {
            model_dir: Some(dir),
            ..Default::default()
        };
        assert_eq!(
            select_embedder(Path::new("/nonexistent"), &c).unwrap().id(),
            "all-minilm-l6-v2"
        );
    }
}
