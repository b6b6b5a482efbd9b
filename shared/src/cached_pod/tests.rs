use super::*;
use crate::informer::InformerType;
use serde_json::json;

fn pod_json() -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-7d4b9-abcde",
            "namespace": "shop",
            "uid": "0f6c8b1e-2f4e-4c57-9d3e-1a2b3c4d5e6f",
            "resourceVersion": "12345",
            "generation": 4,
            "creationTimestamp": "2026-11-30T10:00:00Z",
            "deletionTimestamp": "2026-11-30T11:00:00Z",
            "deletionGracePeriodSeconds": 30,
            "labels": {"tier": "fe", "app": "web", "pod-template-hash": "7d4b9"},
            "annotations": {
                "controller.kubernetes.io/pod-deletion-cost": "-5",
                "kubectl.kubernetes.io/last-applied-configuration": "{\"huge\": true}"
            },
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "x"},
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9",
                 "uid": "rs-uid", "controller": true, "blockOwnerDeletion": true}
            ],
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
            "finalizers": ["example.com/hold"]
        },
        "spec": {
            "nodeName": "node-1",
            "hostname": "web-0",
            "subdomain": "web",
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 45,
            "containers": [
                {"name": "app", "image": "nginx", "env": [{"name": "A", "value": "b"}],
                 "ports": [{"name": "http", "containerPort": 8080},
                           {"name": "dns", "containerPort": 53, "protocol": "UDP"}]}
            ],
            "initContainers": [
                {"name": "setup", "image": "busybox", "ports": [{"name": "no", "containerPort": 1}]},
                {"name": "proxy", "image": "envoy", "restartPolicy": "Always",
                 "ports": [{"name": "metrics", "containerPort": 9090}]}
            ],
            "volumes": [{"name": "v", "emptyDir": {}}]
        },
        "status": {
            "phase": "Running",
            "reason": "Evicted",
            "podIP": "10.0.0.7",
            "podIPs": [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}],
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-30T10:00:05Z"},
                {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                 "lastTransitionTime": "2026-11-30T10:59:00Z"}
            ],
            "containerStatuses": [{"name": "app", "restartCount": 3, "ready": true}],
            "initContainerStatuses": [
                {"name": "setup", "restartCount": 9},
                {"name": "proxy", "restartCount": 2}
            ]
        }
    })
}

fn ts(s: &str) -> Option<Timestamp> {
    Some(s.parse().unwrap())
}

#[test]
fn decodes_exactly_what_the_controllers_read() {
    let mut pod: CachedPod = serde_json::from_value(pod_json()).unwrap();
    assert_eq!(
        pod.meta().resource_version.as_deref(),
        Some("12345"),
        "for the watcher"
    );
    pod.shrink();
    assert!(pod.meta().resource_version.is_none(), "gone once cached");
    assert_eq!(&*pod.name, "web-7d4b9-abcde");
    assert_eq!(&*pod.namespace, "shop");
    assert_eq!(pod.meta_uid(), Some("0f6c8b1e-2f4e-4c57-9d3e-1a2b3c4d5e6f"));
    assert_eq!(pod.meta_resource_version(), Some("12345"));
    assert_eq!(pod.generation, 4);
    let labels: Vec<_> = pod.meta_labels().iter().collect();
    assert_eq!(
        labels,
        [
            ("app", "web"),
            ("pod-template-hash", "7d4b9"),
            ("tier", "fe")
        ]
    );
    assert_eq!(pod.meta_labels().get("tier"), Some("fe"));
    let owner = pod.meta_controller().unwrap();
    assert_eq!(
        (owner.kind, owner.name, owner.uid),
        ("ReplicaSet", "web-7d4b9", "rs-uid")
    );
    assert_eq!(pod.deletion_cost.as_deref(), Some("-5"));
    assert_eq!(pod.creation_timestamp, ts("2026-11-30T10:00:00Z"));
    assert_eq!(pod.deletion_timestamp, ts("2026-11-30T11:00:00Z"));
    assert_eq!(pod.deletion_grace_period_seconds, Some(30));
    assert_eq!(pod.node_name(), "node-1");
    assert_eq!(pod.hostname.as_deref(), Some("web-0"));
    assert_eq!(pod.subdomain.as_deref(), Some("web"));
    assert_eq!(pod.restart_policy.as_deref(), Some("Always"));
    assert_eq!(pod.termination_grace_period_seconds, Some(45));
    let ports: Vec<_> = pod
        .ports
        .iter()
        .map(|p| (p.name.as_deref(), p.container_port, &*p.protocol, p.sidecar))
        .collect();
    assert_eq!(
        ports,
        [
            (Some("http"), 8080, "TCP", false),
            (Some("dns"), 53, "UDP", false),
            (Some("metrics"), 9090, "TCP", true),
        ],
        "containers first, then sidecars; plain init containers serve nothing"
    );
    assert_eq!(pod.phase(), "Running");
    assert_eq!(pod.reason.as_deref(), Some("Evicted"));
    assert_eq!(&*pod.pod_ips, [Box::from("10.0.0.7"), Box::from("fd00::7")]);
    assert!(pod.is_ready());
    assert_eq!(pod.ready_since(), ts("2026-11-30T10:00:05Z"));
    assert_eq!(
        pod.disruption_target.as_deref(),
        Some(&ReadyCondition {
            status: "True".into(),
            last_transition_time: ts("2026-11-30T10:59:00Z"),
        })
    );
    assert_eq!((pod.max_restarts, pod.max_sidecar_restarts), (3, 2));
    assert!(!pod.is_active(), "being deleted");
    assert!(pod.is_terminating_not_terminal());
}

