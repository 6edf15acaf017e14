//! Identity: who is acting ([`Actor`] and its permission checks), account fields, password
//! hashing, access tokens, the signing secret, login rate limits, the principal cache and the web console's sessions.
//! Sessions (refresh tokens) are stored by `store::primary::refresh_tokens` and managed by
//! `service::sessions`; `http::guard` turns a request's token into an `Actor`.

pub mod accounts;
mod actor;
pub mod console_sessions;
pub mod hasher;
pub mod password;
pub mod principals;
pub mod ratelimit;
pub mod secret;
pub mod tokens;

pub use actor::{Actor, Denied};
