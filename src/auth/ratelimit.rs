//! Login rate limiting: failed attempts are counted per account and per client address in
//! fixed windows; past the limit a login answers 429 with `Retry-After` without hashing.

use std::time::{Duration, Instant};

use dashmap::DashMap;

#[derive(Clone, Copy, Debug)]
pub struct RateLimitOptions {
    /// Failed logins allowed per account per window (0 = unlimited).
    pub per_account: u32,
    /// Failed logins allowed per client address per window (0 = unlimited).
    pub per_address: u32,
    pub window: Duration,
}

impl Default for RateLimitOptions {
    fn default() -> Self {
        RateLimitOptions {
            per_account: 10,
            per_address: 50,
            window: Duration::from_secs(300),
        }
    }
}

struct Window {
    started: Instant,
    failures: u32,
}

/// Bounded: entries past their window are dropped when the map grows large.
pub struct LoginLimiter {
    options: RateLimitOptions,
    windows: DashMap<String, Window>,
}

const PRUNE_ABOVE: usize = 100_000;

impl LoginLimiter {
    pub fn new(options: RateLimitOptions) -> Self {
        LoginLimiter {
            options,
            windows: DashMap::new(),
        }
    }

    fn keys(account: &str, address: &str) -> [(String, u32); 2] {
        [
            (format!("a:{}", account.to_lowercase()), 0),
            (format!("ip:{address}"), 1),
        ]
    }

    fn limit(&self, kind: u32) -> u32 {
        if kind == 0 {
            self.options.per_account
        } else {
            self.options.per_address
        }
    }

    /// `Some(seconds)` to wait when either key is over its limit.
    pub fn check(&self, account: &str, address: &str) -> Option<u64> {
        let now = Instant::now();
        Self::keys(account, address)
            .into_iter()
            .find_map(|(key, kind)| {
                let limit = self.limit(kind);
                let w = self.windows.get(&key)?;
                let elapsed = now.duration_since(w.started);
                (limit > 0 && elapsed < self.options.window && w.failures >= limit)
                    .then(|| (self.options.window - elapsed).as_secs().max(1))
            })
    }

    pub fn record_failure(&self, account: &str, address: &str) {
        let now = Instant::now();
        if self.windows.len() > PRUNE_ABOVE {
            let window = self.options.window;
            self.windows
                .retain(|_, w| now.duration_since(w.started) < window);
        }
        for (key, _) in Self::keys(account, address) {
            let mut w = self.windows.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if now.duration_since(w.started) >= self.options.window {
                *w = Window {
                    started: now,
                    failures: 0,
                };
            }
            w.failures += 1;
        }
    }

    /// A successful login clears the account's failures (not the address's).
    pub fn record_success(&self, account: &str) {
        self.windows
            .remove(&format!("a:{}", account.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_per_account_and_per_address() {
        let limiter = LoginLimiter::new(RateLimitOptions {
            per_account: 2,
            per_address: 3,
            window: Duration::from_secs(60),
        });
        assert_eq!(limiter.check("a@x", "1.1.1.1"), None);
        limiter.record_failure("a@x", "1.1.1.1");
        limiter.record_failure("A@X", "1.1.1.1");
        assert!(
            limiter
                .check("a@x", "2.2.2.2")
                .is_some_and(|s| s > 0 && s <= 60)
        );
        // Another account from the same address: one more failure allowed, then blocked.
        assert_eq!(limiter.check("b@x", "1.1.1.1"), None);
        limiter.record_failure("b@x", "1.1.1.1");
        assert!(limiter.check("c@x", "1.1.1.1").is_some());
        limiter.record_success("a@x");
        assert_eq!(limiter.check("a@x", "3.3.3.3"), None);
    }
}
