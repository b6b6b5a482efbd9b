use super::*;

fn set(max_pods: Option<usize>) -> NodeSet {
    NodeSet::new([NodeInfo {
        name: "n1".into(),
        internal_ip: "10.253.0.1".parse().unwrap(),
        pod_cidr: "10.244.0.0/30".parse().unwrap(),
        max_pods,
    }])
}

#[test]
fn admission_stops_at_capacity_and_resumes_after_release() {
    let nodes = set(Some(2));
    assert!(nodes.admit("n1", "a").is_ok());
    assert!(nodes.admit("n1", "a").is_ok());
    assert!(nodes.admit("n1", "b").is_ok());
    let e = nodes.admit("n1", "c").unwrap_err();
    assert_eq!(e.reason, "OutOfpods");
    assert!(e.message.contains("capacity: 2"), "{}", e.message);
    nodes.release("n1", "a", None);
    assert!(nodes.admit("n1", "c").is_ok());
    assert_eq!(
        nodes.admit("other", "x").unwrap_err().reason,
        "NodeNotFound"
    );
}

#[test]
fn ips_come_from_the_node_cidr_and_come_back() {
    let nodes = set(None);
    // A /30 has two usable addresses.
    let a = nodes.allocate_ip("n1").unwrap();
    let b = nodes.allocate_ip("n1").unwrap();
    assert_ne!(a, b);
    assert_eq!(nodes.allocate_ip("n1"), None);
    nodes.release("n1", "pod", Some(a));
    assert_eq!(nodes.allocate_ip("n1"), Some(a));
}

#[test]
fn a_gone_node_is_no_longer_present() {
    let nodes = set(None);
    assert!(nodes.is_present("n1"));
    assert!(nodes.mark_gone("n1"));
    assert!(!nodes.mark_gone("n1"));
    assert!(!nodes.is_present("n1"));
    assert!(!nodes.is_present("n2"));
}
