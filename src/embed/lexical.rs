//! The built-in embedder: no model file, no network, so a fresh install can search at
//! once. Words, adjacent word pairs and whole codes (a token of several words, such as
//! `INV-2024-08817`) are hashed into 384 signed buckets (the "hashing trick"), each into
//! [`HASHES_PER_FEATURE`] of them, weighted by sublinear term frequency and L2-normalised.
//! It captures shared vocabulary, not meaning: texts that use the same words come out
//! close, synonyms do not. A local model or an HTTP provider replaces it when configured.
//!
//! Why several buckets a feature: with one, two unrelated words share a bucket (and a sign)
//! often enough that among 5,200 near-duplicate texts, each with one unique code or name,
//! an exact scan missed 130 of the unique terms from the top 20 and ranked only 42 % first.
//! With six (and the whole-code feature) it missed 1 and ranked 99 % first
//! (tests/it/exact_terms.rs has the corpus); a text's vector still has 384 numbers.

use std::collections::HashMap;

use super::{EmbedError, Embedder};

/// Identifier recorded with indexes built from these vectors. Change it whenever the
/// tokenising, stemming or hashing below changes: old vectors would no longer match.
pub const LEXICAL_ID: &str = "lexical-hash-v2";
/// Whether `id` names an earlier version of this embedder: its vectors can be replaced by
/// this one's even where a real model's must not be (with the fallback standing in).
pub fn is_older_version(id: &str) -> bool {
    id.starts_with("lexical-hash-") && id != LEXICAL_ID
}

/// Same width as all-MiniLM-L6-v2, so switching embedders does not change index layout.
pub const LEXICAL_DIMS: usize = 384;

/// Words too common to say anything about a text; they would dominate every vector.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is",
    "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "will", "with",
];

/// Bigrams count half as much as words: they add word order without drowning the words.
const BIGRAM_WEIGHT: f32 = 0.5;

/// Buckets each feature is added to (each with its own sign, at weight 1/√n so a feature
/// still adds 1 to the squared norm): a collision then moves a score by a sixth of a
/// feature instead of a whole one.
pub const HASHES_PER_FEATURE: u64 = 6;

/// Feature-hashing embedder (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct LexicalEmbedder;

impl Embedder for LexicalEmbedder {
    fn id(&self) -> &str {
        LEXICAL_ID
    }

    fn dimensions(&self) -> usize {
        LEXICAL_DIMS
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| embed_one(t)).collect())
    }
}

