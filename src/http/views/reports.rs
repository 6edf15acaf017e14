//! Saved reports as the API shows them.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::company::reports;

/// The schema of a JSON value that is an object or an array (saved reports' content), for
/// the OpenAPI document.
pub struct ObjectOrArray;

impl utoipa::PartialSchema for ObjectOrArray {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Object, Type::Array]))
            .into()
    }
}

impl utoipa::ToSchema for ObjectOrArray {}

// A saved report, readable by the whole company.
#[derive(Debug, Serialize, ToSchema)]
pub struct Report {
    pub id: String,
    pub title: String,
    pub report_type: String,
    #[schema(value_type = ObjectOrArray)]
    pub report_data: Value,
    pub tags: Vec<String>,
    pub confidence: Option<f64>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<reports::Report> for Report {
    fn from(r: reports::Report) -> Self {
        Report {
            id: r.uuid,
            title: r.title,
            report_type: r.report_type,
            report_data: r.report_data,
            tags: r.tags,
            confidence: r.confidence,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}
