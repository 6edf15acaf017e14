//! An OpenAI-compatible embeddings service over HTTP (OpenAI, Ollama, vLLM, LiteLLM, …):
//! `POST {base_url}/embeddings` with `{"model", "input": [..]}`, answered by
//! `{"data": [{"index", "embedding"}]}`. The client is blocking (ureq), like the trait:
//! embedders run on the blocking pool, so no async runtime is dragged into them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::normalize;
use super::{EmbedError, Embedder};

/// Texts per request; providers cap batch sizes and one huge request is one long failure.
const MAX_BATCH: usize = 64;
/// Longest JSON answer accepted (64 texts × 3072 dims as decimal text fit easily).
const MAX_RESPONSE_BYTES: u64 = 64 << 20;

/// Embeddings from an OpenAI-compatible HTTP service.
pub struct OpenAiEmbedder {
    endpoint: String,
    model: String,
    api_key: Option<String>,
    dims: usize,
    id: String,
    /// Provider name for usage rows and prices (`openai`, `ollama`, `custom`, …).
    provider: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for OpenAiEmbedder {
    // Hand-written so the API key can never end up in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("dims", &self.dims)
            .finish()
    }
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: &'a [&'a str],
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    /// `base_url` is the API root (`https://api.openai.com/v1`, `http://localhost:11434/v1`);
    /// `dims` the model's output width, which must be known before the first index is built.
    pub fn new(
        base_url: &str,
        model: &str,
        api_key: Option<String>,
        dims: usize,
        timeout: Duration,
    ) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            // Statuses are read and mapped below instead of surfacing as transport errors.
            .http_status_as_error(false)
            .build()
            .new_agent();
        OpenAiEmbedder {
            endpoint: format!("{}/embeddings", base_url.trim_end_matches('/')),
            model: model.to_string(),
            api_key: api_key.filter(|k| !k.is_empty()),
            dims,
            // The model decides the vectors, the server does not: the same model behind
            // another URL keeps its indexes.
            id: format!("openai:{model}"),
            provider: "openai".into(),
            agent,
        }
    }

    /// Names the provider in usage rows and price lookups (default `openai`).
    pub fn with_provider(mut self, provider: &str) -> Self {
        self.provider = provider.to_string();
        self
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut req = self.agent.post(&self.endpoint);
        if let Some(key) = &self.api_key {
            req = req.header("Authorization", &format!("Bearer {key}"));
        }
        // Serialised up front and sent with a Content-Length: some small model servers
        // do not accept the chunked request bodies `send_json` streams.
        let payload = serde_json::to_vec(&Request {
            model: &self.model,
            input: texts,
        })
        .map_err(|e| EmbedError::Failed(format!("request: {e}")))?;
        let mut resp = req
            .header("Content-Type", "application/json")
            .send(&payload[..])
            .map_err(|e| EmbedError::Unavailable(format!("embedding service: {e}")))?;
        let status = resp.status().as_u16();
        if status == 429 || status >= 500 {
            return Err(EmbedError::Unavailable(format!(
                "embedding service answered {status}"
            )));
        }
        if status != 200 {
            return Err(EmbedError::Failed(format!(
                "embedding service answered {status}"
            )));
        }
        let body: Response = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_json()
            .map_err(|e| EmbedError::Failed(format!("embedding service answer: {e}")))?;
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for item in body.data {
            if item.embedding.len() != self.dims {
                return Err(EmbedError::Failed(format!(
                    "model {} returned {} dimensions, configured {}",
                    self.model,
                    item.embedding.len(),
                    self.dims
                )));
            }
            let slot = slots.get_mut(item.index).ok_or_else(|| {
                EmbedError::Failed(format!("answer has index {} out of range", item.index))
            })?;
            let mut v = item.embedding;
            // Most services already normalise; others (some Ollama models) do not.
            if !normalize(&mut v) {
                v.iter_mut().for_each(|x| *x = 0.0);
            }
            *slot = Some(v);
        }
        slots
            .into_iter()
            .map(|s| s.ok_or_else(|| EmbedError::Failed("answer is missing embeddings".into())))
            .collect()
    }
}

impl Embedder for OpenAiEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dimensions(&self) -> usize {
        self.dims
    }

    fn provider(&self) -> &str {
        &self.provider
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(MAX_BATCH) {
            out.extend(self.embed_batch(batch)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    /// A one-connection-per-answer HTTP server on loopback that replies with the given
    /// status and body to each request, and hands back what it received.
    fn serve(answers: Vec<(u16, String)>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for (status, body) in answers {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                let (mut head, mut len) = (String::new(), 0usize);
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    head.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut payload = vec![0; len];
                reader.read_exact(&mut payload).unwrap();
                seen.push(format!("{head}{}", String::from_utf8(payload).unwrap()));
                let mut stream = reader.into_inner();
                write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
            seen
        });
        (url, handle)
    }

    #[test]
    fn embeds_in_order_normalises_and_sends_the_key() {
        let body = r#"{"data":[{"index":1,"embedding":[0,3,4]},{"index":0,"embedding":[2,0,0]}]}"#;
        let (url, server) = serve(vec![(200, body.into())]);
        let e = OpenAiEmbedder::new(
            &url,
            "m1",
            Some("sk-test".into()),
            3,
            Duration::from_secs(5),
        );
        assert_eq!(e.id(), "openai:m1");
        let out = e.embed(&["a", "b"]).unwrap();
        assert_eq!(out, vec![vec![1.0, 0.0, 0.0], vec![0.0, 0.6, 0.8]]);
        let request = &server.join().unwrap()[0];
        assert!(request.starts_with("POST /v1/embeddings "), "{request}");
        assert!(request.contains("Bearer sk-test"));
        assert!(request.contains(r#""input":["a","b"]"#));
        assert!(!format!("{e:?}").contains("sk-test"));
    }

    #[test]
    fn errors_are_typed() {
        let (url, server) = serve(vec![
            (503, "{}".into()),
            (401, r#"{"error":"bad key"}"#.into()),
            (200, r#"{"data":[{"index":0,"embedding":[1,2]}]}"#.into()),
            (200, "not json".into()),
        ]);
        let e = OpenAiEmbedder::new(&url, "m", None, 3, Duration::from_secs(5));
        assert!(matches!(e.embed(&["x"]), Err(EmbedError::Unavailable(_))));
        assert!(matches!(e.embed(&["x"]), Err(EmbedError::Failed(_))));
        assert!(matches!(e.embed(&["x"]), Err(EmbedError::Failed(m)) if m.contains("dimensions")));
        assert!(matches!(e.embed(&["x"]), Err(EmbedError::Failed(_))));
        server.join().unwrap();
        // Nothing listening: unavailable, not a panic.
        let closed =
            OpenAiEmbedder::new("http://127.0.0.1:9", "m", None, 3, Duration::from_secs(2));
        assert!(matches!(
            closed.embed(&["x"]),
            Err(EmbedError::Unavailable(_))
        ));
    }
}
