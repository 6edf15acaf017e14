//! The use cases: what a request, a command or the bootstrap asks Silo to do, written once
//! and shared by `http`, `cli` and the web pages. A service takes the `App`, the acting
//! user and validated input, and returns data or a [`crate::error::Error`]; it never
//! chooses an HTTP status, and it runs its SQL through the repositories of `store`.

pub mod search;
