//! The form in which the informer cache keeps pods: exactly what the card's controllers read,
//! deserialised straight from the list and watch responses, with repeated strings shared.
//!
//! A k8s-openapi `Pod` decoded from a typical 1.2 KB pod costs about 8 KB (its `Container`
//! alone is 2 KB before any heap data) and the cache held one per pod. A `CachedPod` is built by
//! its own `Deserialize` ([`de`]), which skips every field listed nowhere below without
//! allocating for it (managedFields, env, volumes, images, resources, probes, …), borrows the
//! strings it reads from the response buffer, and keeps namespaces, label keys and values, node
//! names, owner identities, phases and protocols as [`crate::intern`]ed shared strings.
//!
//! It is never written back: controllers that create pods build a full `Pod` from a template,
//! and every write to an existing pod is a patch or a delete by name.
//!
//! # Who reads what
//! | field | read by |
//! |---|---|
//! | `name`, `namespace`, `uid`, `resource_version` | every controller (keys, claiming, patches with UID preconditions, handler no-op checks) |
//! | `generation` | podgc (`observedGeneration` of the status it writes) |
//! | `labels` | replicaset/RC (selectors, claiming, `fullyLabeledReplicas`), deployment (pod-template-hash), endpoints (Service selectors) |
//! | `controller` (the ownerReference with `controller: true`) | replicaset/RC/deployment (ownership, adoption, expectations), podgc (nothing) |
//! | `deletion_cost` (`controller.kubernetes.io/pod-deletion-cost`) | replicaset/RC (which pod to delete) |
//! | `creation_timestamp` | replicaset/RC (ranking), podgc (oldest terminated first) |
//! | `deletion_timestamp`, `deletion_grace_period_seconds` | every controller (terminating pods), podgc (unscheduled/out-of-service passes) |
//! | `node_name` | replicaset/RC (ranking, colocation), endpoints (`nodeName`), podgc (orphans, node index) |
//! | `hostname`, `subdomain` | endpoints (hostname of headless Services) |
//! | `ports` (containers, then sidecar init containers) | endpoints (named target ports by name and protocol) |
//! | `restart_policy`, `termination_grace_period_seconds` | endpoints (terminal pods), podgc |
//! | `phase`, `reason` | every controller (active/terminal pods), podgc (`Evicted` first) |
//! | `pod_ips` (`status.podIPs`, else `status.podIP`) | endpoints (addresses and IP family) |
//! | `ready` (the `Ready` condition: status and lastTransitionTime) | replicaset/RC (ready and available replicas, ranking), deployment, endpoints (ready vs not ready, trigger time) |
//! | `max_restarts`, `max_sidecar_restarts` | replicaset/RC (ranking) |
//! | `disruption_target` (the `DisruptionTarget` condition: status and lastTransitionTime) | podgc (keeps its lastTransitionTime when it rewrites a True one) |

mod de;

use std::{
    borrow::Cow,
    sync::{Arc, LazyLock},
};

use jiff::Timestamp;
use k8s_openapi::{NamespaceResourceScope, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use kube::Resource;

use crate::{
    informer::{
        INDEX_CONTROLLER_UID, INDEX_NAMESPACE, INDEX_NODE_NAME, IndexFn, InformerType, ObjectKey,
        controller_uid_index, namespace_index,
    },
    meta::{ControllerRef, Labels, ObjectMetaRead},
};

/// The controlling owner of a pod, as shared strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedControllerRef {
    pub api_version: Arc<str>,
    pub kind: Arc<str>,
    pub name: Arc<str>,
    pub uid: Arc<str>,
}

/// A container port that a Service's named `targetPort` can resolve to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodPort {
    pub name: Option<Arc<str>>,
    pub container_port: i32,
    /// `TCP` when the pod spec leaves it out, as the apiserver defaults it.
    pub protocol: Arc<str>,
    /// Declared by a restartable init container (a sidecar), not a regular container.
    pub sidecar: bool,
}

/// The pod's `Ready` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyCondition {
    /// `True`, `False` or `Unknown`.
    pub status: Arc<str>,
    pub last_transition_time: Option<Timestamp>,
}

/// A cached pod. See the module documentation for which controller reads which field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CachedPod {
    /// Shared with the pod's cache key, so the cache and its indexes hold no copy of it.
    pub name: Arc<str>,
    pub namespace: Arc<str>,
    pub uid: Box<str>,
    pub resource_version: Box<str>,
    /// `metadata.generation` (0 when unset).
    pub generation: i64,
    /// Sorted by key, keys unique.
    pub labels: Box<[(Arc<str>, Arc<str>)]>,
    pub controller: Option<SharedControllerRef>,
    /// The raw `controller.kubernetes.io/pod-deletion-cost` annotation.
    pub deletion_cost: Option<Box<str>>,
    pub creation_timestamp: Option<Timestamp>,
    pub deletion_timestamp: Option<Timestamp>,
    pub deletion_grace_period_seconds: Option<i64>,
    pub node_name: Option<Arc<str>>,
    pub hostname: Option<Box<str>>,
    pub subdomain: Option<Box<str>>,
    pub ports: Box<[PodPort]>,
    pub restart_policy: Option<Arc<str>>,
    pub termination_grace_period_seconds: Option<i64>,
    pub phase: Option<Arc<str>>,
    pub reason: Option<Arc<str>>,
    pub pod_ips: Box<[Box<str>]>,
    pub ready: Option<ReadyCondition>,
    /// The pod's `DisruptionTarget` condition, in the same shape as `ready`; rare, so boxed.
    pub disruption_target: Option<Box<ReadyCondition>>,
    /// Highest restart count of the regular containers (0 without statuses).
    pub max_restarts: i32,
    /// Highest restart count of the sidecar (restartable init) containers.
    pub max_sidecar_restarts: i32,
    /// Only between deserialisation and [`InformerType::shrink`]: kube's watcher reads the
    /// resourceVersion through `Resource::meta()`. `None` in the cache.
    meta: Option<Box<ObjectMeta>>,
}

