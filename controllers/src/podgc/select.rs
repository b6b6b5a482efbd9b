//! Which pods each pass of the garbage collector takes, as pure functions of the cached pods
//! and nodes (upstream `gcTerminated`, `gcTerminating`, `gcOrphaned` and
//! `gcUnscheduledTerminating` minus their API calls).

use std::{
    cmp::Ordering,
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use k8s_openapi::api::core::v1::Node;
use kcm_shared::cached_pod::CachedPod;

/// The taint that lets the collector force-delete terminating pods of a NotReady node.
pub const OUT_OF_SERVICE_TAINT: &str = "node.kubernetes.io/out-of-service";

/// What the passes need to know about one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeHealth {
    /// A `Ready` condition with status `True` (`nodeutil.IsNodeReady`); a node without one is
    /// not ready.
    pub ready: bool,
    /// Carries a taint with key [`OUT_OF_SERVICE_TAINT`], whatever its value and effect.
    pub out_of_service: bool,
}

/// The node lister's snapshot: every node by name.
pub type Nodes = HashMap<String, NodeHealth>;

impl NodeHealth {
    pub fn of(node: &Node) -> Self {
        let ready = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        let out_of_service = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .is_some_and(|t| t.iter().any(|t| t.key == OUT_OF_SERVICE_TAINT));
        Self {
            ready,
            out_of_service,
        }
    }
}

/// The snapshot of a node list.
pub fn node_snapshot(nodes: &[Arc<Node>]) -> Nodes {
    nodes
        .iter()
        .map(|n| {
            let name = n.metadata.name.clone().unwrap_or_default();
            (name, NodeHealth::of(n))
        })
        .collect()
}

/// `isPodTerminated`: any phase but Pending, Running and Unknown, so Succeeded, Failed and
/// also an empty phase. Deleting pods and pods with finalizers count.
pub fn is_terminated(pod: &CachedPod) -> bool {
    !matches!(pod.phase(), "Pending" | "Running" | "Unknown")
}

/// `eviction.PodIsEvicted`: Failed with reason `Evicted`.
pub fn is_evicted(pod: &CachedPod) -> bool {
    pod.phase() == "Failed" && pod.reason.as_deref() == Some("Evicted")
}

/// `byEvictionAndCreationTimestamp`: evicted pods first, then the oldest, ties by name. A pod
/// without a creation timestamp counts as the oldest (Go's zero time).
pub fn by_eviction_and_creation(a: &CachedPod, b: &CachedPod) -> Ordering {
    is_evicted(b)
        .cmp(&is_evicted(a))
        .then_with(|| a.creation_timestamp.cmp(&b.creation_timestamp))
        .then_with(|| a.name.cmp(&b.name))
}

fn sorted(mut pods: Vec<Arc<CachedPod>>) -> Vec<Arc<CachedPod>> {
    pods.sort_by(|a, b| by_eviction_and_creation(a, b));
    pods
}

/// `gcTerminated`: the terminated pods beyond `threshold`, in deletion order. A threshold of
/// 0 or less takes none (the pass is off).
pub fn terminated_over_threshold(pods: &[Arc<CachedPod>], threshold: i32) -> Vec<Arc<CachedPod>> {
    let Ok(threshold) = usize::try_from(threshold) else {
        return Vec::new();
    };
    if threshold == 0 {
        return Vec::new();
    }
    let terminated: Vec<Arc<CachedPod>> =
        pods.iter().filter(|p| is_terminated(p)).cloned().collect();
    let Some(delete) = terminated.len().checked_sub(threshold).filter(|&n| n > 0) else {
        return Vec::new();
    };
    let mut terminated = sorted(terminated);
    terminated.truncate(delete);
    terminated
}

/// `gcTerminating`: terminating pods whose node exists, is not Ready and carries the
/// out-of-service taint, in deletion order. Pods of unknown (or no) nodes are skipped; the
/// orphan and unscheduled passes deal with them.
pub fn terminating_out_of_service(pods: &[Arc<CachedPod>], nodes: &Nodes) -> Vec<Arc<CachedPod>> {
    let chosen = pods
        .iter()
        .filter(|p| p.deletion_timestamp.is_some())
        .filter(|p| {
            nodes
                .get(p.node_name())
                .is_some_and(|n| !n.ready && n.out_of_service)
        })
        .cloned()
        .collect();
    sorted(chosen)
}

/// The first half of `gcOrphaned`: the names of nodes that pods are bound to but the cache does
/// not have, to be put in quarantine.
pub fn missing_nodes(pods: &[Arc<CachedPod>], nodes: &Nodes) -> BTreeSet<Arc<str>> {
    pods.iter()
        .filter_map(|p| p.node_name.as_ref())
        .filter(|n| !n.is_empty() && !nodes.contains_key(&***n))
        .cloned()
        .collect()
}

/// The second half of `gcOrphaned`: the pods bound to a node confirmed deleted, in lister order
/// (upstream walks the lister's list; the order does not matter, they go one by one).
pub fn orphaned(
    pods: &[Arc<CachedPod>],
    deleted_nodes: &BTreeSet<Arc<str>>,
) -> Vec<Arc<CachedPod>> {
    if deleted_nodes.is_empty() {
        return Vec::new();
    }
    pods.iter()
        .filter(|p| {
            p.node_name
                .as_ref()
                .is_some_and(|n| deleted_nodes.contains(n))
        })
        .cloned()
        .collect()
}

/// `gcUnscheduledTerminating`: terminating pods bound to no node. The apiserver removes such
/// pods at once unless a finalizer holds them, so these are held by one.
pub fn unscheduled_terminating(pods: &[Arc<CachedPod>]) -> Vec<Arc<CachedPod>> {
    pods.iter()
        .filter(|p| p.deletion_timestamp.is_some() && p.node_name().is_empty())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests;
