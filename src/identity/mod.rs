//! Identity: password hashing, access tokens, the signing secret and login rate limits.
//! Sessions (refresh tokens) live in `primary::refresh_tokens`; the request pipeline that
//! turns a token into a `TenantCtx` lives in `http::guard`.

pub mod accounts;
mod actor;
pub mod hasher;
pub mod password;
pub mod principals;
pub mod ratelimit;
pub mod secret;
pub mod tokens;

pub use actor::{Actor, Denied};
