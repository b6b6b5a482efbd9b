//! What an informer tells its handlers, and the handler trait itself.
//!
//! One `Delta` is client-go's `OnAdd`/`OnUpdate`/`OnDelete` call in data form. Unlike kube's
//! watcher events, an update carries the old object next to the new one (controllers need both,
//! e.g. a pod leaving a Service's selector), and a delete may be a tombstone for an object that
//! vanished while the watch was down (client-go `DeletedFinalStateUnknown`).

use std::sync::Arc;

use crate::meta::ObjectMetaRead;

use super::key::ObjectKey;

/// A change to one cached object, delivered to every handler in watch order.
#[derive(Debug)]
pub enum Delta<K> {
    /// A key appeared. `initial_list` is true for objects of the informer's first list and for
    /// the replay a late handler receives (client-go `isInInitialList`).
    Added { obj: Arc<K>, initial_list: bool },
    /// A key changed. After a relist and on resync `old` and `new` may carry the same
    /// resourceVersion (on resync they are the same `Arc`); handlers skip those where upstream does.
    Updated { old: Arc<K>, new: Arc<K> },
    /// A key went away. `obj` is the object's last known state. `final_state_unknown` marks a
    /// tombstone: the object was found missing at a relist, so `obj` is the cached state and the
    /// real final state was never seen (client-go `DeletedFinalStateUnknown`).
    Deleted {
        obj: Arc<K>,
        final_state_unknown: bool,
    },
}

// Derived `Clone` would require `K: Clone`; only the `Arc`s are cloned.
impl<K> Clone for Delta<K> {
    fn clone(&self) -> Self {
        match self {
            Self::Added { obj, initial_list } => Self::Added {
                obj: Arc::clone(obj),
                initial_list: *initial_list,
            },
            Self::Updated { old, new } => Self::Updated {
                old: Arc::clone(old),
                new: Arc::clone(new),
            },
            Self::Deleted {
                obj,
                final_state_unknown,
            } => Self::Deleted {
                obj: Arc::clone(obj),
                final_state_unknown: *final_state_unknown,
            },
        }
    }
}

impl<K: ObjectMetaRead> Delta<K> {
    /// The object's current state: the new object of an update, the last state of a delete.
    pub fn object(&self) -> &Arc<K> {
        match self {
            Self::Added { obj, .. } | Self::Deleted { obj, .. } => obj,
            Self::Updated { new, .. } => new,
        }
    }

    /// The work-queue key of the object this delta is about.
    pub fn key(&self) -> ObjectKey {
        self.object().cache_key()
    }

    /// True for an update whose old and new objects carry the same resourceVersion: a resync
    /// or a relist that found the object unchanged. Upstream handlers such as the ReplicaSet
    /// controller's `updatePod` return early on exactly this condition.
    pub fn is_same_resource_version(&self) -> bool {
        match self {
            Self::Updated { old, new } => {
                old.meta_resource_version().is_some()
                    && old.meta_resource_version() == new.meta_resource_version()
            }
            Self::Added { .. } | Self::Deleted { .. } => false,
        }
    }
}

/// Receives an informer's deltas (client-go `ResourceEventHandler`).
///
/// Each handler runs on its own task, fed by an unbounded queue, so a slow handler delays only
/// itself, never the watch or the other handlers. Handlers should still only do cheap work
/// (enqueue keys, adjust expectations): a handler that falls behind holds every queued delta,
/// and therefore every object version it references, in memory.
pub trait Handler<K>: Send + Sync + 'static {
    fn on_delta(&self, delta: &Delta<K>);
}

impl<K, F> Handler<K> for F
where
    F: Fn(&Delta<K>) + Send + Sync + 'static,
{
    fn on_delta(&self, delta: &Delta<K>) {
        self(delta)
    }
}

#[cfg(test)]
mod tests;
