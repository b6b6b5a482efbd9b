//! One garbage-collection pass (upstream `PodGCController.gc`): the four passes in upstream's
//! order over one snapshot of the pod and node caches, each choosing its pods through
//! [`super::select`] and force-deleting them through [`GcControl`].
//!
//! Parallelism and failures as upstream: the terminated and out-of-service passes delete all
//! their pods at once (one goroutine each upstream; here one future each, so the client's QPS
//! limit is what paces them) and wait for every one; the orphan and unscheduled passes go one
//! pod at a time. A failed patch or delete is logged and counted and the pass moves on; the
//! next pass, 20 s later, sees the pod again if it is still there.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use futures::future::join_all;
use kcm_shared::{cached_pod::CachedPod, workqueue::WorkQueue};

use super::{
    control::GcControl,
    metrics::{self, Reason},
    select::{self, Nodes},
    status::{Disruption, NODE_GONE, mark_failed_patch},
};
use crate::toolkit::{ApiFailure, Clock};

/// Which step of a force delete failed.
#[derive(Debug, thiserror::Error)]
pub enum ForceDeleteError {
    #[error("failed to patch status for pod {namespace}/{name}: {source}")]
    Patch {
        namespace: String,
        name: String,
        #[source]
        source: ApiFailure,
    },
    #[error("failed to delete pod {namespace}/{name}: {source}")]
    Delete {
        namespace: String,
        name: String,
        #[source]
        source: ApiFailure,
    },
}

/// The collector's state between passes: the quarantine of missing nodes.
pub struct PodGc<C> {
    control: Arc<C>,
    clock: Clock,
    /// `--terminated-pod-gc-threshold`; 0 or less turns the terminated pass off.
    threshold: i32,
    quarantine: Duration,
    /// Node names seen missing, each becoming ready once its quarantine has passed
    /// (upstream's delaying queue `orphaned_pods_nodes`, with its `workqueue_*` metrics).
    node_queue: Arc<WorkQueue<Arc<str>>>,
}

impl<C: GcControl> PodGc<C> {
    pub fn new(
        control: Arc<C>,
        clock: Clock,
        threshold: i32,
        quarantine: Duration,
        node_queue: Arc<WorkQueue<Arc<str>>>,
    ) -> Self {
        Self {
            control,
            clock,
            threshold,
            quarantine,
            node_queue,
        }
    }

    /// One pass over the snapshot `pods` and `nodes`.
    pub async fn gc(&self, pods: &[Arc<CachedPod>], nodes: &Nodes) {
        if self.threshold > 0 {
            self.gc_terminated(pods).await;
        }
        self.gc_terminating(pods, nodes).await;
        self.gc_orphaned(pods, nodes).await;
        self.gc_unscheduled_terminating(pods).await;
    }

    async fn gc_terminated(&self, pods: &[Arc<CachedPod>]) {
        let chosen = select::terminated_over_threshold(pods, self.threshold);
        if chosen.is_empty() {
            return;
        }
        tracing::info!(num_pods = chosen.len(), "Garbage collecting pods");
        self.delete_all(chosen, Reason::Terminated).await;
    }

    async fn gc_terminating(&self, pods: &[Arc<CachedPod>], nodes: &Nodes) {
        let chosen = select::terminating_out_of_service(pods, nodes);
        if chosen.is_empty() {
            return;
        }
        tracing::debug!(
            num_pods = chosen.len(),
            "Garbage collecting pods that are terminating on node tainted with node.kubernetes.io/out-of-service"
        );
        self.delete_all(chosen, Reason::OutOfService).await;
    }

    /// Every pod at once; returns when all are done.
    async fn delete_all(&self, pods: Vec<Arc<CachedPod>>, reason: Reason) {
        join_all(
            pods.iter()
                .map(|pod| self.delete_counted(pod, None, reason)),
        )
        .await;
    }

    async fn gc_orphaned(&self, pods: &[Arc<CachedPod>], nodes: &Nodes) {
        for node in select::missing_nodes(pods, nodes) {
            self.node_queue.add_after(node, self.quarantine);
        }
        let deleted = self.discover_deleted_nodes(nodes).await;
        for pod in select::orphaned(pods, &deleted) {
            tracing::info!(pod = %pod.key(), node = pod.node_name(), "Found orphaned Pod assigned to the Node, deleting");
            if self
                .delete_counted(&pod, Some(NODE_GONE), Reason::Orphaned)
                .await
            {
                tracing::info!(pod = %pod.key(), "Forced deletion of orphaned Pod succeeded");
            }
        }
    }

    /// The names whose quarantine has passed and that are still missing, confirmed by a live
    /// read. A failed read drops the name; the next pass quarantines it again if needed.
    async fn discover_deleted_nodes(&self, nodes: &Nodes) -> BTreeSet<Arc<str>> {
        let mut deleted = BTreeSet::new();
        while !self.node_queue.is_empty() {
            let Some(name) = self.node_queue.get().await else {
                break;
            };
            if !nodes.contains_key(&*name) {
                match self.control.node_exists(&name).await {
                    Ok(true) => {}
                    Ok(false) => {
                        deleted.insert(Arc::clone(&name));
                    }
                    Err(error) => {
                        tracing::error!(node = %name, %error, "Error while getting node");
                    }
                }
            }
            self.node_queue.done(&name);
        }
        deleted
    }

    async fn gc_unscheduled_terminating(&self, pods: &[Arc<CachedPod>]) {
        for pod in select::unscheduled_terminating(pods) {
            tracing::info!(pod = %pod.key(), "Found unscheduled terminating Pod not assigned to any Node, deleting");
            if self.delete_counted(&pod, None, Reason::Unscheduled).await {
                tracing::info!(pod = %pod.key(), "Forced deletion of unscheduled terminating Pod succeeded");
            }
        }
    }

    /// [`Self::mark_failed_and_delete`] with its metrics and error log; true on success.
    async fn delete_counted(
        &self,
        pod: &CachedPod,
        disruption: Option<Disruption>,
        reason: Reason,
    ) -> bool {
        metrics::attempted(&pod.namespace, reason);
        match self.mark_failed_and_delete(pod, disruption).await {
            Ok(()) => true,
            Err(error) => {
                metrics::failed(&pod.namespace, reason);
                tracing::error!(
                    pod = %pod.key(),
                    reason = reason.label(),
                    error = &error as &dyn std::error::Error,
                    "Failed to force delete pod"
                );
                false
            }
        }
    }

    /// `markFailedAndDeletePodWithCondition`: a non-terminal pod is first patched to Failed
    /// (a failed patch stops here), then the pod is deleted with grace 0.
    pub async fn mark_failed_and_delete(
        &self,
        pod: &CachedPod,
        disruption: Option<Disruption>,
    ) -> Result<(), ForceDeleteError> {
        tracing::info!(pod = %pod.key(), "PodGC is force deleting Pod");
        let (namespace, name) = (&*pod.namespace, &*pod.name);
        if let Some(patch) = mark_failed_patch(pod, disruption, self.clock.now()) {
            self.control
                .patch_pod_status(namespace, name, &patch)
                .await
                .map_err(|source| ForceDeleteError::Patch {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    source,
                })?;
        }
        self.control
            .force_delete_pod(namespace, name)
            .await
            .map_err(|source| ForceDeleteError::Delete {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                source,
            })
    }
}

#[cfg(test)]
mod tests;
