//! Login rate limiting: failed attempts are counted in fixed windows per (account, client
//! address), per client address, and per account from every address; past a limit a login
//! answers 429 with `Retry-After` without hashing.
//!
//! Following OWASP's authentication guidance, guessing from one address is throttled tightly
//! per account *and address*, so ten wrong passwords from an attacker do not lock the owner
//! out from their own address; the account's limit over all addresses is much higher and
//! over a longer window: it only slows guessing spread over many addresses.
//!
//! An attempt is *reserved* before the password is checked and settled after, so a burst
//! of concurrent guesses cannot all pass the check before the first failure is counted.

use std::time::{Duration, Instant};

use dashmap::DashMap;

#[derive(Clone, Copy, Debug)]
pub struct RateLimitOptions {
    /// Failed logins allowed per account from one address per `window` (0 = unlimited).
    pub per_account_address: u32,
    /// Failed logins allowed per client address (any account) per `window` (0 = unlimited).
    pub per_address: u32,
    pub window: Duration,
    /// Failed logins allowed per account from all addresses per `account_window`
    /// (0 = unlimited).
    pub per_account: u32,
    pub account_window: Duration,
}

impl Default for RateLimitOptions {
    fn default() -> Self {
        RateLimitOptions {
            per_account_address: 10,
            per_address: 50,
            window: Duration::from_secs(300),
            per_account: 100,
            account_window: Duration::from_secs(3600),
        }
    }
}

struct Window {
    started: Instant,
    failures: u32,
    /// Attempts being checked right now (reserved, not yet settled).
    in_flight: u32,
}

/// Bounded: entries past their window are dropped when the map grows large.
pub struct LoginLimiter {
    options: RateLimitOptions,
    windows: DashMap<String, Window>,
}

const PRUNE_ABOVE: usize = 100_000;

/// A reserved attempt; settle it with [`LoginLimiter::settle`]. Dropped unsettled (the
/// request failed for another reason), it is released without counting.
#[must_use]
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    keys: Vec<String>,
    /// The (account, address) key, cleared by a success.
    pair: String,
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.limiter.release(&self.keys);
    }
}

impl LoginLimiter {
    pub fn new(options: RateLimitOptions) -> Self {
        LoginLimiter {
            options,
            windows: DashMap::new(),
        }
    }

    fn keys(&self, account: &str, address: &str) -> Vec<(String, u32, Duration)> {
        let o = &self.options;
        let account = account.to_lowercase();
        [
            (pair_key(&account, address), o.per_account_address, o.window),
            (format!("ip:{address}"), o.per_address, o.window),
            (format!("a:{account}"), o.per_account, o.account_window),
        ]
        .into_iter()
        .filter(|(_, limit, _)| *limit > 0)
        .collect()
    }

    /// Reserves an attempt, or returns the seconds to wait when the account from this
    /// address, the address, or the account has used up its window (counting attempts still
    /// being checked).
    pub fn reserve(&self, account: &str, address: &str) -> Result<Attempt<'_>, u64> {
        let now = Instant::now();
        if self.windows.len() > PRUNE_ABOVE {
            let longest = self.options.window.max(self.options.account_window);
            self.windows
                .retain(|_, w| w.in_flight > 0 || now.duration_since(w.started) < longest);
        }
        let mut reserved = Vec::new();
        for (key, limit, window) in self.keys(account, address) {
            let mut w = self.windows.entry(key.clone()).or_insert(Window {
                started: now,
                failures: 0,
                in_flight: 0,
            });
            if now.duration_since(w.started) >= window {
                w.started = now;
                w.failures = 0;
            }
            if w.failures + w.in_flight >= limit {
                let wait = (window - now.duration_since(w.started)).as_secs().max(1);
                drop(w);
                self.release(&reserved);
                return Err(wait);
            }
            w.in_flight += 1;
            reserved.push(key);
        }
        Ok(Attempt {
            limiter: self,
            keys: reserved,
            pair: pair_key(&account.to_lowercase(), address),
        })
    }

    fn release(&self, keys: &[String]) {
        for key in keys {
            if let Some(mut w) = self.windows.get_mut(key) {
                w.in_flight = w.in_flight.saturating_sub(1);
            }
        }
    }

    /// Settles a reserved attempt: a failure counts against every key; a success clears the
    /// failures of the account from this address (not the address's, nor the account's
    /// over all addresses, which an attacker elsewhere may be running up).
    pub fn settle(&self, mut attempt: Attempt<'_>, succeeded: bool) {
        let keys = std::mem::take(&mut attempt.keys);
        self.release(&keys);
        for key in &keys {
            if succeeded {
                continue;
            }
            if let Some(mut w) = self.windows.get_mut(key) {
                w.failures += 1;
            }
        }
        if succeeded {
            self.windows.remove(&attempt.pair);
        }
    }
}

