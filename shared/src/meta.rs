//! Read access to the metadata every cached object has, whatever form the cache keeps it in.
//!
//! The informer cache, its indexes, event handlers and claiming read names, labels, controller
//! references and deletion timestamps. Full API objects answer from their `metadata`; compact
//! cached forms (see [`crate::cached_pod`]) answer from their own shared-string fields, and do
//! not keep an `ObjectMeta` at all. Everything generic goes through [`ObjectMetaRead`], never
//! through `Resource::meta()`.

use std::{collections::BTreeMap, sync::Arc};

use jiff::Timestamp;
use kube::Resource;

use crate::informer::ObjectKey;

/// An object's labels, borrowed from whichever form holds them. Iteration is in key order.
#[derive(Clone, Copy, Debug)]
pub enum Labels<'a> {
    /// A full object's `metadata.labels` (`None`: no labels).
    Map(Option<&'a BTreeMap<String, String>>),
    /// A compact form's labels: shared strings, sorted by key, keys unique.
    Pairs(&'a [(Arc<str>, Arc<str>)]),
}

impl<'a> Labels<'a> {
    pub const NONE: Labels<'static> = Labels::Map(None);

    pub fn get(&self, key: &str) -> Option<&'a str> {
        match *self {
            Labels::Map(map) => map?.get(key).map(String::as_str),
            Labels::Pairs(pairs) => pairs
                .binary_search_by(|(k, _)| (**k).cmp(key))
                .ok()
                .map(|i| &*pairs[i].1),
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn len(&self) -> usize {
        match *self {
            Labels::Map(map) => map.map_or(0, BTreeMap::len),
            Labels::Pairs(pairs) => pairs.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let (map, pairs) = match *self {
            Labels::Map(map) => (map, None),
            Labels::Pairs(pairs) => (None, Some(pairs)),
        };
        map.into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(pairs.into_iter().flatten().map(|(k, v)| (&**k, &**v)))
    }

    /// An owned copy, for objects written back to the API.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

impl PartialEq for Labels<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// The owner reference with `controller: true`, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControllerRef<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub uid: &'a str,
}

/// What generic code reads of a cached object's metadata. The defaults read `Resource::meta()`;
/// a compact form overrides every method.
pub trait ObjectMetaRead: Resource<DynamicType = ()> + Sized {
    /// The cache and work-queue key (`namespace/name` or `name`).
    fn cache_key(&self) -> ObjectKey {
        ObjectKey::from_object(self)
    }

    fn meta_name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or_default()
    }

    /// `None` (or empty) for cluster-scoped objects.
    fn meta_namespace(&self) -> Option<&str> {
        self.meta().namespace.as_deref().filter(|ns| !ns.is_empty())
    }

    fn meta_uid(&self) -> Option<&str> {
        self.meta().uid.as_deref()
    }

    fn meta_resource_version(&self) -> Option<&str> {
        self.meta().resource_version.as_deref()
    }

    fn meta_labels(&self) -> Labels<'_> {
        Labels::Map(self.meta().labels.as_ref())
    }

    /// `metav1.GetControllerOf`.
    fn meta_controller(&self) -> Option<ControllerRef<'_>> {
        self.meta()
            .owner_references
            .as_deref()?
            .iter()
            .find(|r| r.controller == Some(true))
            .map(|r| ControllerRef {
                api_version: &r.api_version,
                kind: &r.kind,
                name: &r.name,
                uid: &r.uid,
            })
    }

    fn meta_deletion_timestamp(&self) -> Option<Timestamp> {
        self.meta().deletion_timestamp.as_ref().map(|t| t.0)
    }

    fn meta_creation_timestamp(&self) -> Option<Timestamp> {
        self.meta().creation_timestamp.as_ref().map(|t| t.0)
    }

    /// Being deleted (has a deletion timestamp).
    fn is_terminating(&self) -> bool {
        self.meta_deletion_timestamp().is_some()
    }
}

#[cfg(test)]
mod tests;
