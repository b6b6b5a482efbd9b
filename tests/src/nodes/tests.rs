use super::*;

#[test]
fn a_ready_node_is_ready_and_has_an_address() {
    let node = ready_node("n1");
    assert!(is_node_ready(&node));
    let status = node.status.unwrap();
    assert_eq!(status.addresses.unwrap()[0].address, node_ip("n1"));
    assert_eq!(status.allocatable.unwrap()["pods"].0, "110");
}

#[test]
fn node_ips_are_stable_and_differ_between_names() {
    assert_eq!(node_ip("a"), node_ip("a"));
    assert_ne!(node_ip("node-1"), node_ip("node-2"));
    assert!(node_ip("x").starts_with("10.254."));
}