fn pair_key(account: &str, address: &str) -> String {
    format!("aa:{account} {address}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_account_address: u32, per_address: u32) -> LoginLimiter {
        LoginLimiter::new(RateLimitOptions {
            per_account_address,
            per_address,
            window: Duration::from_secs(60),
            per_account: 0,
            account_window: Duration::from_secs(600),
        })
    }

    #[test]
    fn blocks_after_the_limit_per_account_and_address_and_per_address() {
        let limiter = limiter(2, 3);
        for _ in 0..2 {
            let a = limiter.reserve("a@x", "1.1.1.1").unwrap();
            limiter.settle(a, false);
        }
        assert!(
            limiter
                .reserve("A@X", "1.1.1.1")
                .is_err_and(|s| s > 0 && s <= 60)
        );
        // The owner, from another address, is not locked out by the guesses.
        let owner = limiter.reserve("a@x", "2.2.2.2").unwrap();
        limiter.settle(owner, true);
        // Another account from the same address: one more failure allowed, then blocked.
        let b = limiter.reserve("b@x", "1.1.1.1").unwrap();
        limiter.settle(b, false);
        assert!(limiter.reserve("c@x", "1.1.1.1").is_err());
        // Success clears the account (from an address that is not blocked).
        let ok = limiter.reserve("d@x", "9.9.9.9").unwrap();
        limiter.settle(ok, true);
        assert!(limiter.reserve("d@x", "9.9.9.9").is_ok());
    }

    #[test]
    fn concurrent_attempts_count_before_they_fail() {
        let limiter = limiter(3, 0);
        let held: Vec<_> = (0..3)
            .map(|_| limiter.reserve("a@x", "1.1.1.1").unwrap())
            .collect();
        assert!(
            limiter.reserve("a@x", "1.1.1.1").is_err(),
            "a fourth guess passed while three were in flight"
        );
        for a in held {
            limiter.settle(a, false);
        }
        assert!(limiter.reserve("a@x", "1.1.1.1").is_err());
    }

    #[test]
    fn the_account_limit_over_all_addresses_is_slower_and_not_cleared_by_a_success() {
        let limiter = LoginLimiter::new(RateLimitOptions {
            per_account_address: 2,
            per_address: 0,
            window: Duration::from_secs(60),
            per_account: 5,
            account_window: Duration::from_secs(600),
        });
        for i in 0..5 {
            let a = limiter.reserve("a@x", &format!("10.0.0.{i}")).unwrap();
            limiter.settle(a, false);
        }
        assert!(
            limiter
                .reserve("a@x", "10.9.9.9")
                .is_err_and(|s| s > 60 && s <= 600)
        );
        assert!(limiter.reserve("b@x", "10.9.9.9").is_ok());
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = limiter(0, 0);
        for _ in 0..100 {
            let a = limiter.reserve("a@x", "1.1.1.1").unwrap();
            limiter.settle(a, false);
        }
    }
}
