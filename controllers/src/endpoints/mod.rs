//! The endpoints controller: every Service with a selector gets an Endpoints object of the
//! same name listing its pods' addresses, ready and not ready (upstream
//! `pkg/controller/endpoint`).
//!
//! It watches Services, pods (the shared `CachedPod` watch) and Endpoints through the shared
//! factory, keeps one rate-limited queue `endpoint` of Service keys and runs
//! `--concurrent-endpoint-syncs` workers; a key that keeps failing is dropped after 15 retries,
//! as upstream. Pod-triggered syncs wait `--endpoint-updates-batch-period`, Service events
//! are immediate, Endpoints events only matter when an object is deleted. Once the caches are
//! synced, every Endpoints object that is not a leader-election record is queued once, so
//! Endpoints whose Service is gone are deleted (leftover cleanup).
//!
//! Modules, from the outside in:
//! * [`handlers`]: informer events → Service keys, with the pod-update rules;
//! * [`sync`]: one sync, doing the I/O through [`control`];
//! * pure decisions: [`plan`] (subsets, no-op check, the object to write), [`address`] (which
//!   pods and which IP), [`ports`] (target ports), [`repack`] (subset shape and order),
//!   [`truncate`] (1000 addresses), [`labels`], [`trigger_time`], [`stale`] (the stale-cache
//!   guard).

pub mod address;
pub mod control;
pub mod handlers;
pub mod labels;
pub mod plan;
pub mod ports;
pub mod repack;
pub mod stale;
pub mod sync;
pub mod trigger_time;
pub mod truncate;

#[cfg(test)]
mod testing;

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kcm_shared::{
    cached_pod::CachedPod,
    informer::{Delta, HasSynced, Informer, Lister, ObjectKey},
    meta::ObjectMetaRead,
    workqueue::WorkQueue,
};
use tokio_util::sync::CancellationToken;

use crate::{
    context::ControllerContext,
    names::{ControllerId, ControllerNames},
    registry::{BuildError, Controller, ControllerDescriptor},
    runtime::{QueueController, RetryPolicy, StartupFailed, run_queue_controller},
};

use self::{control::KubeEndpointsControl, handlers::EventHandlers, sync::Syncer};

/// `resourcelock.LeaderElectionRecordAnnotationKey`: Endpoints objects used as election
/// records (by old components) are never cleaned up.
pub const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";

/// `endpoints-controller`, its handlers registered.
pub struct EndpointsController {
    names: &'static ControllerNames,
    workers: usize,
    queue: Arc<WorkQueue<ObjectKey>>,
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<CachedPod>>,
    endpoints: Arc<Informer<Endpoints>>,
    syncer: Arc<Syncer<KubeEndpointsControl>>,
}

impl EndpointsController {
    /// Requests the informers, registers the handlers and builds the queue and syncer
    /// (`NewEndpointController`). Must be called inside the Tokio runtime.
    pub fn new(ctx: &ControllerContext) -> Result<Self, BuildError> {
        let names = ControllerId::Endpoints.names();
        let client = ctx
            .client(names.client)
            .map_err(|e| BuildError::new(names.canonical, e))?;
        let recorder = ctx.recorder(names.event_component.unwrap_or(names.client), &client);
        let queue = WorkQueue::new(names.queue);
        let services = ctx.factory.informer::<Service>();
        let pods = ctx.factory.informer::<CachedPod>();
        let endpoints = ctx.factory.informer::<Endpoints>();

        let handlers = Arc::new(EventHandlers::new(
            services.lister(),
            queue.clone(),
            ctx.settings.endpoint_updates_batch_period,
        ));
        let on_service = Arc::clone(&handlers);
        services.add_handler(move |delta: &Delta<Service>| on_service.on_service(delta));
        let on_endpoints = Arc::clone(&handlers);
        endpoints.add_handler(move |delta: &Delta<Endpoints>| on_endpoints.on_endpoints(delta));
        pods.add_handler(move |delta: &Delta<CachedPod>| handlers.on_pod(delta));

        let syncer = Arc::new(Syncer::new(
            services.lister(),
            pods.lister(),
            endpoints.lister(),
            KubeEndpointsControl::new(client, recorder),
        ));
        Ok(Self {
            names,
            workers: ctx.settings.concurrent_endpoint_syncs,
            queue,
            services,
            pods,
            endpoints,
            syncer,
        })
    }
}

/// `checkLeftoverEndpoints`: the keys of every cached Endpoints object except leader-election
/// records, whoever manages them; the sync deletes those whose Service does not exist.
pub fn leftover_keys(endpoints: &Lister<Endpoints>) -> Vec<ObjectKey> {
    endpoints
        .list()
        .iter()
        .filter(|e| {
            !e.metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(LEADER_ANNOTATION))
        })
        .map(|e| e.cache_key())
        .collect()
}

impl Controller for EndpointsController {
    fn run(
        self: Arc<Self>,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<(), StartupFailed>> {
        Box::pin(async move {
            let spec = QueueController {
                name: self.names.canonical,
                caches: vec![
                    self.pods.as_ref() as &dyn HasSynced,
                    self.services.as_ref(),
                    self.endpoints.as_ref(),
                ],
                queue: self.queue.clone(),
                workers: self.workers,
                reconciler: self.syncer.clone(),
                retry: RetryPolicy::UPSTREAM,
            };
            let lister = self.endpoints.lister();
            let queue = self.queue.clone();
            let cleanup = move || {
                for key in leftover_keys(&lister) {
                    queue.add(key);
                }
                std::future::ready(Ok(()))
            };
            run_queue_controller(spec, Some(cleanup), cancel).await
        })
    }
}

fn build(ctx: &ControllerContext) -> Result<Arc<dyn Controller>, BuildError> {
    Ok(Arc::new(EndpointsController::new(ctx)?))
}

/// The registry entry for `endpoints-controller`.
pub fn descriptor() -> ControllerDescriptor {
    ControllerDescriptor {
        name: ControllerId::Endpoints.names().canonical,
        build,
    }
}
