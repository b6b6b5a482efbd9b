//! One registered handler: its unbounded delta queue, the task that drains it, and its resync
//! schedule. Mirrors client-go's `processorListener`.
//!
//! The informer's dispatcher only pushes into the queue, which never blocks, so a slow handler
//! cannot stall the watch or its sibling handlers. Each handler still sees deltas strictly in
//! watch order because one task drains its queue sequentially.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use prometheus::{IntGauge, IntGaugeVec};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::delta::{Delta, Handler};

/// client-go `minimumResyncPeriod`: shorter non-zero handler resync periods are raised to it.
pub const MIN_HANDLER_RESYNC: Duration = Duration::from_secs(1);

/// Identifies a registered handler, for `Informer::remove_handler`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HandlerId(pub(crate) u64);

/// Deltas queued for, or being run by, any handler of one informer, exported as
/// `kcm_informer_handler_backlog{kind}` (a growing value means some handler is too slow). Lets
/// tests (and a graceful shutdown) wait until every handler has caught up with what was
/// dispatched so far.
#[derive(Default)]
pub(crate) struct Backlog {
    pending: AtomicUsize,
    drained: Notify,
    gauge: Option<IntGauge>,
}

static HANDLER_BACKLOG: LazyLock<Option<IntGaugeVec>> = LazyLock::new(|| {
    prometheus::register_int_gauge_vec!(
        "kcm_informer_handler_backlog",
        "Deltas dispatched by an informer that its event handlers have not finished yet, by kind.",
        &["kind"]
    )
    .inspect_err(|error| tracing::error!(%error, "cannot register kcm_informer_handler_backlog"))
    .ok()
});

impl Backlog {
    /// A backlog exported under `kind`.
    pub(crate) fn for_kind(kind: &str) -> Self {
        Self {
            gauge: HANDLER_BACKLOG
                .as_ref()
                .map(|family| family.with_label_values(&[kind])),
            ..Self::default()
        }
    }

    fn push(&self) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        if let Some(gauge) = &self.gauge {
            gauge.inc();
        }
    }

    fn pop(&self) {
        if let Some(gauge) = &self.gauge {
            gauge.dec();
        }
        if self.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.drained.notify_waiters();
        }
    }

    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    pub(crate) async fn wait_drained(&self) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            // Register before checking, so a drain between the check and the await is not missed.
            drained.as_mut().enable();
            if self.pending() == 0 {
                return;
            }
            drained.await;
        }
    }
}

pub(crate) struct Listener<K> {
    pub(crate) id: HandlerId,
    queue: mpsc::UnboundedSender<Delta<K>>,
    /// `None`: this handler never resyncs.
    resync_period: Option<Duration>,
    next_resync: Option<Instant>,
}

impl<K: Send + Sync + 'static> Listener<K> {
    /// Starts the handler's task. Must be called within a Tokio runtime.
    pub(crate) fn spawn(
        id: HandlerId,
        handler: impl Handler<K>,
        resync_period: Duration,
        backlog: Arc<Backlog>,
        kind: String,
    ) -> Self {
        let (queue, mut deltas) = mpsc::unbounded_channel::<Delta<K>>();
        tokio::spawn(async move {
            while let Some(delta) = deltas.recv().await {
                // A panicking handler must not take the queue down with it: later deltas would be
                // lost silently. client-go crashes the process instead; we log and carry on
                // (a recoverable scope: the panic hook only counts it, see crate::panics).
                let call = AssertUnwindSafe(|| handler.on_delta(&delta));
                if catch_unwind(|| crate::panics::recoverable_sync(call)).is_err() {
                    tracing::error!(kind = %kind, handler = id.0, "informer event handler panicked");
                }
                backlog.pop();
            }
        });
        let resync_period =
            (!resync_period.is_zero()).then(|| resync_period.max(MIN_HANDLER_RESYNC));
        Self {
            id,
            queue,
            resync_period,
            next_resync: resync_period.map(|period| Instant::now() + period),
        }
    }

    /// Queues a delta for the handler; never blocks.
    pub(crate) fn send(&self, delta: Delta<K>, backlog: &Backlog) {
        backlog.push();
        if self.queue.send(delta).is_err() {
            // The task is gone (runtime shutting down); nobody will pop this entry.
            backlog.pop();
        }
    }

    pub(crate) fn next_resync(&self) -> Option<Instant> {
        self.next_resync
    }

    pub(crate) fn resync_due(&self, now: Instant) -> bool {
        self.next_resync.is_some_and(|at| at <= now)
    }

    pub(crate) fn schedule_next_resync(&mut self, now: Instant) {
        self.next_resync = self.resync_period.map(|period| now + period);
    }
}

#[cfg(test)]
mod tests;
