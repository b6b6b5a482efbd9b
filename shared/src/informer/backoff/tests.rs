use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, stream};
use kube::runtime::WatchStreamExt;
use kube::runtime::utils::Backoff;
use tokio::time::Instant;

use super::{INITIAL_DELAY, MAX_DELAY, RESET_AFTER, ReflectorBackoff, RetryDelay};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn base_doubles_from_800ms_to_30s_and_stays() {
    let mut backoff = ReflectorBackoff::new(Arc::default());
    let start = Instant::now();
    let bases: Vec<Duration> = (0..9)
        .map(|i| backoff.next_base(start + secs(f64::from(i))))
        .collect();
    let expected = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0, 30.0].map(secs);
    assert_eq!(bases, expected);
}

#[test]
fn reset_call_does_not_shrink_the_delay() {
    let mut backoff = ReflectorBackoff::new(Arc::default());
    let now = Instant::now();
    backoff.next_base(now);
    backoff.next_base(now);
    backoff.reset();
    assert_eq!(backoff.next_base(now), secs(3.2));
}

#[test]
fn two_quiet_minutes_start_again_from_the_initial_delay() {
    let mut backoff = ReflectorBackoff::new(Arc::default());
    let start = Instant::now();
    for _ in 0..8 {
        backoff.next_base(start);
    }
    // Exactly the reset period is not yet quiet enough.
    assert_eq!(backoff.next_base(start + RESET_AFTER), MAX_DELAY);
    let later = start + RESET_AFTER + RESET_AFTER + secs(0.001);
    assert_eq!(backoff.next_base(later), INITIAL_DELAY);
}

#[test]
fn delays_are_jittered_up_to_twice_the_base_and_reported() {
    let chosen = Arc::new(RetryDelay::default());
    let mut backoff = ReflectorBackoff::new(Arc::clone(&chosen));
    for _ in 0..20 {
        let delay = backoff.next().unwrap_or_default();
        // Reported to the millisecond.
        assert_eq!(chosen.last().as_millis(), delay.as_millis());
        assert!(delay >= INITIAL_DELAY, "{delay:?}");
        assert!(delay < MAX_DELAY * 2, "{delay:?}");
    }
    let settled = backoff.next().unwrap_or_default();
    assert!(settled >= MAX_DELAY, "{settled:?}");
}

/// The bug this module exists for: a watcher whose LIST keeps failing yields `Ok(Init)` before
/// each attempt; kube's own backoff reset on it, ours keeps growing.
#[tokio::test(start_paused = true)]
async fn an_ok_between_failures_does_not_reset_the_stream_backoff() {
    let items = (0..7).flat_map(|_| [Ok("init"), Err("list failed")]);
    let chosen = Arc::new(RetryDelay::default());
    let backed_off = stream::iter(items).backoff(ReflectorBackoff::new(Arc::clone(&chosen)));
    let mut backed_off = std::pin::pin!(backed_off);
    let start = Instant::now();
    let mut failures_at = Vec::new();
    while let Some(item) = backed_off.next().await {
        if item.is_err() {
            failures_at.push(start.elapsed());
        }
    }
    let gaps: Vec<Duration> = failures_at.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps.len(), 6);
    for (gap, base) in gaps.iter().zip([0.8, 1.6, 3.2, 6.4, 12.8, 25.6].map(secs)) {
        assert!(
            *gap >= base && *gap < base * 2,
            "gap {gap:?} for base {base:?}"
        );
    }
}
