//! What one sync should write (upstream `syncService` from the pod list to the object it sends):
//! the subsets a Service's pods make, the no-op check, and the object to create or update.
//!
//! Everything here is pure: the sync shell hands in the Service, its pods from the cache, the
//! cached Endpoints object and the trigger time, and performs whatever [`plan_write`] returns.

use std::{collections::BTreeMap, sync::Arc};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service,
};
use kcm_shared::cached_pod::CachedPod;
use kube::api::ObjectMeta;

use super::{
    address::{CLUSTER_IP_NONE, pod_address, should_pod_be_in_endpoints, should_set_hostname},
    labels::{endpoints_labels, labels_correct},
    ports::{endpoint_port, find_port},
    repack::repack_subsets,
    trigger_time::{ANNOTATION_TRIGGER_TIME, format_trigger_time},
    truncate::{
        ANNOTATION_OVER_CAPACITY, TRUNCATED, capacity_annotation_set_correctly, truncate_subsets,
    },
};

/// `spec.publishNotReadyAddresses`.
pub fn publishes_not_ready(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// The Service's selector, `None` when it selects nothing. An empty selector is dropped on the
/// wire (`omitempty`) and comes back absent, so absent and empty are the same here.
pub fn selector(service: &Service) -> Option<&BTreeMap<String, String>> {
    service
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .filter(|s| !s.is_empty())
}

/// `spec.type: ExternalName`: its Endpoints are left alone.
pub fn is_external_name(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName")
}

/// One subset of one address, as `addEndpointSubset` builds them before repacking.
fn single(address: EndpointAddress, port: Option<EndpointPort>, ready: bool) -> EndpointSubset {
    let (addresses, not_ready_addresses) = if ready {
        (Some(vec![address]), None)
    } else {
        (None, Some(vec![address]))
    };
    EndpointSubset {
        addresses,
        not_ready_addresses,
        ports: port.map(|p| vec![p]),
    }
}

/// The repacked subsets `pods` (the Service's selected pods) make for `service`.
pub fn desired_subsets(service: &Service, pods: &[Arc<CachedPod>]) -> Vec<EndpointSubset> {
    let spec = service.spec.as_ref();
    let name = service.metadata.name.as_deref().unwrap_or("");
    let namespace = service.metadata.namespace.as_deref().unwrap_or("");
    let publish_not_ready = publishes_not_ready(service);
    let ports = spec.and_then(|s| s.ports.as_deref()).unwrap_or(&[]);
    let headless = spec.and_then(|s| s.cluster_ip.as_deref()) == Some(CLUSTER_IP_NONE);
    let mut subsets = Vec::new();
    for pod in pods {
        if !should_pod_be_in_endpoints(pod, publish_not_ready) {
            continue;
        }
        let Some(mut address) = pod_address(service, pod) else {
            tracing::debug!(service = %format!("{namespace}/{name}"), pod = %pod.key(), "no pod IP of the Service's IP family");
            continue;
        };
        if should_set_hostname(pod, name, namespace) {
            address.hostname = pod.hostname.as_deref().map(str::to_owned);
        }
        let ready = publish_not_ready || pod.is_ready();
        if ports.is_empty() {
            // Only a headless Service lists addresses without ports.
            if headless {
                subsets.push(single(address, None, ready));
            }
            continue;
        }
        for port in ports {
            let Some(number) = find_port(pod, port) else {
                continue;
            };
            subsets.push(single(
                address.clone(),
                Some(endpoint_port(port, number)),
                ready,
            ));
        }
    }
    repack_subsets(&subsets)
}

/// The write a sync performs.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// POST a new object (none was cached).
    Create(Endpoints),
    /// PUT the object, carrying the cached resourceVersion.
    Update(Endpoints),
}

/// Subsets with empty lists as absent and without target resourceVersions, so that two
/// semantically equal lists compare equal (`endpointSubsetsEqualIgnoreResourceVersion`:
/// apimachinery's semantic DeepEqual treats nil and empty slices alike).
fn normalised(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    let addresses = |list: &Option<Vec<EndpointAddress>>| {
        list.as_ref().filter(|l| !l.is_empty()).map(|l| {
            l.iter()
                .map(|a| {
                    let mut a = a.clone();
                    if let Some(target) = &mut a.target_ref {
                        target.resource_version = None;
                    }
                    a
                })
                .collect::<Vec<_>>()
        })
    };
    subsets
        .iter()
        .map(|s| EndpointSubset {
            addresses: addresses(&s.addresses),
            not_ready_addresses: addresses(&s.not_ready_addresses),
            ports: s.ports.clone().filter(|p| !p.is_empty()),
        })
        .collect()
}

/// `endpointSubsetsEqualIgnoreResourceVersion`.
pub fn subsets_equal(a: &[EndpointSubset], b: &[EndpointSubset]) -> bool {
    normalised(a) == normalised(b)
}

/// True when the cached object needs no write: its subsets equal the computed ones (as stored,
/// or once repacked), its labels are right and it is not over capacity.
pub fn is_up_to_date(service: &Service, current: &Endpoints, subsets: &[EndpointSubset]) -> bool {
    let stored = current.subsets.as_deref().unwrap_or(&[]);
    (subsets_equal(stored, subsets) || subsets_equal(&repack_subsets(stored), subsets))
        && labels_correct(
            current.metadata.labels.as_ref(),
            service.metadata.labels.as_ref(),
        )
        && capacity_annotation_set_correctly(current.metadata.annotations.as_ref(), stored)
}

/// What to write for `service`, or `None` when `current` is up to date. `subsets` comes from
/// [`desired_subsets`]; `trigger_time` from the trigger-time tracker.
pub fn plan_write(
    service: &Service,
    current: Option<&Endpoints>,
    mut subsets: Vec<EndpointSubset>,
    trigger_time: Option<Timestamp>,
) -> Option<Write> {
    let existing = current.filter(|c| {
        c.metadata
            .resource_version
            .as_deref()
            .is_some_and(|rv| !rv.is_empty())
    });
    if let Some(current) = existing
        && is_up_to_date(service, current, &subsets)
    {
        return None;
    }
    let mut object = match existing {
        Some(current) => current.clone(),
        // Upstream's template names the object and copies the labels; the namespace comes
        // from the create call, so events about a failed create land in "default" as there.
        None => Endpoints {
            metadata: ObjectMeta {
                name: service.metadata.name.clone(),
                ..ObjectMeta::default()
            },
            ..Endpoints::default()
        },
    };
    let mut annotations: BTreeMap<String, String> =
        object.metadata.annotations.take().unwrap_or_default();
    match trigger_time {
        Some(time) => {
            annotations.insert(
                ANNOTATION_TRIGGER_TIME.to_owned(),
                format_trigger_time(time),
            );
        }
        None => {
            annotations.remove(ANNOTATION_TRIGGER_TIME);
        }
    }
    if truncate_subsets(&mut subsets) {
        annotations.insert(ANNOTATION_OVER_CAPACITY.to_owned(), TRUNCATED.to_owned());
    } else {
        annotations.remove(ANNOTATION_OVER_CAPACITY);
    }
    object.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    object.metadata.labels = Some(endpoints_labels(service));
    object.subsets = (!subsets.is_empty()).then_some(subsets);
    Some(match existing {
        Some(_) => Write::Update(object),
        None => Write::Create(object),
    })
}

#[cfg(test)]
mod tests;
