//! Builders the endpoints unit tests share: pods as the cache holds them, Services and
//! Endpoints as the informers deliver them.

use std::{collections::BTreeMap, sync::Arc};

use jiff::Timestamp;
use k8s_openapi::{
    api::core::v1::{
        EndpointAddress, EndpointPort, EndpointSubset, ObjectReference, Service, ServicePort,
        ServiceSpec,
    },
    apimachinery::pkg::{apis::meta::v1::Time, util::intstr::IntOrString},
};
use kcm_shared::cached_pod::{CachedPod, PodPort, ReadyCondition};
use kube::api::ObjectMeta;

pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).expect("valid time")
}

/// A running pod in namespace `t` with labels `app=a`, on node `n1`, with `ip`, ready or not
/// (Ready's lastTransitionTime is `at(0)`).
pub fn pod(name: &str, ip: &str, ready: bool) -> CachedPod {
    let mut pod = CachedPod::default();
    pod.name = name.into();
    pod.namespace = "t".into();
    pod.uid = format!("uid-{name}").into();
    pod.resource_version = "1".into();
    pod.labels = vec![("app".into(), "a".into())].into_boxed_slice();
    pod.node_name = Some("n1".into());
    pod.phase = Some("Running".into());
    if !ip.is_empty() {
        pod.pod_ips = vec![Box::from(ip)].into_boxed_slice();
    }
    pod.ready = Some(ReadyCondition {
        status: if ready { "True" } else { "False" }.into(),
        last_transition_time: Some(at(0)),
    });
    pod
}

pub fn with_labels(mut pod: CachedPod, pairs: &[(&str, &str)]) -> CachedPod {
    let mut list: Vec<(Arc<str>, Arc<str>)> = pairs
        .iter()
        .map(|(k, v)| (Arc::from(*k), Arc::from(*v)))
        .collect();
    list.sort();
    pod.labels = list.into_boxed_slice();
    pod
}

pub fn with_port(
    mut pod: CachedPod,
    name: &str,
    number: i32,
    protocol: &str,
    sidecar: bool,
) -> CachedPod {
    let mut ports = pod.ports.into_vec();
    ports.push(PodPort {
        name: Some(name.into()),
        container_port: number,
        protocol: protocol.into(),
        sidecar,
    });
    pod.ports = ports.into_boxed_slice();
    pod
}

/// Service `s` in `t` selecting `app=a`, port `http` 80 → `target`.
pub fn service(target: IntOrString) -> Service {
    Service {
        metadata: ObjectMeta {
            namespace: Some("t".into()),
            name: Some("s".into()),
            creation_timestamp: Some(Time(at(-100))),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(labels(&[("app", "a")])),
            cluster_ip: Some("10.96.0.10".into()),
            ip_families: Some(vec!["IPv4".into()]),
            ports: Some(vec![service_port("http", 80, target, "TCP")]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

pub fn service_port(name: &str, port: i32, target: IntOrString, protocol: &str) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        target_port: Some(target),
        protocol: Some(protocol.into()),
        ..ServicePort::default()
    }
}

/// The address upstream builds for a [`pod`] named `name` with `ip`.
pub fn address(name: &str, ip: &str) -> EndpointAddress {
    EndpointAddress {
        ip: ip.into(),
        node_name: Some("n1".into()),
        hostname: None,
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: Some("t".into()),
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            ..ObjectReference::default()
        }),
    }
}

pub fn port(name: &str, number: i32) -> EndpointPort {
    EndpointPort {
        name: Some(name.into()),
        port: number,
        protocol: Some("TCP".into()),
        app_protocol: None,
    }
}

pub fn subset(
    ready: Vec<EndpointAddress>,
    not_ready: Vec<EndpointAddress>,
    ports: Vec<EndpointPort>,
) -> EndpointSubset {
    EndpointSubset {
        addresses: (!ready.is_empty()).then_some(ready),
        not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
        ports: (!ports.is_empty()).then_some(ports),
    }
}
