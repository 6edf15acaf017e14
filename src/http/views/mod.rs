//! Response types: what the API shows, one module per route group, each view built `From`
//! the store row it shows. Rows carry internal ids and paths and are never serialised as
//! they are: the view, not the row, is the contract, so a column added to a table reaches
//! no response until a view shows it. A view keeps the name of the row it replaced, which
//! is its component name in the OpenAPI document; its `///` comment is that schema's
//! description (views of rows that had none carry a plain comment instead).

pub mod agent_logs;
pub mod companies;
pub mod conversations;
pub mod documents;
pub mod jobs;
pub mod profile;
pub mod reports;
pub mod search;
pub mod usage;
