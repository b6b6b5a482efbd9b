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
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn exponential_doubles_per_failure_and_is_per_key() {
        let limiter = ItemExponentialFailure::new(5 * MS, Duration::from_secs(1000));
        let delays: Vec<_> = (0..5).map(|_| limiter.when(&"a")).collect();
        assert_eq!(delays, [5 * MS, 10 * MS, 20 * MS, 40 * MS, 80 * MS]);
        assert_eq!(limiter.num_requeues(&"a"), 5);
        // Another key has its own history.
        assert_eq!(limiter.when(&"b"), 5 * MS);
        assert_eq!(limiter.num_requeues(&"b"), 1);
    }

    #[test]
    fn exponential_caps_at_max_and_survives_huge_exponents() {
        let limiter = ItemExponentialFailure::new(5 * MS, Duration::from_secs(1000));
        let delays: Vec<_> = (0..100).map(|_| limiter.when(&"a")).collect();
        // 5ms·2^17 = 655.36s is the last one under the cap.
        assert_eq!(delays[17], Duration::from_millis(655_360));
        assert_eq!(delays[18], Duration::from_secs(1000));
        assert!(delays[18..].iter().all(|d| *d == Duration::from_secs(1000)));
    }

    #[test]
    fn exponential_forget_resets() {
        let limiter = ItemExponentialFailure::new(MS, Duration::from_secs(1));
        limiter.when(&1);
        limiter.when(&1);
        assert_eq!(limiter.num_requeues(&1), 2);
        limiter.forget(&1);
        assert_eq!(limiter.num_requeues(&1), 0);
        assert_eq!(limiter.when(&1), MS);
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_allows_burst_then_spaces_by_one_over_qps() {
        let bucket = Bucket::new(10.0, 100);
        for _ in 0..100 {
            assert_eq!(RateLimiter::<()>::when(&bucket, &()), Duration::ZERO);
        }
        // Tokens go negative; each further reservation waits 100ms longer.
        assert_eq!(RateLimiter::<()>::when(&bucket, &()), 100 * MS);
        assert_eq!(RateLimiter::<()>::when(&bucket, &()), 200 * MS);
        assert_eq!(RateLimiter::<()>::when(&bucket, &()), 300 * MS);
        // 300ms later the debt of three tokens is paid; the next one waits 100ms again.
        tokio::time::advance(300 * MS).await;
        assert_eq!(RateLimiter::<()>::when(&bucket, &()), 100 * MS);
        // After a long idle time the bucket is full again, but never fuller than the burst.
        tokio::time::advance(Duration::from_secs(3600)).await;
        for _ in 0..100 {
            assert_eq!(RateLimiter::<()>::when(&bucket, &()), Duration::ZERO);
        }
        assert_eq!(RateLimiter::<()>::when(&bucket, &()), 100 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_ignores_the_key_and_counts_no_requeues() {
        let bucket = Bucket::new(1.0, 1);
        assert_eq!(bucket.when(&"a"), Duration::ZERO);
        assert_eq!(bucket.when(&"b"), Duration::from_secs(1));
        assert_eq!(RateLimiter::<&str>::num_requeues(&bucket, &"a"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_survives_any_rate() {
        use crate::token_bucket::INF_DURATION;
        for qps in [1e-30, 0.0, -1.0, f64::NEG_INFINITY] {
            let bucket = Bucket::new(qps, 1);
            assert_eq!(bucket.when(&()), Duration::ZERO, "{qps}");
            assert_eq!(bucket.when(&()), INF_DURATION, "{qps}");
        }
        for qps in [1e308, f64::INFINITY, f64::NAN] {
            let bucket = Bucket::new(qps, 1);
            for _ in 0..3 {
                assert_eq!(bucket.when(&()), Duration::ZERO, "{qps}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn max_of_takes_the_longest_and_feeds_every_limiter() {
        let limiter = MaxOf::<&str>::new(vec![
            Box::new(ItemExponentialFailure::new(MS, Duration::from_secs(10))),
            Box::new(ItemExponentialFailure::new(
                2 * MS,
                Duration::from_millis(3),
            )),
        ]);
        assert_eq!(limiter.when(&"a"), 2 * MS);
        assert_eq!(limiter.when(&"a"), 3 * MS);
        assert_eq!(limiter.when(&"a"), 4 * MS);
        assert_eq!(limiter.num_requeues(&"a"), 3);
        limiter.forget(&"a");
        assert_eq!(limiter.num_requeues(&"a"), 0);
        assert_eq!(limiter.when(&"a"), 2 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn default_limiter_is_max_of_backoff_and_bucket() {
        let limiter = default_controller_rate_limiter::<String>();
        let key = "ns/a".to_string();
        assert_eq!(limiter.when(&key), 5 * MS);
        assert_eq!(limiter.when(&key), 10 * MS);
        assert_eq!(limiter.num_requeues(&key), 2);
        // Spend the rest of the burst on other keys: 98 more tokens.
        for i in 0..98 {
            assert_eq!(limiter.when(&format!("k{i}")), 5 * MS);
        }
        // The bucket now dominates a fresh key's 5ms.
        assert_eq!(limiter.when(&"fresh".to_string()), 100 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn namespace_limiter_caps_at_one_minute() {
        let limiter = namespace_controller_rate_limiter::<&str>();
        let mut last = Duration::ZERO;
        for _ in 0..20 {
            last = limiter.when(&"ns");
            // Let the bucket refill so only the backoff matters.
            tokio::time::advance(Duration::from_secs(10)).await;
        }
        assert_eq!(last, Duration::from_secs(60));
    }
}
