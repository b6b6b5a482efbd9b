//! Controllers that act on a timer rather than a queue (upstream `wait.JitterUntil` with
//! `sliding = true`, as the pod garbage collector's `gc` loop runs).
//!
//! One pass at a time: the next period starts when a pass has finished, so passes never
//! overlap however long one takes. A pass that panics is logged and counted, and the loop goes
//! on with the next period.

use std::{future::Future, panic::AssertUnwindSafe, time::Duration};

use futures::FutureExt;
use kcm_shared::{jitter::jitter, metrics::WORKER_PANICS};
use tokio_util::sync::CancellationToken;

use super::metrics::{SYNC_DURATION, SYNC_ERRORS};

/// Runs `pass` now and then every `period` (stretched by up to `jitter_factor`, 0 = none)
/// after the previous pass ended, until `cancel`. A pass in progress when `cancel` fires
/// finishes first; it sees [`super::stopping`] turn true, so it can skip writes not yet begun.
pub async fn run_periodic<F, Fut>(
    controller: &'static str,
    period: Duration,
    jitter_factor: f64,
    cancel: CancellationToken,
    mut pass: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    super::metrics::register();
    while !cancel.is_cancelled() {
        let started = tokio::time::Instant::now();
        let scoped = super::stopping::scope(cancel.clone(), pass());
        let scoped = kcm_shared::panics::recoverable(scoped);
        if let Err(panic) = AssertUnwindSafe(scoped).catch_unwind().await {
            WORKER_PANICS.with_label_values(&[controller]).inc();
            SYNC_ERRORS.with_label_values(&[controller]).inc();
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(controller, panic = %message, "periodic pass panicked; continuing");
        }
        SYNC_DURATION
            .with_label_values(&[controller])
            .observe(started.elapsed().as_secs_f64());
        let wait = if jitter_factor > 0.0 {
            jitter(period, jitter_factor)
        } else {
            period
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests;
