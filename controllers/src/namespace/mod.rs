//! The namespace controller: deletes everything in a terminating namespace, then releases it
//! (upstream `pkg/controller/namespace`).
//!
//! `kubectl delete namespace` only marks a namespace `Terminating`; the apiserver removes it
//! once its `kubernetes` spec finalizer is gone, and this controller removes that finalizer
//! after deleting every namespaced object in it, whatever its kind: built-in, CRD or served by
//! an aggregated API. It also tells users why a namespace is stuck, through five status
//! conditions.
//!
//! It watches namespaces through the shared informer (re-sent every `--namespace-sync-period`),
//! queues a terminating one five seconds after seeing it, and runs
//! `--concurrent-namespace-syncs` workers. While content remains a namespace comes back after
//! `estimate/2 + 1` seconds; failures are retried with the namespace rate limiter (5 ms
//! doubling up to 60 s, and 10 qps / burst 100 overall). Its client has 20 × the QPS and
//! 100 × the burst of the others, as upstream's: it makes many calls per namespace.
//!
//! Modules, from the outside in:
//! * [`handlers`]: which namespace events queue what;
//! * [`deleter`]: one sync, step by step;
//! * [`content`]: one content pass over every discovered resource;
//! * [`discovery`]: which resources exist; [`metadata`]: list and delete any of them, metadata
//!   only;
//! * pure decisions: [`estimate`] (estimates and requeue delays), [`conditions`] (the five
//!   status conditions), [`resource`] (resource names as upstream prints them).

pub mod conditions;
pub mod content;
pub mod deleter;
pub mod discovery;
pub mod estimate;
pub mod handlers;
pub mod metadata;
pub mod resource;

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Namespace;
use kcm_shared::{
    informer::{Delta, HasSynced, Informer, Lister, ObjectKey},
    workqueue::{WorkQueue, namespace_controller_rate_limiter},
};
use tokio_util::sync::CancellationToken;

use crate::{
    context::ControllerContext,
    names::{ControllerId, ControllerNames},
    registry::{BuildError, Controller, ControllerDescriptor},
    runtime::{
        Action, QueueController, Reconcile, RetryPolicy, StartupFailed, SyncError,
        run_queue_controller,
    },
};

use self::{deleter::NamespaceDeleter, handlers::EventHandlers};

/// Upstream multiplies the configured client QPS and burst by these for this controller.
pub const QPS_FACTOR: f32 = 20.0;
pub const BURST_FACTOR: i32 = 100;

/// `namespace-controller`, its handler registered.
pub struct NamespaceController {
    names: &'static ControllerNames,
    workers: usize,
    queue: Arc<WorkQueue<ObjectKey>>,
    informer: Arc<Informer<Namespace>>,
    syncer: Arc<Syncer>,
}

/// The sync function: a namespace still in the cache gets one deleter pass.
pub struct Syncer {
    namespaces: Lister<Namespace>,
    deleter: NamespaceDeleter,
}

impl Reconcile<ObjectKey> for Syncer {
    async fn sync(&self, key: &ObjectKey) -> Result<Action, SyncError> {
        if self.namespaces.get(key).is_none() {
            tracing::info!(namespace = %key, "Namespace has been deleted");
            return Ok(Action::Done);
        }
        self.deleter.delete(key.name()).await
    }
}

impl NamespaceController {
    /// Requests the namespace informer, registers the handler and builds the queue and the
    /// deleter. Must be called inside the Tokio runtime.
    pub fn new(ctx: &ControllerContext) -> Result<Self, BuildError> {
        let names = ControllerId::Namespace.names();
        let limits = ctx.clients.limits().scaled(QPS_FACTOR, BURST_FACTOR);
        let client = ctx
            .clients
            .controller_client_with_limits(names.client, limits)
            .map_err(|e| BuildError::new(names.canonical, e))?;
        let queue = WorkQueue::builder()
            .name(names.queue)
            .rate_limiter(namespace_controller_rate_limiter())
            .build();
        let informer = ctx.factory.informer::<Namespace>();
        let handlers = EventHandlers::new(queue.clone());
        informer.add_handler_with_resync(
            move |delta: &Delta<Namespace>| handlers.on_namespace(delta),
            ctx.settings.namespace_sync_period,
        );
        let syncer = Arc::new(Syncer {
            namespaces: informer.lister(),
            deleter: NamespaceDeleter::new(client, ctx.clock.clone()),
        });
        Ok(Self {
            names,
            workers: ctx.settings.concurrent_namespace_syncs,
            queue,
            informer,
            syncer,
        })
    }
}

/// Upstream runs discovery once when it builds the deleter and exits when the server offers
/// no namespaced resources at all; partial failures are only logged.
async fn check_discovery(client: kube::Client) -> Result<(), String> {
    let discovered = discovery::discover(&client).await;
    if let Some(failure) = &discovered.failure {
        tracing::warn!(error = %failure, "Unable to get all supported resources from server");
    }
    if discovered.resources.is_empty() {
        let cause = discovered
            .failure
            .map(|f| format!(": {f}"))
            .unwrap_or_default();
        return Err(format!(
            "Unable to get any supported resources from server{cause}"
        ));
    }
    Ok(())
}

impl Controller for NamespaceController {
    fn run(
        self: Arc<Self>,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<(), StartupFailed>> {
        Box::pin(async move {
            let client = self.syncer.deleter.content().client().clone();
            let spec = QueueController {
                name: self.names.canonical,
                caches: vec![self.informer.as_ref() as &dyn HasSynced],
                queue: self.queue.clone(),
                workers: self.workers,
                reconciler: self.syncer.clone(),
                retry: RetryPolicy::FOREVER,
            };
            run_queue_controller(spec, Some(move || check_discovery(client)), cancel).await
        })
    }
}

fn build(ctx: &ControllerContext) -> Result<Arc<dyn Controller>, BuildError> {
    Ok(Arc::new(NamespaceController::new(ctx)?))
}

/// The registry entry for `namespace-controller`.
pub fn descriptor() -> ControllerDescriptor {
    ControllerDescriptor {
        name: ControllerId::Namespace.names().canonical,
        build,
    }
}
