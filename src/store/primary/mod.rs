//! Repositories of the primary database (the control plane): free functions over
//! `&Connection`, one module per table group.

pub mod audit;
pub mod companies;
pub mod refresh_tokens;
pub mod roles;
pub mod users;
