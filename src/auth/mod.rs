//! Identity: password hashing (and, with the identity module, tokens and sessions).

pub mod password;
