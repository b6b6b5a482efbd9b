//! What a panic does to the process: never leave a silent zombie.
//!
//! A Go panic outside a `recover` kills kube-controller-manager and the kubelet restarts it.
//! In Rust a panic only ends the task it happens in: a panicking informer loop, event sink or a
//! client's internal buffer worker (kube spawns one per client; with it gone every request of
//! that client fails) would leave a process that looks alive — `/healthz` 200 — while part of it
//! is dead. So every panic goes through [`install`]'s hook:
//!
//! * inside a **recoverable** scope — a controller sync, a periodic pass, one informer handler
//!   call, whose callers catch the panic, count it and retry — it is logged at error level and
//!   nothing else happens;
//! * anywhere else it is **fatal**: logged with its location and thread, the `panics` health
//!   check fails (so `/healthz` says which part died), and the [`Fatal`] token fires; the
//!   process then shuts down as on SIGTERM and exits 1, so the kubelet restarts it.
//!
//! Recoverable scopes are marked with [`recoverable`] (async) or [`recoverable_sync`].

use std::cell::Cell;
use std::future::Future;
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;
use prometheus::{IntCounterVec, register_int_counter_vec};
use tokio_util::sync::CancellationToken;

use crate::health::HealthChecks;

/// The health check that fails once a fatal panic happened.
pub const HEALTH_CHECK: &str = "panics";

/// Every panic the hook saw, by whether it was recoverable.
pub static PANICS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "kcm_panics_total",
        "Panics in the process, by outcome: recovered (a sync, pass or handler call that is \
         retried) or fatal (the process shuts down and exits 1).",
        &["outcome"]
    )
    .expect("kcm_panics_total registers once")
});

tokio::task_local! {
    static RECOVERABLE: ();
}

thread_local! {
    static RECOVERABLE_SYNC: Cell<u32> = const { Cell::new(0) };
}

/// Runs `future` as a recoverable scope: a panic inside is the caller's to catch.
pub async fn recoverable<F: Future>(future: F) -> F::Output {
    RECOVERABLE.scope((), future).await
}

/// Runs `f` as a recoverable scope on this thread (for synchronous `catch_unwind` callers).
pub fn recoverable_sync<T>(f: impl FnOnce() -> T) -> T {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            RECOVERABLE_SYNC.with(|depth| depth.set(depth.get().saturating_sub(1)));
        }
    }
    RECOVERABLE_SYNC.with(|depth| depth.set(depth.get() + 1));
    let _leave = Leave;
    f()
}

/// Whether code running here is inside a recoverable scope.
pub fn in_recoverable_scope() -> bool {
    RECOVERABLE.try_with(|()| ()).is_ok() || RECOVERABLE_SYNC.with(|depth| depth.get() > 0)
}

/// Fires once a fatal panic happened; carries what panicked.
#[derive(Clone, Default)]
pub struct Fatal {
    token: CancellationToken,
    what: Arc<Mutex<Option<String>>>,
}

impl Fatal {
    /// Resolves when a fatal panic happened.
    pub async fn happened(&self) {
        self.token.cancelled().await;
    }

    /// The first fatal panic, if any.
    pub fn what(&self) -> Option<String> {
        self.what.lock().clone()
    }

    fn trigger(&self, what: String) {
        self.what.lock().get_or_insert(what);
        self.token.cancel();
    }
}

/// Installs the process's panic hook (once; later calls replace it) and registers the `panics`
/// health check. Returns the token the process watches to shut down.
pub fn install(checks: &HealthChecks) -> Fatal {
    let fatal = Fatal::default();
    let status = fatal.clone();
    checks.add_health(HEALTH_CHECK, move || match status.what() {
        Some(what) => Err(format!("a long-lived task panicked: {what}")),
        None => Ok(()),
    });
    let trigger = fatal.clone();
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = panic_message(info.payload());
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        if in_recoverable_scope() {
            PANICS.with_label_values(&["recovered"]).inc();
            tracing::error!(%location, %thread, panic = %message, "panic in a sync; it is retried");
        } else {
            PANICS.with_label_values(&["fatal"]).inc();
            tracing::error!(
                %location, %thread, panic = %message,
                "panic outside any recoverable scope; shutting down to exit 1"
            );
            trigger.trigger(format!("{message} at {location}"));
        }
    }));
    fatal
}

/// The text of a panic payload (`&str` or `String`; anything else is unnamed).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic payload)".into())
}

#[cfg(test)]
mod tests;
