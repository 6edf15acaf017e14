//! Response types: what the API shows, built from the repositories' rows (which carry
//! internal ids and paths and are never serialised as they are). The OpenAPI document
//! describes these.

pub mod documents;
pub mod search;
