//! Chunking: cut extracted text into overlapping pieces of about [`CHUNK_SIZE`] characters
//! for search and answers (seed 001: 1000 characters, 200 overlap).
//!
//! A chunk ends at the best boundary in the last half of its window: a paragraph break,
//! else a sentence end, else whitespace, else (one long word) the window edge. The next
//! chunk starts about [`CHUNK_OVERLAP`] characters back, moved forward to a word start, so
//! a sentence cut at the edge is whole in one of the two. Sizes count characters (not
//! bytes), and every cut is on a char boundary, so any UTF-8 text is safe. Chunks never
//! cross a page, so each carries the page it came from.

use super::extract::Section;

pub const CHUNK_SIZE: usize = 1000;
pub const CHUNK_OVERLAP: usize = 200;

/// One chunk before it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub page: Option<u32>,
}

/// Chunks every section with the default sizes.
pub fn chunk_sections(sections: &[Section]) -> Vec<Piece> {
    chunk_sections_with(sections, CHUNK_SIZE, CHUNK_OVERLAP)
}

pub fn chunk_sections_with(sections: &[Section], size: usize, overlap: usize) -> Vec<Piece> {
    sections
        .iter()
        .flat_map(|s| {
            chunk_text(&s.text, size, overlap)
                .into_iter()
                .map(|text| Piece {
                    text: text.to_string(),
                    page: s.page,
                })
        })
        .collect()
}

/// Byte offset `n` characters after `from` (or the end).
fn advance(text: &str, from: usize, n: usize) -> usize {
    text[from..]
        .char_indices()
        .nth(n)
        .map_or(text.len(), |(i, _)| from + i)
}

/// Byte offset `n` characters before `from` (or the start).
fn retreat(text: &str, from: usize, n: usize) -> usize {
    if n == 0 {
        return from;
    }
    text[..from]
        .char_indices()
        .rev()
        .nth(n - 1)
        .map_or(0, |(i, _)| i)
}

/// The best end of a chunk within `text[lo..hi]` (byte offsets on char boundaries): the
/// offset just after the boundary, so the boundary's punctuation stays in the chunk.
fn best_break(text: &str, lo: usize, hi: usize) -> usize {
    let window = &text[lo..hi];
    if let Some(i) = window.rfind("\n\n") {
        return lo + i;
    }
    // Sentence ends: ASCII punctuation followed by whitespace, or CJK full stops.
    let mut sentence = None;
    let mut space = None;
    let mut prev: Option<char> = None;
    for (i, c) in window.char_indices() {
        if c.is_whitespace() {
            if matches!(prev, Some('.' | '!' | '?' | ';' | ':')) {
                sentence = Some(i);
            }
            space = Some(i);
        } else if matches!(c, '。' | '！' | '？') {
            sentence = Some(i + c.len_utf8());
        }
        prev = Some(c);
    }
    lo + sentence.or(space).unwrap_or(window.len())
}

/// Cuts one text into chunks of at most `size` characters overlapping by about `overlap`.
pub fn chunk_text(text: &str, size: usize, overlap: usize) -> Vec<&str> {
    assert!(
        size > 0 && overlap < size,
        "chunk overlap must be smaller than the chunk size"
    );
    let text = text.trim();
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let window_end = advance(text, start, size);
        let end = if window_end >= text.len() {
            text.len()
        } else {
            // Look for a boundary in the second half of the window only, so chunks stay
            // near the target size.
            let lo = advance(text, start, size / 2);
            best_break(text, lo, window_end)
        };
        let piece = text[start..end].trim();
        if !piece.is_empty() {
            chunks.push(piece);
        }
        if end >= text.len() {
            break;
        }
        // Step back by the overlap, then forward to the start of a word, but always make
        // progress past the previous start.
        let mut next = retreat(text, end, overlap);
        if next > start && next < end {
            let at_word_start = text[..next].ends_with(char::is_whitespace);
            if !at_word_start && let Some(ws) = text[next..end].find(char::is_whitespace) {
                next += ws;
            }
        }
        if next <= start {
            next = end;
        }
        while next < text.len() && text[next..].starts_with(char::is_whitespace) {
            next = advance(text, next, 1);
        }
        start = next;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_chunk() {
        assert_eq!(
            chunk_text("  Hello world.  ", 1000, 200),
            vec!["Hello world."]
        );
        assert!(chunk_text("", 1000, 200).is_empty());
    }

    #[test]
    fn chunks_respect_size_overlap_and_sentences() {
        let sentence = "The plant used 1200 kWh of solar power in March. ";
        let text = sentence.repeat(100);
        let chunks = chunk_text(&text, 1000, 200);
        assert!(chunks.len() >= 5, "{}", chunks.len());
        for c in &chunks {
            assert!(c.chars().count() <= 1000);
            assert!(c.chars().count() >= 400, "too small: {}", c.len());
            assert!(c.ends_with('.'), "ends mid-sentence: {c:?}");
            assert!(
                c.starts_with(char::is_alphanumeric),
                "starts mid-word: {c:?}"
            );
        }
        // Consecutive chunks overlap.
        for w in chunks.windows(2) {
            let tail: String = w[0]
                .chars()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            assert!(
                w[1].contains(tail.trim()),
                "no overlap between {:?} and {:?}",
                w[0],
                w[1]
            );
        }
    }

    #[test]
    fn paragraphs_are_preferred_boundaries() {
        let para = format!("{}\n\n", "word ".repeat(130).trim());
        let text = para.repeat(4);
        let chunks = chunk_text(&text, 1000, 200);
        assert!(
            chunks[0].ends_with("word") && !chunks[0].contains("\n\n"),
            "{:?}",
            chunks[0]
        );
    }

    #[test]
    fn multibyte_text_and_long_words_are_safe() {
        let text = "é😀漢".repeat(2000);
        let chunks = chunk_text(&text, 1000, 200);
        assert!(chunks.iter().all(|c| c.chars().count() <= 1000));
        let total: usize = chunks.iter().map(|c| c.chars().count()).sum();
        assert!(total >= 6000);
        let cjk = "太阳能发电。".repeat(500);
        for c in chunk_text(&cjk, 100, 20) {
            assert!(c.ends_with('。'), "{c}");
        }
    }

    #[test]
    fn sections_keep_their_page() {
        let sections = vec![
            Section {
                page: Some(1),
                text: "one".into(),
            },
            Section {
                page: Some(2),
                text: "two ".repeat(400),
            },
        ];
        let pieces = chunk_sections(&sections);
        assert_eq!(
            pieces[0],
            Piece {
                text: "one".into(),
                page: Some(1)
            }
        );
        assert!(pieces.len() > 2 && pieces[1..].iter().all(|p| p.page == Some(2)));
    }
}
