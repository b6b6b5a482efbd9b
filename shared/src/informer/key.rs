//! Cache keys: `namespace/name`, or `name` for cluster-scoped objects.
//!
//! Controllers put these keys, as strings, into their work queues and look the object up again
//! in a lister when a worker picks the key up. The string form is exactly client-go's
//! `MetaNamespaceKeyFunc`, so log lines and queue contents read the same as upstream.
//!
//! The parts are shared strings: the cache, each index and the queues hold clones of one key,
//! and a clone costs two reference-count increments, not two allocations. Namespaces come from
//! the process-wide [`crate::intern`] table, so every key of a namespace shares one string.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use kube::Resource;

/// Identity of an object inside one informer's cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// `None` for cluster-scoped objects.
    namespace: Option<Arc<str>>,
    name: Arc<str>,
}

/// A key string that is not `name` or `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected key format: {0:?}")]
pub struct InvalidKey(pub String);

impl ObjectKey {
    pub fn new(namespace: Option<&str>, name: &str) -> Self {
        Self {
            namespace: namespace
                .filter(|ns| !ns.is_empty())
                .map(crate::intern::intern),
            name: name.into(),
        }
    }

    /// A key from parts that are already shared strings (no copy).
    pub fn from_shared(namespace: Option<Arc<str>>, name: Arc<str>) -> Self {
        Self {
            namespace: namespace.filter(|ns| !ns.is_empty()),
            name,
        }
    }

    /// The namespace, `None` for cluster-scoped objects.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn namespaced(namespace: &str, name: &str) -> Self {
        Self::new(Some(namespace), name)
    }

    pub fn cluster_scoped(name: &str) -> Self {
        Self::new(None, name)
    }

    /// The key of `obj`. Mirrors client-go `MetaNamespaceKeyFunc`: an empty namespace counts as
    /// cluster-scoped.
    pub fn from_object<K: Resource>(obj: &K) -> Self {
        let meta = obj.meta();
        Self::new(
            meta.namespace.as_deref(),
            meta.name.as_deref().unwrap_or_default(),
        )
    }

    /// Parses `name` or `namespace/name`. Mirrors client-go `SplitMetaNamespaceKey`.
    pub fn parse(key: &str) -> Result<Self, InvalidKey> {
        let mut parts = key.split('/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(name), None, None) => Ok(Self::cluster_scoped(name)),
            (Some(namespace), Some(name), None) => Ok(Self::new(Some(namespace), name)),
            _ => Err(InvalidKey(key.to_owned())),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{namespace}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

impl FromStr for ObjectKey {
    type Err = InvalidKey;

    fn from_str(key: &str) -> Result<Self, Self::Err> {
        Self::parse(key)
    }
}

#[cfg(test)]
mod tests;
