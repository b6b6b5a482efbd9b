//! [`WorkQueue`]: client-go's rate-limiting work queue (`queue.go`, `delaying_queue.go`,
//! `rate_limiting_queue.go`) as one type.
//!
//! The core is three collections behind one mutex: `queue` (FIFO of keys ready to hand out),
//! `dirty` (keys that need processing) and `processing` (keys a worker holds). Their interplay
//! gives the guarantees controllers rely on:
//! * a key waiting in the queue is there once, however often it is added;
//! * a key is never handed to two workers at once: adding a key that is being processed only
//!   marks it dirty, and [`WorkQueue::done`] puts it back, so any number of adds during
//!   processing collapse into exactly one more round.
//!
//! Adding is synchronous and never blocks, so informer event handlers can enqueue directly.
//! Taking is async. Delayed adds go to a background task (see [`super::delaying`]), which is
//! why a queue must be built inside a tokio runtime.

use std::{
    collections::{HashSet, VecDeque},
    fmt,
    hash::Hash,
    sync::{Arc, Weak},
    time::Duration,
};

use parking_lot::Mutex;
use tokio::{
    sync::{Notify, mpsc},
    time::{Instant, MissedTickBehavior},
};
use tokio_util::sync::CancellationToken;

use super::{
    Processing,
    delaying::{deadline_after, waiting_loop},
    metrics::QueueMetrics,
    rate_limiter::{RateLimiter, default_controller_rate_limiter},
};

/// How often the "unfinished work" gauges are refreshed (client-go's metrics update period).
const UNFINISHED_WORK_UPDATE_PERIOD: Duration = Duration::from_millis(500);

/// Whether the queue still accepts keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// Shut down; new adds are ignored, queued keys are still handed out.
    ShutDown,
    /// Shut down, and someone waits in [`WorkQueue::shut_down_with_drain`] for `processing` to
    /// empty. A plain `shut_down` during the wait turns this back into `ShutDown` and releases
    /// the waiter, as upstream.
    Draining,
}

struct State<T> {
    phase: Phase,
    queue: VecDeque<T>,
    dirty: HashSet<T>,
    processing: HashSet<T>,
    metrics: QueueMetrics<T>,
}

/// A deduplicating, rate-limited work queue of keys with client-go semantics.
///
/// Shared as `Arc<WorkQueue<T>>` between event handlers (which add) and worker tasks (which
/// [`get`](Self::get), process and call [`done`](Self::done)).
pub struct WorkQueue<T> {
    name: Option<String>,
    state: Mutex<State<T>>,
    /// Wakes getters when a key is pushed or the queue shuts down.
    item_ready: Notify,
    /// Wakes `shut_down_with_drain` when `processing` empties or draining is called off.
    processing_drained: Notify,
    rate_limiter: Box<dyn RateLimiter<T>>,
    /// Feeds the waiting loop; sends fail only once that loop has stopped, i.e. at shutdown.
    delayed: mpsc::UnboundedSender<(T, Instant)>,
    /// Stops the background tasks.
    stop: CancellationToken,
}

/// Configures a [`WorkQueue`].
pub struct WorkQueueBuilder<T> {
    name: Option<String>,
    rate_limiter: Option<Box<dyn RateLimiter<T>>>,
}

impl<T> WorkQueueBuilder<T>
where
    T: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static,
{
    /// Names the queue; a named queue exports the `workqueue_*` metrics with label `name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Replaces the default controller rate limiter used by `add_rate_limited`.
    pub fn rate_limiter(mut self, rate_limiter: impl RateLimiter<T> + 'static) -> Self {
        self.rate_limiter = Some(Box::new(rate_limiter));
        self
    }

    /// Creates the queue and starts its background tasks.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn build(self) -> Arc<WorkQueue<T>> {
        let metrics = match &self.name {
            Some(name) => QueueMetrics::named(name),
            None => QueueMetrics::disabled(),
        };
        let metrics_enabled = metrics.is_enabled();
        let delayed_items = self.name.as_deref().and_then(super::metrics::delayed_items);
        let (delayed, requests) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let queue = Arc::new(WorkQueue {
            name: self.name,
            state: Mutex::new(State {
                phase: Phase::Running,
                queue: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashSet::new(),
                metrics,
            }),
            item_ready: Notify::new(),
            processing_drained: Notify::new(),
            rate_limiter: self
                .rate_limiter
                .unwrap_or_else(|| Box::new(default_controller_rate_limiter())),
            delayed,
            stop: stop.clone(),
        });
        tokio::spawn(waiting_loop(
            Arc::downgrade(&queue),
            requests,
            stop.clone(),
            delayed_items,
        ));
        if metrics_enabled {
            tokio::spawn(unfinished_work_loop(Arc::downgrade(&queue), stop));
        }
        queue
    }
}

