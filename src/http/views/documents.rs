//! What the API shows of documents and their chunks.

use serde::Serialize;
use utoipa::ToSchema;

use crate::store::company::{chunks, documents};

/// A document as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Document {
    /// Public id.
    pub id: String,
    pub filename: String,
    pub file_type: Option<String>,
    pub mime_type: Option<String>,
    pub file_size: Option<i64>,
    pub sha256: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    /// `company` or `user`; `global` for a document of the library.
    pub scope: String,
    /// UUID of the uploader.
    pub uploaded_by: String,
    /// `pending`, `processing`, `completed` or `failed`.
    pub status: String,
    /// Why processing failed.
    pub error: Option<String>,
    pub num_chunks: i64,
    pub num_tokens: i64,
    pub auto_summary: Option<String>,
    pub auto_keywords: Option<Vec<String>>,
    pub auto_topics: Option<Vec<String>>,
    pub content_type: Option<String>,
    pub uploaded_at: String,
    pub updated_at: String,
    pub processed_at: Option<String>,
}

impl From<documents::Document> for Document {
    fn from(d: documents::Document) -> Self {
        Document {
            id: d.uuid,
            filename: d.filename,
            file_type: d.file_type,
            mime_type: d.mime_type,
            file_size: d.file_size,
            sha256: d.sha256,
            title: d.title,
            description: d.description,
            category: d.category,
            tags: d.tags,
            scope: d.scope,
            uploaded_by: d.uploaded_by,
            status: d.status,
            error: d.error,
            num_chunks: d.num_chunks,
            num_tokens: d.num_tokens,
            auto_summary: d.auto_summary,
            auto_keywords: d.auto_keywords,
            auto_topics: d.auto_topics,
            content_type: d.content_type,
            uploaded_at: d.uploaded_at,
            updated_at: d.updated_at,
            processed_at: d.processed_at,
        }
    }
}

/// A chunk as the API shows it (without its embedding, which is large and internal).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Chunk {
    pub id: String,
    pub content: String,
    pub chunk_index: i64,
    pub page_number: Option<i64>,
    pub section: Option<String>,
    pub token_count: Option<i64>,
    /// Whether the chunk has a stored embedding (is searchable by vector).
    pub embedded: bool,
    pub created_at: String,
}

impl From<chunks::Chunk> for Chunk {
    fn from(c: chunks::Chunk) -> Self {
        Chunk {
            id: c.uuid,
            content: c.content,
            chunk_index: c.chunk_index,
            page_number: c.page_number,
            section: c.section,
            token_count: c.token_count,
            embedded: c.embedded,
            created_at: c.created_at,
        }
    }
}
