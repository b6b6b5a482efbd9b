//! The delayed half of the work queue: keys that will be added once their deadline passes.
//!
//! Mirrors client-go's `delaying_queue.go`. `add_after` stays a plain non-blocking function by
//! sending `(key, deadline)` over an unbounded channel to one background task, the
//! [`waiting_loop`], which owns the set of waiting keys. A key waits at most once: a second
//! `add_after` for a key that is already waiting keeps the **earlier** deadline (client-go
//! `insert` in `waitingLoop`), so frequent events can bring a retry forward but never push it back.
//!
//! The loop holds only a weak reference to the queue and ends when the queue shuts down or is
//! dropped; keys still waiting then are discarded, as upstream.

use std::{
    collections::{BTreeMap, HashMap},
    hash::Hash,
    sync::Weak,
    time::Duration,
};

use prometheus::IntGauge;
use tokio::{sync::mpsc, time::Instant};
use tokio_util::sync::CancellationToken;

use super::WorkQueue;

/// Where a delay too long to represent ends up (Go's `InfDuration` from a refusing limiter).
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The deadline `delay` from now, saturating instead of overflowing.
pub(super) fn deadline_after(delay: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(delay.min(FAR_FUTURE))
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

/// Keys waiting for their deadline, each at most once, with the earliest deadline requested.
pub(super) struct Waiting<T> {
    /// Ordered by deadline; the sequence number keeps equal deadlines apart (and FIFO).
    by_deadline: BTreeMap<(Instant, u64), T>,
    by_key: HashMap<T, (Instant, u64)>,
    next_seq: u64,
}

impl<T: Eq + Hash + Clone> Waiting<T> {
    pub(super) fn new() -> Self {
        Self {
            by_deadline: BTreeMap::new(),
            by_key: HashMap::new(),
            next_seq: 0,
        }
    }

    /// Schedules `item` at `ready_at` unless it is already scheduled no later.
    pub(super) fn insert(&mut self, item: T, ready_at: Instant) {
        if let Some(&(current, seq)) = self.by_key.get(&item) {
            if current <= ready_at {
                return;
            }
            self.by_deadline.remove(&(current, seq));
        }
        let slot = (ready_at, self.next_seq);
        self.next_seq += 1;
        self.by_deadline.insert(slot, item.clone());
        self.by_key.insert(item, slot);
    }

    /// The earliest deadline, if anything waits.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.keys().next().map(|(at, _)| *at)
    }

    /// Removes and returns every key whose deadline is at or before `now`, earliest first.
    pub(super) fn pop_due(&mut self, now: Instant) -> Vec<T> {
        let mut due = Vec::new();
        while let Some(entry) = self.by_deadline.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let item = entry.remove();
            self.by_key.remove(&item);
            due.push(item);
        }
        due
    }

    pub(super) fn len(&self) -> usize {
        self.by_key.len()
    }
}

/// client-go `waitingLoop`: receives delayed adds, sleeps until the earliest deadline and hands
/// due keys to [`WorkQueue::add`].
pub(super) async fn waiting_loop<T>(
    queue: Weak<WorkQueue<T>>,
    mut requests: mpsc::UnboundedReceiver<(T, Instant)>,
    stop: CancellationToken,
    delayed_items: Option<IntGauge>,
) where
    T: Eq + Hash + Clone + std::fmt::Debug + Send + Sync + 'static,
{
    let mut waiting = Waiting::new();
    loop {
        let next = waiting.next_deadline();
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            request = requests.recv() => match request {
                Some((item, ready_at)) => waiting.insert(item, ready_at),
                // Every sender is gone: the queue was dropped.
                None => break,
            },
            () = sleep_until_or_forever(next) => {}
        }
        let due = waiting.pop_due(Instant::now());
        if let Some(gauge) = &delayed_items {
            gauge.set(i64::try_from(waiting.len()).unwrap_or(i64::MAX));
        }
        if due.is_empty() {
            continue;
        }
        let Some(queue) = queue.upgrade() else { break };
        for item in due {
            queue.add(item);
        }
    }
    if let Some(gauge) = &delayed_items {
        gauge.set(0);
    }
    tracing::trace!(discarded = waiting.len(), "work queue waiting loop stopped");
}

async fn sleep_until_or_forever(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
