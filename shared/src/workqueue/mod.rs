//! The controllers' work queue, with client-go's semantics.
//!
//! kube-runtime's `Controller` schedules reconciles its own way; the kube-controller-manager
//! controllers instead rely on client-go's `workqueue` package: a key is processed by at most one
//! worker at a time, adds while queued or while processing collapse, failures are retried with
//! per-key exponential backoff under an overall token bucket, and the `workqueue_*` Prometheus
//! metrics describe it all. This module reproduces that package:
//!
//! * [`WorkQueue`]: add / add_after / add_rate_limited / get / done / forget / shut_down;
//! * [`RateLimiter`] and its implementations ([`ItemExponentialFailure`], [`Bucket`], [`MaxOf`],
//!   [`default_controller_rate_limiter`], [`namespace_controller_rate_limiter`]);
//! * [`Processing`]: a guard that calls `done` even if the sync panics.
//!
//! A worker loop, as the upstream controllers write it:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use kcm_shared::workqueue::WorkQueue;
//! # async fn sync(_key: &str) -> Result<(), ()> { Ok(()) }
//! async fn worker(queue: Arc<WorkQueue<String>>) {
//!     const MAX_RETRIES: u32 = 15;
//!     while let Some(key) = queue.get_guarded().await {
//!         match sync(&key).await {
//!             Ok(()) => queue.forget(&key),
//!             Err(()) if queue.num_requeues(&key) < MAX_RETRIES => {
//!                 queue.add_rate_limited(key.clone())
//!             }
//!             Err(()) => queue.forget(&key),
//!         }
//!         // Dropping `key` marks it done; a re-add during the sync comes back now.
//!     }
//! }
//! ```

mod delaying;
mod metrics;
mod processing;
mod queue;
mod rate_limiter;

#[cfg(test)]
mod tests;

pub use processing::Processing;
pub use queue::{WorkQueue, WorkQueueBuilder};
pub use rate_limiter::{
    Bucket, ItemExponentialFailure, MaxOf, RateLimiter, default_controller_rate_limiter,
    namespace_controller_rate_limiter,
};
