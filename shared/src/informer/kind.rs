//! Which resource types can have a shared informer, and which indexes each one's cache keeps.
//!
//! client-go's generated informers always register the namespace index; KCM controllers add
//! more where they need them. Here the set is fixed per type, in one place, so that every
//! controller sharing an informer sees the same indexes (an informer's indexes cannot change
//! once it has started in client-go either).

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, ReplicationController, Service};
use serde::de::DeserializeOwned;

use crate::meta::ObjectMetaRead;

use super::index::{
    INDEX_CONTROLLER_UID, INDEX_NAMESPACE, IndexFn, controller_uid_index, namespace_index,
};

/// A resource type the shared informer factory can watch and cache.
pub trait InformerType:
    ObjectMetaRead + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
    /// Secondary indexes of this type's cache: `(name, function)`. The default is the namespace
    /// index, as client-go's generated informers register it.
    fn indexers() -> Vec<(&'static str, IndexFn<Self>)> {
        vec![(INDEX_NAMESPACE, namespace_index::<Self>)]
    }

    /// Drops what no controller reads before the object is cached (KCM's `trim` transform,
    /// which removes managedFields). Compact forms drop their deserialisation-only metadata.
    fn shrink(&mut self) {
        self.meta_mut().managed_fields = None;
    }
}

/// Full API objects read their metadata from `ObjectMeta`.
macro_rules! reads_object_meta {
    ($($kind:ty),* $(,)?) => {
        $(impl ObjectMetaRead for $kind {})*
    };
}

reads_object_meta!(
    Pod,
    ReplicaSet,
    ReplicationController,
    Deployment,
    Service,
    Endpoints,
    Lease,
    Node,
    Namespace,
);

/// Full pods are cached only by this crate's own tests: controllers cache
/// [`crate::cached_pod::CachedPod`], so a process opens one pod watch and holds pods compactly.
#[cfg(test)]
impl InformerType for Pod {
    // The same indexes as CachedPod's.
    fn indexers() -> Vec<(&'static str, IndexFn<Self>)> {
        vec![
            (INDEX_NAMESPACE, namespace_index::<Self>),
            (INDEX_CONTROLLER_UID, controller_uid_index::<Self>),
            (
                super::index::INDEX_NODE_NAME,
                super::index::pod_node_name_index,
            ),
        ]
    }
}

impl InformerType for ReplicaSet {
    fn indexers() -> Vec<(&'static str, IndexFn<Self>)> {
        vec![
            (INDEX_NAMESPACE, namespace_index::<Self>),
            (INDEX_CONTROLLER_UID, controller_uid_index::<Self>),
        ]
    }
}

impl InformerType for ReplicationController {}
impl InformerType for Deployment {}
impl InformerType for Service {}
impl InformerType for Endpoints {}
impl InformerType for Lease {}

impl InformerType for Node {
    fn indexers() -> Vec<(&'static str, IndexFn<Self>)> {
        Vec::new()
    }
}

impl InformerType for Namespace {
    fn indexers() -> Vec<(&'static str, IndexFn<Self>)> {
        Vec::new()
    }
}