/// The vector of one text; all zeros for a text without words (it is then equally far
/// from everything, which is the honest answer).
pub fn embed_one(text: &str) -> Vec<f32> {
    let words = tokens(text);
    let mut features: HashMap<u64, f32> = HashMap::new();
    for code in codes(text) {
        *features.entry(fnv1a(&["t", &code])).or_default() += 1.0;
    }
    for w in &words {
        *features.entry(fnv1a(&["u", w])).or_default() += 1.0;
    }
    for pair in words.windows(2) {
        *features
            .entry(fnv1a(&["b", &pair[0], &pair[1]]))
            .or_default() += BIGRAM_WEIGHT;
    }
    let mut v = vec![0.0f32; LEXICAL_DIMS];
    let spread = (HASHES_PER_FEATURE as f32).sqrt();
    for (hash, count) in features {
        // Sublinear tf: a word said ten times is not ten times as relevant.
        let weight = (1.0 + count.ln().max(0.0)) / spread;
        for i in 0..HASHES_PER_FEATURE {
            let h = splitmix64(hash.wrapping_add(i));
            // A hash bit picks the sign so collisions cancel on average instead of piling up.
            let sign = if h >> 63 == 1 { -1.0 } else { 1.0 };
            v[(h % LEXICAL_DIMS as u64) as usize] += sign * weight;
        }
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Lower-cased words, each reduced by [`stem`], without stopwords, except inside a code:
/// `ERR_QUEUE_FOR` keeps its "for" (as keyword search keeps it whole).
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for token in text.split_whitespace() {
        let parts = words(token);
        let code = parts.len() > 1 && parts.iter().any(|w| !is_stopword(w));
        out.extend(
            parts
                .into_iter()
                .filter(|w| code || !is_stopword(w))
                .map(|w| stem(&w)),
        );
    }
    out
}

/// The codes of a text: whitespace-separated tokens of several words (`INV-2024-08817`,
/// `ERR_CONN_RESET`, `v2.1`), lower-cased, without the punctuation around them.
fn codes(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split_whitespace()
        .map(|t| {
            t.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|t| words(t).len() > 1)
}

fn words(token: &str) -> Vec<String> {
    token
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word)
}

/// A light suffix stripper (plurals, then -ing, -ed, -ly): enough that "invoices" meets
/// "invoice" and "shipping" meets "shipped", without a full stemmer's tables. Short and
/// non-ASCII words are left alone so "is", "bus" or "été" are not mangled.
pub fn stem(word: &str) -> String {
    if word.len() <= 3 || !word.is_ascii() {
        return word.to_string();
    }
    let w = strip_plural(word);
    for suffix in ["edly", "ing", "ed", "ly"] {
        if let Some(stripped) = w.strip_suffix(suffix)
            && stripped.len() >= 3
            && stripped.bytes().any(|b| b"aeiouy".contains(&b))
        {
            return undouble(stripped);
        }
    }
    w
}

fn strip_plural(w: &str) -> String {
    if let Some(s) = w.strip_suffix("ies").filter(|s| s.len() >= 2) {
        return format!("{s}y"); // companies → company
    }
    if let Some(s) = w.strip_suffix("es")
        && ["ss", "x", "z", "ch", "sh"].iter().any(|e| s.ends_with(e))
    {
        return s.to_string(); // boxes → box, classes → class
    }
    match w.strip_suffix('s') {
        Some(s) if !["s", "u", "i"].iter().any(|e| s.ends_with(e)) => s.to_string(),
        _ => w.to_string(), // class, status, analysis
    }
}

/// "shipp" (from shipped/shipping) → "ship"; keeps "ll" and "ss" ("install", "process").
fn undouble(s: &str) -> String {
    let b = s.as_bytes();
    let n = b.len();
    if n >= 4 && b[n - 1] == b[n - 2] && !b"aeioulsz".contains(&b[n - 1]) {
        s[..n - 1].to_string()
    } else {
        s.to_string()
    }
}

/// SplitMix64's finaliser: one well-mixed hash per bucket from a feature's hash.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 64-bit FNV-1a over the parts with a separator: stable across Rust versions and
/// platforms, unlike `std`'s hasher, which matters because the vectors are stored.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for byte in part.bytes() {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn vectors_are_unit_length_and_deterministic() {
        let e = LexicalEmbedder;
        let out = e
            .embed(&["Quarterly revenue grew", "Quarterly revenue grew", ""])
            .unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].len(), LEXICAL_DIMS);
        assert!((cos(&out[0], &out[0]) - 1.0).abs() < 1e-5);
        assert_eq!(out[0], out[1]);
        assert!(out[2].iter().all(|x| *x == 0.0));
        // Pinned value: a change here means stored vectors changed; bump LEXICAL_ID.
        assert_eq!(fnv1a(&["u", "revenue"]), 0x5d15_f213_67d2_2613);
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn shared_words_are_closer_than_unrelated_text() {
        let q = embed_one("How did invoices get shipped to customers?");
        let near = embed_one("Shipping the invoice to each customer is automated.");
        let far = embed_one("The cafeteria menu changes on Fridays.");
        assert!(cos(&q, &near) > 0.25, "{}", cos(&q, &near));
        assert!(cos(&q, &near) > cos(&q, &far) + 0.2);
    }

    #[test]
    fn stemming_is_light() {
        assert_eq!(stem("invoices"), stem("invoice"));
        assert_eq!(stem("customers"), "customer");
        assert_eq!(stem("boxes"), "box");
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("processing"), "process");
        assert_eq!(stem("shipping"), stem("shipped"));
        assert_eq!(stem("companies"), "company");
        assert_eq!(stem("process"), "process");
        assert_eq!(stem("bus"), "bus");
        assert_eq!(tokens("The Invoices, of ÉTÉ!"), vec!["invoice", "été"]);
        // Inside a code a stopword is part of it.
        assert_eq!(
            tokens("see ERR_QUEUE_FOR"),
            vec!["see", "err", "queue", "for"]
        );
        assert_eq!(
            codes("(INV-2024-08817), a b").collect::<Vec<_>>(),
            ["inv-2024-08817"]
        );
    }
}