#[test]
fn a_bare_pod_decodes_with_defaults_and_pod_ip_fallback() {
    let pod: CachedPod = serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "ns", "labels": null, "annotations": null},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"podIP": "10.1.2.3"}
    }))
    .unwrap();
    assert!(pod.meta_labels().is_empty());
    assert!(pod.controller.is_none());
    assert_eq!((pod.generation, pod.disruption_target.as_ref()), (0, None));
    assert_eq!(pod.phase(), "");
    assert_eq!(&*pod.pod_ips, [Box::from("10.1.2.3")]);
    assert!(pod.is_active());
    assert!(!pod.is_ready());
    assert_eq!(pod.cache_key().to_string(), "ns/p");
}

#[test]
fn strings_are_shared_between_pods() {
    let a: CachedPod = serde_json::from_value(pod_json()).unwrap();
    let b: CachedPod = serde_json::from_value(pod_json()).unwrap();
    assert!(Arc::ptr_eq(&a.namespace, &b.namespace));
    assert!(Arc::ptr_eq(&a.labels[0].1, &b.labels[0].1));
    assert!(Arc::ptr_eq(
        a.node_name.as_ref().unwrap(),
        b.node_name.as_ref().unwrap()
    ));
    let (ka, kb) = (a.cache_key(), b.cache_key());
    assert_eq!(ka, kb);
}

#[test]
fn availability_needs_min_ready_seconds_strictly_passed() {
    let pod: CachedPod = serde_json::from_value(pod_json()).unwrap();
    let since: Timestamp = "2026-11-30T10:00:05Z".parse().unwrap();
    let at = |s: i64| since + jiff::SignedDuration::from_secs(s);
    assert!(pod.is_available(0, since));
    assert!(!pod.is_available(10, at(10)));
    assert!(pod.is_available(10, at(11)));
}

#[test]
fn a_full_pod_converts_through_the_same_decoder() {
    let full: k8s_openapi::api::core::v1::Pod = serde_json::from_value(pod_json()).unwrap();
    let cached = CachedPod::from_pod(&full).unwrap();
    let mut direct: CachedPod = serde_json::from_value(pod_json()).unwrap();
    direct.shrink();
    assert_eq!(cached, direct);
}

#[test]
fn the_cached_form_is_small() {
    // The inline size is what every cached pod pays before its (mostly shared) strings.
    let size = std::mem::size_of::<CachedPod>();
    assert!(size <= 448, "CachedPod is {size} bytes");
    assert!(std::mem::size_of::<k8s_openapi::api::core::v1::Pod>() > 4 * size);
}
