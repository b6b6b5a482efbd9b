//! Shared informers: one list+watch per resource type for the whole process, an indexed cache
//! per type, and change notifications fanned out to every controller that registered a handler.
//! This is client-go's `SharedInformerFactory` / `sharedIndexInformer` / `Indexer` / listers,
//! built on kube's `watcher` (which already does list, watch, resume, relist on 410, bookmarks,
//! pagination and backoff) because kube-runtime's own `reflector::Store` has no indexes, no old
//! object on update, no delete fan-out and no late-subscriber replay.
//!
//! # Pieces
//! * [`SharedInformerFactory`] (`factory`): `informer::<K>()` returns the one [`Informer`] for
//!   `K`; `start` launches every requested informer (call it after all controllers are built,
//!   as KCM does); [`wait_for_named_cache_sync`] lets each controller wait for its own caches.
//! * [`Informer`] (`shared_informer`): runs `watcher(Api::<K>::all(client), ..)`, filled by a
//!   streaming list (`sendInitialEvents`, client-go's watch-list) and by paged LISTs only when
//!   the apiserver refuses that ([`FallbackToPaged`], `list_strategy`), with client-go's reflector backoff (`backoff`; kube's `default_backoff()` resets on the
//!   watcher's own `Init` marker, so a failing LIST never backed off), shrinks every object before caching ([`InformerType::shrink`]: KCM's
//!   `trim` transform, which drops managedFields), and maintains the cache. The run loop is generic over any stream of watcher
//!   events, so tests script it with no cluster. It starts once, with the token that stops it.
//! * Cache (`cache`): `HashMap<ObjectKey, Arc<K>>` plus secondary indices, both under one
//!   `parking_lot::RwLock`. Indexes per type come from [`InformerType::indexers`]: namespace for
//!   every namespaced type, [`INDEX_CONTROLLER_UID`] for pods and ReplicaSets,
//!   [`INDEX_NODE_NAME`] for pods.
//! * [`Lister`] (`lister`): cheap-clone read access: get, list, by namespace, by index, by
//!   label selector.
//! * [`ObjectKey`] (`key`): `namespace/name` or `name`, the work-queue key format.
//! * [`Delta`] and [`Handler`] (`delta`): `Added`, `Updated{old,new}`, `Deleted` (with a
//!   `final_state_unknown` tombstone flag).
//!
//! # Delivery semantics
//! * Deltas reach each handler in watch order, after the cache has been updated (a handler
//!   that reads a lister sees at least the state the delta describes).
//! * Each handler has an unbounded queue drained by its own task (client-go's
//!   `processorListener`): the dispatcher never waits for a handler. Handlers should only
//!   enqueue keys and touch expectations. A panicking handler is logged and keeps receiving.
//!   What the handlers of a type still have to run is `kcm_informer_handler_backlog{kind}`.
//! * A relist (`Init … InitDone`) is buffered and swapped in at `InitDone`. Then: `Added` for new
//!   keys; `Updated{old,new}` for every surviving key, even when the resourceVersion is
//!   unchanged, as client-go's `Replace` does (handlers skip equal versions, see
//!   [`Delta::is_same_resource_version`]); `Deleted{final_state_unknown: true}` exactly once
//!   for each key that vanished while the watch was down, which kube's watcher does not report.
//! * A handler registered late first receives every cached object as
//!   `Added{initial_list: true}`, atomically with respect to new events: each object exactly
//!   once, in the replay or in a later delta.
//! * Resync re-sends every cached object as `Updated{old: o, new: o}` (the same `Arc`) to each
//!   handler whose period has elapsed. The default period is the factory's, one random value
//!   in `[min_resync, 2·min_resync)`; a handler can ask for its own
//!   ([`Informer::add_handler_with_resync`], e.g. the namespace controller's 5 minutes).
//! * [`Informer::has_synced`] turns true once the first list has been cached and dispatched,
//!   and stays true across relists.
//!
//! # Runtime and testing
//! `add_handler` and `start` spawn Tokio tasks, so call them inside the runtime (controllers
//! are constructed in `main`'s async context). For tests of code that consumes informers,
//! [`Informer::detached`] + [`Informer::process_event`] script an informer synchronously and
//! [`Informer::wait_handlers_idle`] waits until the handlers have run; [`InformerStats`]
//! counts lists, adds, updates, watch deletes and relist tombstones for integration tests.

mod backoff;
mod cache;
mod delta;
mod factory;
mod index;
mod key;
mod kind;
mod list_strategy;
mod listener;
mod lister;
mod shared_informer;
mod stats;
mod sync;

#[cfg(test)]
mod tests;

pub use backoff::{ReflectorBackoff, RetryDelay};
pub use delta::{Delta, Handler};
pub use factory::{InformerStatus, SharedInformerFactory, jittered_resync};
pub use index::{
    INDEX_CONTROLLER_UID, INDEX_NAMESPACE, INDEX_NODE_NAME, IndexFn, controller_uid_index,
    namespace_index, orphan_index_key, pod_node_name_index,
};
pub use key::{InvalidKey, ObjectKey};
pub use kind::InformerType;
pub use list_strategy::{FallbackToPaged, ListStrategy, refuses_streaming};
pub use listener::{HandlerId, MIN_HANDLER_RESYNC};
pub use lister::Lister;
pub use shared_informer::{Informer, WatchStream};
pub use stats::InformerStats;
pub use sync::{HasSynced, wait_for_named_cache_sync};
