//! Secondary index functions and the names the caches register them under.
//!
//! An index function maps an object to zero or more index values; the cache keeps, per index
//! name, a map from value to the keys of the objects that produced it (client-go `Indexers` /
//! `IndexFunc`). Names are constants so that a typo in a controller's `by_index` call is a
//! compile error rather than an empty result.

use crate::meta::ObjectMetaRead;
use k8s_openapi::api::core::v1::Pod;

/// Objects by `metadata.namespace` (client-go `cache.NamespaceIndex`).
pub const INDEX_NAMESPACE: &str = "namespace";
/// Objects by the UID of their controlling owner (the ownerReference with `controller: true`).
pub const INDEX_CONTROLLER_UID: &str = "controller-uid";
/// Pods by `spec.nodeName`.
pub const INDEX_NODE_NAME: &str = "node-name";

/// Maps an object to its index values. A plain `fn` keeps indexers `Copy` and free of captures.
pub type IndexFn<K> = fn(&K) -> Vec<String>;

/// `metadata.namespace`, or no value for cluster-scoped objects.
/// Mirrors client-go `MetaNamespaceIndexFunc` (which would index those under "").
pub fn namespace_index<K: ObjectMetaRead>(obj: &K) -> Vec<String> {
    obj.meta_namespace()
        .map(str::to_owned)
        .into_iter()
        .collect()
}

/// The [`INDEX_CONTROLLER_UID`] value under which a namespace's orphans (objects with no
/// controlling owner) are indexed, so a controller finds adoption candidates without scanning
/// the namespace (upstream's `OrphanPodIndexKeyForNamespace`). UIDs never contain a `/`.
pub fn orphan_index_key(namespace: &str) -> String {
    format!("orphan/{namespace}")
}

/// The UID of the controlling ownerReference (`metav1.GetControllerOf`: only the reference
/// with `controller: true` counts), or the namespace's [`orphan_index_key`] when there is none.
pub fn controller_uid_index<K: ObjectMetaRead>(obj: &K) -> Vec<String> {
    match obj.meta_controller() {
        Some(owner) => vec![owner.uid.to_owned()],
        None => obj
            .meta_namespace()
            .map(orphan_index_key)
            .into_iter()
            .collect(),
    }
}

/// `spec.nodeName` of a bound pod; unbound pods have no value.
pub fn pod_node_name_index(pod: &Pod) -> Vec<String> {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_ref())
        .filter(|node| !node.is_empty())
        .cloned()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests;
