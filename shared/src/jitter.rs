//! Randomised periods, so that many timers started together do not fire together
//! (apimachinery's `wait.Jitter`).

use std::time::Duration;

/// A uniform random duration in `[period, period · (1 + max_factor))`; a `max_factor` of zero
/// or less means 1.0, as upstream. Zero stays zero; never panics, even for huge periods
/// (the result saturates at `Duration::MAX`).
pub fn jitter(period: Duration, max_factor: f64) -> Duration {
    if period.is_zero() {
        return Duration::ZERO;
    }
    let factor = if max_factor > 0.0 && max_factor.is_finite() {
        max_factor
    } else {
        1.0
    };
    let extra = period.as_secs_f64() * factor * rand::random::<f64>();
    Duration::try_from_secs_f64(extra)
        .ok()
        .and_then(|extra| period.checked_add(extra))
        .unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests;
