//! Whether the process is shutting down, as seen from inside a sync.
//!
//! On SIGTERM the workers stop taking keys and let the syncs in flight finish (so no request is
//! cut in half), but a sync must not *start* more writes than the one in flight: a scale-up from
//! 0 to 300 would otherwise go on creating pods in doubling batches for the whole drain (upstream
//! stops because its requests' context is cancelled). The worker runs each sync inside a scope
//! holding the controller's cancellation token; code that issues writes in rounds (the
//! ReplicaSet controller's slow-start batches) asks [`stopping`] before each round.
//!
//! A task-local keeps the `Reconcile` signature free of a token every sync would have to thread
//! through; outside a scope (unit tests, start-up hooks) nothing is ever stopping.

use std::future::Future;

use tokio_util::sync::CancellationToken;

tokio::task_local! {
    static SHUTDOWN: CancellationToken;
}

/// Runs `sync` with `shutdown` visible to [`stopping`].
pub async fn scope<F: Future>(shutdown: CancellationToken, sync: F) -> F::Output {
    SHUTDOWN.scope(shutdown, sync).await
}

/// True once the controller running this sync has been told to stop.
pub fn stopping() -> bool {
    SHUTDOWN
        .try_with(CancellationToken::is_cancelled)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests;
