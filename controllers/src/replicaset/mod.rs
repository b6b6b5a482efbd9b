//! The ReplicaSet controller and the ReplicationController manager: one implementation, two
//! instances (upstream `pkg/controller/replicaset`, which `pkg/controller/replication` wraps).
//!
//! Each instance watches its owner kind and pods through the shared informers, keeps one
//! rate-limited queue of owner keys (`replicaset` / `replicationmanager`) and runs
//! `--concurrent-replicaset-syncs` / `--concurrent-rc-syncs` workers that retry failed keys
//! forever, as upstream does.
//!
//! Modules, from the outside in:
//! * [`kind`]: what differs between ReplicaSets and RCs;
//! * [`handlers`]: informer events → queued keys and observed expectations;
//! * [`sync`]: one sync, doing the I/O through [`control`];
//! * pure decisions: [`manage`] (how many, slow start), [`ranking`] (which pods to delete),
//!   [`status`] (what to report), [`pod_template`]; claiming is the shared
//!   [`crate::toolkit::claim`].

pub mod control;
pub mod handlers;
pub mod kind;
pub mod manage;
pub mod pod_template;
pub mod ranking;
pub mod status;
pub mod sync;

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::{apps::v1::ReplicaSet, core::v1::ReplicationController};
use kcm_shared::{
    cached_pod::CachedPod,
    expectations::UidTrackingExpectations,
    features::Feature,
    informer::{Delta, HasSynced, Informer, ObjectKey},
    workqueue::WorkQueue,
};
use tokio_util::sync::CancellationToken;

use crate::{
    context::ControllerContext,
    names::ControllerNames,
    registry::{BuildError, Controller, ControllerDescriptor},
    runtime::{NoStartup, QueueController, RetryPolicy, StartupFailed, run_queue_controller},
    toolkit::consistency::{ConsistencyStore, GroupResource},
};

use self::{
    control::KubeReplicaControl, handlers::EventHandlers, kind::ReplicaKind,
    manage::BURST_REPLICAS, ranking::RankingGates, sync::Syncer,
};

/// A replica controller for owners of kind `K`, its handlers registered.
pub struct ReplicaController<K: ReplicaKind> {
    names: &'static ControllerNames,
    workers: usize,
    queue: Arc<WorkQueue<ObjectKey>>,
    owner_informer: Arc<Informer<K>>,
    pod_informer: Arc<Informer<CachedPod>>,
    syncer: Arc<Syncer<K, KubeReplicaControl<K>>>,
}

/// `replicaset-controller`.
pub type ReplicaSetController = ReplicaController<ReplicaSet>;
/// `replicationcontroller-controller` (upstream's `ReplicationManager`).
pub type ReplicationManager = ReplicaController<ReplicationController>;

impl<K: ReplicaKind> ReplicaController<K> {
    /// Requests the informers, registers the handlers and builds the queue and syncer
    /// (`NewBaseController`). Must be called inside the Tokio runtime.
    pub fn new(ctx: &ControllerContext, workers: usize) -> Result<Self, BuildError> {
        let names = K::names();
        // Registered up front, as upstream registers its metrics when building the controller.
        std::sync::LazyLock::force(&sync::SORTING_DELETION_AGE_RATIO);
        let client = ctx
            .client(names.client)
            .map_err(|e| BuildError::new(names.canonical, e))?;
        let recorder = ctx.recorder(names.event_component.unwrap_or(names.canonical), &client);
        let queue = WorkQueue::new(names.queue);
        let owner_informer = ctx.factory.informer::<K>();
        let pod_informer = ctx.factory.informer::<CachedPod>();
        let expectations = Arc::new(UidTrackingExpectations::new());

        let consistency = K::CONSISTENCY_GATE
            .filter(|gate| ctx.feature_gates.enabled(*gate))
            .map(|_| {
                std::sync::LazyLock::force(&sync::STALE_SYNC_SKIPS);
                Arc::new(
                    ConsistencyStore::new()
                        .reading(GroupResource::PODS, pod_informer.lister())
                        .reading(GroupResource::REPLICA_SETS, owner_informer.lister()),
                )
            });
        let handlers = Arc::new(
            EventHandlers::new(owner_informer.lister(), queue.clone(), expectations.clone())
                .with_consistency(consistency.clone()),
        );
        let on_owner = Arc::clone(&handlers);
        owner_informer.add_handler(move |delta: &Delta<K>| on_owner.on_owner(delta));
        pod_informer.add_handler(move |delta: &Delta<CachedPod>| handlers.on_pod(delta));

        let syncer = Arc::new(Syncer {
            owners: owner_informer.lister(),
            pods: pod_informer.lister(),
            expectations,
            control: KubeReplicaControl::new(client, recorder),
            burst_replicas: BURST_REPLICAS,
            gates: RankingGates {
                pod_deletion_cost: ctx.feature_gates.enabled(Feature::PodDeletionCost),
                ..RankingGates::default()
            },
            report_terminating: K::REPORTS_TERMINATING
                && ctx
                    .feature_gates
                    .enabled(Feature::DeploymentReplicaSetTerminatingReplicas),
            clock: ctx.clock.clone(),
            consistency,
        });
        Ok(Self {
            names,
            workers,
            queue,
            owner_informer,
            pod_informer,
            syncer,
        })
    }
}

impl<K: ReplicaKind> Controller for ReplicaController<K> {
    fn run(
        self: Arc<Self>,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<(), StartupFailed>> {
        Box::pin(async move {
            let spec = QueueController {
                name: self.names.canonical,
                caches: vec![
                    self.pod_informer.as_ref() as &dyn HasSynced,
                    self.owner_informer.as_ref(),
                ],
                queue: self.queue.clone(),
                workers: self.workers,
                reconciler: self.syncer.clone(),
                retry: RetryPolicy::FOREVER,
            };
            run_queue_controller(spec, None::<NoStartup>, cancel).await
        })
    }
}

fn build_replicaset_controller(ctx: &ControllerContext) -> Result<Arc<dyn Controller>, BuildError> {
    let workers = ctx.settings.concurrent_rs_syncs;
    Ok(Arc::new(ReplicaSetController::new(ctx, workers)?))
}

fn build_replicationcontroller_controller(
    ctx: &ControllerContext,
) -> Result<Arc<dyn Controller>, BuildError> {
    let workers = ctx.settings.concurrent_rc_syncs;
    Ok(Arc::new(ReplicationManager::new(ctx, workers)?))
}

/// The registry entry for `replicaset-controller`.
pub fn replicaset_descriptor() -> ControllerDescriptor {
    ControllerDescriptor {
        name: ReplicaSet::names().canonical,
        build: build_replicaset_controller,
    }
}

/// The registry entry for `replicationcontroller-controller`.
pub fn replicationcontroller_descriptor() -> ControllerDescriptor {
    ControllerDescriptor {
        name: ReplicationController::names().canonical,
        build: build_replicationcontroller_controller,
    }
}
