//! One sync of one Service key (upstream `syncService`): the shell that reads the caches,
//! asks the pure [`super::plan`] what to write and writes it through [`EndpointsControl`].
//!
//! 1. Service gone → delete its Endpoints (NotFound is fine) and forget its trackers.
//! 2. ExternalName or no selector → leave the Endpoints alone.
//! 3. The Service's pods from the pod cache's namespace index, matched by its selector; the
//!    trigger time from them (on every sync, written or not).
//! 4. A cached Endpoints object this controller has already replaced → retry later
//!    (stale-cache guard).
//! 5. Create or update unless up to date: a create refused because the namespace is
//!    terminating is dropped silently; other failures get a Warning event and a retry.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Service};
use kcm_shared::{
    cached_pod::CachedPod,
    events::EventType,
    informer::{Lister, ObjectKey},
    meta::ObjectMetaRead,
};

use super::{
    control::EndpointsControl,
    plan::{Write, desired_subsets, is_external_name, plan_write, selector},
    stale::StaleTracker,
    trigger_time::TriggerTimeTracker,
};
use crate::{
    runtime::{Action, Reconcile, SyncError},
    toolkit::{FailureKind, ObjectSelector},
};

/// Event reasons.
pub const FAILED_TO_CREATE_ENDPOINT: &str = "FailedToCreateEndpoint";
pub const FAILED_TO_UPDATE_ENDPOINT: &str = "FailedToUpdateEndpoint";

/// Syncs Service keys, acting through `C`.
pub struct Syncer<C> {
    pub(crate) services: Lister<Service>,
    pub(crate) pods: Lister<CachedPod>,
    pub(crate) endpoints: Lister<Endpoints>,
    pub(crate) control: C,
    pub(crate) trigger_times: TriggerTimeTracker,
    pub(crate) stale: StaleTracker,
}

impl<C: EndpointsControl> Reconcile<ObjectKey> for Syncer<C> {
    async fn sync(&self, key: &ObjectKey) -> Result<Action, SyncError> {
        self.sync_service(key).await.map(|()| Action::Done)
    }
}

impl<C: EndpointsControl> Syncer<C> {
    pub fn new(
        services: Lister<Service>,
        pods: Lister<CachedPod>,
        endpoints: Lister<Endpoints>,
        control: C,
    ) -> Self {
        Self {
            services,
            pods,
            endpoints,
            control,
            trigger_times: TriggerTimeTracker::new(),
            stale: StaleTracker::new(),
        }
    }

    async fn sync_service(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let namespace = key.namespace().unwrap_or_default();
        let Some(service) = self.services.get(key) else {
            match self.control.delete(namespace, key.name()).await {
                Ok(()) => {}
                Err(e) if e.kind == FailureKind::NotFound => {}
                Err(e) => return Err(SyncError::Api(e)),
            }
            self.trigger_times.delete(key);
            self.stale.delete(key);
            return Ok(());
        };
        if is_external_name(&service) {
            return Ok(());
        }
        let Some(selector) = selector(&service) else {
            return Ok(());
        };
        let pods: Vec<Arc<CachedPod>> = self
            .pods
            .list_namespace(namespace)
            .into_iter()
            .filter(|p| ObjectSelector::set_matches(selector, p.meta_labels()))
            .collect();
        let trigger_time = self.trigger_times.compute(
            key,
            service.metadata.creation_timestamp.as_ref().map(|t| t.0),
            pods.iter().map(|p| {
                let time = p.ready.as_ref().and_then(|r| r.last_transition_time);
                (&*p.name, time)
            }),
        );
        let subsets = desired_subsets(&service, &pods);

        let current = self.endpoints.get(key);
        if let Some(current) = &current
            && let Some(rv) = current.meta_resource_version()
            && self.stale.is_stale(key, rv)
        {
            return Err(SyncError::Retry(format!(
                "endpoints informer cache is out of date, resource version {rv} already processed for endpoints {key}"
            )));
        }
        let Some(write) = plan_write(&service, current.as_deref(), subsets, trigger_time) else {
            tracing::trace!(service = %key, "endpoints are equal, skipping update");
            return Ok(());
        };
        match write {
            Write::Create(object) => match self.control.create(namespace, &object).await {
                Ok(_) => Ok(()),
                // The namespace is going away; its Endpoints will never be needed.
                Err(e) if e.kind == FailureKind::NamespaceTerminating => Ok(()),
                Err(e) => {
                    self.control.event(
                        &object,
                        EventType::Warning,
                        FAILED_TO_CREATE_ENDPOINT,
                        format!("Failed to create endpoint for service {key}: {}", e.message),
                    );
                    Err(SyncError::Api(e))
                }
            },
            Write::Update(object) => match self.control.update(namespace, &object).await {
                Ok(updated) => {
                    let old = current.as_deref().and_then(|c| c.meta_resource_version());
                    if let Some(old) = old
                        && updated.meta_resource_version() != Some(old)
                    {
                        self.stale.replaced(key, old);
                    }
                    Ok(())
                }
                Err(e) => {
                    self.control.event(
                        &object,
                        EventType::Warning,
                        FAILED_TO_UPDATE_ENDPOINT,
                        format!("Failed to update endpoint {key}: {}", e.message),
                    );
                    Err(SyncError::Api(e))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests;
