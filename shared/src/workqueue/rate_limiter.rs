//! Rate limiters deciding how long a failed key waits before it is retried.
//!
//! Ports of client-go's `default_rate_limiters.go`: a per-key exponential backoff, an overall token
//! bucket with `golang.org/x/time/rate` reservation semantics, and the maximum of several limiters.
//! [`default_controller_rate_limiter`] is what almost every kube-controller-manager controller
//! uses; [`namespace_controller_rate_limiter`] is the namespace controller's variant whose backoff
//! stops growing at one minute.
//!
//! Limiters measure time with [`tokio::time::Instant`], so tests with paused time control them.
//! The bucket is [`crate::token_bucket`], shared with the API clients' QPS limit.

use std::{collections::HashMap, hash::Hash, time::Duration};

use parking_lot::Mutex;

use crate::token_bucket::TokenBucket;

/// Decides the delay of a rate-limited re-add (client-go `TypedRateLimiter`).
pub trait RateLimiter<T>: Send + Sync {
    /// How long `item` must wait before its next attempt. Records one more failure.
    fn when(&self, item: &T) -> Duration;
    /// Stops tracking `item`: its next failure starts again from the smallest delay.
    fn forget(&self, item: &T);
    /// How many failures of `item` are on record.
    fn num_requeues(&self, item: &T) -> u32;
}

impl<T, L: RateLimiter<T> + ?Sized> RateLimiter<T> for Box<L> {
    fn when(&self, item: &T) -> Duration {
        (**self).when(item)
    }
    fn forget(&self, item: &T) {
        (**self).forget(item)
    }
    fn num_requeues(&self, item: &T) -> u32 {
        (**self).num_requeues(item)
    }
}

/// Per-key exponential backoff: `base · 2^failures`, never more than `max`
/// (client-go `ItemExponentialFailureRateLimiter`).
pub struct ItemExponentialFailure<T> {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<T, u32>>,
}

impl<T> ItemExponentialFailure<T> {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            failures: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Eq + Hash + Clone + Send + Sync> RateLimiter<T> for ItemExponentialFailure<T> {
    fn when(&self, item: &T) -> Duration {
        let exponent = {
            let mut failures = self.failures.lock();
            let count = failures.entry(item.clone()).or_insert(0);
            let exponent = *count;
            *count = count.saturating_add(1);
            exponent
        };
        // Anything that overflows is certainly past the cap.
        2u32.checked_pow(exponent)
            .and_then(|factor| self.base.checked_mul(factor))
            .map_or(self.max, |delay| delay.min(self.max))
    }

    fn forget(&self, item: &T) {
        self.failures.lock().remove(item);
    }

    fn num_requeues(&self, item: &T) -> u32 {
        self.failures.lock().get(item).copied().unwrap_or(0)
    }
}

/// An overall token bucket shared by all keys (client-go `BucketRateLimiter` around
/// `rate.NewLimiter(qps, burst)`): the crate's one [`TokenBucket`].
///
/// Every call reserves one token, even if none is available: the balance goes negative and the
/// caller is told how long until its token will have been refilled. So after the burst is spent,
/// successive calls at the same instant get delays `1/qps`, `2/qps`, ... A reservation that can
/// never be honoured returns [`INF_DURATION`](crate::token_bucket::INF_DURATION), which the
/// delaying queue caps at its far future.
pub struct Bucket {
    bucket: TokenBucket,
}

impl Bucket {
    /// Any `qps` is safe; see [`TokenBucket`] for what the odd ones mean.
    pub fn new(qps: f64, burst: u32) -> Self {
        Self {
            bucket: TokenBucket::new(qps, burst),
        }
    }

    fn reserve(&self) -> Duration {
        self.bucket.reserve()
    }
}

impl<T> RateLimiter<T> for Bucket {
    fn when(&self, _item: &T) -> Duration {
        self.reserve()
    }
    fn forget(&self, _item: &T) {}
    fn num_requeues(&self, _item: &T) -> u32 {
        0
    }
}

/// The worst of several limiters (client-go `MaxOfRateLimiter`): every limiter records the
/// failure, the longest delay wins.
pub struct MaxOf<T> {
    limiters: Vec<Box<dyn RateLimiter<T>>>,
}

impl<T> MaxOf<T> {
    pub fn new(limiters: Vec<Box<dyn RateLimiter<T>>>) -> Self {
        Self { limiters }
    }
}

impl<T> RateLimiter<T> for MaxOf<T> {
    fn when(&self, item: &T) -> Duration {
        // No short-circuit: each limiter must see the failure.
        self.limiters
            .iter()
            .map(|limiter| limiter.when(item))
            .fold(Duration::ZERO, Duration::max)
    }

    fn forget(&self, item: &T) {
        for limiter in &self.limiters {
            limiter.forget(item);
        }
    }

    fn num_requeues(&self, item: &T) -> u32 {
        self.limiters
            .iter()
            .map(|limiter| limiter.num_requeues(item))
            .max()
            .unwrap_or(0)
    }
}

/// client-go `DefaultTypedControllerRateLimiter`: per key 5ms·2ⁿ up to 1000s, overall 10 qps with
/// a burst of 100.
pub fn default_controller_rate_limiter<T>() -> MaxOf<T>
where
    T: Eq + Hash + Clone + Send + Sync + 'static,
{
    MaxOf::new(vec![
        Box::new(ItemExponentialFailure::new(
            Duration::from_millis(5),
            Duration::from_secs(1000),
        )),
        Box::new(Bucket::new(10.0, 100)),
    ])
}

/// The namespace controller's `nsControllerRateLimiter`: as the default, but the per-key backoff
/// stops at 60s so a namespace whose deletion keeps failing is retried at least once a minute.
pub fn namespace_controller_rate_limiter<T>() -> MaxOf<T>
where
    T: Eq + Hash + Clone + Send + Sync + 'static,
{
    MaxOf::new(vec![
        Box::new(ItemExponentialFailure::new(
            Duration::from_millis(5),
            Duration::from_secs(60),
        )),
        Box::new(Bucket::new(10.0, 100)),
    ])
}

#[cfg(test)]
mod tests;
