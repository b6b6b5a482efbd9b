//! [`Processing`]: a key handed out by the queue, marked done when the guard goes away.
//!
//! A worker that forgets `done` (an early return, a `?`, a panic in the sync function) leaves its
//! key in `processing` forever, and every later add of that key is swallowed. Holding the key in
//! a guard makes `done` unconditional.

use std::{fmt, hash::Hash, ops::Deref, sync::Arc};

use super::WorkQueue;

/// A key being processed; calls [`WorkQueue::done`] on drop.
pub struct Processing<T>
where
    T: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static,
{
    queue: Arc<WorkQueue<T>>,
    item: T,
}

impl<T> Processing<T>
where
    T: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static,
{
    pub(super) fn new(queue: Arc<WorkQueue<T>>, item: T) -> Self {
        Self { queue, item }
    }

    pub fn item(&self) -> &T {
        &self.item
    }

    /// The queue the key came from, e.g. to `forget` or `add_rate_limited` it.
    pub fn queue(&self) -> &Arc<WorkQueue<T>> {
        &self.queue
    }
}

impl<T> Deref for Processing<T>
where
    T: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static,
{
    type Target = T;

    fn deref(&self) -> &T {
        &self.item
    }
}

impl<T> Drop for Processing<T>
where
    T: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static,
{
    fn drop(&mut self) {
        self.queue.done(&self.item);
    }
}

impl<T> fmt::Debug for Processing<T>
where
    T: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Processing").field(&self.item).finish()
    }
}
