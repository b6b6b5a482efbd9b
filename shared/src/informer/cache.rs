//! The indexed object cache behind one informer.
//!
//! Items and secondary indices live in one struct so that a single `RwLock` guards both: a
//! lister can never see an index entry pointing at an object that is not (or no longer) in the
//! item map. This is client-go's `threadSafeMap` + `storeIndex`; only the informer's dispatcher
//! writes, listers read.
//!
//! Objects are stored as `Arc<K>`: readers get cheap clones and cannot mutate cached state,
//! which is client-go's "never mutate objects from the cache" rule enforced by the type system.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::meta::ObjectMetaRead;

use super::delta::Delta;
use super::index::IndexFn;
use super::key::ObjectKey;

/// Index name → index value → keys of the objects carrying that value.
type Indices = HashMap<&'static str, HashMap<String, HashSet<ObjectKey>>>;

pub(crate) struct Cache<K> {
    items: HashMap<ObjectKey, Arc<K>>,
    indexers: Vec<(&'static str, IndexFn<K>)>,
    indices: Indices,
    /// The newest resourceVersion the cache has taken in (client-go's
    /// `LastStoreSyncResourceVersion`); 0 before the first object.
    last_sync_resource_version: u64,
}

/// The result of a full relist ready to be swapped in: the objects in list order.
pub(crate) struct Listing<K> {
    items: HashMap<ObjectKey, Arc<K>>,
    order: Vec<ObjectKey>,
}

impl<K> Default for Listing<K> {
    fn default() -> Self {
        Self {
            items: HashMap::new(),
            order: Vec::new(),
        }
    }
}

impl<K: ObjectMetaRead> Listing<K> {
    pub(crate) fn push(&mut self, obj: Arc<K>) {
        let key = obj.cache_key();
        // A key listed twice keeps its first position and its last state.
        if self.items.insert(key.clone(), obj).is_none() {
            self.order.push(key);
        }
    }
}

impl<K: ObjectMetaRead> Cache<K> {
    pub(crate) fn new(indexers: Vec<(&'static str, IndexFn<K>)>) -> Self {
        let indices = indexers
            .iter()
            .map(|(name, _)| (*name, HashMap::new()))
            .collect();
        Self {
            items: HashMap::new(),
            indexers,
            indices,
            last_sync_resource_version: 0,
        }
    }

    /// Notes that the cache has taken in an object (or a deletion) at `resource_version`.
    /// Versions that are not etcd's decimal counters are ignored, as client-go's comparison
    /// refuses them.
    pub(crate) fn observe_resource_version(&mut self, resource_version: Option<&str>) {
        if let Some(rv) = resource_version.and_then(|rv| rv.parse::<u64>().ok()) {
            self.last_sync_resource_version = self.last_sync_resource_version.max(rv);
        }
    }

    /// The newest resourceVersion taken in, `None` before any.
    pub(crate) fn last_sync_resource_version(&self) -> Option<u64> {
        Some(self.last_sync_resource_version).filter(|&rv| rv > 0)
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn get(&self, key: &ObjectKey) -> Option<&Arc<K>> {
        self.items.get(key)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Arc<K>> {
        self.items.values()
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &ObjectKey> {
        self.items.keys()
    }

    pub(crate) fn has_index(&self, index: &str) -> bool {
        self.indices.contains_key(index)
    }

    /// Keys carrying `value` in `index`; `None` if no such index is registered.
    pub(crate) fn index_keys(
        &self,
        index: &str,
        value: &str,
    ) -> Option<impl Iterator<Item = &ObjectKey>> {
        let by_value = self.indices.get(index)?;
        Some(by_value.get(value).into_iter().flatten())
    }

    /// Every value currently present in `index` (client-go `ListIndexFuncValues`).
    pub(crate) fn index_values(&self, index: &str) -> Vec<String> {
        self.indices
            .get(index)
            .map(|by_value| by_value.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Inserts or replaces an object; returns the previous state.
    pub(crate) fn upsert(&mut self, obj: Arc<K>) -> Option<Arc<K>> {
        let key = obj.cache_key();
        let old = self.items.insert(key.clone(), Arc::clone(&obj));
        if let Some(old) = &old {
            self.unindex(&key, old);
        }
        self.index(&key, &obj);
        old
    }

    /// Removes an object; returns its cached state if it was present.
    pub(crate) fn remove(&mut self, key: &ObjectKey) -> Option<Arc<K>> {
        let old = self.items.remove(key)?;
        self.unindex(key, &old);
        Some(old)
    }

    /// Swaps in a complete relist and returns what changed, in watch-handler terms: `Added` for
    /// new keys, `Updated{old,new}` for every surviving key (even if unchanged, as client-go's
    /// `Replace` does), and a `Deleted` tombstone for every key that is gone. Mirrors
    /// client-go `RealFIFO.Replace` + `processDeltas`; the tombstones are what kube's watcher does
    /// not produce by itself.
    pub(crate) fn replace(&mut self, listing: Listing<K>, initial_list: bool) -> Vec<Delta<K>> {
        let Listing { items, order } = listing;
        for obj in items.values() {
            self.observe_resource_version(obj.meta_resource_version());
        }
        let mut old_items = std::mem::replace(&mut self.items, items);
        self.rebuild_indices();

        let mut deltas = Vec::with_capacity(order.len());
        for key in &order {
            let new = Arc::clone(&self.items[key]);
            deltas.push(match old_items.remove(key) {
                Some(old) => Delta::Updated { old, new },
                None => Delta::Added {
                    obj: new,
                    initial_list,
                },
            });
        }
        let mut vanished: Vec<(ObjectKey, Arc<K>)> = old_items.into_iter().collect();
        vanished.sort_by(|a, b| a.0.cmp(&b.0));
        deltas.extend(vanished.into_iter().map(|(_, obj)| Delta::Deleted {
            obj,
            final_state_unknown: true,
        }));
        deltas
    }

    fn rebuild_indices(&mut self) {
        for by_value in self.indices.values_mut() {
            by_value.clear();
        }
        for (key, obj) in &self.items {
            for (name, index_fn) in &self.indexers {
                let by_value = self.indices.entry(*name).or_default();
                for value in index_fn(obj) {
                    by_value.entry(value).or_default().insert(key.clone());
                }
            }
        }
    }

    fn index(&mut self, key: &ObjectKey, obj: &K) {
        for (name, index_fn) in &self.indexers {
            let by_value = self.indices.entry(*name).or_default();
            for value in index_fn(obj) {
                by_value.entry(value).or_default().insert(key.clone());
            }
        }
    }

    fn unindex(&mut self, key: &ObjectKey, obj: &K) {
        for (name, index_fn) in &self.indexers {
            let Some(by_value) = self.indices.get_mut(name) else {
                continue;
            };
            for value in index_fn(obj) {
                if let Some(keys) = by_value.get_mut(&value) {
                    keys.remove(key);
                    // Drop empty sets so that values of long-gone objects do not pile up.
                    if keys.is_empty() {
                        by_value.remove(&value);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
