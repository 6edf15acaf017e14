//! Conversations and their messages as the API shows them.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::company::{conversations, messages};

// A conversation of its owner.
#[derive(Debug, Serialize, ToSchema)]
pub struct Conversation {
    pub id: String,
    pub title: Option<String>,
    pub user_id: String,
    pub llm_provider: Option<String>,
    pub llm_model: Option<String>,
    /// Document ids retrieval is limited to; null means every document the user may read.
    pub selected_document_ids: Option<Vec<String>>,
    pub message_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<conversations::Conversation> for Conversation {
    fn from(c: conversations::Conversation) -> Self {
        Conversation {
            id: c.uuid,
            title: c.title,
            user_id: c.user_id,
            llm_provider: c.llm_provider,
            llm_model: c.llm_model,
            selected_document_ids: c.selected_document_ids,
            message_count: c.message_count,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

// A message with its RAG fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    /// `user`, `assistant` or `system`.
    pub role: String,
    pub content: String,
    #[schema(value_type = Option<Vec<Object>>)]
    pub retrieved_documents: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub sources: Option<Value>,
    pub confidence_score: Option<f64>,
    pub low_confidence_warning: bool,
    #[schema(value_type = Option<Vec<Object>>)]
    pub reasoning_chain: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub grounding_evidence: Option<Value>,
    pub agents_involved: Option<Vec<String>>,
    pub created_at: String,
}

impl From<messages::Message> for Message {
    fn from(m: messages::Message) -> Self {
        Message {
            id: m.uuid,
            conversation_id: m.conversation_id,
            role: m.role,
            content: m.content,
            retrieved_documents: m.retrieved_documents,
            sources: m.sources,
            confidence_score: m.confidence_score,
            low_confidence_warning: m.low_confidence_warning,
            reasoning_chain: m.reasoning_chain,
            grounding_evidence: m.grounding_evidence,
            agents_involved: m.agents_involved,
            created_at: m.created_at,
        }
    }
}
