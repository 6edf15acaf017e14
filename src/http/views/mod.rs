//! Response bodies of the workspace content routes, one module per route group. Each view
//! is built `From` the store row it shows, and it, not the row, is the contract: a column
//! added to a table reaches no response until a view shows it. A view keeps the name of the
//! row it replaced, which is its component name in the OpenAPI document.
//!
//! A view's `///` comment is its schema's description in that document, so views of rows
//! that had none carry a plain comment instead.

pub mod agent_logs;
pub mod conversations;
pub mod jobs;
pub mod profile;
pub mod reports;
pub mod usage;
