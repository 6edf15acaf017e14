//! A short-lived cache of who a token's user is (user, role, permissions, company state,
//! whether the token's session is still live), keyed by user and session.
//!
//! Loading the principal is one indexed query, yet it was a third of an authenticated
//! request's cost (measured with scripts/bench_http.py). Entries live at most `ttl` (2 s by
//! default), and every change made through this process (user, role, company updates)
//! invalidates them all at once, so such changes still apply on the very next request;
//! changes made by another process apply within `ttl`.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::store::primary::users::Principal;

/// A loaded principal with its permissions as a set, shared by the requests that use it.
pub struct Loaded {
    pub principal: Principal,
    pub permissions: Arc<HashSet<String>>,
}

struct Entry {
    at: Instant,
    generation: u64,
    loaded: Arc<Loaded>,
}

pub struct PrincipalCache {
    ttl: Duration,
    generation: AtomicU64,
    entries: DashMap<String, Entry>,
}

/// Beyond this many cached users the cache starts over (it only saves work).
const MAX_ENTRIES: usize = 100_000;

impl PrincipalCache {
    pub fn new(ttl: Duration) -> Self {
        PrincipalCache {
            ttl,
            generation: AtomicU64::new(0),
            entries: DashMap::new(),
        }
    }

    /// The cached principal of user `uuid` in session `session`, if fresh.
    pub fn get(&self, uuid: &str, session: &str) -> Option<Arc<Loaded>> {
        let entry = self.entries.get(&key(uuid, session))?;
        let fresh = entry.generation == self.generation.load(Ordering::Acquire)
            && entry.at.elapsed() < self.ttl;
        fresh.then(|| entry.loaded.clone())
    }

    /// Caches a principal read from primary.db; `generation` is [`PrincipalCache::generation`]
    /// taken *before* the read, so a change committed meanwhile is not cached as fresh.
    pub fn insert(
        &self,
        uuid: &str,
        session: &str,
        generation: u64,
        principal: Principal,
    ) -> Arc<Loaded> {
        let permissions = Arc::new(principal.permissions.iter().cloned().collect());
        let loaded = Arc::new(Loaded {
            principal,
            permissions,
        });
        if self.ttl.is_zero() {
            return loaded;
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(
            key(uuid, session),
            Entry {
                at: Instant::now(),
                generation,
                loaded: loaded.clone(),
            },
        );
        loaded
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Forgets everything: called after any change to users, roles, companies or sessions.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

fn key(uuid: &str, session: &str) -> String {
    format!("{uuid} {session}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(uuid: &str) -> Principal {
        Principal {
            id: 1,
            uuid: uuid.into(),
            email: "a@b.c".into(),
            is_active: true,
            role: "viewer".into(),
            permissions: vec!["documents:read".into()],
            company_id: Some(1),
            company_uuid: Some("c".into()),
            company_usable: Some(true),
            session_live: true,
        }
    }

    #[test]
    fn entries_expire_and_invalidation_drops_them_all() {
        let cache = PrincipalCache::new(Duration::from_secs(60));
        let g = cache.generation();
        cache.insert("u1", "s", g, principal("u1"));
        let hit = cache.get("u1", "s").unwrap();
        assert!(hit.permissions.contains("documents:read"));
        cache.invalidate();
        assert!(cache.get("u1", "s").is_none());
        // A read that began before a change is not cached as fresh.
        cache.insert("u2", "s", g, principal("u2"));
        assert!(cache.get("u2", "s").is_none());
        let expired = PrincipalCache::new(Duration::from_millis(1));
        expired.insert("u3", "s", expired.generation(), principal("u3"));
        std::thread::sleep(Duration::from_millis(5));
        assert!(expired.get("u3", "s").is_none());
        let off = PrincipalCache::new(Duration::ZERO);
        off.insert("u4", "s", off.generation(), principal("u4"));
        assert!(off.get("u4", "s").is_none());
    }
}