impl<T> WorkQueue<T>
where
    T: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static,
{
    /// A named queue with the default controller rate limiter (client-go
    /// `NewTypedRateLimitingQueueWithConfig(DefaultTypedControllerRateLimiter(), {Name: name})`).
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn new(name: impl Into<String>) -> Arc<Self> {
        Self::builder().name(name).build()
    }

    /// An unnamed queue (no metrics) with the default rate limiter, to be configured further.
    pub fn builder() -> WorkQueueBuilder<T> {
        WorkQueueBuilder {
            name: None,
            rate_limiter: None,
        }
    }

    /// The metrics name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Marks `item` as needing processing (client-go `Add`). Ignored after shutdown.
    pub fn add(&self, item: T) {
        let mut state = self.state.lock();
        if state.phase != Phase::Running || state.dirty.contains(&item) {
            return;
        }
        state.metrics.add(&item);
        state.dirty.insert(item.clone());
        if state.processing.contains(&item) {
            // `done` will queue it again.
            return;
        }
        state.queue.push_back(item);
        drop(state);
        self.item_ready.notify_one();
    }

    /// Adds `item` once `delay` has passed (client-go `AddAfter`). If `item` is already waiting,
    /// the earlier of the two deadlines is kept. Counts a retry in the metrics, even for a zero
    /// delay.
    pub fn add_after(&self, item: T, delay: Duration) {
        {
            let state = self.state.lock();
            if state.phase != Phase::Running {
                return;
            }
            state.metrics.retry();
        }
        if delay.is_zero() {
            self.add(item);
            return;
        }
        if self.delayed.send((item, deadline_after(delay))).is_err() {
            tracing::debug!(queue = ?self.name, "delayed add after the waiting loop stopped");
        }
    }

    /// Adds `item` after the delay the rate limiter assigns to its next failure (client-go
    /// `AddRateLimited`).
    pub fn add_rate_limited(&self, item: T) {
        let delay = self.rate_limiter.when(&item);
        self.add_after(item, delay);
    }

    /// Clears `item`'s failure history in the rate limiter; call it after a successful sync.
    pub fn forget(&self, item: &T) {
        self.rate_limiter.forget(item);
    }

    /// How many rate-limited re-adds of `item` happened since it was last forgotten.
    pub fn num_requeues(&self, item: &T) -> u32 {
        self.rate_limiter.num_requeues(item)
    }

    /// Waits for the next key and marks it as processing (client-go `Get`). The caller must call
    /// [`done`](Self::done) with it. Returns `None` once the queue is shut down and empty.
    pub async fn get(&self) -> Option<T> {
        loop {
            // Register interest before looking, so a push between the look and the wait
            // still wakes us.
            let notified = self.item_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.state.lock();
                if let Some(item) = state.queue.pop_front() {
                    state.metrics.get(&item);
                    state.processing.insert(item.clone());
                    state.dirty.remove(&item);
                    return Some(item);
                }
                if state.phase != Phase::Running {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Like [`get`](Self::get), but returns a guard that calls `done` when dropped, also when
    /// the worker panics.
    pub async fn get_guarded(self: &Arc<Self>) -> Option<Processing<T>> {
        let item = self.get().await?;
        Some(Processing::new(Arc::clone(self), item))
    }

    /// Ends processing of `item` (client-go `Done`). If it was added meanwhile, it is queued
    /// again now.
    pub fn done(&self, item: &T) {
        let mut state = self.state.lock();
        state.metrics.done(item);
        state.processing.remove(item);
        let requeued = state.dirty.contains(item);
        if requeued {
            state.queue.push_back(item.clone());
        }
        let drained = state.processing.is_empty();
        drop(state);
        if requeued {
            self.item_ready.notify_one();
        }
        if drained {
            self.processing_drained.notify_waiters();
        }
    }

    /// Number of keys ready to be handed out (keys being processed or waiting for a delay are
    /// not counted, as upstream).
    pub fn len(&self) -> usize {
        self.state.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_shutting_down(&self) -> bool {
        self.state.lock().phase != Phase::Running
    }

    /// Stops accepting keys and wakes all getters (client-go `ShutDown`). Keys already queued
    /// are still handed out; after that `get` returns `None`. Delayed keys are dropped.
    pub fn shut_down(&self) {
        self.state.lock().phase = Phase::ShutDown;
        self.begin_shutdown();
        // Releases a pending `shut_down_with_drain`.
        self.processing_drained.notify_waiters();
    }

    /// Shuts down like [`shut_down`](Self::shut_down), then waits until every key handed out
    /// has been marked done (client-go `ShutDownWithDrain`). Returns early if `shut_down` is
    /// called meanwhile.
    pub async fn shut_down_with_drain(&self) {
        self.state.lock().phase = Phase::Draining;
        self.begin_shutdown();
        loop {
            let drained = self.processing_drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            {
                let state = self.state.lock();
                if state.phase != Phase::Draining || state.processing.is_empty() {
                    return;
                }
            }
            drained.await;
        }
    }

    fn begin_shutdown(&self) {
        tracing::debug!(queue = ?self.name, "shutting down work queue");
        self.stop.cancel();
        self.item_ready.notify_waiters();
    }
}

impl<T> Drop for WorkQueue<T> {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl<T> fmt::Debug for WorkQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("WorkQueue")
            .field("name", &self.name)
            .field("phase", &state.phase)
            .field("queued", &state.queue.len())
            .field("processing", &state.processing.len())
            .finish_non_exhaustive()
    }
}

/// Refreshes `workqueue_unfinished_work_seconds` and `workqueue_longest_running_processor_seconds`
/// while the queue lives (client-go `updateUnfinishedWorkLoop`).
async fn unfinished_work_loop<T>(queue: Weak<WorkQueue<T>>, stop: CancellationToken)
where
    T: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static,
{
    let mut ticker = tokio::time::interval(UNFINISHED_WORK_UPDATE_PERIOD);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let Some(queue) = queue.upgrade() else { break };
        queue.state.lock().metrics.update_unfinished_work();
    }
}
