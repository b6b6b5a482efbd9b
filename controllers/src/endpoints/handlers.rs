//! Informer event handlers: which Service keys a Service, pod or Endpoints event enqueues
//! (upstream `onServiceUpdate`/`onServiceDelete`, `onEndpointsDelete`, `onPodUpdate` with
//! `GetPodUpdateProjectionKey` and `GetServicesToUpdate`).
//!
//! * Services: every add, update (resyncs and annotation-only changes included) and delete is
//!   queued at once.
//! * Endpoints: only deletes, so a deleted managed object is recreated; manual edits wait for
//!   the next sync of their Service.
//! * Pods: the Services in the pod's namespace whose selector matches it (a per-namespace
//!   lister lookup, never a scan of every Service), after `--endpoint-updates-batch-period`.
//!   An update counts only if the pod's readiness, IPs or deletion changed, or its labels,
//!   hostname or subdomain did; a label-only change wakes just the Services it joined or left.
//!
//! Upstream routes pod events through a second queue of "pod projection keys" whose worker
//! does the Service lookup; here the lookup runs on the handler's own task, which never blocks
//! the watch, and feeds the same delayed adds.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use k8s_openapi::api::core::v1::{Endpoints, Service};
use kcm_shared::{
    cached_pod::CachedPod,
    informer::{Delta, Lister, ObjectKey},
    meta::{Labels, ObjectMetaRead},
    workqueue::WorkQueue,
};

use super::plan::selector;
use crate::toolkit::ObjectSelector;

/// How a pod event bears on Service membership (`PodProjectionKey`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PodChange<'a> {
    /// Nothing that matters to Endpoints changed (or a resync).
    Unchanged,
    /// Sync the Services selecting this pod (an add, a delete, or a status change).
    Selecting(&'a CachedPod),
    /// The labels, hostname or subdomain changed: compare the Services selecting `old` with
    /// those selecting `new`; `pod_changed` when readiness, IPs or deletion changed too.
    Relabelled {
        old: &'a CachedPod,
        new: &'a CachedPod,
        pod_changed: bool,
    },
}

/// `podEndpointsChanged`'s first half: readiness, IPs or the deletion timestamp changed.
/// Upstream compares `deletionTimestamp` *pointers*, and the old and new objects of an update
/// are always decoded separately, so any update of a pod being deleted counts.
fn pod_changed(old: &CachedPod, new: &CachedPod) -> bool {
    old.deletion_timestamp.is_some()
        || new.deletion_timestamp.is_some()
        || old.is_ready() != new.is_ready()
        || old.pod_ips != new.pod_ips
}

/// `podEndpointsChanged`'s second half: labels, hostname or subdomain changed.
fn labels_changed(old: &CachedPod, new: &CachedPod) -> bool {
    let text = |s: &Option<Box<str>>| s.as_deref().unwrap_or("").to_owned();
    old.labels != new.labels
        || text(&old.hostname) != text(&new.hostname)
        || text(&old.subdomain) != text(&new.subdomain)
}

/// `GetPodUpdateProjectionKey` for an update from `old` to `new`.
pub fn pod_change<'a>(old: &'a CachedPod, new: &'a CachedPod) -> PodChange<'a> {
    if old.resource_version == new.resource_version {
        return PodChange::Unchanged;
    }
    let pod_changed = pod_changed(old, new);
    match (pod_changed, labels_changed(old, new)) {
        (false, false) => PodChange::Unchanged,
        (true, false) => PodChange::Selecting(new),
        (pod_changed, true) => PodChange::Relabelled {
            old,
            new,
            pod_changed,
        },
    }
}

/// `getServicesForPod`: the Services among `services` whose selector matches `labels`.
pub fn services_selecting(services: &[Arc<Service>], labels: Labels<'_>) -> BTreeSet<ObjectKey> {
    services
        .iter()
        .filter(|s| selector(s).is_some_and(|set| ObjectSelector::set_matches(set, labels)))
        .map(|s| s.cache_key())
        .collect()
}

/// `GetServicesToUpdate`: the Services of the pod's namespace (`services`) to sync.
pub fn services_to_update(
    services: &[Arc<Service>],
    change: &PodChange<'_>,
) -> BTreeSet<ObjectKey> {
    match *change {
        PodChange::Unchanged => BTreeSet::new(),
        PodChange::Selecting(pod) => services_selecting(services, pod.meta_labels()),
        PodChange::Relabelled {
            old,
            new,
            pod_changed,
        } => {
            let now = services_selecting(services, new.meta_labels());
            let before = services_selecting(services, old.meta_labels());
            if pod_changed {
                now.union(&before).cloned().collect()
            } else {
                now.symmetric_difference(&before).cloned().collect()
            }
        }
    }
}

/// The handlers of the endpoints controller, shared by its three informers.
pub struct EventHandlers {
    services: Lister<Service>,
    queue: Arc<WorkQueue<ObjectKey>>,
    batch_period: Duration,
}

impl EventHandlers {
    pub fn new(
        services: Lister<Service>,
        queue: Arc<WorkQueue<ObjectKey>>,
        batch_period: Duration,
    ) -> Self {
        Self {
            services,
            queue,
            batch_period,
        }
    }

    /// Service deltas: always, at once.
    pub fn on_service(&self, delta: &Delta<Service>) {
        self.queue.add(delta.key());
    }

    /// Endpoints deltas: deletes only.
    pub fn on_endpoints(&self, delta: &Delta<Endpoints>) {
        if let Delta::Deleted { obj, .. } = delta {
            self.queue.add(obj.cache_key());
        }
    }

    /// Pod deltas (tombstones included): the affected Services, after the batch period.
    pub fn on_pod(&self, delta: &Delta<CachedPod>) {
        let change = match delta {
            Delta::Added { obj, .. } | Delta::Deleted { obj, .. } => PodChange::Selecting(obj),
            Delta::Updated { old, new } => pod_change(old, new),
        };
        if matches!(change, PodChange::Unchanged) {
            return;
        }
        let namespace = &delta.object().namespace;
        let services = self.services.list_namespace(namespace);
        for key in services_to_update(&services, &change) {
            self.queue.add_after(key, self.batch_period);
        }
    }
}

#[cfg(test)]
mod tests;
