use super::*;

fn info() -> NodeInfo {
    NodeInfo {
        name: "vn-1".into(),
        internal_ip: "10.253.0.1".parse().unwrap(),
        pod_cidr: "10.244.0.0/24".parse().unwrap(),
        max_pods: Some(110),
    }
}

fn template() -> NodeTemplate {
    NodeTemplate {
        labels: BTreeMap::from([("zone".to_owned(), "a".to_owned())]),
        taints: vec![Taint {
            key: "virtual".into(),
            effect: "NoSchedule".into(),
            ..Taint::default()
        }],
        capacity: BTreeMap::from([("pods".to_owned(), Quantity("110".into()))]),
        kubelet_version: "v1.37.1".into(),
    }
}

#[test]
fn a_registered_node_is_ready_with_its_cidr_labels_and_taints() {
    let now = Timestamp::now();
    let node = node_object(&info(), &template(), now);
    let labels = node.metadata.labels.clone().unwrap();
    assert_eq!(labels["zone"], "a");
    assert_eq!(labels["kubernetes.io/hostname"], "vn-1");
    assert_eq!(labels[MANAGED_LABEL], "true");
    let spec = node.spec.clone().unwrap();
    assert_eq!(spec.pod_cidr.as_deref(), Some("10.244.0.0/24"));
    assert_eq!(spec.taints.unwrap()[0].key, "virtual");
    assert!(node_is_ready(&node));
    let status = node.status.unwrap();
    assert_eq!(status.addresses.unwrap()[0].address, "10.253.0.1");
    assert_eq!(status.allocatable.unwrap()["pods"].0, "110");
}

fn node_is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[test]
fn a_heartbeat_keeps_transition_times() {
    let then = Timestamp::from_second(1_700_000_000).unwrap();
    let first = node_status(&info(), &template(), &[], then);
    let now = Timestamp::now();
    let again = node_status(&info(), &template(), &first.conditions.unwrap(), now);
    for c in again.conditions.unwrap() {
        assert_eq!(c.last_transition_time, Some(Time(then)), "{}", c.type_);
        assert_eq!(c.last_heartbeat_time, Some(Time(now)), "{}", c.type_);
    }
}

#[test]
fn the_lease_is_owned_by_its_node_and_renewed_every_quarter() {
    let mut node = node_object(&info(), &template(), Timestamp::now());
    node.metadata.uid = Some("uid-1".into());
    let timing = HeartbeatTiming {
        lease_duration: Duration::from_secs(40),
        status_report_frequency: Duration::from_secs(300),
    };
    let lease = lease_object(&node, &timing, Timestamp::now());
    assert_eq!(lease.metadata.namespace.as_deref(), Some(LEASE_NAMESPACE));
    assert_eq!(lease.metadata.owner_references.unwrap()[0].uid, "uid-1");
    assert_eq!(lease.spec.unwrap().lease_duration_seconds, Some(40));
    assert_eq!(timing.renew_interval(), Duration::from_secs(10));
}
