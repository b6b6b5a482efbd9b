//! The Deployment controller (upstream `pkg/controller/deployment`): rolls a Deployment's pod
//! template out through ReplicaSets — RollingUpdate or Recreate — and scales, pauses, rolls
//! back and cleans up their history, reporting progress in the Deployment's status.
//!
//! It watches Deployments, ReplicaSets and pods through the shared informers (the ReplicaSet
//! cache and its controller-UID index are the ReplicaSet controller's; pods are read as
//! `CachedPod`), keeps one rate-limited queue (`deployment`) and runs
//! `--concurrent-deployment-syncs` workers; a key that keeps failing is dropped after 15
//! retries, as upstream's `maxRetries`.
//!
//! Modules, as upstream splits the package:
//! * [`handlers`]: informer events → queued keys;
//! * [`sync`]: the dispatch, claiming, `scaleReplicaSet`, status writes, history cleanup;
//! * [`new_rs`]: finding or creating the new ReplicaSet, revisions, hash collisions;
//! * [`scale`]: scaling events and paused Deployments, with proportional scaling;
//! * [`rolling`], [`recreate`], [`rollback`], [`progress`]: the strategies and conditions,
//!   each with its pure arithmetic;
//! * pure helpers: [`fenceposts`] (max surge / unavailable), [`replicas`] (ReplicaSet lists
//!   and orderings), [`annotations`], [`hash`]
//!   (`pod-template-hash`, template equality), [`conditions`], [`status`], [`history`]
//!   (`revisionHistoryLimit`), [`spec`];
//! * [`control`]: the API shell.

pub mod annotations;
pub mod conditions;
pub mod control;
pub mod fenceposts;
pub mod handlers;
pub mod hash;
pub mod history;
pub mod new_rs;
pub mod progress;
pub mod recreate;
pub mod replicas;
pub mod rollback;
pub mod rolling;
pub mod scale;
pub mod spec;
pub mod status;
pub mod sync;

#[cfg(test)]
mod testing;

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kcm_shared::{
    cached_pod::CachedPod,
    features::Feature,
    informer::{Delta, HasSynced, Informer, ObjectKey},
    workqueue::WorkQueue,
};
use tokio_util::sync::CancellationToken;

use crate::{
    context::ControllerContext,
    names::{ControllerId, ControllerNames},
    registry::{BuildError, Controller, ControllerDescriptor},
    runtime::{NoStartup, QueueController, RetryPolicy, StartupFailed, run_queue_controller},
};

use self::{control::KubeDeploymentControl, handlers::EventHandlers, sync::Syncer};

/// `deployment-controller`, its informers requested and handlers registered.
pub struct DeploymentController {
    names: &'static ControllerNames,
    workers: usize,
    queue: Arc<WorkQueue<ObjectKey>>,
    deployments: Arc<Informer<Deployment>>,
    replica_sets: Arc<Informer<ReplicaSet>>,
    pods: Arc<Informer<CachedPod>>,
    syncer: Arc<Syncer<KubeDeploymentControl>>,
}

impl DeploymentController {
    /// `NewDeploymentController`. Must be called inside the Tokio runtime.
    pub fn new(ctx: &ControllerContext, workers: usize) -> Result<Self, BuildError> {
        let names = ControllerId::Deployment.names();
        let client = ctx
            .client(names.client)
            .map_err(|e| BuildError::new(names.canonical, e))?;
        let recorder = ctx.recorder(names.event_component.unwrap_or(names.canonical), &client);
        let queue = WorkQueue::new(names.queue);
        let deployments = ctx.factory.informer::<Deployment>();
        let replica_sets = ctx.factory.informer::<ReplicaSet>();
        let pods = ctx.factory.informer::<CachedPod>();

        let handlers = Arc::new(EventHandlers::new(
            deployments.lister(),
            replica_sets.lister(),
            queue.clone(),
        ));
        let on_deployment = Arc::clone(&handlers);
        deployments
            .add_handler(move |delta: &Delta<Deployment>| on_deployment.on_deployment(delta));
        let on_replica_set = Arc::clone(&handlers);
        replica_sets
            .add_handler(move |delta: &Delta<ReplicaSet>| on_replica_set.on_replica_set(delta));
        pods.add_handler(move |delta: &Delta<CachedPod>| handlers.on_pod(delta));

        let syncer = Arc::new(Syncer {
            deployments: deployments.lister(),
            replica_sets: replica_sets.lister(),
            pods: pods.lister(),
            control: KubeDeploymentControl::new(client, recorder),
            queue: queue.clone(),
            report_terminating: ctx
                .feature_gates
                .enabled(Feature::DeploymentReplicaSetTerminatingReplicas),
            clock: ctx.clock.clone(),
        });
        Ok(Self {
            names,
            workers,
            queue,
            deployments,
            replica_sets,
            pods,
            syncer,
        })
    }
}

impl Controller for DeploymentController {
    fn run(
        self: Arc<Self>,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<(), StartupFailed>> {
        Box::pin(async move {
            let spec = QueueController {
                name: self.names.canonical,
                caches: vec![
                    self.deployments.as_ref() as &dyn HasSynced,
                    self.replica_sets.as_ref(),
                    self.pods.as_ref(),
                ],
                queue: self.queue.clone(),
                workers: self.workers,
                reconciler: self.syncer.clone(),
                retry: RetryPolicy::UPSTREAM,
            };
            run_queue_controller(spec, None::<NoStartup>, cancel).await
        })
    }
}

fn build(ctx: &ControllerContext) -> Result<Arc<dyn Controller>, BuildError> {
    let workers = ctx.settings.concurrent_deployment_syncs;
    Ok(Arc::new(DeploymentController::new(ctx, workers)?))
}

/// The registry entry for `deployment-controller`.
pub fn descriptor() -> ControllerDescriptor {
    ControllerDescriptor {
        name: ControllerId::Deployment.canonical(),
        build,
    }
}
