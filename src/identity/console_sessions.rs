//! Sessions of the super-admin web console. The browser holds only an opaque, random
//! session id (in an HttpOnly, SameSite=Strict cookie); the server holds, under the id's
//! SHA-256, the API session the login opened (its access and refresh tokens, so the refresh
//! token's family is the console session: logout, a password change or "end all sessions"
//! ends both) and the session's CSRF token. Kept in memory: a restart logs the console out.

use std::time::{Duration, Instant};

use dashmap::DashMap;
use sha2::{Digest, Sha256};

/// A console session as the server keeps it.
#[derive(Clone, Debug)]
pub struct ConsoleSession {
    pub access_token: String,
    /// When the access token expires (it is refreshed a little before).
    pub access_expires: Instant,
    pub refresh_token: String,
    /// Every state-changing request must carry this (form field or header).
    pub csrf: String,
    pub last_seen: Instant,
}

/// The console's sessions, by the SHA-256 of their id.
#[derive(Default)]
pub struct ConsoleSessions {
    sessions: DashMap<[u8; 32], ConsoleSession>,
}

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// At most this many sessions are kept; past it the longest idle go first.
const MAX_SESSIONS: usize = 10_000;

/// 256 random bits, in hex.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl ConsoleSessions {
    /// Stores `session` under a new id, returned for the cookie.
    pub fn create(&self, session: ConsoleSession) -> String {
        if self.sessions.len() >= MAX_SESSIONS {
            self.sweep();
        }
        let id = random_token();
        self.sessions.insert(key(&id), session);
        id
    }

    /// The live session with `id`, its last use updated; an idle one is ended.
    pub fn get(&self, id: &str) -> Option<ConsoleSession> {
        let k = key(id);
        let mut entry = self.sessions.get_mut(&k)?;
        if entry.last_seen.elapsed() > IDLE_TIMEOUT {
            drop(entry);
            self.sessions.remove(&k);
            return None;
        }
        entry.last_seen = Instant::now();
        Some(entry.clone())
    }

    /// Replaces the tokens of session `id` after a refresh.
    pub fn update_tokens(&self, id: &str, access: String, expires: Instant, refresh: String) {
        if let Some(mut s) = self.sessions.get_mut(&key(id)) {
            s.access_token = access;
            s.access_expires = expires;
            s.refresh_token = refresh;
        }
    }

    /// Ends session `id`, returning it (for its refresh token).
    pub fn remove(&self, id: &str) -> Option<ConsoleSession> {
        self.sessions.remove(&key(id)).map(|(_, s)| s)
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Drops idle sessions, then the longest idle tenth if still full.
    fn sweep(&self) {
        self.sessions
            .retain(|_, s| s.last_seen.elapsed() <= IDLE_TIMEOUT);
        if self.sessions.len() >= MAX_SESSIONS {
            let mut seen: Vec<(Instant, [u8; 32])> = self
                .sessions
                .iter()
                .map(|e| (e.last_seen, *e.key()))
                .collect();
            seen.sort_unstable();
            for (_, k) in seen.iter().take(MAX_SESSIONS / 10) {
                self.sessions.remove(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> ConsoleSession {
        ConsoleSession {
            access_token: "a".into(),
            access_expires: Instant::now(),
            refresh_token: "r".into(),
            csrf: random_token(),
            last_seen: Instant::now(),
        }
    }

    #[test]
    fn ids_are_random_and_stored_hashed() {
        let store = ConsoleSessions::default();
        let (a, b) = (store.create(session()), store.create(session()));
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(store.get(&a).is_some());
        assert!(store.get("not-a-session").is_none());
        // The map holds hashes, never the id itself.
        assert!(!store.sessions.contains_key(&{
            let mut raw = [0u8; 32];
            raw[..32].copy_from_slice(&a.as_bytes()[..32]);
            raw
        }));
        assert!(store.remove(&a).is_some());
        assert!(store.get(&a).is_none());
        assert_eq!(store.len(), 1);
    }
}
