use super::*;

const MS: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn burst_then_one_token_per_interval() {
    let bucket = TokenBucket::new(10.0, 3);
    for _ in 0..3 {
        assert_eq!(bucket.reserve(), Duration::ZERO);
    }
    // The balance goes negative: each further reservation queues behind the last.
    assert_eq!(bucket.reserve(), 100 * MS);
    assert_eq!(bucket.reserve(), 200 * MS);
    tokio::time::advance(200 * MS).await;
    // The debt of two tokens is paid; the next one waits a full interval.
    assert_eq!(bucket.reserve(), 100 * MS);
    // A long idle time refills no further than the burst.
    tokio::time::advance(Duration::from_secs(3600)).await;
    for _ in 0..3 {
        assert_eq!(bucket.reserve(), Duration::ZERO);
    }
    assert_eq!(bucket.reserve(), 100 * MS);
}

#[tokio::test(start_paused = true)]
async fn fractional_rates_truncate_to_nanoseconds() {
    // 3 qps: 333.333…ms per token; Go truncates, so does this.
    let bucket = TokenBucket::new(3.0, 1);
    assert_eq!(bucket.reserve(), Duration::ZERO);
    assert_eq!(bucket.reserve(), Duration::from_nanos(333_333_333));
}

#[tokio::test(start_paused = true)]
async fn unlimited_rates_ignore_the_burst() {
    for qps in [f64::INFINITY, f64::NAN] {
        let bucket = TokenBucket::new(qps, 0);
        assert_eq!(bucket.refill(), Refill::Unlimited, "{qps}");
        for _ in 0..10_000 {
            assert_eq!(bucket.reserve(), Duration::ZERO, "{qps}");
        }
    }
    assert_eq!(TokenBucket::unlimited().reserve(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn no_refill_spends_the_burst_then_never() {
    for qps in [0.0, -0.0, -1.0, -1e308, f64::NEG_INFINITY] {
        let bucket = TokenBucket::new(qps, 2);
        assert_eq!(bucket.refill(), Refill::Never, "{qps}");
        assert_eq!(bucket.reserve(), Duration::ZERO);
        assert_eq!(bucket.reserve(), Duration::ZERO);
        assert_eq!(bucket.reserve(), INF_DURATION);
        tokio::time::advance(Duration::from_secs(86_400 * 365)).await;
        assert_eq!(bucket.reserve(), INF_DURATION, "{qps}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_zero_burst_never_grants_and_takes_nothing() {
    let bucket = TokenBucket::new(10.0, 0);
    for _ in 0..3 {
        assert_eq!(bucket.reserve(), INF_DURATION);
    }
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(bucket.reserve(), INF_DURATION);
}

#[tokio::test(start_paused = true)]
async fn tiny_rates_saturate_instead_of_overflowing() {
    // 1e-30 qps: one token takes 1e30 s, far beyond any Duration. This used to reach
    // Duration::from_secs_f64 and panic the client's worker.
    for qps in [
        1e-30,
        f64::MIN_POSITIVE,
        5e-324,
        f64::from(f32::MIN_POSITIVE),
        1e-10,
    ] {
        let bucket = TokenBucket::new(qps, 1);
        assert_eq!(bucket.reserve(), Duration::ZERO, "{qps}");
        assert_eq!(bucket.reserve(), INF_DURATION, "{qps}");
        // A deeper debt stays saturated too.
        for _ in 0..100 {
            assert_eq!(bucket.reserve(), INF_DURATION, "{qps}");
        }
        tokio::time::advance(Duration::from_secs(86_400)).await;
        assert_eq!(bucket.reserve(), INF_DURATION, "{qps}");
    }
    // Under the cap a wait is exact: one token at 1e-9 qps takes 1e9 s (about 32 years).
    let bucket = TokenBucket::new(1e-9, 1);
    bucket.reserve();
    let wait = bucket.reserve();
    assert!(wait < INF_DURATION, "{wait:?}");
    assert!(wait.as_secs().abs_diff(1_000_000_000) <= 1, "{wait:?}");
}

#[tokio::test(start_paused = true)]
async fn huge_rates_and_bursts_never_wait_long() {
    for qps in [1e308, f64::MAX, f64::from(f32::MAX)] {
        let bucket = TokenBucket::new(qps, u32::MAX);
        assert_eq!(bucket.refill(), Refill::PerSecond(qps));
        for _ in 0..1000 {
            assert_eq!(bucket.reserve(), Duration::ZERO, "{qps}");
        }
        // A refill of qps × elapsed overflows to inf and is capped at the burst.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(bucket.reserve(), Duration::ZERO, "{qps}");
    }
    let bucket = TokenBucket::new(1e308, 1);
    assert_eq!(bucket.reserve(), Duration::ZERO);
    // One token owed at 1e308 qps is 1e-299 s: rounds down to no wait at all.
    assert_eq!(bucket.reserve(), Duration::ZERO);
}

#[test]
fn waits_saturate_at_inf_duration() {
    assert_eq!(wait_for_tokens(1.0, 1e-30), INF_DURATION);
    assert_eq!(wait_for_tokens(f64::MAX, 1.0), INF_DURATION);
    assert_eq!(wait_for_tokens(f64::INFINITY, 1.0), INF_DURATION);
    assert_eq!(wait_for_tokens(f64::NAN, 1.0), INF_DURATION);
    assert_eq!(wait_for_tokens(1.0, 0.0), INF_DURATION);
    assert_eq!(wait_for_tokens(1.0, 4.0), 250 * MS);
    // 292 years is the largest wait Go can express; anything shorter is exact.
    let just_under = INF_DURATION.as_secs_f64() * 0.999;
    assert!(wait_for_tokens(just_under, 1.0) < INF_DURATION);
}

#[tokio::test(start_paused = true)]
async fn an_update_time_in_the_future_refills_nothing() {
    // Cannot happen with a monotonic clock, but must not underflow if it did.
    let bucket = TokenBucket::new(1.0, 1);
    bucket.state.lock().updated = Instant::now() + Duration::from_secs(10);
    assert_eq!(bucket.reserve(), Duration::ZERO);
    assert_eq!(bucket.reserve(), Duration::from_secs(1));
}
