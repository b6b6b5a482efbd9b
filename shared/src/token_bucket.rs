//! The one token bucket behind the API clients' QPS limit and the work queues' overall limiter.
//!
//! Both of upstream's users sit on `golang.org/x/time/rate`: client-go's
//! `flowcontrol.NewTokenBucketRateLimiter(qps, burst)` for every clientset and
//! `BucketRateLimiter{rate.NewLimiter(10, 100)}` in `DefaultControllerRateLimiter`. This module
//! ports the part of that limiter both use, `Limiter.Reserve().Delay()`:
//!
//! * the bucket starts full (`burst` tokens) and refills at `qps` tokens per second, never
//!   above `burst`;
//! * every reservation takes a token, even when none is left: the balance goes negative and
//!   the caller is told how long until its token will have been earned, so callers queue up
//!   in reservation order;
//! * a reservation that can never be honoured (a burst of 0) takes nothing.
//!
//! Any `qps` is accepted and nothing here panics. Where Go's arithmetic decides, this does
//! the same: `+inf` (Go's `rate.Inf`) and NaN (every comparison with it fails, so no wait is
//! ever computed) mean no limit; zero, negative and `-inf` mean no refill at all. A wait too
//! long for a `time.Duration` (a tiny positive `qps`, or a deep debt) saturates at
//! [`INF_DURATION`] instead of overflowing, as `durationFromTokens` caps it.
//!
//! Time is [`tokio::time::Instant`], so tests with paused time control the bucket.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Go's `rate.InfDuration` (`math.MaxInt64` nanoseconds, about 292 years): "never".
pub const INF_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);

/// How the bucket refills.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Refill {
    /// No limit: every reservation is granted at once, whatever the burst (`rate.Inf`).
    Unlimited,
    /// This many tokens per second: finite and positive.
    PerSecond(f64),
    /// The initial burst is all there ever is.
    Never,
}

impl Refill {
    /// Classifies a rate the way `golang.org/x/time/rate` ends up treating it.
    pub fn from_qps(qps: f64) -> Self {
        if qps.is_nan() || qps == f64::INFINITY {
            Refill::Unlimited
        } else if qps > 0.0 {
            Refill::PerSecond(qps)
        } else {
            Refill::Never
        }
    }
}

/// A token bucket with `rate.Limiter` reservation semantics; see the module docs.
#[derive(Debug)]
pub struct TokenBucket {
    refill: Refill,
    burst: u32,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// May be negative: tokens already promised to waiting callers.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket refilling at `qps` tokens per second, holding at most `burst`.
    pub fn new(qps: f64, burst: u32) -> Self {
        Self::with_refill(Refill::from_qps(qps), burst)
    }

    /// A bucket that never makes anyone wait.
    pub fn unlimited() -> Self {
        Self::with_refill(Refill::Unlimited, 0)
    }

    pub fn with_refill(refill: Refill, burst: u32) -> Self {
        Self {
            refill,
            burst,
            state: Mutex::new(State {
                tokens: f64::from(burst),
                updated: Instant::now(),
            }),
        }
    }

    pub fn refill(&self) -> Refill {
        self.refill
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Takes one token now and returns how long the caller must wait before using it;
    /// [`INF_DURATION`] when it will never be available.
    pub fn reserve(&self) -> Duration {
        let qps = match self.refill {
            Refill::Unlimited => return Duration::ZERO,
            Refill::PerSecond(qps) => qps,
            Refill::Never => 0.0,
        };
        let now = Instant::now();
        let mut state = self.state.lock();
        let burst = f64::from(self.burst);
        let elapsed = now.saturating_duration_since(state.updated).as_secs_f64();
        // `advance`: refill for the time elapsed, never above the burst. With no refill the
        // product is 0 (never `0 × inf`: `elapsed` is finite).
        let available = (state.tokens + elapsed * qps).min(burst);
        let remaining = available - 1.0;
        if self.burst == 0 {
            // `n <= burst` fails: the reservation is refused and the state left alone.
            return INF_DURATION;
        }
        state.tokens = remaining;
        state.updated = now;
        if remaining >= 0.0 {
            Duration::ZERO
        } else {
            wait_for_tokens(-remaining, qps)
        }
    }
}

/// `Limit.durationFromTokens`: how long `tokens` take to earn at `qps`, truncated to whole
/// nanoseconds as Go's conversion does, saturating at [`INF_DURATION`].
fn wait_for_tokens(tokens: f64, qps: f64) -> Duration {
    if qps <= 0.0 {
        return INF_DURATION;
    }
    let nanos = tokens / qps * 1e9;
    // NaN cannot arise here, but must never reach the cast either.
    if nanos.is_nan() || nanos >= INF_DURATION.as_nanos() as f64 {
        return INF_DURATION;
    }
    Duration::from_nanos(nanos as u64)
}

#[cfg(test)]
mod tests;