static NO_META: LazyLock<ObjectMeta> = LazyLock::new(ObjectMeta::default);

impl CachedPod {
    /// `status.phase`, or "" when unset.
    pub fn phase(&self) -> &str {
        self.phase.as_deref().unwrap_or("")
    }

    /// `spec.nodeName`, or "" for an unscheduled pod.
    pub fn node_name(&self) -> &str {
        self.node_name.as_deref().unwrap_or("")
    }

    /// Succeeded or Failed.
    pub fn is_terminal(&self) -> bool {
        matches!(self.phase(), "Succeeded" | "Failed")
    }

    /// `controller.IsPodActive`: not terminal, not being deleted.
    pub fn is_active(&self) -> bool {
        !self.is_terminal() && self.deletion_timestamp.is_none()
    }

    /// Being deleted but not yet terminal (what `terminatingReplicas` counts).
    pub fn is_terminating_not_terminal(&self) -> bool {
        self.deletion_timestamp.is_some() && !self.is_terminal()
    }

    /// `podutil.IsPodReady`.
    pub fn is_ready(&self) -> bool {
        self.ready.as_ref().is_some_and(|c| &*c.status == "True")
    }

    /// When the pod last became ready, if it is ready.
    pub fn ready_since(&self) -> Option<Timestamp> {
        self.ready
            .as_ref()
            .filter(|c| &*c.status == "True")
            .and_then(|c| c.last_transition_time)
    }

    /// `podutil.IsPodAvailable`: ready for more than `min_ready_seconds` at `now` (upstream
    /// requires `lastTransitionTime + minReadySeconds` to be strictly before `now`).
    pub fn is_available(&self, min_ready_seconds: i32, now: Timestamp) -> bool {
        if !self.is_ready() {
            return false;
        }
        if min_ready_seconds <= 0 {
            return true;
        }
        let Some(since) = self.ready.as_ref().and_then(|c| c.last_transition_time) else {
            return false;
        };
        let ready_at = since.saturating_add(jiff::SignedDuration::from_secs(i64::from(
            min_ready_seconds,
        )));
        ready_at.is_ok_and(|at| at < now)
    }

    /// The cache key: shares the pod's own namespace and name strings.
    pub fn key(&self) -> ObjectKey {
        ObjectKey::from_shared(Some(Arc::clone(&self.namespace)), Arc::clone(&self.name))
    }

    /// Converts a full pod through the same decoder the watch uses (tests and tools).
    pub fn from_pod(pod: &k8s_openapi::api::core::v1::Pod) -> Result<Self, serde_json::Error> {
        let json = serde_json::to_vec(pod)?;
        let mut cached: CachedPod = serde_json::from_slice(&json)?;
        cached.shrink();
        Ok(cached)
    }
}

impl Resource for CachedPod {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Pod".into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        "".into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        "pods".into()
    }

    /// Empty once cached; everything generic reads [`ObjectMetaRead`] instead.
    fn meta(&self) -> &ObjectMeta {
        self.meta.as_deref().unwrap_or(&NO_META)
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.meta.get_or_insert_with(Box::default)
    }
}

impl ObjectMetaRead for CachedPod {
    fn cache_key(&self) -> ObjectKey {
        self.key()
    }

    fn meta_name(&self) -> &str {
        &self.name
    }

    fn meta_namespace(&self) -> Option<&str> {
        Some(&*self.namespace).filter(|ns| !ns.is_empty())
    }

    fn meta_uid(&self) -> Option<&str> {
        Some(&*self.uid).filter(|uid| !uid.is_empty())
    }

    fn meta_resource_version(&self) -> Option<&str> {
        Some(&*self.resource_version).filter(|rv| !rv.is_empty())
    }

    fn meta_labels(&self) -> Labels<'_> {
        Labels::Pairs(&self.labels)
    }

    fn meta_controller(&self) -> Option<ControllerRef<'_>> {
        self.controller.as_ref().map(|c| ControllerRef {
            api_version: &c.api_version,
            kind: &c.kind,
            name: &c.name,
            uid: &c.uid,
        })
    }

    fn meta_deletion_timestamp(&self) -> Option<Timestamp> {
        self.deletion_timestamp
    }

    fn meta_creation_timestamp(&self) -> Option<Timestamp> {
        self.creation_timestamp
    }
}

/// `spec.nodeName` of a bound pod; unbound pods have no value.
pub fn node_name_index(pod: &CachedPod) -> Vec<String> {
    pod.node_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .into_iter()
        .collect()
}

impl InformerType for CachedPod {
    fn indexers() -> Vec<(&'static str, IndexFn<Self>)> {
        vec![
            (INDEX_NAMESPACE, namespace_index::<Self>),
            (INDEX_CONTROLLER_UID, controller_uid_index::<Self>),
            (INDEX_NODE_NAME, node_name_index),
        ]
    }

    fn shrink(&mut self) {
        self.meta = None;
    }
}

#[cfg(test)]
mod tests;
