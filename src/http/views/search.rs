//! What the API shows of a search result.

use serde::Serialize;
use utoipa::ToSchema;

use crate::search;

/// One result of POST /api/search.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SearchHit {
    /// The chunk's id.
    pub chunk_id: String,
    /// The document's id.
    pub document_id: String,
    /// The document's title, else its file name.
    pub document_title: String,
    pub content: String,
    pub page_number: Option<i64>,
    pub chunk_index: i64,
    /// Higher is better; comparable within one search only.
    pub score: f64,
    /// Where the document is: `company` (the caller's company) or `library` (the global
    /// library, read at GET /api/library/documents/{id}).
    #[schema(value_type = String, pattern = "^(company|library)$")]
    pub source: search::Source,
}

impl From<search::SearchHit> for SearchHit {
    fn from(h: search::SearchHit) -> Self {
        SearchHit {
            chunk_id: h.chunk_id,
            document_id: h.document_id,
            document_title: h.document_title,
            content: h.content,
            page_number: h.page_number,
            chunk_index: h.chunk_index,
            score: h.score,
            source: h.source,
        }
    }
}
