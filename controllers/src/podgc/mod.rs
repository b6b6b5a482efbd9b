//! The pod garbage collector (upstream `pkg/controller/podgc`): keeps finished pods from
//! filling etcd and frees pods stranded on deleted or out-of-service nodes so their workloads
//! can be replaced.
//!
//! It registers no event handlers: once the shared pod and node caches have synced it runs one
//! pass now and then every 20 s after the previous one ended ([`crate::runtime::run_periodic`],
//! upstream's `wait.UntilWithContext`). A pass, in upstream's order:
//! 1. terminated pods beyond `--terminated-pod-gc-threshold` (0 turns only this off), evicted
//!    first, then the oldest, ties by name;
//! 2. terminating pods on nodes that are not Ready and carry `node.kubernetes.io/out-of-service`;
//! 3. pods bound to a node the cache lacks: the node name waits 40 s in quarantine, then a live
//!    GET confirms it gone, so a node that registers late is not taken for a deleted one; its
//!    pods are marked with the `DisruptionTarget` condition;
//! 4. terminating pods bound to no node (held by finalizers).
//!
//! Each chosen pod that is not yet Succeeded or Failed is first patched to `Failed`, then
//! deleted with grace 0. The 20 s period and the 40 s quarantine are not user settings
//! upstream either; tests shorten them through hidden flags (upstream's `NewPodGCInternal`).
//!
//! Modules: [`select`] (each pass's choice, pure), [`status`] (the mark-Failed patch, pure),
//! [`gc`] (one pass and its API calls), [`control`] (the API shell), [`metrics`].

pub mod control;
pub mod gc;
pub mod metrics;
pub mod select;
pub mod status;

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Node;
use kcm_shared::{
    cached_pod::CachedPod,
    informer::{HasSynced, Informer, wait_for_named_cache_sync},
    workqueue::WorkQueue,
};
use tokio_util::sync::CancellationToken;

use crate::{
    context::ControllerContext,
    names::{ControllerId, ControllerNames},
    registry::{BuildError, Controller, ControllerDescriptor},
    runtime::{StartupFailed, run_periodic},
};

use self::{control::KubeGcControl, gc::PodGc, select::node_snapshot};

/// Upstream's `gcCheckPeriod`.
pub const CHECK_PERIOD: Duration = Duration::from_secs(20);
/// Upstream's `quarantineTime`.
pub const QUARANTINE: Duration = Duration::from_secs(40);

/// `pod-garbage-collector-controller`, its informers requested.
pub struct PodGcController {
    names: &'static ControllerNames,
    period: Duration,
    pods: Arc<Informer<CachedPod>>,
    nodes: Arc<Informer<Node>>,
    node_queue: Arc<WorkQueue<Arc<str>>>,
    gc: PodGc<KubeGcControl>,
}

impl PodGcController {
    /// Requests the pod and node informers and builds the client and the quarantine queue.
    /// Must be called inside the Tokio runtime.
    pub fn new(ctx: &ControllerContext) -> Result<Self, BuildError> {
        let names = ControllerId::PodGarbageCollector.names();
        let client = ctx
            .client(names.client)
            .map_err(|e| BuildError::new(names.canonical, e))?;
        metrics::register();
        // A delaying queue only: nothing is ever retried through its rate limiter.
        let node_queue = WorkQueue::builder().name(names.queue).build();
        let settings = &ctx.settings;
        let gc = PodGc::new(
            Arc::new(KubeGcControl::new(client)),
            ctx.clock.clone(),
            settings.terminated_pod_gc_threshold,
            settings.pod_gc_quarantine,
            node_queue.clone(),
        );
        Ok(Self {
            names,
            period: settings.pod_gc_check_period,
            pods: ctx.factory.informer::<CachedPod>(),
            nodes: ctx.factory.informer::<Node>(),
            node_queue,
            gc,
        })
    }

    /// One pass over the caches' current contents.
    async fn pass(&self) {
        let pods = self.pods.lister().list();
        let nodes = node_snapshot(&self.nodes.lister().list());
        self.gc.gc(&pods, &nodes).await;
    }
}

impl Controller for PodGcController {
    fn run(
        self: Arc<Self>,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<(), StartupFailed>> {
        Box::pin(async move {
            let controller = self.names.canonical;
            tracing::info!(controller, "Starting GC controller");
            let caches = [
                self.pods.as_ref() as &dyn HasSynced,
                self.nodes.as_ref() as &dyn HasSynced,
            ];
            if wait_for_named_cache_sync(controller, &cancel, &caches).await {
                let stop = cancel.clone();
                // A pass stops at cancellation, in-flight requests dropped, as upstream's
                // requests end with its context: a 19 000-pod pass at 20 QPS takes 16 minutes,
                // and a replica that lost its Lease must not go on deleting.
                let pass = || async {
                    tokio::select! {
                        biased;
                        () = stop.cancelled() => {}
                        () = self.pass() => {}
                    }
                };
                run_periodic(controller, self.period, 0.0, cancel, pass).await;
            }
            tracing::info!(controller, "Shutting down GC controller");
            self.node_queue.shut_down();
            Ok(())
        })
    }
}

fn build(ctx: &ControllerContext) -> Result<Arc<dyn Controller>, BuildError> {
    Ok(Arc::new(PodGcController::new(ctx)?))
}

/// The registry entry for `pod-garbage-collector-controller`.
pub fn descriptor() -> ControllerDescriptor {
    ControllerDescriptor {
        name: ControllerId::PodGarbageCollector.names().canonical,
        build,
    }
}
