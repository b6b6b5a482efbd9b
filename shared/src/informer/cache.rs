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

use kube::Resource;

use super::delta::Delta;
use super::index::IndexFn;
use super::key::ObjectKey;

/// Index name → index value → keys of the objects carrying that value.
type Indices = HashMap<&'static str, HashMap<String, HashSet<ObjectKey>>>;

pub(crate) struct Cache<K> {
    items: HashMap<ObjectKey, Arc<K>>,
    indexers: Vec<(&'static str, IndexFn<K>)>,
    indices: Indices,
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

impl<K: Resource> Listing<K> {
    pub(crate) fn push(&mut self, obj: Arc<K>) {
        let key = ObjectKey::from_object(obj.as_ref());
        // A key listed twice keeps its first position and its last state.
        if self.items.insert(key.clone(), obj).is_none() {
            self.order.push(key);
        }
    }
}

impl<K: Resource> Cache<K> {
    pub(crate) fn new(indexers: Vec<(&'static str, IndexFn<K>)>) -> Self {
        let indices = indexers
            .iter()
            .map(|(name, _)| (*name, HashMap::new()))
            .collect();
        Self {
            items: HashMap::new(),
            indexers,
            indices,
        }
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
        let key = ObjectKey::from_object(obj.as_ref());
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
mod tests {
    use super::*;
    use crate::informer::InformerType;
    use crate::informer::index::{INDEX_CONTROLLER_UID, INDEX_NAMESPACE, INDEX_NODE_NAME};
    use k8s_openapi::api::core::v1::{Pod, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn pod(ns: &str, name: &str, node: Option<&str>, owner_uid: Option<&str>) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.namespace = Some(ns.into());
        p.metadata.name = Some(name.into());
        p.spec = Some(PodSpec {
            node_name: node.map(Into::into),
            ..Default::default()
        });
        p.metadata.owner_references = owner_uid.map(|uid| {
            vec![OwnerReference {
                uid: uid.into(),
                controller: Some(true),
                ..Default::default()
            }]
        });
        Arc::new(p)
    }

    fn names(cache: &Cache<Pod>, index: &str, value: &str) -> Vec<String> {
        let mut out: Vec<String> = cache
            .index_keys(index, value)
            .expect("index exists")
            .map(ToString::to_string)
            .collect();
        out.sort();
        out
    }

    #[test]
    fn indices_follow_add_update_delete() {
        let mut cache = Cache::new(Pod::indexers());
        assert!(
            cache
                .upsert(pod("ns", "a", Some("n1"), Some("rs1")))
                .is_none()
        );
        cache.upsert(pod("ns", "b", Some("n1"), Some("rs1")));
        cache.upsert(pod("other", "c", None, None));
        assert_eq!(names(&cache, INDEX_NODE_NAME, "n1"), ["ns/a", "ns/b"]);
        assert_eq!(names(&cache, INDEX_CONTROLLER_UID, "rs1"), ["ns/a", "ns/b"]);
        assert_eq!(names(&cache, INDEX_NAMESPACE, "other"), ["other/c"]);

        // Pod a moves node and changes controller: both indexes follow, nothing stale remains.
        let old = cache.upsert(pod("ns", "a", Some("n2"), Some("rs2")));
        assert_eq!(
            old.unwrap().spec.as_ref().unwrap().node_name.as_deref(),
            Some("n1")
        );
        assert_eq!(names(&cache, INDEX_NODE_NAME, "n1"), ["ns/b"]);
        assert_eq!(names(&cache, INDEX_NODE_NAME, "n2"), ["ns/a"]);
        assert_eq!(names(&cache, INDEX_CONTROLLER_UID, "rs1"), ["ns/b"]);
        assert_eq!(names(&cache, INDEX_CONTROLLER_UID, "rs2"), ["ns/a"]);

        assert!(cache.remove(&ObjectKey::namespaced("ns", "b")).is_some());
        assert!(cache.remove(&ObjectKey::namespaced("ns", "b")).is_none());
        assert!(names(&cache, INDEX_NODE_NAME, "n1").is_empty());
        assert!(
            !cache
                .index_values(INDEX_NODE_NAME)
                .contains(&"n1".to_string())
        );
        // Pod c has no controller: it sits under its namespace's orphan key.
        let mut values = cache.index_values(INDEX_CONTROLLER_UID);
        values.sort();
        assert_eq!(values, ["orphan/other", "rs2"]);
        assert_eq!(cache.len(), 2);
        assert!(cache.index_keys("no-such-index", "x").is_none());
    }

    #[test]
    fn replace_reports_added_updated_and_tombstones_and_reindexes() {
        let mut cache = Cache::new(Pod::indexers());
        cache.upsert(pod("ns", "stays", Some("n1"), None));
        cache.upsert(pod("ns", "gone", Some("n1"), None));

        let mut listing = Listing::default();
        listing.push(pod("ns", "stays", Some("n2"), None));
        listing.push(pod("ns", "new", Some("n1"), None));
        let deltas = cache.replace(listing, false);

        let summary: Vec<String> = deltas
            .iter()
            .map(|d| match d {
                Delta::Added { obj, initial_list } => {
                    format!(
                        "added {} {initial_list}",
                        ObjectKey::from_object(obj.as_ref())
                    )
                }
                Delta::Updated { old, new } => format!(
                    "updated {} {:?}->{:?}",
                    ObjectKey::from_object(new.as_ref()),
                    old.spec.as_ref().unwrap().node_name,
                    new.spec.as_ref().unwrap().node_name
                ),
                Delta::Deleted {
                    obj,
                    final_state_unknown,
                } => format!(
                    "deleted {} {final_state_unknown}",
                    ObjectKey::from_object(obj.as_ref())
                ),
            })
            .collect();
        assert_eq!(
            summary,
            [
                r#"updated ns/stays Some("n1")->Some("n2")"#,
                "added ns/new false",
                "deleted ns/gone true",
            ]
        );
        assert_eq!(names(&cache, INDEX_NODE_NAME, "n1"), ["ns/new"]);
        assert_eq!(names(&cache, INDEX_NODE_NAME, "n2"), ["ns/stays"]);
        assert!(cache.get(&ObjectKey::namespaced("ns", "gone")).is_none());
    }

    #[test]
    fn listing_keeps_last_state_of_a_duplicated_key_once() {
        let mut listing = Listing::default();
        listing.push(pod("ns", "a", Some("n1"), None));
        listing.push(pod("ns", "a", Some("n2"), None));
        let mut cache = Cache::new(Pod::indexers());
        let deltas = cache.replace(listing, true);
        assert_eq!(deltas.len(), 1);
        assert_eq!(names(&cache, INDEX_NODE_NAME, "n2"), ["ns/a"]);
        assert!(matches!(
            &deltas[0],
            Delta::Added {
                initial_list: true,
                ..
            }
        ));
    }
}
