//! Read-only views of an informer's cache (client-go's generated listers plus `GetIndexer`).
//!
//! A `Lister` is a cheap handle (one `Arc`) that controllers keep and clone freely. Every call
//! takes the cache's read lock once and returns `Arc<K>` clones, so results are a consistent
//! snapshot and never borrow the cache. Result order is unspecified, as upstream.

use std::sync::Arc;

use crate::meta::ObjectMetaRead;
use parking_lot::RwLock;

use super::cache::Cache;
use super::index::INDEX_NAMESPACE;
use super::key::ObjectKey;

pub struct Lister<K> {
    cache: Arc<RwLock<Cache<K>>>,
}

impl<K> Clone for Lister<K> {
    fn clone(&self) -> Self {
        Self {
            cache: Arc::clone(&self.cache),
        }
    }
}

impl<K: ObjectMetaRead> Lister<K> {
    pub(crate) fn new(cache: Arc<RwLock<Cache<K>>>) -> Self {
        Self { cache }
    }

    /// The newest resourceVersion the cache has taken in (client-go's
    /// `LastStoreSyncResourceVersion`): a controller that wrote an object at version V reads
    /// its own write once this is at least V. `None` before the first object.
    pub fn last_sync_resource_version(&self) -> Option<u64> {
        self.cache.read().last_sync_resource_version()
    }

    pub fn get(&self, key: &ObjectKey) -> Option<Arc<K>> {
        self.cache.read().get(key).cloned()
    }

    /// `Pods(namespace).Get(name)`.
    pub fn get_namespaced(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.get(&ObjectKey::namespaced(namespace, name))
    }

    /// `Nodes().Get(name)`, for cluster-scoped types.
    pub fn get_cluster_scoped(&self, name: &str) -> Option<Arc<K>> {
        self.get(&ObjectKey::cluster_scoped(name))
    }

    /// Looks up a work-queue key (`namespace/name` or `name`); a malformed key finds nothing.
    pub fn get_by_key(&self, key: &str) -> Option<Arc<K>> {
        self.get(&ObjectKey::parse(key).ok()?)
    }

    pub fn list(&self) -> Vec<Arc<K>> {
        self.cache.read().values().cloned().collect()
    }

    pub fn keys(&self) -> Vec<ObjectKey> {
        self.cache.read().keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.cache.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every object in `namespace`, through the namespace index when the type has one
    /// (client-go `ListAllByNamespace`).
    pub fn list_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        let cache = self.cache.read();
        match cache.index_keys(INDEX_NAMESPACE, namespace) {
            Some(keys) => keys.filter_map(|key| cache.get(key)).cloned().collect(),
            None => cache
                .values()
                .filter(|obj| obj.meta_namespace() == Some(namespace))
                .cloned()
                .collect(),
        }
    }

    /// Objects whose `index` function produced `value` (client-go `ByIndex`). An index the type
    /// does not register is a programming error: it is logged and yields nothing.
    pub fn by_index(&self, index: &str, value: &str) -> Vec<Arc<K>> {
        let cache = self.cache.read();
        match cache.index_keys(index, value) {
            Some(keys) => keys.filter_map(|key| cache.get(key)).cloned().collect(),
            None => {
                tracing::error!(index, kind = %K::kind(&()), "no such index");
                Vec::new()
            }
        }
    }

    /// Keys whose `index` function produced `value` (client-go `IndexKeys`).
    pub fn keys_by_index(&self, index: &str, value: &str) -> Vec<ObjectKey> {
        let cache = self.cache.read();
        cache
            .index_keys(index, value)
            .map(|keys| keys.cloned().collect())
            .unwrap_or_default()
    }

    /// Every value currently present in `index` (client-go `ListIndexFuncValues`).
    pub fn index_values(&self, index: &str) -> Vec<String> {
        self.cache.read().index_values(index)
    }

    pub fn has_index(&self, index: &str) -> bool {
        self.cache.read().has_index(index)
    }
}
