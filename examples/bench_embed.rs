//! Throughput of the local embedders: how long ingestion spends per chunk and a search
//! per query. `scripts/fetch_model.sh && cargo run --release --example bench_embed`

use std::time::Instant;

use silo::embed::{Embedder, LexicalEmbedder};

fn time(name: &str, e: &dyn Embedder, texts: &[&str], rounds: usize) {
    e.embed(&texts[..1]).unwrap(); // warm-up
    let t = Instant::now();
    for _ in 0..rounds {
        e.embed(texts).unwrap();
    }
    let per = t.elapsed().as_secs_f64() * 1e3 / (rounds * texts.len()) as f64;
    println!(
        "{name}: {per:.2} ms per text ({} texts a call)",
        texts.len()
    );
}

fn main() {
    let sentence = "How did quarterly revenue develop in the European market?";
    let paragraph = "Revenue in the European segment grew by twelve percent compared with the \
        same quarter last year, driven mostly by new enterprise contracts in Germany and the \
        Nordics. Operating costs rose more slowly than revenue because the office move was \
        completed ahead of schedule, and hiring in engineering was paused for two months. \
        The board approved a revised budget that shifts spending from travel to customer \
        support, and the finance team expects margins to improve further next quarter if \
        the exchange rate stays where it is now. Risks include delayed payments from two \
        large customers and the pending renewal of the main data-centre lease in Dublin.";
    let queries = [sentence; 8];
    let chunks = [paragraph; 8];
    time("lexical, query", &LexicalEmbedder, &queries[..1], 1000);
    time("lexical, ~900-char chunk", &LexicalEmbedder, &chunks, 200);
    #[cfg(feature = "local-model")]
    {
        let dir = std::path::Path::new("data").join(silo::embed::MODEL_SUBDIR);
        match silo::embed::minilm::MiniLmEmbedder::load(&dir) {
            Ok(m) => {
                time("minilm, query", &m, &queries[..1], 50);
                time("minilm, ~900-char chunk", &m, &chunks, 5);
            }
            Err(e) => println!("minilm: {e} (run scripts/fetch_model.sh)"),
        }
    }
}
