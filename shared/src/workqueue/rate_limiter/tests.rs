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
